import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runValidate } from './validate.js';
import { UsageError } from '../command.js';
import { tempDir } from '../../../test/support/temp.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const tmp = tempDir('bowline-validate-');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(args: string[], stdin = '') {
  let out = '';
  let err = '';
  const code = await runValidate(args, { stdout: (s) => (out += s), stderr: (s) => (err += s), readStdin: async () => stdin });
  return { code, out, err };
}

const bad = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
    timeout: 3 seconds
    retries: {attempts: 2, perTryTimout: 1s}
`;
const lineFormat = /^\S+:\d+:\d+ BOWLINE_[EW]_[A-Z0-9_]+ \S+: .+$/;

describe('bowline validate (in process)', () => {
  it('accepts the bundled samples: exit 0', async () => {
    // samples/ also holds Kubernetes manifests (samples/kubernetes: Deployments, Services), which are not Istio kinds.
    const r = await run(['-f', join(root, 'samples'), '--ignore-unknown-kinds']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/0 error\(s\)/);
    expect(r.err).not.toMatch(/BOWLINE_E_/);
  });
  it('prints one file:line:col CODE path: message line per violation and exits 1', async () => {
    const f = join(tmp, 'bad.yaml');
    writeFileSync(f, bad);
    const r = await run(['-f', f]);
    expect(r.code).toBe(1);
    const lines = r.err.split('\n').filter((l) => l && !l.startsWith('    '));
    expect(lines).toEqual([
      `${f}:10:14 BOWLINE_E_API_DURATION spec.http[0].timeout: "3 seconds" is not a duration: expected a number with a unit (h, m, s, ms, us, ns), e.g. "7s", "0.5s", "100ms", "1m30s"`,
      expect.stringMatching(new RegExp(`^${f}:11:28 BOWLINE_E_API_UNKNOWN_FIELD spec.http\\[0\\].retries.perTryTimout: `)),
    ]);
    for (const l of lines) expect(l).toMatch(lineFormat);
    expect(r.err).toContain('    hint: did you mean perTryTimeout?');
  });
  it('-o json gives a machine-readable report', async () => {
    const f = join(tmp, 'bad2.yaml');
    writeFileSync(f, bad);
    const r = await run(['-f', f, '-o', 'json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ valid: false, errors: 2, warnings: 0 });
    expect(j.violations[0]).toMatchObject({ file: f, line: 10, column: 14, code: 'BOWLINE_E_API_DURATION', path: 'spec.http[0].timeout' });
  });
  it('reads stdin with -f -', async () => {
    const r = await run(['-f', '-'], bad.replace('3 seconds', '3s').replace('perTryTimout', 'perTryTimeout'));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^<stdin>:9:\d+ BOWLINE_W_API_UNKNOWN_SUBSET/);
  });
  it('other kinds fail unless --ignore-unknown-kinds', async () => {
    const f = join(tmp, 'mixed.yaml');
    writeFileSync(f, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n' + bad.replace('3 seconds', '3s').replace('perTryTimout', 'perTryTimeout'));
    expect((await run(['-f', f])).code).toBe(1);
    expect((await run(['-f', f, '--ignore-unknown-kinds'])).code).toBe(0);
  });
  it('in a directory, considers only files that look like resources', async () => {
    const d = join(tmp, 'dir');
    mkdirSync(join(d, 'sub'), { recursive: true });
    writeFileSync(join(d, 'package.json'), '{"name": "x", "version": "1.0.0"}');
    writeFileSync(join(d, 'proxy.yaml'), 'listeners: []\n');
    writeFileSync(join(d, 'notes.txt'), 'kind: nonsense');
    writeFileSync(join(d, 'sub', 'gw.json'), JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'g' }, spec: { servers: [{ port: { number: 80, protocol: 'HTTP' }, hosts: ['*'] }] } }));
    const r = await run(['-f', d]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^1 file\(s\), 1 resource\(s\): 0 error\(s\), 0 warning\(s\), 2 non-resource file\(s\) skipped/);
  });
  it('bad input: missing file and a 50 MB file exit 2, binary garbage exits 1', async () => {
    expect((await run(['-f', join(tmp, 'nope.yaml')])).code).toBe(2);
    const big = join(tmp, 'big.yaml');
    writeFileSync(big, '');
    truncateSync(big, 50 * 1024 * 1024);
    const r = await run(['-f', big]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/BOWLINE_E_API_TOO_LARGE/);
    const bin = join(tmp, 'garbage.yaml');
    writeFileSync(bin, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0xff, 0xfe, 0, 0]));
    const g = await run(['-f', bin]);
    expect(g.code).toBe(1);
    expect(g.err).toMatch(/garbage.yaml:1:1 BOWLINE_E_API_BINARY/);
  });
  it('usage errors', async () => {
    await expect(run([])).rejects.toBeInstanceOf(UsageError);
    await expect(run(['-f', 'x', '-o', 'xml'])).rejects.toBeInstanceOf(UsageError);
    await expect(run(['--bogus'])).rejects.toBeInstanceOf(UsageError);
    expect((await run(['--help'])).out).toMatch(/Usage: bowline validate/);
  });
});

describe('bin/bowline validate (spawned, as a user runs it)', () => {
  const exec = promisify(execFile);
  const bin = join(root, 'bin/bowline');
  beforeAll(async () => {
    const built = join(root, 'dist/cli/commands/validate.js');
    const src = join(root, 'src/cli/commands/validate.ts');
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(src).mtimeMs) {
      await exec('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root }).catch(() => undefined); // others' half-written code may not compile; emit happens anyway
    }
  }, 120_000);
  const spawn = (args: string[]) => exec(process.execPath, [bin, ...args], { cwd: root }).then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
  it('exits 0 on samples/ and 1 with located lines on an invalid file, never a stack trace', async () => {
    const ok = await spawn(['validate', '-f', 'samples/', '--ignore-unknown-kinds']); // samples/kubernetes holds Deployments and Services
    expect(ok.code, ok.stderr).toBe(0);
    const f = join(tmp, 'bad-spawn.yaml');
    writeFileSync(f, bad + '  tcp:\n\t- bad tab\n');
    const r = await spawn(['validate', '-f', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad-spawn.yaml:13:1 BOWLINE_E_API_YAML_TAB/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const u = await spawn(['validate']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/missing -f/);
  });
});
