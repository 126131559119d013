import { chmodSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Lets another user reach the directory `path` (a proxy running as an unprivileged user must read the
 * package): it and each ancestor that user could not traverse get o+x (traverse only, nothing readable), as a
 * checkout under a 0700 mktemp -d in CI needs. Returns the function that restores their modes.
 */
export function openTraversal(path: string): () => void {
  const opened: Array<{ dir: string; mode: number }> = [];
  let dir = path.replace(/\/+$/, '');
  while (dir && dir !== '/') {
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001);
      opened.push({ dir, mode });
    }
    dir = dirname(dir);
  }
  return () => { for (const { dir, mode } of opened.splice(0).reverse()) chmodSync(dir, mode); };
}
