import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import { FakeClock } from '../clock.js';
import type { RawEntry, WatchEvent } from '../store.js';
import { openEmbeddedStore } from './embedded.js';
import { tempDir } from '../../../test/support/temp.js';

describe('embedded store durability', () => {
  let dir: string;
  beforeEach(() => { dir = tempDir('bowline-store-'); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('keeps every write across a restart, through snapshots and the log', async () => {
    let s = await openEmbeddedStore({ dir, snapshotEvery: 7 });
    for (let i = 0; i < 20; i++) await s.putRaw(`k/${i}`, String(i));
    const obj = await s.create({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'istio-system' }, spec: { servers: [] } });
    await s.deleteRaw('k/3');
    const rev = await s.revision();
    await s.close();
    s = await openEmbeddedStore({ dir, snapshotEvery: 7 });
    expect(await s.revision()).toBe(rev);
    expect((await s.listRaw('k/')).entries).toHaveLength(19);
    expect(await s.get('Gateway', 'istio-system', 'gw')).toEqual(obj);
    expect(Number(await s.putRaw('k/new', 'x'))).toBe(rev + 1);
    await s.close();
    // A clean close leaves a snapshot and a log holding only the marker that names it.
    expect(statSync(join(dir, 'wal.log')).size).toBeLessThan(40);
    s = await openEmbeddedStore({ dir });
    expect((await s.getRaw('k/new'))?.value).toBe('x');
    await s.close();
  });

  it('tolerates a torn last record and keeps everything before it', async () => {
    let s = await openEmbeddedStore({ dir, snapshotOnClose: false });
    await s.putRaw('a', '1');
    await s.putRaw('b', '2');
    await s.close();
    const wal = join(dir, 'wal.log');
    const size = statSync(wal).size;
    appendFileSync(wal, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 123, 34])); // header promising 200 bytes, then a crash
    s = await openEmbeddedStore({ dir, snapshotOnClose: false });
    expect((await s.getRaw('b'))?.value).toBe('2');
    await s.putRaw('c', '3');
    await s.close();
    expect(statSync(wal).size).toBeGreaterThan(size);
    s = await openEmbeddedStore({ dir, snapshotOnClose: false });
    expect((await s.listRaw('')).entries.map((e) => e.value)).toEqual(['1', '2', '3']);
    await s.close();
  });

  it('refuses to start on a complete last record whose checksum does not match (it was acknowledged)', async () => {
    const s = await openEmbeddedStore({ dir, snapshotOnClose: false });
    await s.putRaw('a', 'first');
    await s.putRaw('b', 'second');
    await s.close();
    const wal = join(dir, 'wal.log');
    const data = readFileSync(wal);
    data[data.length - 3] ^= 0xff; // flip a byte in the last record's payload
    writeFileSync(wal, data);
    await expect(openEmbeddedStore({ dir, snapshotOnClose: false })).rejects.toMatchObject({ code: 'BOWLINE_E_STORE_CORRUPT' });
    expect(readFileSync(wal).equals(data)).toBe(true);
  });

  it('keeps a TTL key for the rest of its lease after a restart, then expires it', async () => {
    const clock = new FakeClock();
    let s = await openEmbeddedStore({ dir, clock, sweepMs: 100 });
    await s.putRaw('registry/w', 'x', { ttlMs: 10_000 });
    clock.advance(4000);
    await s.keepAlive('registry/w'); // lease now ends at t0 + 14 s
    await s.close();
    clock.advance(5000); // the control plane was down for 5 s
    s = await openEmbeddedStore({ dir, clock, sweepMs: 100 });
    expect((await s.getRaw('registry/w'))?.value).toBe('x');
    const events: WatchEvent<RawEntry>[] = [];
    s.watchRaw('registry/', (e) => events.push(e));
    clock.advance(4000); // t0 + 13 s: still within the lease
    expect(await s.getRaw('registry/w')).toBeDefined();
    clock.advance(1500);
    await waitFor(() => events.length === 1, { what: 'expiry event' });
    expect(events[0]!.type).toBe('DELETED');
    await s.close();
  });

  it('refuses a second process-local open of a store in use by a live process', async () => {
    const s = await openEmbeddedStore({ dir });
    writeFileSync(join(dir, 'LOCK'), String(process.ppid));
    await expect(openEmbeddedStore({ dir })).rejects.toThrow(/in use by process/);
    writeFileSync(join(dir, 'LOCK'), String(process.pid));
    await s.close();
  });

  it('keeps every acknowledged write after kill -9 of the writing process', async () => {
    const fixture = fileURLToPath(new URL('./crash-writer.fixture.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((r) => child.once('exit', r));
    await waitFor(() => (out.match(/^ack /gm)?.length ?? 0) >= 400, { timeoutMs: 20_000, what: `400 acks (${out.slice(-300)})` });
    child.kill('SIGKILL');
    await exited;
    const acked = out.split('\n').filter((l) => l.startsWith('ack ')).map((l) => l.slice(4));
    const s = await openEmbeddedStore({ dir });
    const missing: string[] = [];
    for (const k of acked) {
      const ok = k.startsWith('cm:')
        ? await s.get('ConfigMap', 'default', k.slice(3)).then(() => true, () => false)
        : (await s.getRaw(k)) !== undefined;
      if (!ok) missing.push(k);
    }
    expect(missing).toEqual([]);
    expect(acked.length).toBeGreaterThanOrEqual(400);
    await s.close();
  });
});
