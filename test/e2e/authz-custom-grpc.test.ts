// AuthorizationPolicy action CUSTOM with a MeshConfig envoyExtAuthzGrpc provider, end to end: a real
// gRPC server (@grpc/grpc-js) serving envoy.service.auth.v3.Authorization/Check, registered by a
// ServiceEntry, real sidecars. The server decodes the CheckRequest with its own protobuf schema
// (written here from Envoy's documented messages), so the proxy's encoding is checked independently.
import { createServer, type Socket } from 'node:net';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customPolicy, httpbinAndSleep, sleepToHttpbin } from './ext-authz-harness.js';
import { settle, TestMesh, type Sidecar } from './mesh-harness.js';
import { waitFor, waitForOutput } from '../support/wait.js';

// The subset of envoy.service.auth.v3 (and the messages it uses) this test reads and writes.
const root = protobuf.parse(`syntax = "proto3";
package t;
message SocketAddress { string address = 2; uint32 port_value = 4; }
message Address { SocketAddress socket_address = 1; }
message Peer { Address address = 1; string service = 2; string principal = 4; }
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message HttpRequest { string id = 1; string method = 2; map<string, string> headers = 3; string path = 4; string host = 5; string scheme = 6; int64 size = 9; string protocol = 10; }
message Request { Timestamp time = 1; HttpRequest http = 2; }
message AttributeContext { Peer source = 1; Peer destination = 2; Request request = 4; }
message CheckRequest { AttributeContext attributes = 1; }
message Status { int32 code = 1; string message = 2; }
message HeaderValue { string key = 1; string value = 2; }
message BoolValue { bool value = 1; }
message HeaderValueOption { HeaderValue header = 1; BoolValue append = 2; }
message HttpStatus { int32 code = 1; }
message DeniedHttpResponse { HttpStatus status = 1; repeated HeaderValueOption headers = 2; string body = 3; }
message OkHttpResponse { repeated HeaderValueOption headers = 2; repeated string headers_to_remove = 5; }
message CheckResponse { Status status = 1; oneof http_response { DeniedHttpResponse denied_response = 2; OkHttpResponse ok_response = 3; } }
`, { keepCase: true }).root;
const CheckRequest = root.lookupType('t.CheckRequest');
const CheckResponse = root.lookupType('t.CheckResponse');

interface Attrs { source?: { address?: { socket_address?: { address?: string; port_value?: number } }; principal?: string }; destination?: { address?: { socket_address?: { address?: string; port_value?: number } } }; request?: { time?: { seconds?: number }; http?: { id?: string; method?: string; headers?: Record<string, string>; path?: string; host?: string; scheme?: string; size?: number | { toNumber(): number }; protocol?: string } } }

const mesh = new TestMesh();
let httpbin: Sidecar;
let sleep: Sidecar;
const checks: Attrs[] = [];
const seen = new Map<string, http.IncomingHttpHeaders>();
let server: grpc.Server;
let grpcPort = 0;
let resetPort = 0;
const resetSockets = new Set<Socket>();
const reset = createServer((c) => { resetSockets.add(c); c.destroy(); });

/** The authorizer: allows `x-ext-authz: allow` (adding a header, removing one), fails `/boom` with UNAVAILABLE, never answers `/hang`, denies the rest with 401. */
function check(call: grpc.ServerUnaryCall<Attrs, unknown>, cb: grpc.sendUnaryData<unknown>): void {
  const a = call.request;
  checks.push(a);
  const h = a.request?.http;
  if (h?.path?.includes('/hang')) return;
  if (h?.path?.includes('/boom')) return cb({ code: grpc.status.UNAVAILABLE, details: 'authorizer broke' });
  if (h?.headers?.['x-ext-authz'] === 'allow') {
    return cb(null, { status: { code: 0 }, ok_response: { headers: [{ header: { key: 'x-ext-authz-check-result', value: 'allowed' } }, { header: { key: 'x-tag', value: 'two' }, append: { value: true } }], headers_to_remove: ['x-remove-me'] } });
  }
  cb(null, { status: { code: grpc.status.PERMISSION_DENIED, message: 'no' }, denied_response: { status: { code: 401 }, headers: [{ header: { key: 'x-ext-authz-check-result', value: 'denied' } }], body: 'denied by ext_authz grpc' } });
}

const get = (path: string, headers: Record<string, string> = {}) => sleepToHttpbin(sleep, path, headers);


