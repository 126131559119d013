// `bowline up --api-tls` + `bowline kubeconfig` (issue 14 item 6), with real kubectl binaries, in
// network namespaces this test creates (root, Linux): the control plane runs in one namespace with
// its config API on 10.79.N.1 over HTTPS (a certificate from Bowline's CA); a "client" namespace
// (10.79.N.2, the other end of a veth pair) runs kubectl with only KUBECONFIG set, and requests
// without a token from there get 401 with a Kubernetes Status body.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, start, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

const GCLOUD = '/usr/lib/google-cloud-sdk/bin';
const KUBE_CACHE = join(process.env.HOME ?? '/root', '.cache/bowline/kube/v1.37.2/kubectl');
const KUBECTLS = [...[27, 33].map((v) => `${GCLOUD}/kubectl.1.${v}`), KUBE_CACHE].filter((f) => existsSync(f));
const canRun = process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0 && KUBECTLS.length > 0;
const n = process.pid % 200 + 20;
const CP = `vm-apicp-${process.pid}`;
const CL = `vm-apicl-${process.pid}`;
const VA = `vmta${process.pid % 10000}`;
const VB = `vmtb${process.pid % 10000}`;
const ADDR = `10.79.${n}.1`;
const home = tempDir('bowline-e2e-apitls-');
const cpHome = join(home, 'cp');
const kubeconfig = join(home, 'kubeconfig');
const bowline = join(repoRoot, 'bin/bowline');
let api = '';
let up: Child | undefined;

const sh = (args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
function inNs(ns: string, cmd: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...cmd], { timeout: 60_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0, out: stdout, err: stderr });
    });
  });
}

describe.skipIf(!canRun)('bowline up --api-tls and bowline kubeconfig: kubectl over HTTPS without flags; no token off loopback is 401', () => {
  beforeAll(async () => {
    sh(['netns', 'add', CP]);
    sh(['netns', 'add', CL]);
    sh(['link', 'add', VA, 'netns', CP, 'type', 'veth', 'peer', 'name', VB, 'netns', CL]);
    for (const [ns, dev, addr] of [[CP, VA, ADDR], [CL, VB, `10.79.${n}.2`]] as const) {
      sh(['-n', ns, 'link', 'set', 'lo', 'up']);
      sh(['-n', ns, 'link', 'set', dev, 'up']);
      sh(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
    }
    // Every address this test uses is on the veth pair it made; the namespaces have no default route.
    expect(sh(['-n', CL, 'route', 'get', ADDR])).toContain(`dev ${VB}`);
    expect(sh(['-n', CL, 'route', 'show', 'default'])).toBe('');
    expect(sh(['-n', CP, 'route', 'show', 'default'])).toBe('');
    up = start('ip', ['netns', 'exec', CP, process.execPath, bowline, 'up', '--home', cpHome, '--api-tls', '--listen-api', `${ADDR}:0`,
      '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--ports-file', join(home, 'ports.json')]);
    await waitFor(() => up!.output().includes('control plane ready'), { timeoutMs: 30_000, what: () => `bowline up:\n${up!.output()}` });
    api = `https://${ADDR}:${JSON.parse(readFileSync(join(home, 'ports.json'), 'utf8')).api}`;
  }, 60_000);

  afterAll(async () => {
    await up?.stop();
    spawnSync('ip', ['netns', 'del', CL]);
    spawnSync('ip', ['netns', 'del', CP]);
    rmSync(home, { recursive: true, force: true });
  });

  it('the API answers HTTPS only, with a certificate from the CA naming its address; the CLI trusts it through HOME/api-ca.pem', async () => {
    expect(up!.output()).toContain(`config API on ${api}`);
    const ca = join(cpHome, 'api-ca.pem');
    expect(readFileSync(ca, 'utf8')).toContain('BEGIN CERTIFICATE');
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: (await inNs(CL, ['sh', '-c', `openssl s_client -connect ${ADDR}:${api.split(':')[2]} </dev/null 2>/dev/null`])).out, encoding: 'utf8' });
    expect(text).toMatch(new RegExp(`IP Address:${ADDR.replace(/\./g, '\\.')}`));
    expect(text).toContain('IP Address:127.0.0.1');
    expect(text).toContain('DNS:localhost');
    // Plain HTTP to the TLS port is not served.
    expect((await inNs(CL, ['curl', '-sS', '--max-time', '5', `http://${ADDR}:${api.split(':')[2]}/version`])).out).not.toContain('gitVersion');
    const vs = join(home, 'vs.yaml');
    writeFileSync(vs, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n');
    const applied = await inNs(CL, [process.execPath, bowline, 'apply', '-f', vs, '--server', api, '--home', cpHome]);
    expect(applied.code, applied.err + applied.out).toBe(0);
  });

  it('bowline kubeconfig writes server (https), certificate-authority-data and the admin token (0600)', async () => {
    const r = await inNs(CL, [process.execPath, bowline, 'kubeconfig', '--file', kubeconfig, '--server', api, '--home', cpHome]);
    expect(r.code, r.err).toBe(0);
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    const kc = parseYaml(readFileSync(kubeconfig, 'utf8')) as { clusters: Array<{ cluster: Record<string, string> }>; users: Array<{ user: { token?: string } }> };
    expect(kc.clusters[0]!.cluster.server).toBe(api);
    expect(Buffer.from(kc.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString()).toBe(readFileSync(join(cpHome, 'api-ca.pem'), 'utf8'));
    expect(kc.users[0]!.user.token).toBe(readFileSync(join(cpHome, 'admin-token'), 'utf8').trim());
  });

  it.each(KUBECTLS)('KUBECONFIG=file %s get virtualservices works without flags, from another namespace', async (bin) => {
    const kubeHome = mkdtempSync(join(home, 'kubectl-home-'));
    const r = await inNs(CL, [bin, 'get', 'virtualservices'], { KUBECONFIG: kubeconfig, HOME: kubeHome, PATH: process.env.PATH ?? '' });
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toMatch(/^NAME\s+GATEWAYS\s+HOSTS\s+AGE/m);
    expect(r.out).toMatch(/^reviews\s/m);
  });

  it('off loopback without a token: 401 with a Kubernetes Status body (curl and kubectl)', async () => {
    const r = await inNs(CL, ['curl', '-sS', '--max-time', '5', '--cacert', join(cpHome, 'api-ca.pem'), '-w', '\n%{http_code}', `${api}/apis/networking.istio.io/v1/namespaces/default/virtualservices`]);
    const [body, code] = [r.out.slice(0, r.out.lastIndexOf('\n')), r.out.slice(r.out.lastIndexOf('\n') + 1)];
    expect(code).toBe('401');
    expect(JSON.parse(body)).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 });
    const noToken = join(home, 'kubeconfig-no-token');
    writeFileSync(noToken, readFileSync(kubeconfig, 'utf8').replace(/token: \S+/, 'token: not-a-token'));
    const k = await inNs(CL, [KUBECTLS[0]!, 'get', 'virtualservices'], { KUBECONFIG: noToken, HOME: mkdtempSync(join(home, 'kubectl-home-')), PATH: process.env.PATH ?? '' });
    expect(k.code).not.toBe(0);
    expect(k.err).toMatch(/Unauthorized|must be logged in/);
  });
});
