// Istio fields that were accepted but ignored or wrong, now enforced end to end: Istio YAML ->
// the control plane's generators -> a real Bowline sidecar on real sockets -> what the app sees.
// VirtualService match.port in a sidecar, retries.backoff, fault.delay.exponentialDelay,
// redirect.derivePort, fault.abort.http2Error, DestinationRule connectionPool.http.maxRetries
// and connectionPool.tcp.tcpKeepalive.
import { execFileSync } from 'node:child_process';
import { connect as h2connect, constants } from 'node:http2';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { reviewsForFile, send, type Workload } from './fields-harness.js';
import { REVIEWS_SUBSETS, reviewsRoutes } from '../support/subsets-yaml.js';
import { waitFor } from '../support/wait.js';

let v1: Workload;
let v2: Workload;
const { sidecar } = reviewsForFile((r) => ({ v1, v2 } = r));

describe('VirtualService match.port in a sidecar', () => {
  it('a rule matching the service port applies; one for another port does not', async () => {
    const s = await sidecar(`${REVIEWS_SUBSETS}---\n${reviewsRoutes(`  - match: [{port: 9999}]
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{port: 9080, uri: {prefix: /reviews}}]
    route: [{destination: {host: reviews, subset: v2}}]
`)}`);
    for (let i = 0; i < 4; i++) {
      const r = await send(s.port, 'http://reviews:9080/reviews/0');
      expect(r.status).toBe(200);
      expect(r.json.name).toBe('reviews-v2');
    }
    expect((await send(s.port, 'http://reviews/reviews/0')).json.name).toBe('reviews-v2');
    // Neither rule covers /other on 9080: no route (Istio's 404 NR), never the port-9999 rule.
    expect((await send(s.port, 'http://reviews:9080/other')).status).toBe(404);
    expect(s.records.at(-1)!.flags).not.toBe(0);
  });
});

describe('retries.backoff', () => {
  it('retries wait the jittered exponential back-off of the configured base interval', async () => {
    v1.status = 503;
    v2.status = 503;
    // random() = 0.99: retry 1 waits 0.99 * 300 ms, retry 2 0.99 * 900 ms (default base 25 ms: ~100 ms in all).
    const s = await sidecar(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    retries: {attempts: 2, retryOn: 5xx, backoff: 300ms}
`, { random: () => 0.99 });
    const t0 = performance.now();
    const r = await send(s.port, 'http://reviews:9080/');
    const elapsed = performance.now() - t0;
    expect(r.status).toBe(503);
    expect(s.records.at(-1)!.attempts).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(0.99 * 300 + 0.99 * 900 - 5);
  });
});

describe('fault.delay.exponentialDelay', () => {
  it('delays by a draw from the exponential distribution with the given mean (flag DI)', async () => {
    // random() = 0.5: the draw is -mean * ln(0.5) = 0.69 * 1 s.
    const s = await sidecar(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    fault: {delay: {exponentialDelay: 1s, percentage: {value: 100}}}
`, { random: () => 0.5 });
    const t0 = performance.now();
    const r = await send(s.port, 'http://reviews:9080/');
    expect(r.status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(690);
    const { flagsText } = await import('../../src/proxy/record.js');
    expect(flagsText(s.records.at(-1)!.flags)).toContain('DI');
  });
});

describe('redirect.derivePort', () => {
  it('FROM_REQUEST_PORT writes the port the request came in on; FROM_PROTOCOL_DEFAULT leaves it out', async () => {
    const s = await sidecar(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, derivePort: FROM_REQUEST_PORT}
  - match: [{uri: {prefix: /secure}}]
    redirect: {uri: /s, scheme: https, derivePort: FROM_PROTOCOL_DEFAULT, redirectCode: 302}
  - route: [{destination: {host: reviews}}]
`);
    const a = await send(s.port, 'http://reviews/old');
    expect(a.status).toBe(301);
    expect(a.headers.location).toBe('http://reviews:9080/new');
    const b = await send(s.port, 'http://reviews:9080/secure');
    expect(b.status).toBe(302);
    expect(b.headers.location).toBe('https://reviews/s');
  });
});

describe('fault.abort.http2Error', () => {
  const YAML = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    fault: {abort: {http2Error: REFUSED_STREAM, percentage: {value: 100}}}
`;

  it('an HTTP/2 request is reset with the named error code and never reaches the workload', async () => {
    const s = await sidecar(YAML);
    const session = h2connect(`http://127.0.0.1:${s.port}`);
    session.on('error', () => {});
    const code = await new Promise<number>((resolve) => {
      const st = session.request({ ':method': 'GET', ':path': '/', ':authority': 'reviews:9080' });
      st.on('error', () => {});
      st.on('response', () => resolve(-1));
      st.resume();
      st.on('close', () => resolve(st.rstCode));
    });
    session.close();
    expect(code).toBe(constants.NGHTTP2_REFUSED_STREAM);
    expect(v1.seen.length + v2.seen.length).toBe(0);
    const { flagsText } = await import('../../src/proxy/record.js');
    expect(flagsText(s.records.at(-1)!.flags)).toContain('FI');
  });

  it('an HTTP/1.1 request gets its connection closed without a response', async () => {
    const s = await sidecar(YAML);
    const err = await new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port: s.port, path: 'http://reviews:9080/', headers: { host: 'reviews:9080' }, agent: false }, () => resolve('response'));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.end();
    });
    expect(err).toMatch(/ECONNRESET|socket hang up/);
    expect(v1.seen.length + v2.seen.length).toBe(0);
  });
});

