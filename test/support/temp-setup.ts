// setupFiles entry of every vitest project: removes what test/support/temp.ts made, after the file's own
// afterAll hooks (registered first, so with vitest's default `sequence.hooks: 'stack'` it runs last).
import { afterAll } from 'vitest';
import { removeTemps } from './temp.js';

afterAll(() => {
  const failed = removeTemps();
  if (failed.length > 0) throw new Error(`could not remove temporary paths:\n${failed.join('\n')}`);
});
