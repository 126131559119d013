import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';

/** The package version, read from package.json next to dist/ or src/. */
export function bowlineVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** `bowline version`: prints the version and the Node.js runtime. */
export const command: Command = {
  name: 'version',
  summary: 'Print the Bowline version',
  async run() {
    process.stdout.write(`bowline ${bowlineVersion()} (node ${process.version})\n`);
    return 0;
  },
};
