import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../clock.js';
import { describeStore } from '../store.suite.js';
import { openEmbeddedStore } from './embedded.js';

describeStore('embedded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bowline-store-'));
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
