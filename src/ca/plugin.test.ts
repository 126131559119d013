import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CA_ERRORS } from './errors.js';
import { caOf, plugin, type CaHost } from './plugin.js';
import { MemoryCaStorage } from './storage.js';

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

/** A stand-in for the control plane: a store, a home, prefix handlers on a real HTTP listener. */
async function host(storage = new MemoryCaStorage(), home = mkdtempSync(join(tmpdir(), 'bowline-ca-home-')), extra: Partial<CaHost['options']> = {}) {
  const handlers: Array<[string, (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>]> = [];
  const logs: string[] = [];
  const cp: CaHost = { store: storage, options: { home, ...extra }, addHandler: (p, h) => handlers.push([p, h]), log: (l) => logs.push(l) };
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const h = handlers.find(([p]) => url.pathname.startsWith(p));
    if (h) void h[1](req, res, url);
    else res.writeHead(404).end();
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return { cp, logs, storage, home, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('CA control-plane plugin', () => {
  it('opens the CA with a generated KEK in HOME, mounts /v1/tokens and /v1/ca/, and hands the CA to other plugins', async () => {
    const h = await host();
    await plugin.start(h.cp);
    expect(caOf(h.cp)?.trustDomain).toBe('cluster.local');
    expect(h.logs[0]).toContain(`generated file ${join(h.home, 'ca-kek')}`);
    const r = await fetch(`${h.url}/v1/tokens`, { method: 'POST', body: JSON.stringify({ namespace: 'a', serviceAccount: 'b', ttl: '10m' }) });
    expect(r.status).toBe(201);
    const b = await (await fetch(`${h.url}/v1/ca/trust-bundle`)).json() as { rootHash: string };
    expect(b.rootHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('stops start-up when the configured KEK cannot decrypt the stored CA key', async () => {
    const first = await host();
    await plugin.start(first.cp);
    const otherHome = mkdtempSync(join(tmpdir(), 'bowline-ca-home-'));
    const again = await host(first.storage, otherHome); // same store, a new generated KEK
    await expect(plugin.start(again.cp)).rejects.toMatchObject({ code: CA_ERRORS.KEK_MISMATCH });
  });
});
