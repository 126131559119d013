import { coverageCounts, coverageRows, type CoverageRow } from '../../api/coverage.js';
import { kindNames } from '../../api/kinds.js';
import { EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline coverage [--kind KIND] [--proven | --warned] [-o text|json|markdown]

Lists every field Bowline accepts in Istio's kinds, each either
  proven  the named test takes YAML with the field through the control plane to a proxy decision, or
  warned  accepted, but nothing proves the proxies act on it: validate and apply answer it with
          BOWLINE_W_API_NOT_ENFORCED naming the field.
The list is the enforcement registry (src/api/enforcement.ts); docs/istio-coverage.md explains it.
Ends with the counts per kind.

  --kind KIND        only this kind (e.g. VirtualService)
  --proven           only proven fields
  --warned           only warned fields
  -o, --output FMT   text (default), json, or markdown (two lists, for release notes)
`;

function textLine(r: CoverageRow): string {
  if (r.status === 'proven') return `proven  ${r.field}    ${r.file}: ${r.test}\n`;
  return `warned  ${r.field}${r.note ? `    (${r.note})` : ''}\n`;
}

function countsText(rows: CoverageRow[]): string {
  const c = coverageCounts(rows);
  let out = '\n';
  for (const [k, n] of Object.entries(c.kinds)) out += `${k.padEnd(22)} ${String(n.proven).padStart(4)} proven ${String(n.warned).padStart(4)} warned\n`;
  return `${out}${'total'.padEnd(22)} ${String(c.proven).padStart(4)} proven ${String(c.warned).padStart(4)} warned\n`;
}

function markdown(rows: CoverageRow[]): string {
  const c = coverageCounts(rows);
  const proven = rows.filter((r) => r.status === 'proven');
  const warned = rows.filter((r) => r.status === 'warned');
  let out = `## Fields implemented (${c.proven})\n\n`;
  for (const r of proven) out += `- \`${r.field}\`: ${r.file} "${r.test}"\n`;
  out += `\n## Fields still warned (${c.warned})\n\n`;
  for (const r of warned) out += `- \`${r.field}\`${r.note ? ` (${r.note})` : ''}\n`;
  return out;
}

/** Runs `bowline coverage` with `args`, writing to `write`; resolves to the exit code. */
export async function runCoverage(args: string[], write: (s: string) => void): Promise<number> {
  const { values } = parseFlags(args, {
    kind: { type: 'string' },
    proven: { type: 'boolean', default: false },
    warned: { type: 'boolean', default: false },
    output: { type: 'string', short: 'o', default: 'text' },
    help: { type: 'boolean', short: 'h', default: false },
  }, { allowPositionals: false });
  if (values.help) { write(usage); return EXIT_OK; }
  if (values.proven && values.warned) throw new UsageError('--proven and --warned exclude each other (without either, both are listed)');
  if (values.kind !== undefined && !kindNames.some((k) => k.toLowerCase() === values.kind!.toLowerCase())) {
    throw new UsageError(`unknown kind "${values.kind}": expected one of ${kindNames.join(', ')}`);
  }
  const rows = coverageRows(values.kind).filter((r) => (values.proven ? r.status === 'proven' : values.warned ? r.status === 'warned' : true));
  switch (values.output) {
    case 'json': write(`${JSON.stringify({ fields: rows, counts: coverageCounts(rows) }, null, 2)}\n`); break;
    case 'markdown': write(markdown(rows)); break;
    case 'text': write(rows.map(textLine).join('') + countsText(rows)); break;
    default: throw new UsageError(`unknown output "${values.output}": expected text, json or markdown`);
  }
  return EXIT_OK;
}

/** `bowline coverage`: every accepted Istio field, proven by a named test or warned. */
export const command: Command = {
  name: 'coverage',
  summary: 'List every accepted Istio field: proven end to end by a named test, or warned (BOWLINE_W_API_NOT_ENFORCED), with counts',
  run: (args) => runCoverage(args, (s) => { process.stdout.write(s); }),
};
