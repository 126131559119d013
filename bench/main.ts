/**
 * Benchmark dispatcher: `npm run bench -- NAME [--quick] [--json]`. Benchmarks measure speed
 * and memory targets; they are not tests (CI only runs bench/smoke.sh, the quick mode).
 */
import { parseArgs } from 'node:util';

const benches: Record<string, (o: { quick: boolean; json: boolean }) => Promise<void>> = {
  proxy: async (o) => (await import('./proxy.js')).benchProxy(o),
  ca: async (o) => (await import('./ca.js')).benchCa(o),
  push: async (o) => (await import('./push.js')).benchPush(o),
};

const { values, positionals } = parseArgs({ options: { quick: { type: 'boolean' }, json: { type: 'boolean' } }, allowPositionals: true });
const name = positionals[0];
if (!name || !benches[name]) {
  process.stderr.write(`usage: npm run bench -- ${Object.keys(benches).join('|')} [--quick] [--json]\n`);
  process.exit(2);
}
benches[name]!({ quick: values.quick === true, json: values.json === true }).then(
  () => process.exit(0),
  (err) => { process.stderr.write(`bench ${name}: ${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); },
);
