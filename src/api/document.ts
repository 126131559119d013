import { apiVersionsOf, isKind, kindNames } from './kinds.js';
import { resourceSchema } from './schema/resource.js';
import { walk, isObj } from './schema/walk.js';
import { installHints } from './schema/hints.js';
import { didYouMean } from './schema/suggest.js';
import { notEnforced } from './not-enforced.js';
import { refusedKinds } from './refused-kinds.js';
import type { CheckContext, Finding } from './schema/dsl.js';
import type { Kind, Resource } from './types/meta.js';

installHints();

/** Groups whose documents are always ours, even with --ignore-unknown-kinds. */
const istioGroups = ['networking.istio.io', 'security.istio.io', 'authentication.istio.io', 'telemetry.istio.io', 'extensions.istio.io'];

/** The outcome of checking one document object (paths not yet located in source text). */
export interface DocumentCheck {
  findings: Finding[];
  kind?: string;
  apiVersion?: string;
  resource?: Resource;
  /** True for the `istio` ConfigMap holding mesh config (checked by mesh-config.ts). */
  meshConfigMap?: boolean;
  /** True when the document is another platform's kind and was skipped. */
  skipped?: boolean;
}

/** True for a ConfigMap named `istio`: Istio's mesh config, understood by Bowline. */
export function isMeshConfigMap(o: Record<string, unknown>): boolean {
  return o.kind === 'ConfigMap' && isObj(o.metadata) && o.metadata.name === 'istio';
}

/** Checks one parsed document: kind, apiVersion, schema, semantics. Never throws. */
export function checkDocument(doc: unknown, opts: { ignoreUnknownKinds?: boolean } = {}): DocumentCheck {
  const findings: Finding[] = [];
  if (!isObj(doc)) {
    const what = Array.isArray(doc) ? 'a list' : doc === null || doc === undefined ? 'empty' : `a ${typeof doc}`;
    findings.push({
      code: 'BOWLINE_E_API_NOT_OBJECT',
      path: [],
      message: `the document is ${what}: expected a resource (a map with apiVersion, kind, metadata and spec)`,
      hint: Array.isArray(doc) ? 'separate resources with a line holding only "---" instead of listing them' : undefined,
    });
    return { findings };
  }
  const kind = typeof doc.kind === 'string' ? doc.kind : undefined;
  const apiVersion = typeof doc.apiVersion === 'string' ? doc.apiVersion : undefined;
  const group = apiVersion?.includes('/') ? apiVersion.split('/')[0] : undefined;
  if (kind === undefined) {
    findings.push({ code: 'BOWLINE_E_API_NO_KIND', path: doc.kind === undefined ? [] : ['kind'], message: doc.kind === undefined ? 'the document has no kind: expected one of ' + kindNames.join(', ') : 'kind must be a string' });
    return { findings, apiVersion };
  }
  if (isMeshConfigMap(doc)) return { findings, kind, apiVersion, meshConfigMap: true };
  const refused = Object.prototype.hasOwnProperty.call(refusedKinds, kind) ? refusedKinds[kind] : undefined;
  if (refused) {
    findings.push({ code: 'BOWLINE_E_API_ENVOY_KIND', path: ['kind'], message: `${kind}: ${refused.message}`, hint: refused.hint });
    return { findings, kind, apiVersion };
  }
  if (!isKind(kind)) {
    const near = didYouMean(kind, kindNames);
    const ours = group !== undefined && istioGroups.includes(group);
    if (opts.ignoreUnknownKinds && !ours && !near) return { findings, kind, apiVersion, skipped: true };
    findings.push({
      code: 'BOWLINE_E_API_UNKNOWN_KIND',
      path: ['kind'],
      message: `${kind} is not a Bowline resource: expected one of ${kindNames.join(', ')}`,
      hint: near ? `did you mean ${near}?` : ours ? undefined : 'pass --ignore-unknown-kinds to skip other kinds (Deployment, Service ...)',
    });
    return { findings, kind, apiVersion };
  }
  const ctx: CheckContext = { kind, add: (f) => findings.push(f) };
  const accepted = apiVersionsOf(kind);
  if (apiVersion === undefined) {
    if (doc.apiVersion !== undefined) findings.push({ code: 'BOWLINE_E_API_TYPE', path: ['apiVersion'], message: 'apiVersion must be a string' });
    else findings.push({ code: 'BOWLINE_E_API_REQUIRED', path: [], message: `the document has no apiVersion: expected ${accepted.join(' or ')}` });
  } else if (!accepted.includes(apiVersion)) {
    findings.push({ code: 'BOWLINE_E_API_VERSION', path: ['apiVersion'], message: `apiVersion ${apiVersion} does not serve ${kind}: expected ${accepted.join(' or ')}` });
  }
  walk(doc, resourceSchema(kind), [], { kind, add: (f) => (f.code === 'BOWLINE_E_API_REQUIRED' && f.path.length === 0 && f.message.includes('apiVersion') ? undefined : ctx.add(f)) });
  if (kind === 'MeshPolicy' || kind === 'Policy') {
    findings.push({
      severity: 'warning',
      code: 'BOWLINE_W_API_LEGACY_KIND',
      path: ['kind'],
      message: `${kind} (authentication.istio.io/v1alpha1) is deprecated: Bowline applies it as PeerAuthentication`,
      hint: 'migrate to security.istio.io/v1 PeerAuthentication',
    });
  }
  const ok = !findings.some((f) => (f.severity ?? 'error') === 'error');
  if (ok) findings.push(...notEnforced(kind, doc.spec));
  return { findings, kind, apiVersion, resource: ok ? (doc as unknown as Resource) : undefined };
}

/** Re-exported for callers that need the kind type guard. */
export type { Kind };
