// The GC a proxy runs when traffic stops (src/proxy/idle-gc.ts: it gives the heap back for RSS) must not
// throw away the optimised code of the request path. TurboFan's code holds the maps of the request's objects
// weakly; with no request alive, that GC cleared them and deoptimised 30-60 functions ("weak objects"), so
// the next burst ran in the interpreter for seconds (at 1000 rps ~2x the CPU per request and a p99 of 2-4 ms
// through one proxy). The proxy now keeps its last finished request (src/proxy/exchange/kept-request.ts),
// and the end-of-turn flush its last Immediate (src/proxy/http/turn-writes.ts: a busy loop flushes through
// setImmediate; CI's loaded host took that path).
// A real `bowline proxy` with V8's --trace-deopt/--trace-opt/--trace-gc: load until the head scanner is
// optimised, stop and close every connection, wait for the quiet period's GC, and read what V8 did.
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXY_NODE_FLAGS } from '../../src/proxy/node-flags.js';
import { repoRoot, start, type Child } from '../support/process.js';
import { tempDir } from '../support/temp.js';
import { waitFor } from '../support/wait.js';
import { cluster, config, listener } from './protocols-harness.js';

const home = tempDir('bowline-e2e-quietgc-');
let upstream: Server;
let proxy: Child;
let port = 0;

/** `n` GETs over `conns` keep-alive connections (each connection sequential); resolves when all are answered 200. */
async function load(n: number, conns: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: conns });
  let next = 0;
  const one = (): Promise<void> => new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/p', agent, headers: { host: 'svc', 'x-test': 'quiet-gc' } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${String(res.statusCode)}`));
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
  const worker = async (): Promise<void> => { while (next++ < n) await one(); };
  try {
    await Promise.all(Array.from({ length: conns }, worker));
  } finally {
    agent.destroy(); // every downstream connection closes: nothing of the burst stays alive in the proxy but what it keeps
  }
}

/** The request-path functions V8 marked for deoptimisation because a field their code took for a constant changed, in `text`. */
function closeDeopts(text: string): string[] {
  return [...text.matchAll(/marking dependent code .*?<SharedFunctionInfo (respond|send|next|onRead|responseDone|acquire|release|finished)>.*reason: code dependencies/g)].map((m) => m[1]!);
}

/** The functions V8 marked for deoptimisation because an object their code held died, in `text`. */
function weakDeopts(text: string): string[] {
  return [...text.matchAll(/marking dependent code .*?<SharedFunctionInfo ([^>]*)>.*reason: weak objects/g)].map((m) => m[1]!);
}

/** Each "weak objects" deoptimisation in `text` with the six lines before it (the GC that caused it, what was optimised). */
function aroundWeakDeopts(text: string): string {
  const lines = text.split('\n');
  return lines.flatMap((l, i) => (/reason: weak objects/.test(l) ? [...lines.slice(Math.max(0, i - 6), i + 1), '--'] : [])).join('\n').slice(0, 8000);
}

beforeAll(async () => {
  // One response in 500 closes its connection: the proxy's upstream connections close now and then, as they do behind
  // an nginx (keepalive_requests) or an upstream's idle timeout.
  let served = 0;
  upstream = createServer((req, res) => {
    req.resume();
    if (++served % 500 === 0) res.setHeader('connection', 'close');
    res.end('ok');
  });
  upstream.keepAliveTimeout = 120_000;
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as { port: number }).port;
  const cfg = config([listener('http', [{ name: 'http', http: { routeConfig: 'r' } }])], [cluster('up', [up], { protocol: 'http1' })], {
    routes: [{ name: 'r', virtualHosts: [{ name: 'v', domains: ['*'], routes: [{ route: { destinations: [{ cluster: 'up', weight: 100 }] } }] }] }],
  });
  const file = join(home, 'proxy.json');
  writeFileSync(file, JSON.stringify(cfg));
  const portsFile = join(home, 'ports.json');
  // The proxy's own node flags (as every launcher passes them), plus V8's traces of what it optimises, deoptimises and collects.
  proxy = start(process.execPath, [...PROXY_NODE_FLAGS, '--trace-opt', '--trace-deopt', '--trace-gc', join(repoRoot, 'bin/bowline'),
    'proxy', '--config', file, '--admin-port', '0', '--ports-file', portsFile]);
  port = await waitFor(() => {
    try { return (JSON.parse(readFileSync(portsFile, 'utf8')) as { listeners: Record<string, number> }).listeners.http ?? 0; } catch { return 0; }
  }, { timeoutMs: 15_000, what: () => `proxy ports file:\n${proxy.output()}` });
}, 30_000);

afterAll(async () => {
  await proxy?.stop();
  await new Promise<void>((r) => { upstream?.close(() => r()); upstream?.closeAllConnections(); });
});

describe('the GC of a quiet period', () => {
  it('keeps the request path optimised: no function deoptimised for a dead object, none compiled again for the next requests', async () => {
    // Load until V8 has optimised the request path (the head scanner is on it for every request), bounded.
    for (let round = 0; round < 20 && !/completed optimizing .*<JSFunction scanHeaders /.test(proxy.output()); round++) await load(2000, 4);
    expect(proxy.output()).toMatch(/completed optimizing .*<JSFunction scanHeaders /);
    const loaded = proxy.output().length;
    // Traffic stopped and every connection is closed: the idle collector's full GC follows within two intervals (5-10 s).
    await waitFor(() => /Mark-Compact.*runtime/.test(proxy.output().slice(loaded)), { timeoutMs: 30_000, what: () => `no quiet-period GC:\n${proxy.output().slice(loaded).slice(-3000)}` });
    const quiet = proxy.output().slice(loaded);
    expect(weakDeopts(quiet), `what V8 printed around each (for the next look):\n${aroundWeakDeopts(quiet)}`).toEqual([]);
    // The next requests run the code optimised before the quiet period: nothing on the request path is compiled again.
    const gcEnd = proxy.output().length;
    await load(300, 2);
    const after = proxy.output().slice(gcEnd);
    expect(after).not.toMatch(/bailout .*<JSFunction (scanHeaders|parseWithin|responseHead) /);
    expect(after).not.toMatch(/completed optimizing .*<JSFunction (scanHeaders|parseWithin|responseHead) /);
  }, 120_000);

  it('closing connections deoptimises nothing on the request path', async () => {
    // Every burst above ended with its client connections closed, and the upstream closed one connection in 500:
    // a field the request path's code took for a constant (a connection's `closed` and `eoh`, `dead`) changed at the first of
    // each, and V8 threw that code away (respond, send, next, onRead, responseDone; acquire, release).
    await load(1000, 4);
    const out = proxy.output();
    expect(out).toMatch(/completed optimizing .*<JSFunction respond /);
    expect(closeDeopts(out)).toEqual([]);
  }, 60_000);
});
