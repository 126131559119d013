import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../control/control-plane.js';
import { freePort } from '../../../test/support/ports.js';
import type { CliIO } from '../client.js';
import { runApply } from './apply.js';
import { runDelete } from './delete.js';
import { runDescribe } from './describe.js';
import { runGet } from './get.js';
import { tempDir } from '../../../test/support/temp.js';

const ALL_V1 = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
`;

const JASON_V2 = ALL_V1.split('---')[0]!.replace(`  http:
  - route:`, `  http:
  - match:
    - headers:
        end-user:
          exact: jason
    route:
    - destination:
        host: reviews
        subset: v2
  - route:`);

let cp: ControlPlane;
let home: string;
let dir: string;
let env: NodeJS.ProcessEnv;

function io(stdin = ''): CliIO & { out: string; err: string } {
  const x = { out: '', err: '', stdout: (s: string) => { x.out += s; }, stderr: (s: string) => { x.err += s; }, readStdin: async () => stdin };
  return x;
}

beforeAll(async () => {
  home = tempDir('bowline-cli-');
  dir = join(home, 'yaml');
  mkdirSync(dir);
  cp = await startControlPlane({ home: join(home, 'cp'), listenApi: '127.0.0.1:0', log: () => {} });
  env = { BOWLINE_SERVER: cp.apiUrl, BOWLINE_HOME: join(home, 'cli-home') };
});
afterAll(async () => {
  await cp.close();
  rmSync(home, { recursive: true, force: true });
});

describe('bowline apply/get/describe/delete against a real control plane', () => {
  it('applies multi-document YAML: created, then unchanged, then configured', async () => {
    writeFileSync(join(dir, 'all-v1.yaml'), ALL_V1);
    let x = io();
    expect(await runApply(['-f', join(dir, 'all-v1.yaml')], x, env)).toBe(0);
    expect(x.out).toBe('virtualservice.networking.istio.io/reviews created\ndestinationrule.networking.istio.io/reviews created\n');
    x = io();
    expect(await runApply(['-f', join(dir, 'all-v1.yaml')], x, env)).toBe(0);
    expect(x.out).toBe('virtualservice.networking.istio.io/reviews unchanged\ndestinationrule.networking.istio.io/reviews unchanged\n');
    x = io(JASON_V2);
    expect(await runApply(['-f', '-'], x, env)).toBe(0);
    expect(x.out).toBe('virtualservice.networking.istio.io/reviews configured\n');
    const stored = await cp.store.get('VirtualService', 'default', 'reviews');
    expect((stored.spec as any).http[0].match[0].headers['end-user'].exact).toBe('jason');
    expect(stored.metadata.generation).toBe(2);
  });

  it('does nothing with --dry-run', async () => {
    const x = io(ALL_V1.replaceAll('reviews', 'ratings'));
    expect(await runApply(['-f', '-', '--dry-run', '-n', 'dry'], x, env)).toBe(0);
    expect(x.out).toContain('virtualservice.networking.istio.io/ratings created (dry run)');
    expect((await cp.store.list('VirtualService', 'dry')).items).toEqual([]);
  });

  it('prints violations as file:line:col CODE path: message and applies nothing', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, ALL_V1.replace('        host: reviews\n        subset: v1', '        subset: v1').replaceAll('reviews', 'broken'));
    const x = io();
    expect(await runApply(['-f', bad], x, env)).toBe(1);
    expect(x.err).toMatch(new RegExp(`^${bad.replace(/[/.]/g, '\\$&')}:11:\\d+ BOWLINE_E_API_REQUIRED spec\\.http\\[0\\]\\.route\\[0\\]\\.destination: `, 'm'));
    expect(x.out).toBe('');
    expect((await cp.store.list('DestinationRule', 'default')).items.map((o) => o.metadata.name)).not.toContain('broken');
  });

  it('rejects -n that contradicts the object namespace', async () => {
    const x = io(ALL_V1.replace('  name: reviews\nspec:\n  hosts', '  name: reviews\n  namespace: a\nspec:\n  hosts'));
    expect(await runApply(['-f', '-', '-n', 'b'], x, env)).toBe(1);
    expect(x.err).toMatch(/does not match the namespace "b"/);
  });

  it('gets tables, wide, yaml and json with short names, plurals and any case', async () => {
    let x = io();
    expect(await runGet(['vs'], x, env)).toBe(0);
    expect(x.out).toMatch(/^NAME\s+GATEWAYS\s+HOSTS\s+AGE\nreviews\s+<none>\s+reviews\s+\d+s\n$/);
    x = io();
    expect(await runGet(['VirtualServices', '-A'], x, env)).toBe(0);
    expect(x.out).toMatch(/^NAMESPACE\s+NAME\s+GATEWAYS\s+HOSTS\s+AGE\ndefault\s+reviews/);
    x = io();
    expect(await runGet(['destinationrule', 'reviews', '-o', 'wide'], x, env)).toBe(0);
    expect(x.out).toMatch(/^NAME\s+HOST\s+AGE\s+GENERATION\s+LABELS\nreviews\s+reviews\s+\d+s\s+1\s+<none>\n$/);
    x = io();
    expect(await runGet(['dr', 'reviews', '-o', 'json'], x, env)).toBe(0);
    expect(JSON.parse(x.out).spec.host).toBe('reviews');
    x = io();
    expect(await runGet(['vs', '-o', 'yaml'], x, env)).toBe(0);
    expect(x.out).toMatch(/^apiVersion: v1\nkind: List\nitems:\n/);
    x = io();
    expect(await runGet(['gw'], x, env)).toBe(0);
    expect(x.err).toBe('No resources found in default namespace.\n');
    x = io();
    expect(await runGet(['vs', 'missing'], x, env)).toBe(1);
    expect(x.err).toMatch(/^bowline get: BOWLINE_E_CLI_API: Error from server \(NotFound\): virtualservices.networking.istio.io "missing" not found/);
    await expect(runGet(['widgets'], io(), env)).rejects.toThrow(/unknown kind "widgets"/);
  });

  it('describes one resource', async () => {
    const x = io();
    expect(await runDescribe(['vs', 'reviews'], x, env)).toBe(0);
    expect(x.out).toMatch(/^Name:\s+reviews\nNamespace:\s+default\n/);
    expect(x.out).toMatch(/Generation:\s+2/);
    expect(x.out).toMatch(/Spec:\n {2}hosts:\n {4}- reviews/);
  });

  it('deletes by KIND NAME and by file', async () => {
    let x = io();
    expect(await runDelete(['vs', 'reviews'], x, env)).toBe(0);
    expect(x.out).toBe('virtualservice.networking.istio.io "reviews" deleted\n');
    x = io();
    expect(await runDelete(['vs', 'reviews'], x, env)).toBe(1);
    expect(x.err).toMatch(/NotFound/);
    x = io();
    expect(await runDelete(['-f', join(dir, 'all-v1.yaml'), '--ignore-not-found'], x, env)).toBe(0);
    expect(x.out).toBe('destinationrule.networking.istio.io "reviews" deleted\n');
  });

  it('says clearly when the control plane cannot be reached', async () => {
    const port = await freePort();
    const x = io();
    expect(await runGet(['vs'], x, { BOWLINE_SERVER: `http://127.0.0.1:${port}`, BOWLINE_HOME: env.BOWLINE_HOME })).toBe(1);
    expect(x.err).toMatch(new RegExp(`^bowline get: BOWLINE_E_CLI_UNREACHABLE: cannot reach the control plane at http://127.0.0.1:${port}`));
    expect(x.err).toContain('is `bowline up` running?');
    // Every client command says it the same way: `bowline CMD: BOWLINE_E_CLI_UNREACHABLE: ...`, exit 1.
    const far = { BOWLINE_SERVER: `http://127.0.0.1:${port}`, BOWLINE_HOME: env.BOWLINE_HOME };
    const runs: Array<[string, (o: CliIO) => Promise<number>]> = [['apply', (o) => runApply(['-f', join(dir, 'all-v1.yaml')], o, far)], ['delete', (o) => runDelete(['vs', 'reviews'], o, far)], ['describe', (o) => runDescribe(['vs', 'reviews'], o, far)]];
    for (const [cmd, run] of runs) {
      const y = io();
      expect(await run(y)).toBe(1);
      expect(y.err).toMatch(new RegExp(`^bowline ${cmd}: BOWLINE_E_CLI_UNREACHABLE: cannot reach the control plane`));
    }
  });

  it('finds the server in the context file and sends the admin token', async () => {
    const h = tempDir('bowline-cli-');
    const open = await startControlPlane({ home: h, listenApi: '0.0.0.0:0', log: () => {} });
    try {
      writeFileSync(join(h, 'config'), JSON.stringify({ server: open.apiUrl }));
      const x = io();
      expect(await runApply(['-f', join(dir, 'all-v1.yaml')], x, { BOWLINE_HOME: h })).toBe(0);
      expect(x.out).toContain('created');
      const y = io();
      expect(await runGet(['vs'], y, { BOWLINE_SERVER: open.apiUrl, BOWLINE_HOME: join(h, 'nothing') })).toBe(1);
      expect(y.err).toMatch(/^bowline get: BOWLINE_E_API_UNAUTHENTICATED: Error from server \(Unauthorized\): /);
    } finally {
      await open.close();
      rmSync(h, { recursive: true, force: true });
    }
  });
});

describe('bowline apply under write races', () => {
  it('says why when every attempt meets a 409 Conflict, instead of exiting 1 silently', async () => {
    let puts = 0;
    const racing = createServer((req, res) => {
      req.resume();
      if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default', resourceVersion: String(++puts) }, spec: {} }));
      res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Conflict', code: 409, message: 'changed' }));
    });
    await new Promise<void>((r) => racing.listen(0, '127.0.0.1', r));
    try {
      const f = join(dir, 'race.yaml');
      writeFileSync(f, ALL_V1.split('---')[0]!);
      const x = io();
      const code = await runApply(['-f', f], x, { BOWLINE_SERVER: `http://127.0.0.1:${(racing.address() as AddressInfo).port}`, BOWLINE_HOME: join(home, 'race-home') });
      expect(code).toBe(1);
      expect(x.err).toMatch(/race\.yaml:1: virtualservice\.networking\.istio\.io\/reviews: changed by another writer during each of 3 attempts \(409 Conflict\)/);
    } finally {
      await new Promise((r) => racing.close(r));
    }
  });
});
