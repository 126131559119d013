// DestinationRule `tls` with certificate files proven end to end: Istio YAML -> the control plane's
// generators -> a real Bowline sidecar originating TLS to real HTTPS workloads (a CA made with
// openssl for the test). SIMPLE verifies the server against caCertificates and subjectAltNames and
// sends the sni; insecureSkipVerify skips the check; MUTUAL presents clientCertificate/privateKey.
// Each at the four levels Istio merges (trafficPolicy, portLevelSettings, a subset, its port level).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { send, Sidecar, type Instance, type Workload } from './fields-harness.js';
import { tempDir } from '../support/temp.js';

const dir = tempDir('bowline-upstream-tls-');
const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
const file = (f: string) => join(dir, f);

/** A certificate for `cn` (SAN DNS:cn) signed by the test CA: files NAME.crt / NAME.key. */
function issue(name: string, cn: string): { cert: string; key: string } {
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
  ssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-copy_extensions', 'copy', '-out', file(`${name}.crt`));
  return { cert: readFileSync(file(`${name}.crt`), 'utf8'), key: readFileSync(file(`${name}.key`), 'utf8') };
}

interface TlsWorkload extends Workload { sni: string[]; clients: string[] }

/** An HTTPS workload answering JSON with its name; remembers the SNI and client certificate CN it saw. */
async function httpsWorkload(name: string, cred: { cert: string; key: string }, requireClient: boolean): Promise<TlsWorkload> {
  const ca = readFileSync(file('ca.crt'), 'utf8');
  const w = { name, port: 0, status: 200, seen: [], hold: false, held: [], release() {}, sni: [] as string[], clients: [] as string[] } as unknown as TlsWorkload;
  const server: HttpsServer = createHttpsServer({ ...cred, ca, requestCert: requireClient, rejectUnauthorized: requireClient }, (req, res) => {
    const sock = req.socket as TLSSocket;
    w.sni.push(String(sock.servername));
    w.clients.push(String((sock.getPeerCertificate() as PeerCertificate | undefined)?.subject?.CN ?? ''));
    w.seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  w.server = server as never;
  w.port = (server.address() as { port: number }).port;
  return w;
}

let simple: TlsWorkload;
let mutual: TlsWorkload;
let mesh: Instance[];
const sidecars: Sidecar[] = [];

beforeAll(async () => {
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=upstream test root', '-days', '1', '-keyout', file('ca.key'), '-out', file('ca.crt'));
  simple = await httpsWorkload('simple', issue('simple', 'simple.example.test'), false);
  mutual = await httpsWorkload('mutual', issue('mutual', 'mutual.example.test'), true);
  issue('client', 'sleep.client.test');
  mesh = [{ w: simple, service: 'simple', labels: { version: 'v1' } }, { w: mutual, service: 'mutual', labels: { version: 'v1' } }];
});

afterEach(async () => {
  for (const s of sidecars.splice(0)) await s.close();
});

afterAll(async () => {
  for (const w of [simple, mutual]) { w.server.closeAllConnections(); await new Promise((r) => w.server.close(r)); }
  rmSync(dir, { recursive: true, force: true });
});

type Level = 'trafficPolicy' | 'portLevelSettings' | 'subset' | 'subset portLevelSettings';
const LEVELS: Level[] = ['trafficPolicy', 'portLevelSettings', 'subset', 'subset portLevelSettings'];
const indent = (yaml: string, n: number) => yaml.trimEnd().split('\n').map((l) => ' '.repeat(n) + l).join('\n');

/** A DestinationRule for `host` with `tls` (YAML of ClientTLSSettings fields) at `level`; for subset levels a VirtualService to subset v1. */
function placed(host: string, tls: string, level: Level): string {
  const policy = `tls:\n${indent(tls, 2)}`;
  const tp = level === 'trafficPolicy' ? `  trafficPolicy:\n${indent(policy, 4)}\n`
    : level === 'portLevelSettings' ? `  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 9080}\n${indent(policy, 6)}\n` : '';
  const sub = level === 'subset' ? `    trafficPolicy:\n${indent(policy, 6)}\n`
    : level === 'subset portLevelSettings' ? `    trafficPolicy:\n      portLevelSettings:\n      - port: {number: 9080}\n${indent(policy, 8)}\n` : '';
  return `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${host}, namespace: default}
spec:
  host: ${host}
${tp}  subsets:
  - name: v1
    labels: {version: v1}
${sub}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${host}, namespace: default}
spec:
  hosts: [${host}]
  http:
  - retries: {attempts: 0}
    route: [{destination: {host: ${host}${level.startsWith('subset') ? ', subset: v1' : ''}}}]
`;
}

async function status(yaml: string, url: string): Promise<string> {
  const s = new Sidecar();
  sidecars.push(s);
  await s.start(mesh, yaml);
  const r = await send(s.port, url);
  await s.close();
  sidecars.splice(sidecars.indexOf(s), 1);
  return r.status === 200 ? r.json.name : String(r.status);
}

describe('DestinationRule tls with certificate files', () => {
  it('SIMPLE verifies caCertificates and subjectAltNames and sends sni; insecureSkipVerify skips the check; MUTUAL presents clientCertificate and privateKey', async () => {
    const ca = file('ca.crt');
    for (const level of LEVELS) {
      const sniBefore = simple.sni.length;
      expect(await status(placed('simple', `mode: SIMPLE\ncaCertificates: ${ca}\nsni: simple.example.test\nsubjectAltNames: [simple.example.test]`, level), 'http://simple:9080/'), level).toBe('simple');
      expect(simple.sni.slice(sniBefore), level).toEqual(['simple.example.test']);
      // The server's certificate names no such SAN: refused before any request is sent.
      expect(await status(placed('simple', `mode: SIMPLE\ncaCertificates: ${ca}\nsni: simple.example.test\nsubjectAltNames: [other.example.test]`, level), 'http://simple:9080/'), level).toBe('503');
      // Without the CA the test root is unknown: refused, unless insecureSkipVerify.
      expect(await status(placed('simple', 'mode: SIMPLE\nsni: simple.example.test', level), 'http://simple:9080/'), level).toBe('503');
      expect(await status(placed('simple', 'mode: SIMPLE\nsni: simple.example.test\ninsecureSkipVerify: true', level), 'http://simple:9080/'), level).toBe('simple');
      expect(simple.seen.length, level).toBe(2);
      simple.seen.length = 0;

      const clientsBefore = mutual.clients.length;
      expect(await status(placed('mutual', `mode: MUTUAL\nclientCertificate: ${file('client.crt')}\nprivateKey: ${file('client.key')}\ncaCertificates: ${ca}\nsni: mutual.example.test`, level), 'http://mutual:9080/'), level).toBe('mutual');
      expect(mutual.clients.slice(clientsBefore), level).toEqual(['sleep.client.test']);
      // The same server with SIMPLE (no client certificate): its handshake fails.
      expect(await status(placed('mutual', `mode: SIMPLE\ncaCertificates: ${ca}\nsni: mutual.example.test`, level), 'http://mutual:9080/'), level).toBe('503');
    }
  });
});
