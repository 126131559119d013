/**
 * A real Kubernetes control plane for e2e tests: etcd (Debian's /usr/bin/etcd, on unix sockets),
 * kube-apiserver and kube-controller-manager built by test/kube/build.sh. Everything runs as
 * child processes of the test, on loopback, in a temporary directory; `stop()` ends them by PID.
 *
 * Authentication is a static token file (an admin in `system:masters`) and service-account
 * tokens signed with keys made here; no component uses an in-cluster service account (the
 * DC/OS seed: every client gets a kubeconfig with a token). Authorization is RBAC; admission
 * includes the mutating and validating webhooks. The "kubelet" (test/support/kubelet.ts) is
 * optional: it plays the node for Pods the tests create.
 *
 *   const kube = await startKubeCluster();
 *   kube.kubeconfig            // a file with the admin token
 *   await kube.api.create('/api/v1/namespaces/default/services', {...})
 *   await kube.stop();
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { repoRoot, start, type Child } from './process.js';
import { KubeApi } from './kube-api.js';
import { startKubelet, type Kubelet, type KubeletOptions } from './kubelet.js';
import { waitFor } from './wait.js';
import { tempDir } from './temp.js';

/** Where test/kube/build.sh caches the binaries for the pinned version (without building). */
export function kubeBinDir(): string {
  const versions = readFileSync(join(repoRoot, 'test/kube/versions'), 'utf8');
  const version = /^kube_version=(.+)$/m.exec(versions)![1]!.trim();
  const base = process.env.BOWLINE_KUBE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache'), 'bowline/kube');
  return join(base, version);
}

/** Whether the binaries are built (scripts/test.sh runs test/kube/build.sh before the e2e files). */
export function kubeBinariesBuilt(): boolean {
  const dir = kubeBinDir();
  return ['kube-apiserver', 'kube-controller-manager'].every((b) => existsSync(join(dir, b)));
}

/** How to start the cluster. */
export interface KubeClusterOptions {
  /** Service ClusterIP range (default 10.96.0.0/16). */
  serviceCidr?: string;
  /** Start the node role for Pods (bridge, network namespaces, status): default false. */
  kubelet?: KubeletOptions | boolean;
  /** Extra kube-apiserver flags. */
  apiserverFlags?: string[];
}

/** A running control plane. */
export interface KubeCluster {
  /** https://127.0.0.1:PORT */
  server: string;
  /** The admin's bearer token (group system:masters). */
  token: string;
  /** PEM of the CA that signed the apiserver's serving certificate. */
  caPem: string;
  /** A kubeconfig file for the admin (token, no client certificate, no in-cluster account). */
  kubeconfig: string;
  /** Temporary directory holding state, keys and logs (removed by stop()). */
  dir: string;
  /** The admin's API client. */
  api: KubeApi;
  /** The node role, when started. */
  kubelet?: Kubelet;
  /** Writes a kubeconfig for `token` (another user, a service account) and returns its path. */
  writeKubeconfig(name: string, token: string, server?: string): string;
  /** A token of service account NS/NAME from the TokenRequest API (created when missing). */
  serviceAccountToken(namespace: string, name: string, expirationSeconds?: number): Promise<string>;
  /** The output of each process (failure messages). */
  output(): string;
  /** Stops the apiserver only (the "unreachable apiserver" case); `restartApiserver` brings it back on the same port. */
  stopApiserver(): Promise<void>;
  restartApiserver(): Promise<void>;
  /** Stops the kubelet, controller manager, apiserver and etcd (by PID) and removes `dir`. */
  stop(): Promise<void>;
}

/** A kubeconfig with one cluster, one user (a bearer token) and one context. */
export function kubeconfigYaml(server: string, caPem: string, token: string, user = 'bowline'): string {
  const ca = Buffer.from(caPem).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "${server}", certificate-authority-data: ${ca}}
users:
- name: ${user}
  user: {token: "${token}"}
contexts:
- name: test
  context: {cluster: test, user: ${user}}