describe('DestinationRule connectionPool.http.maxRetries', () => {
  it('a request that would retry while maxRetries others retry gets its failed answer (overflow counted)', async () => {
    const s = await sidecar(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy: {connectionPool: {http: {maxRetries: 1}}}
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v1}}]
    retries: {attempts: 5, retryOn: 5xx}
`);
    v1.status = 503;
    v1.hold = true;
    const a = send(s.port, 'http://reviews:9080/a');
    await waitFor(() => v1.held.length === 1, { what: 'A at the workload' });
    v1.release(); // A's first try fails: A retries, holding the cluster's only retry slot
    await waitFor(() => v1.held.length === 1 && v1.seen.length === 2, { what: "A's retry at the workload" });
    const b = send(s.port, 'http://reviews:9080/b');
    await waitFor(() => v1.held.length === 2, { what: 'B at the workload' });
    v1.release(); // B's first try fails too: its retry overflows
    const rb = await b;
    expect(rb.status).toBe(503);
    expect(s.records.find((r) => r.path.endsWith('/b'))!.attempts).toBe(1);
    expect(s.proxy.stats.upstreamRetryOverflow).toBe(1);
    expect(s.proxy.clusters.snapshot().find((c) => c.name === 'outbound|9080|v1|reviews.default.svc.cluster.local')!.retryOverflow).toBe(1);
    v1.status = 200;
    v1.hold = false;
    v1.release();
    const ra = await a;
    expect(ra.status).toBe(200);
    expect(s.records.find((r) => r.path.endsWith('/a'))!.attempts).toBeGreaterThan(1);
  });
});

describe('DestinationRule connectionPool.tcp.tcpKeepalive', () => {
  function keepaliveTimers(port: number): string {
    return execFileSync('ss', ['-tnoH', 'state', 'established', `dport = :${port}`], { encoding: 'utf8' });
  }

  it('upstream sockets carry TCP keepalive with the configured idle time', async () => {
    const s = await sidecar(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy: {connectionPool: {tcp: {tcpKeepalive: {time: 600s, interval: 75s, probes: 9}}}}
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v1}}]}]
`);
    expect((await send(s.port, 'http://reviews:9080/')).status).toBe(200);
    // The pooled keep-alive connection to the workload stays open: the kernel shows its keepalive timer (~600 s).
    const line = await waitFor(() => keepaliveTimers(v1.port).split('\n').find((l) => l.includes('keepalive')), { what: 'a keepalive timer' });
    const m = /timer:\(keepalive,(?:(\d+)min)?(?:(\d+)sec)?/.exec(line ?? '')!;
    const secs = Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
    expect(secs).toBeGreaterThan(500);
    expect(secs).toBeLessThanOrEqual(600);
  });

  it('without tcpKeepalive, upstream sockets have none', async () => {
    const s = await sidecar(`${REVIEWS_SUBSETS}---\n${reviewsRoutes('  - route: [{destination: {host: reviews, subset: v1}}]\n')}`);
    expect((await send(s.port, 'http://reviews:9080/')).status).toBe(200);
    const lines = await waitFor(() => keepaliveTimers(v1.port).trim(), { what: 'the pooled connection' });
    expect(lines).not.toContain('keepalive');
  });
});
