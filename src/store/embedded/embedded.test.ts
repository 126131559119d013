import { rmSync } from 'node:fs';
import { FakeClock } from '../clock.js';
import { describeStore } from '../store.suite.js';
import { openEmbeddedStore } from './embedded.js';
import { tempDir } from '../../../test/support/temp.js';

describeStore('embedded', async () => {
  const dir = tempDir('bowline-store-');
  const clock = new FakeClock();
  const store = await openEmbeddedStore({ dir, clock, sweepMs: 100 });
  return {
    store,
    passTime: (ms) => clock.advance(ms),
    expiryWaitMs: 2000,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
