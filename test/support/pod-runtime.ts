/**
 * The container runtime's part for the test kubelet (test/support/kubelet.ts): runs a Pod's
 * containers, as the apiserver stored them (already mutated by admission webhooks), as processes in
 * the Pod's network namespace. No images exist here: an image's files are this checkout (the
 * Dockerfile's /app), so `node /app/dist/...` runs this checkout's dist/ with this Node, and
 * `bowline` runs bin/bowline.
 *
 * What it plays, in a container runtime's order: volumes (emptyDir, secret, configMap, downwardAPI,
 * projected service-account tokens from the TokenRequest API bound to the Pod, as the kubelet
 * requests them) as host directories whose paths replace the mount paths in the containers'
 * command, args and env; env (value with $(VAR) expansion, fieldRef of the downward API, secret and
 * configMap keys); securityContext.runAsUser/runAsGroup (setpriv); init containers in order, each
 * to completion (a failure fails the Pod), native sidecars (restartPolicy Always) started in order,
 * then the containers.
 *
 *   kubelet: { run: (pod, sb) => runPod(api, pod, sb, pods) }   // pods = new PodProcesses()
 */
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KubeApi, KubeObject } from './kube-api.js';
import type { PodSandbox } from './kubelet.js';
import { repoRoot, type Child } from './process.js';
import { tempDir } from './temp.js';

/** The processes (and their output) of every Pod the runtime started, for assertions and failure messages. */
export class PodProcesses {
  private readonly byPod = new Map<string, Array<{ container: string; child: Child; init: boolean }>>();
  private readonly dirs: string[] = [];

  /** Records a container's process. */
  add(pod: KubeObject, container: string, child: Child, init: boolean): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const list = this.byPod.get(key) ?? [];
    list.push({ container, child, init });
    this.byPod.set(key, list);
  }

  /** A directory for one Pod's volumes (removed by `cleanup`). */
  dirFor(pod: KubeObject): string {
    const dir = tempDir(`bk-pod-${pod.metadata.name}-`);
    chmodSync(dir, 0o755); // the containers' users read their volumes
    this.dirs.push(dir);
    return dir;
  }

  /** A container's output so far ('' when it never ran). */
  output(namespace: string, pod: string, container: string): string {
    return (this.byPod.get(`${namespace}/${pod}`) ?? []).filter((c) => c.container === container).map((c) => c.child.output()).join('\n');
  }

  /** Every container's output tail, Pod by Pod (failure messages). */
  report(tail = 1500): string {
    return [...this.byPod.entries()].map(([pod, cs]) => cs.map((c) => `--- ${pod} ${c.container}${c.child.proc.exitCode !== null ? ` (exited ${c.child.proc.exitCode})` : ''}\n${c.child.output().slice(-tail)}`).join('\n')).join('\n');
  }

  /** Removes the volume directories (after the kubelet stopped every process). */
  cleanup(): void {
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

type Json = Record<string, any>;

/** `$(VAR)` expansion as Kubernetes does it: defined names are replaced, `$$(` is a literal `$(`. */
export function expandVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$\(|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => (name === undefined ? '$(' : env[name] ?? m));
}

/** A downward-API field of the Pod (`metadata.name`, `metadata.annotations['k']`, `status.podIP` ...). */
function fieldOf(pod: KubeObject, sb: PodSandbox, path: string): string {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) return String(pod.metadata[m[1] as 'labels' | 'annotations']?.[m[2]!] ?? '');
  switch (path) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace ?? 'default';
    case 'metadata.uid': return pod.metadata.uid ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? 'default';
    case 'spec.nodeName': return pod.spec?.nodeName ?? '';
    case 'status.podIP': return sb.ip;
    case 'status.hostIP': return sb.hostIP;
    default: throw new Error(`fieldRef ${path} is not played by the test runtime`);
  }
}

async function secretData(api: KubeApi, ns: string, name: string, optional: boolean): Promise<Record<string, string>> {
  const s = await api.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/${name}`);
  if (!s) { if (optional) return {}; throw new Error(`secret ${ns}/${name} not found`); }
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

async function configMapData(api: KubeApi, ns: string, name: string, optional: boolean): Promise<Record<string, string>> {
  const c = await api.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${ns}/configmaps/${name}`);
  if (!c) { if (optional) return {}; throw new Error(`configmap ${ns}/${name} not found`); }
  return c.data ?? {};
}

