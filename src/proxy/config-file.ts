/**
 * The proxy's file config source: a JSON or YAML ProxyConfig read from disk and re-read when
 * the file changes (fs.watch on its directory, so editors that replace the file are seen) or
 * on demand (SIGHUP in the CLI). Applying is the caller's job (RunningProxy.applyConfig), so
 * a file that fails validation is refused with its reasons and the running config stays.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname } from 'node:path';

// yaml loads on the first YAML file only: a JSON-configured proxy never pays its ~5 MB of RSS.
const load = createRequire(import.meta.url);
const parseYaml = (text: string): unknown => (load('yaml') as typeof import('yaml')).parse(text);

/** Reads and parses a config file (JSON when it starts with `{`, else YAML). Throws with the file name on syntax errors. */
export function readConfigFile(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  try {
    return text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`${path}: cannot parse: ${(err as Error).message}`);
  }
}

/** Calls `onChange` (debounced by `debounceMs`) whenever the file is written or replaced. Returns a stop function. */
export function watchConfigFile(path: string, onChange: () => void, debounceMs = 100): () => void {
  const name = basename(path);
  let timer: NodeJS.Timeout | null = null;
  let w: FSWatcher | undefined;
  try {
    w = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file !== null && file.toString() !== name) return;
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => { timer = null; onChange(); }, debounceMs);
    });
    w.on('error', () => {});
  } catch {}
  return () => {
    if (timer !== null) clearTimeout(timer);
    w?.close();
  };
}
