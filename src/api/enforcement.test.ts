import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { enforcement } from './enforcement.js';
import { leafPaths } from './schema/fields.js';
import { specSchemas } from './schema/resource.js';
import { parseAndValidate } from './parse.js';
import { kindNames } from './kinds.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

function declaresTest(text: string, name: string): boolean {
  const quoted = [`'${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`, `"${name.replace(/"/g, '\\"')}"`, `\`${name}\``];
  return quoted.some((q) => text.includes(`it(${q}`) || text.includes(`test(${q}`));
}

describe('enforcement registry (issue 11 item 2: nothing accepted is silently ignored)', () => {
  const schemaPaths = kindNames.flatMap((k) => leafPaths(specSchemas[k], 'spec').map((p) => `${k} ${p}`));

  it('lists every field path of every kind as proven or warned', () => {
    expect(schemaPaths.length).toBeGreaterThan(100);
    expect(schemaPaths.filter((p) => !enforcement[p])).toEqual([]);
  });

  it('lists no field path the schemas do not have', () => {
    const known = new Set(schemaPaths);
    expect(Object.keys(enforcement).filter((k) => !known.has(k))).toEqual([]);
  });

  it('names, for every proven field, a test that exists', () => {
    const missing: string[] = [];
    const texts = new Map<string, string>();
    for (const [key, e] of Object.entries(enforcement)) {
      if (e.status !== 'implemented') continue;
      const file = repo + e.file;
      if (!texts.has(file)) texts.set(file, existsSync(file) ? readFileSync(file, 'utf8') : '');
      if (!declaresTest(texts.get(file)!, e.test)) missing.push(`${key}: ${e.file} has no test "${e.test}"`);
    }
    expect(missing).toEqual([]);
  });

  it('warns at validate time for a set field that is not proven, at its line and column, and not for a proven one', () => {
    const text = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnectionDuration: 1h
  subsets:
  - {name: v1, labels: {version: v1}}
`;
    const { violations } = parseAndValidate(text, { file: 'dr.yaml' });
    const w = violations.filter((v) => v.code === 'BOWLINE_W_API_NOT_ENFORCED');
    expect(w.map((v) => [v.path, v.line, v.column, v.severity])).toEqual([['spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration', 9, 9, 'warning']]);
    expect(w[0]!.message).toContain('tcp.maxConnectionDuration');
    expect(violations.filter((v) => v.severity === 'error')).toEqual([]);
  });
});
