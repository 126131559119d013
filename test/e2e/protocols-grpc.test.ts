// gRPC through two proxies with @grpc/grpc-js on both ends: unary and streaming calls, trailers
// (status and custom metadata) passed through, client deadlines honoured (grpc-timeout), route
// timeouts as DEADLINE_EXCEEDED, a fault abort with a gRPC status, no route as UNAVAILABLE,
// retries on `unavailable`, and grpc_response_status handed to hooks.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '../../src/proxy-config/types.js';
import { cluster, config, listener, onStop, proxy, stopAll } from './protocols-harness.js';

const id = (b: Buffer): Buffer => b;
const method = (path: string, req: boolean, res: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path, requestStream: req, responseStream: res, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id,
});
const service = {
  echo: method('/test.Echo/Echo', false, false),
  flaky: method('/test.Echo/Flaky', false, false),
  slow: method('/test.Echo/Slow', false, false),
  abort: method('/test.Echo/Abort', false, false),
  list: method('/test.Echo/List', false, true),
  chat: method('/test.Echo/Chat', true, true),
};
const Client = grpc.makeGenericClientConstructor(service as unknown as grpc.ServiceDefinition, 'Echo');
type AnyClient = grpc.Client & Record<string, (...a: unknown[]) => unknown>;

let upstreamPort = 0;
let flakyFailures = 0;
let flakyCalls = 0;
const records: Array<{ path: string; status: number; grpcStatus: string; flags: number }> = [];

beforeAll(async () => {
  const server = new grpc.Server();
  server.addService(service as unknown as grpc.ServiceDefinition, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const md = new grpc.Metadata();
      md.set('x-trailer', 'from-upstream');
      cb(null, Buffer.concat([Buffer.from('echo:'), call.request]), md);
    },
    flaky: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => {
      flakyCalls++;
      if (flakyFailures > 0) { flakyFailures--; cb({ code: grpc.status.UNAVAILABLE, details: 'try again' }); return; }
      cb(null, Buffer.from('finally'));
    },
    slow: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => { setTimeout(() => cb(null, Buffer.from('late')), 1500); },
    abort: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from('never')),
    list: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      for (let i = 0; i < 50; i++) call.write(Buffer.from(`item-${i}`));
      call.end();
    },
    chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (b: Buffer) => call.write(Buffer.concat([Buffer.from('re:'), b])));
      call.on('end', () => call.end());
    },
  });
  upstreamPort = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  onStop({ close: () => new Promise<void>((r) => server.tryShutdown(() => r())) });
});
afterAll(stopAll);

async function twoProxies(routes: Route[]): Promise<AnyClient> {
  const rt = (r: Route[]) => [{ name: 'rt', virtualHosts: [{ name: 'all', domains: ['*'], routes: r }] }];
  const b = await proxy(config([listener('in', [{ name: 'h', http: { routeConfig: 'rt', codec: 'http2' } }], { direction: 'inbound' })],
    [cluster('app', [upstreamPort], { protocol: 'http2' })], { routes: rt([{ route: { destinations: [{ cluster: 'app', weight: 1 }] } }]) }));
  const a = await proxy(config([listener('out', [{ name: 'h', http: { routeConfig: 'rt' } }])],
    [cluster('b', [b.ports.listeners.in!], { protocol: 'auto' })], { routes: rt(routes) }),
  { hooks: { onRequestComplete: (r: { path: string; status: number; grpcStatus?: string; flags: number }) => records.push({ path: r.path, status: r.status, grpcStatus: r.grpcStatus ?? '', flags: r.flags }) } });
  const c = new Client(`127.0.0.1:${a.ports.listeners.out!}`, grpc.credentials.createInsecure()) as unknown as AnyClient;
  onStop({ close: () => c.close() });
  return c;
}

const to = (extra: Partial<NonNullable<Route['route']>> = {}): Route['route'] => ({ destinations: [{ cluster: 'b', weight: 1 }], ...extra });

