// The demo's workload identities: one bootstrap token per proxy, minted at the control plane's
// API (POST /v1/tokens, an admin call allowed from loopback), so every sidecar and the gateway
// get a SPIFFE certificate and auto-mTLS secures every hop, as in Istio's default install.
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

/** Who a token is for: spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT. */
export interface DemoIdentity {
  namespace: string;
  serviceAccount: string;
  workload: string;
}

/** Mints a single-use bootstrap token for `who` at `apiUrl`; rejects with the API's message. */
export function mintToken(apiUrl: string, who: DemoIdentity, ttlMs = 3_600_000): Promise<string> {
  const body = JSON.stringify({ namespace: who.namespace, serviceAccount: who.serviceAccount, workload: who.workload, ttlMs });
  return new Promise((resolve, reject) => {
    const req = http.request(`${apiUrl}/v1/tokens`, { method: 'POST', agent: false, timeout: 10_000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let parsed: { token?: string; error?: { message?: string }; message?: string } = {};
        try { parsed = JSON.parse(text); } catch {}
        if (res.statusCode === 201 && parsed.token) resolve(parsed.token);
        else reject(new Error(`token for ${who.namespace}/${who.serviceAccount}: POST /v1/tokens answered ${res.statusCode}: ${parsed.error?.message ?? parsed.message ?? text.slice(0, 200)}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('POST /v1/tokens timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Mints a token for `who` and writes it to HOME/tokens/WORKLOAD.token (owner-only); resolves to the file. */
export async function tokenFile(home: string, apiUrl: string, who: DemoIdentity): Promise<string> {
  const dir = path.join(home, 'tokens');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${who.workload}.token`);
  writeFileSync(file, (await mintToken(apiUrl, who)) + '\n', { mode: 0o600 });
  return file;
}
