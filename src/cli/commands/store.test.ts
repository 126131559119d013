// `bowline store backup|check|repair|restore` against a real control plane and real store files.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startControlPlane } from '../../control/control-plane.js';
import { openEmbeddedStore } from '../../store/index.js';
import { runStore } from './store.js';
import { tempDir } from '../../../test/support/temp.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function io() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s), readStdin: async () => '' } };
}

describe('bowline store', () => {
  it('backs up a running control plane, says a damaged store is damaged, and restores the backup exactly', async () => {
    const home = tempDir('bowline-store-cli-');
    dirs.push(home);
    const cp = await startControlPlane({ home, listenApi: '127.0.0.1:0', log: () => {} });
    for (let i = 0; i < 30; i++) await cp.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: 'default' }, data: {} });
    const file = join(home, 'backup.json');
    const a = io();
    expect(await runStore(['backup', file, '--server', cp.apiUrl], a.io, {})).toBe(0);
    expect(a.out.stdout).toMatch(/wrote .*backup\.json: \d+ keys at revision \d+/);
    // Refused while the control plane holds the store.
    const busy = io();
    expect(await runStore(['restore', file, '--home', home], busy.io, {})).toBe(1);
    expect(busy.out.stderr).toMatch(/^bowline store: BOWLINE_E_STORE_UNAVAILABLE: .*in use by process/);
    await cp.close();
    // Damage the log in the middle: check says so (exit 1), start-up is refused.
    const s = await openEmbeddedStore({ dir: join(home, 'store'), snapshotOnClose: false });
    for (let i = 0; i < 30; i++) await s.putRaw(`more/${i}`, 'x');
    await s.close();
    const wal = join(home, 'store', 'wal.log');
    const data = readFileSync(wal);
    data[Math.floor(data.length / 2)] ^= 0x10;
    writeFileSync(wal, data);
    const c = io();
    expect(await runStore(['check', '--home', home], c.io, {})).toBe(1);
    expect(c.out.stdout).toMatch(/DAMAGED[\s\S]*damaged at byte \d+[\s\S]*bowline store restore FILE/);
    await expect(startControlPlane({ home, listenApi: '127.0.0.1:0', log: () => {} })).rejects.toMatchObject({ code: 'BOWLINE_E_STORE_CORRUPT' });
    const r = io();
    expect(await runStore(['restore', file, '--home', home], r.io, {})).toBe(0);
    const back = await startControlPlane({ home, listenApi: '127.0.0.1:0', log: () => {} });
    expect((await back.store.list('ConfigMap')).items).toHaveLength(30);
    await back.close();
    const ok = io();
    expect(await runStore(['check', '--home', home], ok.io, {})).toBe(0);
  });

  it('asks for --to-last-good before repairing, and prints CODE: message for a missing file', async () => {
    const home = tempDir('bowline-store-cli-');
    dirs.push(home);
    await expect(runStore(['repair', '--home', home], io().io, {})).rejects.toThrow(/--to-last-good/);
    const m = io();
    expect(await runStore(['restore', join(home, 'nope.json'), '--home', home], m.io, {})).toBe(1);
    expect(m.out.stderr).toMatch(/^bowline store: BOWLINE_E_CLI_FILE: /);
  });
});
