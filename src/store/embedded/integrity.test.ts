// Issue 12 item 4: the embedded store tells a torn tail (cut and logged) from damage to
// acknowledged data (refusal naming the file, the offset and the way back), and never starts
// empty when its snapshot is gone. Every case here started silently before the fix.
import { appendFileSync, existsSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from './embedded.js';
import { checkStore, parseBackup, repairStore, restoreStore } from './maintenance.js';
import { scanLog } from './log.js';
import { tempDir } from '../../../test/support/temp.js';

describe('embedded store integrity', () => {
  let dir: string;
  beforeEach(() => { dir = tempDir('bowline-integrity-'); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });
  const wal = () => join(dir, 'wal.log');

  async function fill(n: number, opts: { snapshotOnClose?: boolean } = { snapshotOnClose: false }) {
    const s = await openEmbeddedStore({ dir, ...opts });
    for (let i = 0; i < n; i++) await s.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: 'default' }, data: { i: String(i) } });
    await s.close();
  }

  it('one flipped bit in the middle of the log: refuses to start, names file, offset and recovery, changes nothing', async () => {
    await fill(300);
    const before = readFileSync(wal());
    const data = Buffer.from(before);
    const off = Math.floor(data.length / 2);
    data[off] ^= 0x04;
    writeFileSync(wal(), data);
    const err = await openEmbeddedStore({ dir }).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(err?.code).toBe('BOWLINE_E_STORE_CORRUPT');
    expect(err?.message).toContain(wal());
    expect(err?.message).toMatch(/damaged at byte \d+/);
    expect(err?.message).toContain('bowline store check');
    expect(err?.message).toContain('bowline store repair --to-last-good');
    expect(readFileSync(wal()).equals(data)).toBe(true); // not truncated
    expect(checkStore(dir).ok).toBe(false);
  });

  it('a damaged last record that was complete (acknowledged) is a refusal, not a torn tail', async () => {
    await fill(5);
    for (const at of [-3, 1]) { // the payload's last bytes; the length field of the last record
      const data = readFileSync(wal());
      const lastStart = scanLog(data).records.length && (() => { let off = 0, last = 0; while (off < data.length) { last = off; off += 8 + data.readUInt32LE(off); } return last; })();
      const copy = Buffer.from(data);
      copy[at < 0 ? copy.length + at : lastStart + at] ^= 0x01;
      writeFileSync(wal(), copy);
      await expect(openEmbeddedStore({ dir })).rejects.toMatchObject({ code: 'BOWLINE_E_STORE_CORRUPT' });
      writeFileSync(wal(), data);
    }
  });

  it('a torn tail is cut and logged, and every acknowledged record stays', async () => {
    await fill(5);
    appendFileSync(wal(), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 123, 34]));
    const lines: string[] = [];
    const s = await openEmbeddedStore({ dir, log: (l) => lines.push(l) });
    expect((await s.list('ConfigMap')).items).toHaveLength(5);
    await s.close();
    expect(lines.join('\n')).toMatch(/torn last record at byte \d+/);
  });

  it('a deleted snapshot after a clean shutdown is a refusal, not an empty store', async () => {
    await fill(20, { snapshotOnClose: true });
    unlinkSync(join(dir, 'snapshot.json'));
    await expect(openEmbeddedStore({ dir })).rejects.toMatchObject({ code: 'BOWLINE_E_STORE_CORRUPT', message: expect.stringMatching(/snapshot\.json is missing/) });
    const damaged = tempDir('bowline-integrity-');
    try {
      dir = damaged;
      await fill(20, { snapshotOnClose: true });
      const snap = readFileSync(join(dir, 'snapshot.json'));
      snap[snap.length - 10] ^= 0x20;
      writeFileSync(join(dir, 'snapshot.json'), snap);
      await expect(openEmbeddedStore({ dir })).rejects.toMatchObject({ code: 'BOWLINE_E_STORE_CORRUPT', message: expect.stringMatching(/snapshot\.json is damaged/) });
    } finally {
      rmSync(damaged, { recursive: true, force: true });
    }
  });

  it('a damaged first record (where the CA keeps its root: ca/state) refuses to start, so no new root is minted over it', async () => {
    // Before the fix the reader stopped at the first bad record: an empty store, and the CA generated a new root silently.
    const s = await openEmbeddedStore({ dir, snapshotOnClose: false });
    await s.putRaw('ca/state', JSON.stringify({ version: 1, roots: ['sealed-root'], signing: 0 }));
    for (let i = 0; i < 10; i++) await s.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: 'default' }, data: { i: String(i) } });
    await s.close();
    for (const at of [2, 8 + 3]) { // the first record's length field; a byte of its payload
      const data = readFileSync(wal());
      const copy = Buffer.from(data);
      copy[at] ^= 0x10;
      writeFileSync(wal(), copy);
      await expect(openEmbeddedStore({ dir }), `byte ${at}`).rejects.toMatchObject({ code: 'BOWLINE_E_STORE_CORRUPT', message: expect.stringContaining('bowline store check') });
      writeFileSync(wal(), data);
    }
    const ok = await openEmbeddedStore({ dir });
    expect(await ok.getRaw('ca/state')).toBeDefined();
    await ok.close();
  });

  it('a damaged used-token record refuses to start (a spent token is never accepted again)', async () => {
    const s = await openEmbeddedStore({ dir, snapshotOnClose: false });
    await s.putRaw('ca/tokens/used/abc123', '1999999999');
    for (let i = 0; i < 10; i++) await s.putRaw(`other/${i}`, 'x');
    await s.close();
    const data = readFileSync(wal());
    const at = data.indexOf('abc123');
    data[at] ^= 0x01;
    writeFileSync(wal(), data);
    await expect(openEmbeddedStore({ dir })).rejects.toMatchObject({ code: 'BOWLINE_E_STORE_CORRUPT' });
  });

  it('repair --to-last-good keeps a copy and says what it gave up; restore brings back a backup exactly', async () => {
    await fill(50);
    const s0 = await openEmbeddedStore({ dir, snapshotOnClose: false });
    const backup = parseBackup(JSON.stringify(await s0.backup!()));
    await s0.close();
    expect(backup.entries).toHaveLength(50);
    const data = readFileSync(wal());
    data[Math.floor(data.length / 2)] ^= 0x40;
    writeFileSync(wal(), data);
    const r = repairStore(dir, new Date(0));
    expect(readFileSync(join(r.copy, 'wal.log')).equals(data)).toBe(true);
    expect(r.actions.join('\n')).toMatch(/gave up \d+ intact record/);
    const s1 = await openEmbeddedStore({ dir });
    const kept = (await s1.list('ConfigMap')).items.length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(50);
    await s1.close();
    const rr = restoreStore(dir, backup, new Date(1000));
    expect(existsSync(join(rr.copy, 'wal.log'))).toBe(true);
    const s2 = await openEmbeddedStore({ dir });
    expect((await s2.list('ConfigMap')).items.map((o) => o.metadata.name).sort()).toEqual(backup.entries.map((e) => e.k.split('/').pop()).sort());
    expect(await s2.revision()).toBe(backup.revision);
    await s2.close();
    expect(readdirSync(dir).filter((f) => f.startsWith('damaged-') || f.startsWith('before-restore-'))).toHaveLength(2);
    expect(statSync(wal()).size).toBeGreaterThan(0);
  });
});
