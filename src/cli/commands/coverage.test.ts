import { describe, expect, it } from 'vitest';
import { enforcement } from '../../api/enforcement.js';
import { UsageError } from '../command.js';
import { runCoverage } from './coverage.js';

async function run(args: string[]): Promise<string> {
  let out = '';
  expect(await runCoverage(args, (s) => { out += s; })).toBe(0);
  return out;
}

const all = Object.entries(enforcement);
const proven = all.filter(([, e]) => e.status === 'implemented').map(([k]) => k);
const warned = all.filter(([, e]) => e.status === 'warned').map(([k]) => k);

describe('bowline coverage (the closing-note lists: fields implemented, fields still warned)', () => {
  it('markdown: every registry field exactly once, in the list of its status, with the counts in the headings', async () => {
    const md = await run(['-o', 'markdown']);
    const [provenPart, warnedPart] = md.split('## Fields still warned');
    expect(provenPart).toContain(`## Fields implemented (${proven.length})`);
    expect(warnedPart).toMatch(new RegExp(`^ \\(${warned.length}\\)`));
    const listed = (part: string) => [...part.matchAll(/^- `([^`]+)`/gm)].map((m) => m[1]);
    expect(listed(provenPart!)).toEqual(proven);
    expect(listed(warnedPart!)).toEqual(warned);
  });

  it('json: each proven field names its test; --kind and --warned filter; counts add up', async () => {
    const j = JSON.parse(await run(['-o', 'json', '--kind', 'virtualservice']));
    expect(j.fields.every((f: { kind: string }) => f.kind === 'VirtualService')).toBe(true);
    const match = j.fields.find((f: { field: string }) => f.field === 'VirtualService spec.http[].match[].port');
    expect(match).toMatchObject({ status: 'proven', file: expect.stringMatching(/\.test\.ts$/), test: expect.any(String) });
    expect(j.counts.proven + j.counts.warned).toBe(j.fields.length);
    const w = JSON.parse(await run(['-o', 'json', '--warned']));
    expect(w.fields.map((f: { field: string }) => f.field)).toEqual(warned);
  });

  it('text: one line per field and a total line; a wrong kind or flag pair is a usage error', async () => {
    const t = await run(['--proven']);
    expect(t.split('\n').filter((l) => l.startsWith('proven  '))).toHaveLength(proven.length);
    expect(t).toMatch(new RegExp(`^total +${proven.length} proven +0 warned$`, 'm'));
    await expect(runCoverage(['--kind', 'EnvoyFilter'], () => {})).rejects.toThrow(UsageError);
    await expect(runCoverage(['--proven', '--warned'], () => {})).rejects.toThrow(UsageError);
  });
});
