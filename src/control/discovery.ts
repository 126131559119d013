import { servedKinds } from './kinds.js';
import { noSuchPath } from './status.js';

function resources(group: string, version: string) {
  return servedKinds.filter((k) => k.group === group && k.versions.includes(version)).map((k) => ({
    name: k.plural, singularName: k.singular, namespaced: k.namespaced, kind: k.kind,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    ...(k.shortNames.length ? { shortNames: k.shortNames } : {}),
  }));
}

function groups(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const k of servedKinds) {
    if (!k.group) continue;
    const vs = out.get(k.group) ?? [];
    for (const v of k.versions) if (!vs.includes(v)) vs.push(v);
    out.set(k.group, vs);
  }
  return out;
}

function group(name: string, versions: string[]) {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

/** Kubernetes discovery documents: `/api`, `/api/v1`, `/apis`, `/apis/G`, `/apis/G/V`; undefined for other paths. */
export function discovery(pathname: string): unknown {
  const segs = pathname.split('/').filter(Boolean);
  if (segs[0] === 'api') {
    if (segs.length === 1) return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
    if (segs.length === 2 && segs[1] === 'v1') return { kind: 'APIResourceList', groupVersion: 'v1', resources: resources('', 'v1') };
    return undefined;
  }
  if (segs[0] !== 'apis') return undefined;
  const all = groups();
  if (segs.length === 1) return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...all].map(([n, v]) => group(n, v)) };
  const versions = all.get(segs[1]!);
  if (!versions) throw noSuchPath();
  if (segs.length === 2) return { kind: 'APIGroup', apiVersion: 'v1', ...group(segs[1]!, versions) };
  if (segs.length === 3) {
    if (!versions.includes(segs[2]!)) throw noSuchPath();
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${segs[1]}/${segs[2]}`, resources: resources(segs[1]!, segs[2]!) };
  }
  return undefined;
}
