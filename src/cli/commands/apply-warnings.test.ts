// bowline apply warns about an unknown subset only when neither the input (all -f files) nor the
// server's DestinationRules define it; it used to warn whenever the DestinationRule was not in the
// same file, e.g. for every VirtualService change after the DestinationRule was applied once.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../control/control-plane.js';
import type { CliIO } from '../client.js';
import { runApply } from './apply.js';
import { runValidate } from './validate.js';
import { tempDir } from '../../../test/support/temp.js';

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
`;
const vs = (subset: string): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: ${subset}}
`;

let cp: ControlPlane;
let home: string;
let env: NodeJS.ProcessEnv;

function io(): CliIO & { out: string; err: string } {
  const x = { out: '', err: '', stdout: (s: string) => { x.out += s; }, stderr: (s: string) => { x.err += s; }, readStdin: async () => '' };
  return x;
}

function file(name: string, text: string): string {
  const p = join(home, name);
  writeFileSync(p, text);
  return p;
}

beforeAll(async () => {
  home = tempDir('bowline-apply-warn-');
  cp = await startControlPlane({ home: join(home, 'cp'), listenApi: '127.0.0.1:0', log: () => {} });
  env = { BOWLINE_SERVER: cp.apiUrl, BOWLINE_HOME: join(home, 'cli-home') };
});
afterAll(async () => {
  await cp.close();
  rmSync(home, { recursive: true, force: true });
});

describe('bowline apply: unknown-subset warnings', () => {
  it('does not warn when the DestinationRule is on the server; validate still does', async () => {
    expect(await runApply(['-f', file('dr.yaml', DR)], io(), env)).toBe(0);
    const x = io();
    expect(await runApply(['-f', file('vs-v2.yaml', vs('v2'))], x, env)).toBe(0);
    expect(x.out).toBe('virtualservice.networking.istio.io/reviews created\n');
    expect(x.err).toBe('');
    const v = io();
    await runValidate(['-f', join(home, 'vs-v2.yaml')], v);
    expect(v.out + v.err).toContain('BOWLINE_W_API_UNKNOWN_SUBSET');
  });

  it('still warns about a subset defined nowhere, with file:line:col', async () => {
    const x = io();
    const f = file('vs-v3.yaml', vs('v3'));
    expect(await runApply(['-f', f], x, env)).toBe(0);
    expect(x.err).toMatch(new RegExp(`^${f.replace(/[/.]/g, '\\$&')}:9:\\d+ BOWLINE_W_API_UNKNOWN_SUBSET spec\\.http\\[0\\]\\.route\\[0\\]\\.destination\\.subset: subset "v3" of host reviews is not defined by any DestinationRule in the input or on the server`));
  });

  it('sees DestinationRules in other -f files, and only in the namespace the VirtualService goes to', async () => {
    const other = vs('v9').replace('name: reviews', 'name: reviews9');
    const dr9 = DR.replace('name: v2', 'name: v9').replace('name: reviews', 'name: reviews9');
    let x = io();
    expect(await runApply(['-f', file('vs9.yaml', other), '-f', file('dr9.yaml', dr9)], x, env)).toBe(0);
    expect(x.err).toBe('');
    // In namespace "elsewhere", host "reviews" means reviews.elsewhere: the default namespace's rules do not count.
    x = io();
    expect(await runApply(['-f', join(home, 'vs-v2.yaml'), '-n', 'elsewhere'], x, env)).toBe(0);
    expect(x.err).toContain('BOWLINE_W_API_UNKNOWN_SUBSET');
  });
});

describe('BOWLINE_W_API_NOT_ENFORCED (fields nothing proves the proxies act on)', () => {
  const warm = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: warm
spec:
  host: warm
  trafficPolicy:
    connectionPool:
      tcp: {maxConnectionDuration: 10s}
`;
  it('apply applies the resource and names the field with file:line:col; validate says the same', async () => {
    const f = file('warm.yaml', warm);
    const x = io();
    expect(await runApply(['-f', f], x, env)).toBe(0);
    expect(x.out).toBe('destinationrule.networking.istio.io/warm created\n');
    expect(x.err).toMatch(new RegExp(`^${f.replace(/[/.]/g, '\\$&')}:9:\\d+ BOWLINE_W_API_NOT_ENFORCED spec\\.trafficPolicy\\.connectionPool\\.tcp\\.maxConnectionDuration: `));
    const v = io();
    expect(await runValidate(['-f', f], v)).toBe(0);
    expect(v.err).toContain(`${f}:9:`);
    expect(v.err).toContain('BOWLINE_W_API_NOT_ENFORCED spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration');
  });

  it('the config API answers the write with the warning (Warning header)', async () => {
    const body = JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'warm2' }, spec: { host: 'warm', trafficPolicy: { connectionPool: { tcp: { maxConnectionDuration: '10s' } } } } });
    const r = await fetch(`${cp.apiUrl}/apis/networking.istio.io/v1/namespaces/default/destinationrules`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(r.status).toBe(201);
    expect(r.headers.get('warning')).toContain('BOWLINE_W_API_NOT_ENFORCED spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration');
  });
});
