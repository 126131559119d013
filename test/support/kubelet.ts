/**
 * The node's part for e2e tests against a real apiserver (no container runtime or kubelet can run
 * here), as kwok does it: a Node object, a binding for every unscheduled Pod, and for each Pod on
 * this node a network namespace with the Pod's IP on a bridge (a /24 of 10.244.0.0/16), the
 * processes the test starts there, and the Pod's status (IP, Ready) written through the status
 * subresource. Deleted Pods are stopped, their namespace removed, and the Pod finally deleted.
 *
 * Names: the bridge is `bk-brN` (N picks the /24: creating the link is the lock between test
 * processes), namespaces are `PREFIX-N-NS-NAME` (PREFIX `bk` unless the test names its own). A
 * Pod with dnsPolicy ClusterFirst gets a resolv.conf as a kubelet writes it (the cluster DNS
 * address, the Pod's search domains) in /etc/netns/NETNS/, which `ip netns exec` mounts over
 * /etc. Everything is deleted by `stop()`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { request } from 'node:http';
import { start, type Child } from './process.js';
import type { KubeApi, KubeObject } from './kube-api.js';

/** `ip ARGS` (root); throws with ip's message. */
export function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Whether this machine can play the node: Linux, root, iproute2. */
export function canRunKubelet(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
}

/** Where a Pod runs: its network namespace and address. */
export interface PodSandbox {
  namespace: string;
  name: string;
  uid: string;
  /** The network namespace (`ip netns exec NETNS ...`). */
  netns: string;
  /** The Pod's IP (10.244.N.x). */
  ip: string;
  /** The node's address on the bridge, the Pods' gateway (10.244.N.1). */
  hostIP: string;
  /** Starts `cmd args` inside the namespace; stopped when the Pod goes. */
  spawn(cmd: string, args: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string }): Child;
  /** Runs `cmd args` inside the namespace to the end. */
  exec(cmd: string[], input?: string): { status: number; out: string };
}

/** How the node behaves. */
export interface KubeletOptions {
  /** Node name (default bk-node-N). */
  nodeName?: string;
  /** Extra Node labels (topology.kubernetes.io/zone, region ...). */
  labels?: Record<string, string>;
  /**
   * Starts a Pod's processes in its sandbox; the Pod turns Ready once this resolves and the
   * containers' readiness probes (httpGet, tcpSocket) pass. Default: nothing runs (the Pod is an address).
   */
  run?: (pod: KubeObject, sandbox: PodSandbox) => Promise<void> | void;
  /** Called after each Pod status write (the apiserver has the new Ready condition). */
  onStatus?: (pod: KubeObject, ready: boolean) => void;
  /** Log lines (default: kept, see `output()`). */
  log?: (line: string) => void;
  /** Prefix of the network namespaces' names (default `bk`): tests name theirs after their owner. */
  netnsPrefix?: string;
  /** The cluster DNS address written into Pods' resolv.conf (default 10.96.0.10, kube-dns's usual ClusterIP). */
  clusterDns?: string;
  /** The cluster's DNS domain for the search list (default cluster.local). */
  clusterDomain?: string;
}

/** The running node. */
export interface Kubelet {
  nodeName: string;
  /** The bridge device and the node's /24. */
  bridge: string;
  podCidr: string;
  /** The node's address on the bridge (10.244.N.1): how Pods reach processes of the host. */
  hostIP: string;
  /** The sandbox of a running Pod. */
  sandbox(namespace: string, name: string): PodSandbox | undefined;
  /** Sets a Pod's Ready condition (a readiness probe failing or passing). */
  setReady(namespace: string, name: string, ready: boolean): Promise<void>;
  /** What the node did (starts, probes, errors). */
  output(): string;
  /** Stops every Pod's processes, removes the namespaces, the bridge and the Node object. */
  stop(): Promise<void>;
}

interface Running {
  sandbox: PodSandbox;
  children: Child[];
  veth: string;
  pod: KubeObject;
  ready: boolean;
  gone: boolean;
}

const now = () => new Date().toISOString();