function unary(c: AnyClient, name: string, body: string, opts: grpc.CallOptions = {}): Promise<{ err: grpc.ServiceError | null; value?: string; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = c[name]!(Buffer.from(body), new grpc.Metadata(), opts, (err: grpc.ServiceError | null, value?: Buffer) => {
      setImmediate(() => resolve({ err, ...(value ? { value: value.toString() } : {}), ...(trailers ? { trailers } : {}) }));
    }) as grpc.ClientUnaryCall;
    call.on('status', (s: grpc.StatusObject) => { trailers = s.metadata; });
  });
}

describe('gRPC through two proxies', () => {
  it('unary call with trailers passed through, and grpc_response_status recorded', async () => {
    const c = await twoProxies([{ match: [{ uri: { prefix: '/test.Echo/' } }], route: to() }]);
    const r = await unary(c, 'echo', 'hello');
    expect(r.err).toBeNull();
    expect(r.value).toBe('echo:hello');
    expect(r.trailers?.get('x-trailer')).toEqual(['from-upstream']);
    expect(records.find((x) => x.path === '/test.Echo/Echo')).toMatchObject({ status: 200, grpcStatus: '0' });
  });

  it('server streaming and bidirectional streaming', async () => {
    const c = await twoProxies([{ route: to() }]);
    const items: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = c.list!(Buffer.from('x'), new grpc.Metadata(), {}) as grpc.ClientReadableStream<Buffer>;
      s.on('data', (b: Buffer) => items.push(b.toString()));
      s.on('end', () => resolve());
      s.on('error', reject);
    });
    expect(items).toHaveLength(50);
    expect(items[49]).toBe('item-49');
    const replies: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const d = c.chat!(new grpc.Metadata(), {}) as grpc.ClientDuplexStream<Buffer, Buffer>;
      d.on('data', (b: Buffer) => { replies.push(b.toString()); if (replies.length < 5) d.write(Buffer.from(`m${replies.length}`)); else d.end(); });
      d.on('end', () => resolve());
      d.on('error', reject);
      d.write(Buffer.from('m0'));
    });
    expect(replies).toEqual(['re:m0', 're:m1', 're:m2', 're:m3', 're:m4']);
  });

  it('honours the client deadline (grpc-timeout) and the route timeout as DEADLINE_EXCEEDED', async () => {
    const c = await twoProxies([
      { match: [{ headers: { 'x-route-timeout': { exact: 'yes' } } }], route: to({ timeoutMs: 200 }) },
      { route: to() },
    ]);
    const t0 = Date.now();
    const r = await unary(c, 'slow', 'x', { deadline: Date.now() + 300 });
    expect(r.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - t0).toBeLessThan(1200);
    const md = new grpc.Metadata();
    md.set('x-route-timeout', 'yes');
    const r2 = await new Promise<grpc.ServiceError | null>((resolve) => c.slow!(Buffer.from('x'), md, {}, (err: grpc.ServiceError | null) => resolve(err)));
    expect(r2?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const rec = records.filter((x) => x.path === '/test.Echo/Slow').pop()!;
    expect(rec.grpcStatus).toBe('4');
  });

  it('answers a fault abort with its gRPC status and no route with UNAVAILABLE', async () => {
    const c = await twoProxies([
      { match: [{ uri: { exact: '/test.Echo/Abort' } }], route: to(), fault: { abort: { grpcStatus: 'RESOURCE_EXHAUSTED', percentage: 100 } } },
      { match: [{ uri: { prefix: '/test.Echo/Echo' } }], route: to() },
    ]);
    const a = await unary(c, 'abort', 'x');
    expect(a.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const n = await unary(c, 'flaky', 'x');
    expect(n.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(n.err?.details).toMatch(/404|route/);
  });

  it('retries on unavailable per retryOn, and gives up after the attempts', async () => {
    const c = await twoProxies([{ route: to({ retries: { attempts: 2, retryOn: ['unavailable', 'cancelled'] } }) }]);
    flakyFailures = 2;
    flakyCalls = 0;
    const ok = await unary(c, 'flaky', 'x');
    expect(ok.err).toBeNull();
    expect(ok.value).toBe('finally');
    expect(flakyCalls).toBe(3);
    flakyFailures = 5;
    flakyCalls = 0;
    const bad = await unary(c, 'flaky', 'x');
    expect(bad.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(flakyCalls).toBe(3);
    flakyFailures = 0;
  });
});
