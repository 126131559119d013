// The API listener opens only once every part is mounted (issue 12 item 6: a 200 from /readyz before the
// CA's /v1/ca/* endpoints existed let clients hit 404): the first answer the listener gives is a complete control plane.
import { rmSync } from 'node:fs';
import { expect, it } from 'vitest';
import { startControlPlane } from './control-plane.js';
import { tempDir } from '../../test/support/temp.js';

it('serves /readyz and the CA and push paths from its very first answer', async () => {
  const home = tempDir('bowline-readyz-');
  let first: Promise<number[]> | undefined;
  const cp = await startControlPlane({
    home, listenApi: '127.0.0.1:0', listenPush: '127.0.0.1:0', listenPushTls: '127.0.0.1:0', ca: true, push: true,
    log: (l) => {
      // Asked the moment the listener says it is up, before startControlPlane returns.
      const m = /config API on (http:\/\/\S+)/.exec(l);
      if (m) first = Promise.all(['/readyz', '/v1/ca/trust-bundle', '/debug/syncz'].map(async (p) => (await fetch(`${m[1]}${p}`)).status));
    },
  });
  try {
    expect(first).toBeDefined();
    expect(await first).toEqual([200, 200, 200]);
  } finally {
    await cp.close();
    rmSync(home, { recursive: true, force: true });
  }
});
