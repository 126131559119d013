import net from 'node:net';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import { BatchExporter } from './exporter.js';
import { startCollector, type Collector } from './collector.js';
import type { SpanData } from './span.js';

function span(i: number): SpanData {
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    id: (i + 1).toString(16).padStart(16, '0'),
    parentId: i > 0 ? i.toString(16).padStart(16, '0') : undefined,
    name: 'reviews.default.svc.cluster.local:9080/*',
    kind: i % 2 ? 'SERVER' : 'CLIENT',
    timestampUs: 1_700_000_000_000_000 + i,
    durationUs: 1500,
    localService: 'productpage.default',
    remoteAddress: '127.0.0.1:9080',
    tags: { 'http.method': 'GET', 'http.status_code': '200' },
    error: false,
  };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function listen(server: net.Server): Promise<number> {
  const conns = new Set<net.Socket>();
  server.on('connection', (c: net.Socket) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => {
    for (const c of conns) c.destroy();
    if (server.listening) server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

describe('BatchExporter', () => {
  let col: Collector;

  it.each(['zipkin', 'otlp'] as const)('delivers batches in %s format that pass the schema', async (format) => {
    col = await startCollector();
    cleanups.push(() => col.close());
    const path = format === 'zipkin' ? '/api/v2/spans' : '/v1/traces';
    const e = new BatchExporter({ url: col.url + path, format, maxBatch: 4, intervalMs: 60_000 });
    for (let i = 0; i < 10; i++) e.add(span(i));
    await e.close();
    expect(col.errors).toEqual([]);
    expect(col.spans.length).toBe(10);
    expect(e.stats).toEqual({ exported: 10, dropped: 0, failed: 0, failedRequests: 0 });
    expect(col.spans[1]).toMatchObject({ parentId: '0000000000000001', id: '0000000000000002', service: 'productpage.default', kind: 'SERVER' });
  });

  it('counts spans over the queue bound as dropped without blocking add()', async () => {
    const e = new BatchExporter({ url: 'http://127.0.0.1:9/api/v2/spans', format: 'zipkin', maxQueue: 5, maxBatch: 100, intervalMs: 60_000 });
    // add() is synchronous and returns nothing to await: the 1000 calls finish before any I/O could happen.
    for (let i = 0; i < 1000; i++) expect(e.add(span(i))).toBeUndefined();
    expect(e.stats.dropped).toBe(995);
    expect(e.queued).toBe(5);
    await e.close();
  });

  it('counts a dead collector (connection refused) as failed and keeps going', async () => {
    const dead = net.createServer();
    const port = await listen(dead);
    await new Promise<void>((r) => dead.close(() => r()));
    const e = new BatchExporter({ url: `http://127.0.0.1:${port}/api/v2/spans`, format: 'zipkin', intervalMs: 60_000 });
    for (let i = 0; i < 3; i++) e.add(span(i));
    await e.flush();
    expect(e.stats).toMatchObject({ exported: 0, failed: 3, failedRequests: 1 });
    await e.close();
  });

  it('counts a collector that answers garbage bytes or 500 as failed', async () => {
    const garbage = net.createServer((s) => s.end('this is not HTTP\r\n\r\n'));
    const gport = await listen(garbage);
    const e = new BatchExporter({ url: `http://127.0.0.1:${gport}/v1/traces`, format: 'otlp', intervalMs: 60_000 });
    e.add(span(0));
    await e.flush();
    expect(e.stats).toMatchObject({ exported: 0, failed: 1 });
    await e.close();

    const err = http.createServer((_q, r) => r.writeHead(500).end('{oops'));
    const eport = await listen(err);
    const e2 = new BatchExporter({ url: `http://127.0.0.1:${eport}/v1/traces`, format: 'otlp', intervalMs: 60_000 });
    e2.add(span(0));
    await e2.flush();
    expect(e2.stats).toMatchObject({ exported: 0, failed: 1 });
    await e2.close();
  });

  it('gives up on a collector that never answers after its timeout', async () => {
    const sockets: net.Socket[] = [];
    const hang = net.createServer((s) => void sockets.push(s));
    const port = await listen(hang);
    cleanups.unshift(() => sockets.forEach((s) => s.destroy()));
    const e = new BatchExporter({ url: `http://127.0.0.1:${port}/api/v2/spans`, format: 'zipkin', intervalMs: 60_000, timeoutMs: 200 });
    e.add(span(0));
    // flush() resolving at all is the give-up (the collector never answers); no elapsed time is asserted.
    await e.flush();
    expect(e.stats).toMatchObject({ failed: 1, failedRequests: 1 });
    await e.close();
  });

  it('sends a full batch without waiting for the interval', async () => {
    col = await startCollector();
    cleanups.push(() => col.close());
    const e = new BatchExporter({ url: col.url + '/api/v2/spans', format: 'zipkin', maxBatch: 3, intervalMs: 60_000 });
    for (let i = 0; i < 3; i++) e.add(span(i));
    // The interval is a minute: the batch arriving at all proves it went out when full.
    await waitFor(() => col.spans.length >= 3, { what: 'the full batch at the collector' });
    expect(col.spans.length).toBe(3);
    await e.close();
  });

  it('rejects a non-http URL with a stable code', () => {
    expect(() => new BatchExporter({ url: 'ftp://x/y', format: 'zipkin' })).toThrow(/BOWLINE_E_TELEMETRY_EXPORTER_URL/);
  });
});
