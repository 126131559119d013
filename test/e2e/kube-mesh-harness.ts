/**
 * Bowline as the mesh of a real Kubernetes control plane (test/support/kube-cluster.ts) whose node
 * is played by the test (kubelet.ts + pod-runtime.ts: every Pod's containers, as the apiserver
 * stored them after admission, run as processes in the Pod's network namespace).
 *
 * The control plane itself runs as a host process (`bowline up --config-source kubernetes
 * --kubeconfig`: Istio resources are the apiserver's CRDs, Bowline's state its Secrets, ConfigMaps
 * and Leases): its Deployment's image cannot run here, and Pods reach it at the node's bridge address, as the injected
 * `--inject-server` says. Pods in istio-system (the control plane's own Deployment, the ingress
 * gateway) are given addresses but not run. The apiserver reaches the webhooks by URL
 * (base.validationURL / istiodRemote.injectionURL).
 */
import { spawn } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readPortsFile } from '../../src/cli/ports-file.js';
import type { KubeObject } from '../support/kube-api.js';
import { kubeBinDir, startKubeCluster, type KubeCluster } from '../support/kube-cluster.js';
import { PodProcesses, runPod } from '../support/pod-runtime.js';
import { repoRoot, startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { openTraversal } from '../support/traverse.js';
import { tempDir } from '../support/temp.js';

/** What a finished command printed. */
export interface Run { code: number; out: string; err: string }

/** A cluster with Bowline's control plane beside it. */
export interface KubeMesh {
  kube: KubeCluster;
  cp: Child;
  procs: PodProcesses;
  tmp: string;
  /** Bound ports of the control plane (api, push, pushTls, webhook). */
  ports: Record<string, number>;
  /** kubectl (the cluster's own, from the kube cache) with the admin kubeconfig. */
  kubectl(args: string[], stdin?: string): Promise<Run>;
  /** bin/bowline. */
  bowline(args: string[], stdin?: string): Promise<Run>;
  /** helm from the kube cache, its caches under `tmp`. */
  helm(args: string[]): Promise<Run>;
  /** `kubectl apply -f FILE` of Istio resources to the cluster's apiserver, where the control plane reads them. */
  applyIstio(...files: string[]): Promise<void>;
  /** The Pods of NS matching SELECTOR. */
  pods(ns: string, selector: string): Promise<KubeObject[]>;
  /** Waits until `n` Pods of NS matching SELECTOR are Ready; returns them. */
  readyPods(ns: string, selector: string, n: number, timeoutMs?: number): Promise<KubeObject[]>;
  /** When each Pod (by name) was last written Ready by the node (ms since the epoch, this host's clock). */
  readyAt: Map<string, number>;
  /** Everything to read when a step fails: the control plane's log, the node's, every container's. */
  diagnostics(): string;
  stop(): Promise<void>;
}

/** Runs a command to the end; never throws on its exit code. */
export function run(cmd: string, args: string[], stdin?: string, env?: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = ''; let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? 1, out, err }));
    p.stdin.end(stdin ?? '');
  });
}

const isReady = (p: KubeObject) => p.status?.podIP && (p.status.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');

/**
 * Starts the cluster with its node (network namespaces named `kubeapp-...`), then `bowline up
 * --config-source kubernetes` discovering it through the admin kubeconfig, its TLS push port on the
 * node's bridge address. The control plane runs before any install, so it creates istio-system and
 * Istio's CRDs (in a cluster, the install creates them and then starts it).
 */
export async function startKubeMesh(opts: { webhooks: boolean; upArgs?: string[] }): Promise<KubeMesh> {
  // uid 1337/1000 must read the package: the checkout's ancestors get o+x for the test.
  const restore = openTraversal(repoRoot);
  const tmp = tempDir('bk-kubemesh-');
  chmodSync(tmp, 0o755);
  const procs = new PodProcesses();
  const readyAt = new Map<string, number>();
  let kube: KubeCluster | undefined;
  let cp: Child | undefined;
  try {
    kube = await startKubeCluster({
      kubelet: {
        netnsPrefix: 'kubeapp',
        onStatus: (pod, ready) => { if (ready) readyAt.set(pod.metadata.name, Date.now()); },
        run: (pod, sb) => runPod(kube!.api, pod, sb, procs, { skip: (p) => p.metadata.namespace === 'istio-system' }),
      },
    });
    const node = kube.kubelet!.hostIP;
    const portsFile = join(tmp, 'ports.json');
    cp = startBowline(['up', '--config-source', 'kubernetes', '--home', join(tmp, 'home'), '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', `${node}:0`,
      '--kubeconfig', kube.kubeconfig, '--inject-server', `${node}:0`, '--inject-image', 'bowline/bowline:e2e', '--ports-file', portsFile,
      ...(opts.webhooks ? ['--listen-webhook', '127.0.0.1:0'] : []), ...(opts.upArgs ?? [])]);
    const c = cp;
    const ports = (await waitFor(() => readPortsFile(portsFile, ['api', 'pushTls', ...(opts.webhooks ? ['webhook'] : [])]), { timeoutMs: 60_000, what: () => `control plane ports (${c.output()})` }))!;
    const k = kube;
    const kubectlBin = join(kubeBinDir(), 'kubectl');
    const mesh: KubeMesh = {
      kube: k, cp: c, procs, tmp, ports, readyAt,
      kubectl: (args, stdin) => run(kubectlBin, ['--kubeconfig', k.kubeconfig, '--cache-dir', join(tmp, 'kubectl-cache'), ...args], stdin),
      bowline: (args, stdin) => run(process.execPath, [join(repoRoot, 'bin/bowline'), ...args], stdin),
      helm: (args) => run(join(kubeBinDir(), 'helm'), [...args, '--kubeconfig', k.kubeconfig], undefined, { HELM_CACHE_HOME: join(tmp, 'helm/cache'), HELM_CONFIG_HOME: join(tmp, 'helm/config'), HELM_DATA_HOME: join(tmp, 'helm/data') }),
      async applyIstio(...files) {
        for (const f of files) {
          const r = await run(kubectlBin, ['--kubeconfig', k.kubeconfig, '--cache-dir', join(tmp, 'kubectl-cache'), 'apply', '-f', f]);
          if (r.code !== 0) throw new Error(`kubectl apply -f ${f}: ${r.err}${r.out}`);
        }
      },
      async pods(ns, selector) {
        return (await k.api.call<{ items: KubeObject[] }>('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`)).items.filter((p) => !p.metadata.deletionTimestamp);
      },
      async readyPods(ns, selector, n, timeoutMs = 60_000) {
        return (await waitFor(async () => {
          const ready = (await mesh.pods(ns, selector)).filter(isReady);
          return ready.length === n ? ready : undefined;
        }, { timeoutMs, intervalMs: 100, what: `${n} Ready pods ${selector} in ${ns}` }).catch((err: Error) => { throw new Error(`${err.message}\n${mesh.diagnostics()}`); }))!;
      },
      diagnostics: () => `--- control plane\n${c.output().slice(-4000)}\n--- node\n${k.kubelet!.output().slice(-4000)}\n${procs.report()}`,
      async stop() {
        await c.stop();
        await k.stop();
        procs.cleanup();
        rmSync(tmp, { recursive: true, force: true });
        restore();
      },
    };
    return mesh;
  } catch (err) {
    await cp?.stop();
    await kube?.stop();
    procs.cleanup();
    rmSync(tmp, { recursive: true, force: true });
    restore();
    throw err;
  }
}
