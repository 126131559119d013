// /readyz answers 200 only after every plugin (the CA's /v1/ca/* endpoints, push) is mounted (issue 12 item 6).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { waitFor } from '../../test/support/wait.js';
import { startControlPlane } from './control-plane.js';

it('/readyz is 503 while a plugin is still starting, 200 once it is mounted', async () => {
  const home = mkdtempSync(join(tmpdir(), 'bowline-readyz-'));
  let url = '';
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let seen = 0;
  const starting = startControlPlane({
    home, listenApi: '127.0.0.1:0',
    log: (l) => { const m = /config API on (http:\/\/\S+)/.exec(l); if (m) url = m[1]!; },
    plugins: [{ name: 'slow', start: async (cp) => { cp.addHandler('/v1/slow', (_q, res) => void res.end('ok')); await gate; } }],
  });
  await waitFor(() => url !== '', { what: 'the API listener' });
  expect(url).not.toBe('');
  seen = (await fetch(`${url}/readyz`)).status;
  release();
  const cp = await starting;
  expect(seen).toBe(503);
  expect((await fetch(`${url}/readyz`)).status).toBe(200);
  await cp.close();
  rmSync(home, { recursive: true, force: true });
});