/** Takes the first free /24 of 10.244.0.0/16 by creating its bridge (an existing link means another test holds it). */
function claimBridge(): { n: number; bridge: string } {
  const first = (process.pid % 200) + 1;
  for (let i = 0; i < 250; i++) {
    const n = ((first + i - 1) % 250) + 1;
    const bridge = `bk-br${n}`;
    const r = spawnSync('ip', ['link', 'add', bridge, 'type', 'bridge'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    try {
      ip(['addr', 'add', `10.244.${n}.1/24`, 'dev', bridge]);
      ip(['link', 'set', bridge, 'up']);
      // Traffic to the Pods' addresses must go over this bridge, nowhere else.
      const route = ip(['route', 'get', `10.244.${n}.2`]);
      if (!route.includes(`dev ${bridge}`)) throw new Error(`10.244.${n}.0/24 does not route over ${bridge}: ${route}`);
      return { n, bridge };
    } catch (err) {
      spawnSync('ip', ['link', 'del', bridge]);
      throw err;
    }
  }
  throw new Error('no free /24 in 10.244.0.0/16 for a test node bridge');
}

function probeOnce(podIp: string, probe: any, ports: Array<{ name?: string; containerPort: number }>): Promise<boolean> {
  const portOf = (p: unknown) => (typeof p === 'number' ? p : ports.find((x) => x.name === p)?.containerPort ?? Number(p));
  if (probe?.httpGet) {
    const g = probe.httpGet;
    return new Promise((resolve) => {
      const req = request({ host: podIp, port: portOf(g.port), path: g.path ?? '/', timeout: 1000, agent: false,
        headers: Object.fromEntries((g.httpHeaders ?? []).map((h: { name: string; value: string }) => [h.name, h.value])) }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => { req.destroy(); resolve(false); });
      req.end();
    });
  }
  if (probe?.tcpSocket) {
    return new Promise((resolve) => {
      const s = connect({ host: podIp, port: portOf(probe.tcpSocket.port), timeout: 1000 }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
      s.on('timeout', () => { s.destroy(); resolve(false); });
    });
  }
  return Promise.resolve(true); // exec and grpc probes: not played here
}

/** Registers a Node and plays its kubelet for every Pod the apiserver binds to it. */
export async function startKubelet(api: KubeApi, opts: KubeletOptions = {}): Promise<Kubelet> {
  if (!canRunKubelet()) throw new Error('the kubelet role needs Linux, root and iproute2 (network namespaces)');
  let out = '';
  const log = opts.log ?? ((line: string) => { out += `${now()} ${line}\n`; if (out.length > 1 << 20) out = out.slice(-(1 << 19)); });
  const { n, bridge } = claimBridge();
  const hostIP = `10.244.${n}.1`;
  const podCidr = `10.244.${n}.0/24`;
  const nodeName = opts.nodeName ?? `bk-node-${n}`;
  const running = new Map<string, Running>(); // by uid
  const queues = new Map<string, Promise<void>>();
  const used = new Set<number>();
  let vethSeq = 0;
  let cursor = 2;
  const abort = new AbortController();

  const podPath = (p: KubeObject) => `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`;
  const writeStatus = async (r: Running) => {
    const pod = r.pod;
    const started = now();
    const cond = (type: string, status: boolean) => ({ type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: started });
    const containers = (pod.spec?.containers ?? []) as Array<{ name: string; image?: string }>;
    const inits = (pod.spec?.initContainers ?? []) as Array<{ name: string; image?: string; restartPolicy?: string }>;
    await api.mergePatch(`${podPath(pod)}/status`, {
      status: {
        phase: 'Running', podIP: r.sandbox.ip, podIPs: [{ ip: r.sandbox.ip }], hostIP, hostIPs: [{ ip: hostIP }], startTime: pod.status?.startTime ?? started,
        conditions: [cond('PodReadyToStartContainers', true), cond('Initialized', true), cond('ContainersReady', r.ready), cond('Ready', r.ready), cond('PodScheduled', true)],
        containerStatuses: containers.map((c) => ({ name: c.name, image: c.image ?? '', imageID: '', ready: r.ready, restartCount: 0, started: true, state: { running: { startedAt: started } } })),
        ...(inits.length > 0 ? { initContainerStatuses: inits.map((c) => c.restartPolicy === 'Always'
          ? { name: c.name, image: c.image ?? '', imageID: '', ready: r.ready, restartCount: 0, started: true, state: { running: { startedAt: started } } }
          : { name: c.name, image: c.image ?? '', imageID: '', ready: true, restartCount: 0, started: false, state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: started, finishedAt: started } } }) } : {}),
      },
    });
    opts.onStatus?.(pod, r.ready);
  };

  const teardown = async (r: Running) => {
    if (r.gone) return;
    r.gone = true;
    await Promise.all(r.children.map((c) => c.stop(3000)));
    spawnSync('ip', ['netns', 'del', r.sandbox.netns]);
    rmSync(`/etc/netns/${r.sandbox.netns}`, { recursive: true, force: true });
    spawnSync('ip', ['link', 'del', r.veth]); // normally gone with the namespace's end of the pair
    used.delete(Number(r.sandbox.ip.split('.')[3]));
    running.delete(r.sandbox.uid);
  };

  const startPod = async (pod: KubeObject) => {
    const uid = pod.metadata.uid!;
    // Round robin over .2-.254 (an address freed just now is not handed out again at once, as on a real node).
    let octet = 0;
    for (let i = 0; i < 253 && !octet; i++) {
      const c = ((cursor + i - 2) % 253) + 2;
      if (!used.has(c)) octet = c;
    }
    if (!octet) throw new Error(`node ${nodeName} has no free address in ${podCidr}`);
    cursor = octet + 1;
    used.add(octet);
    const podIp = `10.244.${n}.${octet}`;
    const netns = `${opts.netnsPrefix ?? 'bk'}-${n}-${pod.metadata.namespace}-${pod.metadata.name}`.slice(0, 200);
    const veth = `bk${n}v${++vethSeq}`;
    ip(['netns', 'add', netns]);
    ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    ip(['link', 'set', veth, 'master', bridge, 'up']);
    ip(['-n', netns, 'link', 'set', 'lo', 'up']);
    ip(['-n', netns, 'addr', 'add', `${podIp}/24`, 'dev', 'eth0']);
    ip(['-n', netns, 'link', 'set', 'eth0', 'up']);
    ip(['-n', netns, 'route', 'add', 'default', 'via', hostIP, 'dev', 'eth0']);
    const dnsPolicy = (pod.spec?.dnsPolicy as string | undefined) ?? 'ClusterFirst';
    if (dnsPolicy === 'ClusterFirst' || dnsPolicy === 'None') {
      // As the kubelet writes it: the cluster DNS service and the Pod's search domains (dnsConfig appended).
      const domain = opts.clusterDomain ?? 'cluster.local';
      const cfg = (pod.spec?.dnsConfig ?? {}) as { nameservers?: string[]; searches?: string[]; options?: Array<{ name: string; value?: string }> };
      const servers = [...(dnsPolicy === 'ClusterFirst' ? [opts.clusterDns ?? '10.96.0.10'] : []), ...(cfg.nameservers ?? [])];
      const search = [...(dnsPolicy === 'ClusterFirst' ? [`${pod.metadata.namespace}.svc.${domain}`, `svc.${domain}`, domain] : []), ...(cfg.searches ?? [])];
      const options = [...(dnsPolicy === 'ClusterFirst' ? ['ndots:5'] : []), ...(cfg.options ?? []).map((o) => (o.value ? `${o.name}:${o.value}` : o.name))];
      mkdirSync(`/etc/netns/${netns}`, { recursive: true });
      writeFileSync(`/etc/netns/${netns}/resolv.conf`, [...servers.map((x) => `nameserver ${x}`), ...(search.length ? [`search ${search.join(' ')}`] : []), ...(options.length ? [`options ${options.join(' ')}`] : [])].join('\n') + '\n');
    }
    const children: Child[] = [];
    const r: Running = { sandbox: undefined as unknown as PodSandbox, children, veth, pod, ready: false, gone: false };
    const sandbox: PodSandbox = {
      namespace: pod.metadata.namespace!, name: pod.metadata.name, uid, netns, ip: podIp, hostIP,
      spawn(cmd, args, o = {}) {
        if (r.gone) throw new Error(`pod ${pod.metadata.namespace}/${pod.metadata.name} is gone: not starting ${cmd}`);
        const c = start('ip', ['netns', 'exec', netns, cmd, ...args], o);
        children.push(c);
        return c;
      },
      exec(cmd, input) {
        const r = spawnSync('ip', ['netns', 'exec', netns, ...cmd], { encoding: 'utf8', input, timeout: 30_000 });
        return { status: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
      },
    };
    r.sandbox = sandbox;
    running.set(uid, r);
    log(`pod ${sandbox.namespace}/${sandbox.name}: ${podIp} in netns ${netns}`);
    await writeStatus(r);
    try {
      await opts.run?.(pod, sandbox);
    } catch (err) {
      log(`pod ${sandbox.namespace}/${sandbox.name}: run failed: ${(err as Error).stack ?? String(err)}`);
      return;
    }
    type Probed = { readinessProbe?: unknown; restartPolicy?: string; ports?: Array<{ name?: string; containerPort: number }> };
    // Native sidecars (init containers with restartPolicy Always) count toward the Pod's readiness, as with a kubelet.
    const sidecars = ((pod.spec?.initContainers ?? []) as Probed[]).filter((c) => c.restartPolicy === 'Always');
    const containers = [...sidecars, ...((pod.spec?.containers ?? []) as Probed[])];
    for (const c of containers) {
      if (!c.readinessProbe) continue;
      const deadline = Date.now() + 60_000;
      while (!r.gone && !(await probeOnce(podIp, c.readinessProbe, c.ports ?? []))) {
        if (Date.now() > deadline) return void log(`pod ${sandbox.namespace}/${sandbox.name}: readiness probe never passed`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    if (r.gone) return;
    r.ready = true;
    await writeStatus(r);
    log(`pod ${sandbox.namespace}/${sandbox.name}: ready`);
  };

  const handle = async (type: string, pod: KubeObject) => {
    if (abort.signal.aborted) return; // stopping: events still queued must not start a Pod again
    const uid = pod.metadata.uid!;
    const r = running.get(uid);
    if (r) r.pod = pod;
    if (type === 'DELETED') { if (r) await teardown(r); return; }
    if (pod.metadata.deletionTimestamp) {
      if (pod.spec?.nodeName !== nodeName) return;
      if (r) await teardown(r);
      // The kubelet's last word: the Pod is gone from the node (finalizers, if any, still hold the object).
      await api.delete(podPath(pod), { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid } }).catch((err) => log(`pod ${pod.metadata.name}: final delete: ${String(err)}`));
      return;
    }
    if (!pod.spec?.nodeName) {
      if (pod.spec?.schedulerName && pod.spec.schedulerName !== 'default-scheduler') return;
      await api.create(`${podPath(pod)}/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } })
        .catch((err) => log(`pod ${pod.metadata.name}: binding: ${String(err)}`));
      return;
    }
    if (pod.spec.nodeName !== nodeName || r || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    await startPod(pod).catch((err) => log(`pod ${pod.metadata.namespace}/${pod.metadata.name}: ${(err as Error).stack ?? String(err)}`));
  };

  try {
    await api.create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...opts.labels } }, spec: { podCIDR: podCidr, podCIDRs: [podCidr] } });
    const t = now();
    await api.mergePatch(`/api/v1/nodes/${nodeName}/status`, {
      status: {
        addresses: [{ type: 'InternalIP', address: hostIP }, { type: 'Hostname', address: nodeName }],
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'bowline test kubelet', lastHeartbeatTime: t, lastTransitionTime: t }],
        capacity: { cpu: '8', memory: '16Gi', pods: '250' }, allocatable: { cpu: '8', memory: '16Gi', pods: '250' },
        nodeInfo: { machineID: '', systemUUID: '', bootID: '', kernelVersion: '', osImage: 'bowline test node', containerRuntimeVersion: 'bowline://0', kubeletVersion: 'v1.37.2', kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64' },
      },
    });
  } catch (err) {
    spawnSync('ip', ['link', 'del', bridge]);
    throw err;
  }
  const loop = api.listWatch('/api/v1/pods', (ev) => {
    const uid = ev.object.metadata.uid!;
    // One Pod's events in order; different Pods in parallel (a slow start does not hold the others).
    const next = (queues.get(uid) ?? Promise.resolve()).then(() => handle(ev.type, ev.object)).catch((err) => log(String(err)));
    queues.set(uid, next);
    void next.then(() => { if (queues.get(uid) === next) queues.delete(uid); });
  }, abort.signal);
  log(`node ${nodeName}: bridge ${bridge} ${hostIP}/24`);

  return {
    nodeName, bridge, podCidr, hostIP,
    sandbox(namespace, name) {
      return [...running.values()].find((r) => r.sandbox.namespace === namespace && r.sandbox.name === name && !r.gone)?.sandbox;
    },
    async setReady(namespace, name, ready) {
      const r = [...running.values()].find((x) => x.sandbox.namespace === namespace && x.sandbox.name === name && !x.gone);
      if (!r) throw new Error(`no running pod ${namespace}/${name} on ${nodeName}`);
      r.ready = ready;
      await writeStatus(r);
    },
    output: () => out,
    async stop() {
      abort.abort();
      await loop.catch(() => {});
      // Stopping a Pod ends its probe wait; a start still under way is torn down once it returns.
      for (const r of [...running.values()]) await teardown(r);
      await Promise.all([...queues.values()]);
      for (const r of [...running.values()]) await teardown(r);
      await api.delete(`/api/v1/nodes/${nodeName}`).catch(() => {});
      spawnSync('ip', ['link', 'del', bridge]);
    },
  };
}
