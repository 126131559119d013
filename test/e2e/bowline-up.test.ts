// `bowline up` as users run it: a real child process with the embedded store; the CLI finds it
// through the context file; kill -9 and restart keep every applied resource.
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { runBowline, startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('bowline-up-');
const children: Child[] = [];
afterAll(async () => {
  for (const c of children) await c.stop();
  rmSync(home, { recursive: true, force: true });
});

const bowline = (args: string[]) => runBowline(args, { env: { BOWLINE_HOME: home, BOWLINE_SERVER: '' } });

async function up(): Promise<{ child: Child; api: number }> {
  const portsFile = join(home, 'ports.json');
  rmSync(portsFile, { force: true });
  const child = startBowline(['up', '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--home', home, '--ports-file', portsFile]);
  children.push(child);
  const ports = (await waitFor(() => readPortsFile(portsFile, ['api']), { timeoutMs: 20_000, what: () => `ports file (${child.output()})` }))!;
  return { child, api: ports.api! };
}

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
`;

describe('bowline up', () => {
  it('serves the CLI through the context file and keeps config across kill -9', async () => {
    const first = await up();
    expect(JSON.parse(readFileSync(join(home, 'config'), 'utf8')).server).toBe(`http://127.0.0.1:${first.api}`);
    expect(statSync(join(home, 'admin-token')).mode & 0o777).toBe(0o600);
    writeFileSync(join(home, 'vs.yaml'), VS);

    const applied = await bowline(['apply', '-f', join(home, 'vs.yaml')]);
    expect(applied).toMatchObject({ code: 0, out: 'virtualservice.networking.istio.io/reviews created\n' });
    const table = await bowline(['get', 'vs']);
    expect(table.out).toMatch(/^NAME\s+GATEWAYS\s+HOSTS\s+AGE\nreviews\s+<none>\s+reviews\s+\d+s\n$/);
    const before = JSON.parse((await bowline(['get', 'vs', 'reviews', '-o', 'json'])).out);

    first.child.proc.kill('SIGKILL');
    await waitFor(() => first.child.proc.exitCode !== null || first.child.proc.signalCode !== null, { what: 'up to die' });
    const down = await bowline(['get', 'vs']);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/^bowline get: BOWLINE_E_CLI_UNREACHABLE: cannot reach the control plane at .*is `bowline up` running\?/);

    const second = await up();
    const after = JSON.parse((await bowline(['get', 'vs', 'reviews', '-o', 'json'])).out);
    expect(after).toEqual(before);
    expect((await bowline(['apply', '-f', join(home, 'vs.yaml')])).out).toBe('virtualservice.networking.istio.io/reviews unchanged\n');

    second.child.proc.kill('SIGTERM');
    const code = await new Promise((r) => second.child.proc.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  });

  it('refuses an invalid --mesh-config with its violations', async () => {
    writeFileSync(join(home, 'mesh.yaml'), 'trustDomain: 5\n');
    const r = await bowline(['up', '--listen-api', '127.0.0.1:0', '--home', join(home, 'other'), '--mesh-config', join(home, 'mesh.yaml')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/BOWLINE_E_CONTROL_MESH_CONFIG.*\n.*mesh\.yaml:1:\d+ BOWLINE_E_API_TYPE/);
  });
});
