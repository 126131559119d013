import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { servedKinds, type ServedKind } from './kinds.js';
import { noSuchPath, sendJson } from './status.js';

/**
 * Kubernetes discovery: `/api`, `/api/v1`, `/apis`, `/apis/G`, `/apis/G/V`, plus aggregated
 * discovery (`APIGroupDiscoveryList`, apidiscovery.k8s.io v2 and v2beta1) on `/api` and `/apis`
 * when the Accept header asks for it. Everything is derived from the kinds table (kinds.ts).
 */

const SUBRESOURCE_VERBS = ['get', 'patch', 'update'];

/** Kubernetes' version order: GA, then beta, then alpha, higher numbers first. */
export function compareVersions(a: string, b: string): number {
  const rank = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0];
    return [m[2] === undefined ? 0 : m[2] === 'beta' ? 1 : 2, -Number(m[1]), -Number(m[3] ?? 0)];
  };
  const [x, y] = [rank(a), rank(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return a.localeCompare(b);
}

/** The served groups and their versions (preferred first); the core group is ''. */
export function groupVersions(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const k of servedKinds) {
    const vs = out.get(k.group) ?? [];
    for (const v of k.versions) if (!vs.includes(v)) vs.push(v);
    out.set(k.group, vs.sort(compareVersions));
  }
  return out;
}

/** The kinds served at one group-version. */
export function kindsAt(group: string, version: string): ServedKind[] {
  return servedKinds.filter((k) => k.group === group && k.versions.includes(version));
}

const hasStatus = (k: ServedKind) => k.custom;

function resources(group: string, version: string) {
  return kindsAt(group, version).flatMap((k) => [
    {
      name: k.plural, singularName: k.singular, namespaced: k.namespaced, kind: k.kind, verbs: k.verbs,
      ...(k.shortNames.length ? { shortNames: k.shortNames } : {}), ...(k.categories.length ? { categories: k.categories } : {}),
      storageVersionHash: createHash('sha256').update(`${group}/${k.versions[0]}/${k.kind}`).digest('base64').slice(0, 11),
    },
    ...(hasStatus(k) ? [{ name: `${k.plural}/status`, singularName: '', namespaced: k.namespaced, kind: k.kind, verbs: SUBRESOURCE_VERBS }] : []),
  ]);
}

function aggregatedResources(group: string, version: string) {
  return kindsAt(group, version).map((k) => {
    const responseKind = { group, version, kind: k.kind };
    return {
      resource: k.plural, responseKind, scope: k.namespaced ? 'Namespaced' : 'Cluster', singularResource: k.singular, verbs: k.verbs,
      ...(k.shortNames.length ? { shortNames: k.shortNames } : {}), ...(k.categories.length ? { categories: k.categories } : {}),
      ...(hasStatus(k) ? { subresources: [{ subresource: 'status', responseKind, verbs: SUBRESOURCE_VERBS }] } : {}),
    };
  });
}

function groupDoc(name: string, versions: string[]) {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

/** The aggregated discovery version the Accept header asks for (`v2` or `v2beta1`), if any, in the client's order. */
export function aggregatedVersion(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  for (const entry of (accept ?? '').split(',')) {
    const [type, ...params] = entry.split(';').map((p) => p.trim());
    if (type !== 'application/json') continue;
    const p = Object.fromEntries(params.map((x) => x.split('=').map((y) => y.trim()) as [string, string]));
    if (p.g === 'apidiscovery.k8s.io' && p.as === 'APIGroupDiscoveryList' && (p.v === 'v2' || p.v === 'v2beta1')) return p.v;
  }
  return undefined;
}

function aggregated(core: boolean, v: 'v2' | 'v2beta1') {
  const items = [...groupVersions()].filter(([g]) => (g === '') === core).map(([g, versions]) => ({
    metadata: { ...(g ? { name: g } : {}), creationTimestamp: null },
    versions: versions.map((version) => ({ version, resources: aggregatedResources(g, version), freshness: 'Current' })),
  }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${v}`, metadata: {}, items };
}

/** Sends a JSON document with an ETag, answering 304 when the client already has it. */
export function sendCached(req: IncomingMessage, res: ServerResponse, body: unknown, contentType = 'application/json', extra: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  const etag = `"${createHash('sha512').update(data).digest('hex').toUpperCase()}"`;
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag, ...extra });
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(data), etag, ...extra });
  res.end(data);
}

/** Serves a discovery path; false when `pathname` is not one. */
export function serveDiscovery(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
  const segs = pathname.split('/').filter(Boolean);
  if (segs[0] !== 'api' && segs[0] !== 'apis') return false;
  if (segs.length === 1) {
    const v = aggregatedVersion(req.headers.accept);
    if (v) {
      sendCached(req, res, aggregated(segs[0] === 'api', v), `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`, { vary: 'Accept' });
      return true;
    }
  }
  const doc = discovery(pathname);
  if (doc === undefined) return false;
  sendJson(res, 200, doc, { vary: 'Accept' });
  return true;
}

/** Plain discovery documents: `/api`, `/api/v1`, `/apis`, `/apis/G`, `/apis/G/V`; undefined for other paths. */
export function discovery(pathname: string): unknown {
  const segs = pathname.split('/').filter(Boolean);
  const all = groupVersions();
  if (segs[0] === 'api') {
    if (segs.length === 1) return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
    if (segs.length === 2 && segs[1] === 'v1') return { kind: 'APIResourceList', groupVersion: 'v1', resources: resources('', 'v1') };
    return undefined;
  }
  if (segs[0] !== 'apis') return undefined;
  if (segs.length === 1) return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...all].filter(([n]) => n).map(([n, v]) => groupDoc(n, v)) };
  const versions = segs[1] ? all.get(segs[1]) : undefined;
  if (!versions || !segs[1]) throw noSuchPath();
  if (segs.length === 2) return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(segs[1], versions) };
  if (segs.length === 3) {
    if (!versions.includes(segs[2]!)) throw noSuchPath();
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${segs[1]}/${segs[2]}`, resources: resources(segs[1], segs[2]!) };
  }
  return undefined;
}