current-context: test
`;
}

function etcdHealthy(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/health', timeout: 1000 }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => resolve(res.statusCode === 200 && t.includes('"true"')));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

/** Waits until `check` passes; fails at once when `child` exits first (its output says why). */
async function readyOrExit(child: Child, check: () => Promise<boolean>, what: string): Promise<void> {
  let onExit: () => void = () => {};
  const exited = new Promise<never>((_, reject) => {
    onExit = () => reject(new Error(`${what}: the process exited (${child.proc.exitCode ?? child.proc.signalCode})`));
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) onExit();
    else child.proc.once('exit', onExit);
  });
  exited.catch(() => {});
  try {
    await Promise.race([waitFor(check, { timeoutMs: 60_000, intervalMs: 100, what }), exited]);
  } finally {
    child.proc.off('exit', onExit);
  }
}

/** Starts etcd, kube-apiserver and kube-controller-manager (and the kubelet role when asked). */
export async function startKubeCluster(opts: KubeClusterOptions = {}): Promise<KubeCluster> {
  if (!kubeBinariesBuilt()) throw new Error(`Kubernetes binaries missing in ${kubeBinDir()}: run \`bash test/kube/build.sh\` first (scripts/test.sh does)`);
  const bin = kubeBinDir();
  const dir = tempDir('bk-kube-');
  const children: Array<{ name: string; child: Child }> = [];
  const output = () => children.map((c) => `--- ${c.name}\n${c.child.output().slice(-6000)}`).join('\n');
  let kubelet: Kubelet | undefined;
  let apiserver: Child | undefined;
  const cleanup = async () => {
    await kubelet?.stop().catch(() => {});
    for (const c of children.reverse()) await c.child.stop(5000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Keys and credentials made here, never read from the machine.
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${token},bk-admin,bk-admin-uid,"system:masters"\n`, { mode: 0o600 });

    // etcd on unix sockets (its URLs must look like host:port; the sockets are files in `dir`, every process runs there).
    const etcdUrl = 'unix://etcd-client:2379';
    const etcd = start('/usr/bin/etcd', ['--name', 'bk', '--data-dir', join(dir, 'etcd'),
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', 'unix://etcd-peer:2380', '--initial-advertise-peer-urls', 'unix://etcd-peer:2380',
      '--initial-cluster', 'bk=unix://etcd-peer:2380', '--initial-cluster-state', 'new', '--log-level', 'warn'], { cwd: dir });
    children.push({ name: 'etcd', child: etcd });
    await waitFor(() => etcdHealthy(join(dir, 'etcd-client:2379')), { timeoutMs: 20_000, what: () => `etcd health:\n${etcd.output()}` });

    // kube-apiserver on 127.0.0.1: it has no port-0 mode, so a kernel-chosen port is offered and a lost bind race retried.
    const pki = join(dir, 'pki');
    const serviceCidr = opts.serviceCidr ?? '10.96.0.0/16';
    let port = 0;
    const apiArgs = () => ['--etcd-servers', etcdUrl, '--bind-address', '127.0.0.1', '--secure-port', String(port), '--advertise-address', '10.244.0.1',
      '--cert-dir', pki, '--token-auth-file', join(dir, 'tokens.csv'),
      '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local', '--service-account-key-file', join(dir, 'sa.pub'),
      '--service-account-signing-key-file', join(dir, 'sa.key'), '--service-cluster-ip-range', serviceCidr,
      '--authorization-mode', 'RBAC', '--enable-admission-plugins', 'NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
      '--allow-privileged=true', '--endpoint-reconciler-type', 'none', '--profiling=false', '--v', '1', ...(opts.apiserverFlags ?? [])];
    const server = () => `https://127.0.0.1:${port}`;
    const startApiserver = async (keepPort: boolean) => {
      for (let attempt = 0; ; attempt++) {
        if (!keepPort || port === 0) port = await freePort();
        const child = start(join(bin, 'kube-apiserver'), apiArgs(), { cwd: dir });
        try {
          await readyOrExit(child, async () => {
            if (!existsSync(join(pki, 'apiserver.crt'))) return false;
            const api = new KubeApi(server(), token, readFileSync(join(pki, 'apiserver.crt'), 'utf8'));
            try {
              const r = await api.raw('GET', '/readyz');
              return r.status === 200;
            } finally {
              api.close();
            }
          }, 'kube-apiserver /readyz');
          return child;
        } catch (err) {
          await child.stop();
          const busy = /address already in use/.test(child.output());
          if (busy && attempt < 5 && !keepPort) continue;
          throw new Error(`kube-apiserver did not become ready: ${(err as Error).message}\n${child.output().slice(-6000)}`);
        }
      }
    };
    apiserver = await startApiserver(false);
    children.push({ name: 'kube-apiserver', child: apiserver });
    const caPem = readFileSync(join(pki, 'apiserver.crt'), 'utf8');
    const api = new KubeApi(server(), token, caPem);
    const writeKubeconfig = (name: string, tok: string, srv = server()) => {
      const file = join(dir, `${name}.kubeconfig`);
      writeFileSync(file, kubeconfigYaml(srv, caPem, tok, name), { mode: 0o600 });
      return file;
    };
    const kubeconfig = writeKubeconfig('admin', token);

    // kube-controller-manager: EndpointSlices, ReplicaSets, service accounts, garbage collection ... No node
    // lifecycle controller: the harness's node posts no heartbeats. No secure port (0 turns it off).
    const kcm = start(join(bin, 'kube-controller-manager'), ['--kubeconfig', kubeconfig, '--secure-port', '0', '--leader-elect=false',
      '--controllers', '*,-node-lifecycle-controller,-node-ipam-controller', '--service-account-private-key-file', join(dir, 'sa.key'),
      '--root-ca-file', join(pki, 'apiserver.crt'), '--service-cluster-ip-range', serviceCidr, '--profiling=false', '--v', '1'], { cwd: dir });
    children.push({ name: 'kube-controller-manager', child: kcm });
    // Ready once the service-account controller has made `default` in `default` (it runs with the other controllers).
    await readyOrExit(kcm, async () => (await api.get('/api/v1/namespaces/default/serviceaccounts/default')) !== undefined, 'kube-controller-manager (the default service account)');

    if (opts.kubelet) kubelet = await startKubelet(api, typeof opts.kubelet === 'object' ? opts.kubelet : {});

    let stopped = false;
    return {
      server: server(), token, caPem, kubeconfig, dir, api, ...(kubelet ? { kubelet } : {}),
      writeKubeconfig,
      async serviceAccountToken(namespace, name, expirationSeconds = 3600) {
        if (!(await api.get(`/api/v1/namespaces/${namespace}/serviceaccounts/${name}`))) {
          await api.create(`/api/v1/namespaces/${namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } });
        }
        const tr = await api.create<{ status: { token: string } }>(`/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
          { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } });
        return tr.status.token;
      },
      output,
      async stopApiserver() {
        await apiserver!.stop(5000);
      },
      async restartApiserver() {
        const child = await startApiserver(true);
        const i = children.findIndex((c) => c.name === 'kube-apiserver');
        children[i] = { name: 'kube-apiserver', child };
        apiserver = child;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        api.close();
        await cleanup();
      },
    };
  } catch (err) {
    const out = output();
    await cleanup();
    throw new Error(`${(err as Error).message}\n${out}`);
  }
}