/** Files of one volume (path inside the volume -> content). */
async function volumeFiles(api: KubeApi, pod: KubeObject, sb: PodSandbox, v: Json): Promise<Record<string, string>> {
  const ns = pod.metadata.namespace ?? 'default';
  const pick = (data: Record<string, string>, items?: Array<{ key: string; path: string }>) =>
    items ? Object.fromEntries(items.filter((i) => data[i.key] !== undefined).map((i) => [i.path, data[i.key]!])) : data;
  const downward = (items: Array<{ path: string; fieldRef?: { fieldPath: string } }> = []) =>
    Object.fromEntries(items.filter((i) => i.fieldRef).map((i) => [i.path, fieldOf(pod, sb, i.fieldRef!.fieldPath)]));
  if (v['emptyDir']) return {};
  if (v['secret']) return pick(await secretData(api, ns, v['secret'].secretName, v['secret'].optional === true), v['secret'].items);
  if (v['configMap']) return pick(await configMapData(api, ns, v['configMap'].name, v['configMap'].optional === true), v['configMap'].items);
  if (v['downwardAPI']) return downward(v['downwardAPI'].items);
  if (v['projected']) {
    const out: Record<string, string> = {};
    for (const src of v['projected'].sources ?? []) {
      if (src.serviceAccountToken) {
        // What the kubelet asks for: a token of the Pod's service account, for this audience, bound to the Pod.
        const sa = pod.spec?.serviceAccountName ?? 'default';
        const tr = await api.create<{ status: { token: string } }>(`/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
          apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
          spec: { ...(src.serviceAccountToken.audience ? { audiences: [src.serviceAccountToken.audience] } : {}), expirationSeconds: src.serviceAccountToken.expirationSeconds ?? 3607,
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid } },
        });
        out[src.serviceAccountToken.path] = tr.status.token;
      }
      if (src.configMap) Object.assign(out, pick(await configMapData(api, ns, src.configMap.name, src.configMap.optional === true), src.configMap.items));
      if (src.secret) Object.assign(out, pick(await secretData(api, ns, src.secret.name, src.secret.optional === true), src.secret.items));
      if (src.downwardAPI) Object.assign(out, downward(src.downwardAPI.items));
    }
    return out;
  }
  throw new Error(`volume ${v['name']}: kind not played by the test runtime (${Object.keys(v).filter((k) => k !== 'name').join(',')})`);
}

/** The command line of a container: this checkout stands for the image's /app. */
function commandLine(c: Json, env: Record<string, string>): string[] {
  const argv = [...(c['command'] ?? []), ...(c['args'] ?? [])].map((a: string) => expandVars(String(a), env));
  if (argv.length === 0) throw new Error(`container ${c['name']}: no command (image entrypoints are not played by the test runtime)`);
  const fromApp = (a: string) => a.replace(/^\/app\//, repoRoot);
  if (argv[0] === 'node') return [process.execPath, ...argv.slice(1).map(fromApp)];
  if (argv[0] === 'bowline') return [process.execPath, join(repoRoot, 'bin/bowline'), ...argv.slice(1)];
  throw new Error(`container ${c['name']}: command ${argv[0]} is not in the image the test runtime plays (node, bowline)`);
}

/** Replaces mount paths (longest first) with their host directories. */
function remap(text: string, mounts: Array<[string, string]>): string {
  for (const [from, to] of mounts) if (text === from || text.startsWith(`${from}/`) || text.includes(`${from}/`)) text = text.split(from).join(to);
  return text;
}

/** How `runPod` starts a container (what a user would see differs only in where files are). */
export interface RunPodOptions {
  /** Extra env for every container (e.g. NODE_OPTIONS); never overrides the Pod's own. */
  env?: Record<string, string>;
  /** Which Pods not to run (the Pod still gets its address and status): e.g. the control plane's own, which runs on the host. */
  skip?: (pod: KubeObject) => boolean;
}

/** Runs a Pod's init containers, native sidecars and containers in its sandbox (kubelet `run` hook). */
export async function runPod(api: KubeApi, pod: KubeObject, sb: PodSandbox, procs: PodProcesses, opts: RunPodOptions = {}): Promise<void> {
  if (opts.skip?.(pod)) return;
  const spec = pod.spec ?? {};
  const podDir = procs.dirFor(pod);
  const volumeDirs = new Map<string, string>();
  for (const v of (spec.volumes ?? []) as Json[]) {
    const dir = join(podDir, 'volumes', v['name']);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (const [path, content] of Object.entries(await volumeFiles(api, pod, sb, v))) {
      mkdirSync(dirname(join(dir, path)), { recursive: true, mode: 0o755 });
      writeFileSync(join(dir, path), content, { mode: 0o644 });
    }
    volumeDirs.set(v['name'], dir);
  }
  const podUser = spec.securityContext ?? {};

  const startContainer = async (c: Json, init: boolean) => {
    const mounts: Array<[string, string]> = ((c['volumeMounts'] ?? []) as Json[]).map((m) => {
      const dir = volumeDirs.get(m['name']);
      if (!dir) throw new Error(`container ${c['name']}: volume ${m['name']} is not in the Pod`);
      return [String(m['mountPath']).replace(/\/+$/, ''), m['subPath'] ? join(dir, m['subPath']) : dir] as [string, string];
    }).sort((a, b) => b[0].length - a[0].length);
    const env: Record<string, string> = {};
    for (const e of (c['env'] ?? []) as Json[]) {
      const from = e['valueFrom'];
      if (!from) env[e['name']] = expandVars(String(e['value'] ?? ''), env);
      else if (from.fieldRef) env[e['name']] = fieldOf(pod, sb, from.fieldRef.fieldPath);
      else if (from.secretKeyRef) env[e['name']] = (await secretData(api, pod.metadata.namespace!, from.secretKeyRef.name, from.secretKeyRef.optional === true))[from.secretKeyRef.key] ?? '';
      else if (from.configMapKeyRef) env[e['name']] = (await configMapData(api, pod.metadata.namespace!, from.configMapKeyRef.name, from.configMapKeyRef.optional === true))[from.configMapKeyRef.key] ?? '';
      else throw new Error(`container ${c['name']}: env ${e['name']}: valueFrom not played by the test runtime`);
    }
    const argv = commandLine(c, env).map((a) => remap(a, mounts));
    for (const k of Object.keys(env)) env[k] = remap(env[k]!, mounts);
    const sc = c['securityContext'] ?? {};
    const uid = sc.runAsUser ?? podUser.runAsUser;
    const gid = sc.runAsGroup ?? podUser.runAsGroup ?? uid;
    if (uid !== undefined && uid !== 0) for (const [, dir] of mounts) chownDir(dir, uid, gid);
    const cmd = uid !== undefined && uid !== 0 ? ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', ...argv] : argv;
    const fullEnv = { ...opts.env, HOSTNAME: pod.metadata.name, ...(uid !== undefined && uid !== 0 ? { HOME: '/tmp' } : {}), ...env };
    const child = sb.spawn(cmd[0]!, cmd.slice(1), { env: fullEnv, ...(c['workingDir'] ? { cwd: remap(String(c['workingDir']).replace(/^\/app\b/, repoRoot), mounts) } : {}) });
    procs.add(pod, c['name'], child, init);
    return child;
  };

  for (const c of (spec.initContainers ?? []) as Json[]) {
    const child = await startContainer(c, true);
    if (c['restartPolicy'] === 'Always') continue; // a native sidecar: keeps running beside the app
    const code = await new Promise<number | null>((resolve) => {
      if (child.proc.exitCode !== null) resolve(child.proc.exitCode);
      else child.proc.once('exit', (code) => resolve(code));
    });
    if (code !== 0) throw new Error(`init container ${c['name']} exited ${code}: ${child.output().slice(-2000)}`);
  }
  for (const c of (spec.containers ?? []) as Json[]) await startContainer(c, false);
}

function chownDir(dir: string, uid: number, gid: number): void {
  try {
    chownSync(dir, uid, gid);
  } catch { /* best effort: the files are world-readable anyway */ }
}
