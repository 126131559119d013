import { stringify } from 'yaml';
import type { ServedKind } from '../control/kinds.js';

/** kubectl's AGE: 45s, 12m, 5h, 3d. */
export function age(creationTimestamp: string | undefined, now = Date.now()): string {
  const t = Date.parse(creationTimestamp ?? '');
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 3600 * 2) return `${Math.floor(s / 60)}m`;
  if (s < 86400 * 2) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

type Obj = Record<string, any>;

/** Rows (the first is the header) as left-aligned columns two spaces apart, like istioctl's tables. */
export function alignColumns(rows: Array<Array<string | undefined>>): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
const list = (v: unknown): string => (Array.isArray(v) && v.length ? v.map(String).join(',') : '');

/** The kind-specific columns `bowline get` shows between NAME and AGE (the same as Istio's CRDs in kubectl). */
const columns: Record<string, Array<[string, (o: Obj) => string]>> = {
  VirtualService: [['GATEWAYS', (o) => list(o.spec?.gateways)], ['HOSTS', (o) => list(o.spec?.hosts)]],
  DestinationRule: [['HOST', (o) => String(o.spec?.host ?? '')]],
  Gateway: [['SERVERS', (o) => (o.spec?.servers ?? []).map((s: Obj) => `${s.port?.number ?? '?'}/${s.port?.protocol ?? '?'}`).join(',')]],
  ServiceEntry: [['HOSTS', (o) => list(o.spec?.hosts)], ['LOCATION', (o) => String(o.spec?.location ?? '')], ['RESOLUTION', (o) => String(o.spec?.resolution ?? '')]],
  WorkloadEntry: [['ADDRESS', (o) => String(o.spec?.address ?? '')]],
  PeerAuthentication: [['MODE', (o) => String(o.spec?.mtls?.mode ?? '')]],
  AuthorizationPolicy: [['ACTION', (o) => String(o.spec?.action ?? (o.spec?.rules ? 'ALLOW' : ''))]],
  ConfigMap: [['DATA', (o) => String(Object.keys(o.data ?? {}).length)]],
};

/** A kubectl-style table of objects of one kind. */
export function table(kind: ServedKind, items: Obj[], opts: { allNamespaces: boolean; wide: boolean; now?: number }): string {
  const extra = columns[kind.kind] ?? [];
  const head = [...(opts.allNamespaces && kind.namespaced ? ['NAMESPACE'] : []), 'NAME', ...extra.map((c) => c[0]), 'AGE', ...(opts.wide ? ['GENERATION', 'LABELS'] : [])];
  const rows = items.map((o) => [
    ...(opts.allNamespaces && kind.namespaced ? [String(o.metadata?.namespace ?? '')] : []),
    String(o.metadata?.name ?? ''),
    ...extra.map((c) => c[1](o) || '<none>'),
    age(o.metadata?.creationTimestamp, opts.now),
    ...(opts.wide ? [String(o.metadata?.generation ?? ''), Object.entries(o.metadata?.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>'] : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n') + '\n';
}

/** `bowline describe`: a readable view of one object (metadata first, then its spec/data as YAML). */
export function describe(kind: ServedKind, o: Obj): string {
  const m = o.metadata ?? {};
  const kv = (map: Record<string, string> | undefined) => {
    const e = Object.entries(map ?? {});
    return e.length ? e.map(([k, v], i) => `${i ? ' '.repeat(14) : ''}${k}=${v}`).join('\n') : '<none>';
  };
  const lines = [
    `Name:         ${m.name}`,
    ...(kind.namespaced ? [`Namespace:    ${m.namespace}`] : []),
    `Labels:       ${kv(m.labels)}`,
    `Annotations:  ${kv(m.annotations)}`,
    `API Version:  ${o.apiVersion}`,
    `Kind:         ${o.kind}`,
    'Metadata:',
    `  Creation Timestamp:  ${m.creationTimestamp}`,
    `  Generation:          ${m.generation}`,
    `  Resource Version:    ${m.resourceVersion}`,
    `  UID:                 ${m.uid}`,
  ];
  const { apiVersion: _a, kind: _k, metadata: _m, ...body } = o;
  for (const [key, value] of Object.entries(body)) {
    lines.push(`${key[0]!.toUpperCase()}${key.slice(1)}:`);
    lines.push(stringify(value, { lineWidth: 0 }).trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
  }
  lines.push('Events:       <none>');
  return lines.join('\n') + '\n';
}
