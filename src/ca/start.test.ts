import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CA_ERRORS } from './errors.js';
import { loadKek } from './kek.js';
import { caApiHandler, startCa } from './start.js';
import { MemoryCaStorage } from './storage.js';
import { tempDir } from '../../test/support/temp.js';

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

/** Opens the CA as the control plane does (a KEK generated in HOME) and serves its API on a real HTTP listener. */
async function open(storage = new MemoryCaStorage(), home = tempDir('bowline-ca-home-')) {
  const logs: string[] = [];
  const kek = loadKek({ home, env: {} });
  const running = await startCa({ store: storage, kek, home, trustDomain: 'cluster.local', env: {}, log: (l) => logs.push(l) });
  closers.push(() => running.stop());
  const server = createServer(caApiHandler(running.ca)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return { ca: running.ca, kek, logs, storage, home, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('the control plane CA', () => {
  it('opens the CA with a generated KEK in HOME and serves /v1/tokens and /v1/ca/', async () => {
    const h = await open();
    expect(h.ca.trustDomain).toBe('cluster.local');
    expect(h.kek.source).toBe(`generated file ${join(h.home, 'ca-kek')}`);
    expect(h.logs[0]).toContain(`key-encryption key from generated file ${join(h.home, 'ca-kek')}`);
    const r = await fetch(`${h.url}/v1/tokens`, { method: 'POST', body: JSON.stringify({ namespace: 'a', serviceAccount: 'b', ttl: '10m' }) });
    expect(r.status).toBe(201);
    const b = await (await fetch(`${h.url}/v1/ca/trust-bundle`)).json() as { rootHash: string };
    expect(b.rootHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('stops start-up when the configured KEK cannot decrypt the stored CA key', async () => {
    const first = await open();
    const otherHome = tempDir('bowline-ca-home-');
    await expect(open(first.storage, otherHome)).rejects.toMatchObject({ code: CA_ERRORS.KEK_MISMATCH }); // same store, a new generated KEK
  });
});
