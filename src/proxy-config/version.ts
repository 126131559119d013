import { readFileSync } from 'node:fs';

/** The Bowline package version (package.json above src/ or dist/); `0.0.0` when it cannot be read. */
export function bowlineVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next layout
    }
  }
  return '0.0.0';
}
