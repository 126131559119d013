// What the two AuthorizationPolicy CUSTOM files share (authz-custom: envoyExtAuthzHttp;
// authz-custom-grpc: envoyExtAuthzGrpc): httpbin in namespace foo behind its sidecar, sleep as
// the client, the policy under test, and requests from sleep to httpbin.
import { request, type IncomingHttpHeaders } from 'node:http';
import type { Sidecar, TestMesh } from './mesh-harness.js';

/** What a client saw. */
export interface Reply { status: number; body: string; headers: IncomingHttpHeaders }

/**
 * Starts httpbin (namespace foo, app=httpbin, port 8000; its app answers `httpbin METHOD URL` and keeps
 * each request's headers in `seen` by URL) and sleep (the client), each with its sidecar.
 */
export async function httpbinAndSleep(mesh: TestMesh, seen: Map<string, IncomingHttpHeaders>): Promise<{ httpbin: Sidecar; sleep: Sidecar }> {
  const [httpbin, sleep] = await Promise.all([
    mesh.sidecar('httpbin', 'foo', 'httpbin', 8000, 'app=httpbin', 'httpbin', [], (req, res) => { seen.set(req.url ?? '', req.headers); res.end(`httpbin ${req.method} ${req.url}`); }),
    mesh.sidecar('sleep', 'foo', 'sleep', 80),
  ]);
  return { httpbin, sleep };
}

/** One request from sleep (through its outbound listener) to httpbin.foo:8000 PATH; status 0 when it failed or took over 10 s. */
export function sleepToHttpbin(sleep: Sidecar, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: sleep.outbound, path: `http://httpbin.foo:8000${path}`, headers: { host: 'httpbin.foo:8000', ...headers }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '', headers: {} }));
    req.end();
  });
}

/** AuthorizationPolicy foo/ext-authz: action CUSTOM with `provider` on httpbin, for requests to `paths` (a YAML flow list). */
export const customPolicy = (provider: string, paths = '["/custom/*"]') => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: CUSTOM
  provider: {name: ${provider}}
  rules:
  - to:
    - operation: {paths: ${paths}}
`;
