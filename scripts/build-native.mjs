#!/usr/bin/env node
// Builds the SO_ORIGINAL_DST addon (native/original-dst) with node-gyp against this Node's own
// headers (--nodedir: node-gyp never downloads anything). Runs from `npm install` (the package's
// `install` script, for a clone and for `npm install -g`). A failure is reported, not fatal:
// explicit HTTP_PROXY mode needs no native code, and `bowline capture` / `bowline proxy
// --capture iptables` name the missing piece (docs/capture.md).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'native', 'original-dst');
if (process.platform !== 'linux') process.exit(0);

function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try { candidates.push(createRequire(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'package.json')).resolve('node-gyp/bin/node-gyp.js')); } catch { /* not there */ }
  candidates.push('/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js', '/usr/share/nodejs/node-gyp/bin/node-gyp.js');
  return candidates.find((c) => c && existsSync(c));
}

function nodeDir() {
  for (const prefix of [join(dirname(process.execPath), '..'), '/usr', '/usr/local']) {
    if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  }
  return undefined;
}

const gyp = nodeGyp();
const nodedir = nodeDir();
const missing = !gyp ? 'node-gyp (it comes with npm)' : !nodedir ? "Node's headers (include/node/node_api.h; Debian: libnode-dev)" : undefined;
if (missing) {
  process.stderr.write(`bowline: SO_ORIGINAL_DST addon not built: ${missing} is missing; transparent capture will not be available (explicit HTTP_PROXY mode works)\n`);
  process.exit(0);
}
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--silent'], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) {
  process.stderr.write(`bowline: SO_ORIGINAL_DST addon not built (node-gyp exit ${r.status}; a C compiler and make are needed); transparent capture will not be available (explicit HTTP_PROXY mode works)\n`);
}
process.exit(0);
