// Bundles the dashboard's front end (src/dashboard/ui) into dist/ui: one ES module, one CSS file,
// the HTML page. Runs as part of `npm run build`; no CDN, so the dashboard works offline.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const out = 'dist/ui';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ['src/dashboard/ui/main.ts'],
  bundle: true,
  format: 'esm',
  target: 'es2020',
  minify: true,
  sourcemap: false,
  legalComments: 'eof',
  outfile: `${out}/app.js`,
  logLevel: 'warning',
});
const css = readFileSync('src/dashboard/ui/style.css', 'utf8') + '\n' + readFileSync('node_modules/uplot/dist/uPlot.min.css', 'utf8');
writeFileSync(`${out}/app.css`, css);
copyFileSync('src/dashboard/ui/index.html', `${out}/index.html`);