beforeAll(async () => {
  server = new grpc.Server();
  server.addService({
    check: {
      path: '/envoy.service.auth.v3.Authorization/Check', requestStream: false, responseStream: false,
      requestDeserialize: (b: Buffer) => CheckRequest.toObject(CheckRequest.decode(b), { longs: Number }).attributes as Attrs,
      requestSerialize: () => Buffer.alloc(0),
      responseSerialize: (v: unknown) => Buffer.from(CheckResponse.encode(CheckResponse.fromObject(v as object)).finish()),
      responseDeserialize: () => ({}),
    },
  } as grpc.ServiceDefinition, { check } as grpc.UntypedServiceImplementation);
  grpcPort = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  await new Promise<void>((r) => reset.listen(0, '127.0.0.1', r));
  resetPort = (reset.address() as { port: number }).port;
  await mesh.up();
  ({ httpbin, sleep } = await httpbinAndSleep(mesh, seen));
  const entry = (name: string, port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: foo}
spec:
  hosts: [${name}.foo.svc.cluster.local]
  ports: [{number: 9000, name: grpc, protocol: GRPC, targetPort: ${port}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
`;
  const r = await mesh.apply('providers', `${entry('ext-authz-grpc', grpcPort)}${entry('ext-reset', resetPort)}apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: grpc
      envoyExtAuthzGrpc:
        service: foo/ext-authz-grpc.foo.svc.cluster.local
        port: 9000
        timeout: 0.5s
    - name: grpc-unreachable
      envoyExtAuthzGrpc:
        service: ext-reset.foo.svc.cluster.local
        port: 9000
        statusOnError: "503"
    - name: grpc-open
      envoyExtAuthzGrpc:
        service: ext-reset.foo.svc.cluster.local
        port: 9000
        failOpen: true
`);
  expect(r.code, r.out).toBe(0);
  expect(r.out).not.toContain('envoyExtAuthzGrpc'); // every field of these providers is enforced
  await settle(sleep.outbound, 'http://httpbin.foo:8000/get', 200);
}, 90_000);

afterAll(async () => {
  await mesh.down();
  server?.forceShutdown();
  reset.close();
});

describe('AuthorizationPolicy CUSTOM with an envoyExtAuthzGrpc provider, enforced by real proxies', () => {
  it('calls Authorization/Check per request: OK allows with its headers, a denial reaches the client with its status, headers and body', async () => {
    const r = await mesh.apply('custom', customPolicy('grpc'));
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toContain('BOWLINE_W_API_NOT_ENFORCED');
    await waitFor(async () => (await get('/custom/a')).status === 401, { timeoutMs: 20_000, what: () => `CUSTOM gRPC policy in effect (${httpbin.child.output().slice(-1500)})` });

    const before = checks.length;
    const ok = await get('/custom/a?x=1', { 'x-ext-authz': 'allow', 'x-remove-me': 'gone', 'x-tag': 'one', 'x-request-id': 'rid-1' });
    expect(ok.status, httpbin.child.output().slice(-3000)).toBe(200);
    expect(ok.body).toBe('httpbin GET /custom/a?x=1');
    expect(checks.length).toBe(before + 1);
    // What the authorizer got, decoded with its own schema: Envoy's attribute context (scheme https: the hop is mutual TLS).
    const a = checks[checks.length - 1]!;
    const h = a.request!.http!;
    expect(h).toMatchObject({ id: 'rid-1', method: 'GET', path: '/custom/a?x=1', host: 'httpbin.foo:8000', scheme: 'https', size: -1, protocol: 'HTTP/1.1' });
    expect(h.headers).toMatchObject({ ':method': 'GET', ':path': '/custom/a?x=1', ':authority': 'httpbin.foo:8000', 'x-ext-authz': 'allow', 'x-tag': 'one' });
    expect(a.source?.address?.socket_address?.address).toBe('127.0.0.1');
    expect(a.source?.principal).toBe('spiffe://cluster.local/ns/foo/sa/sleep');
    expect(a.destination?.address?.socket_address?.port_value).toBe(8000);
    expect(Math.abs(Number(a.request!.time!.seconds) - Date.now() / 1000)).toBeLessThan(60);
    // ok_response: the header set, the appended value added, the removed one gone.
    const got = seen.get('/custom/a?x=1')!;
    expect(got['x-ext-authz-check-result']).toBe('allowed');
    expect(got['x-tag']).toBe('one, two');
    expect(got['x-remove-me']).toBeUndefined();

    const denied = await get('/custom/b');
    expect(denied).toMatchObject({ status: 401, body: 'denied by ext_authz grpc' });
    expect(denied.headers['x-ext-authz-check-result']).toBe('denied');
    expect(seen.has('/custom/b')).toBe(false);
    // Not selected by the policy's rules: not checked.
    const n = checks.length;
    expect((await get('/get')).status).toBe(200);
    expect(checks.length).toBe(n);
  });

  it('fails closed on a gRPC error, a timeout or an unreachable authorizer, unless failOpen', async () => {
    const boom = await get('/custom/boom', { 'x-ext-authz': 'allow' });
    expect(boom.status).toBe(403);
    expect(boom.body).not.toContain('authorizer broke');
    expect(seen.has('/custom/boom')).toBe(false);
    expect((await get('/custom/hang', { 'x-ext-authz': 'allow' })).status).toBe(403);
    expect(seen.has('/custom/hang')).toBe(false);

    expect((await mesh.apply('custom', customPolicy('grpc-unreachable'))).code).toBe(0);
    await waitFor(async () => (await get('/custom/a', { 'x-ext-authz': 'allow' })).status === 503, { timeoutMs: 20_000, what: 'statusOnError 503 when the provider resets' });
    await waitForOutput(httpbin.child, 'BOWLINE_E_EXT_AUTHZ_UNAVAILABLE', { what: 'the sidecar logs the unreachable provider' });

    expect((await mesh.apply('custom', customPolicy('grpc-open'))).code).toBe(0);
    await waitFor(async () => (await get('/custom/a')).status === 200, { timeoutMs: 20_000, what: 'failOpen lets requests through' });
  });
});
