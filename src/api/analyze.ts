import { toViolation, type Locator } from './locate.js';
import type { Finding } from './schema/dsl.js';
import type { ParsedDocument, Resource, Violation } from './types/meta.js';
import { isObj } from './schema/walk.js';

const locators = new WeakMap<ParsedDocument, { loc: Locator; file: string | undefined }>();

/** Remembers where a parsed document came from so cross-document findings can be located. */
export function registerLocator(doc: ParsedDocument, loc: Locator, file: string | undefined): void {
  locators.set(doc, { loc, file });
}

function shortHost(host: string, ns: string | undefined): string {
  const m = /^([^.]+)\.([^.]+)\.svc\.cluster\.local$/.exec(host) ?? /^([^.]+)\.([^.]+)(\.svc)?$/.exec(host);
  if (m && (m[3] !== undefined || host.endsWith('.svc.cluster.local'))) return `${m[1]}.${m[2]}`;
  return host.includes('.') ? host : `${host}.${ns ?? 'default'}`;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function isCatchAll(match: unknown): boolean {
  const ms = list(match);
  if (ms.length === 0) return true;
  return ms.some((m) => {
    if (!isObj(m)) return true;
    const keys = Object.keys(m).filter((k) => k !== 'name' && m[k] !== null && m[k] !== undefined);
    if (keys.length === 0) return true;
    return keys.length === 1 && isObj(m.uri) && m.uri.prefix === '/' && Object.keys(m.uri).length === 1;
  });
}

/**
 * Analyzer-style findings across documents (what `istioctl analyze` reports): subsets no DestinationRule
 * in the input defines, rules after a catch-all that can never match, sourceLabels on gateway-only rules.
 * All are warnings: Istio accepts such YAML.
 */
export function analyzeResources(resources: Resource[]): Array<{ index: number; finding: Finding }> {
  const out: Array<{ index: number; finding: Finding }> = [];
  const subsets = new Map<string, Set<string>>();
  for (const r of resources) {
    if (r.kind !== 'DestinationRule' || !isObj(r.spec) || typeof r.spec.host !== 'string') continue;
    const key = shortHost(r.spec.host, r.metadata?.namespace);
    const set = subsets.get(key) ?? new Set<string>();
    for (const s of list(r.spec.subsets)) if (isObj(s) && typeof s.name === 'string') set.add(s.name);
    subsets.set(key, set);
  }
  resources.forEach((r, index) => {
    if (r.kind !== 'VirtualService' || !isObj(r.spec)) return;
    const ns = r.metadata?.namespace;
    const gateways = list(r.spec.gateways);
    const gatewayOnly = gateways.length > 0 && !gateways.includes('mesh');
    for (const section of ['http', 'tls', 'tcp'] as const) {
      let catchAll: number | undefined;
      list(r.spec[section]).forEach((rule, i) => {
        if (!isObj(rule)) return;
        if (catchAll !== undefined && section === 'http') {
          out.push({ index, finding: { severity: 'warning', code: 'BOWLINE_W_API_UNREACHABLE_RULE', path: ['spec', section, i], message: `this rule can never match: rule ${catchAll} before it matches every request` } });
        }
        if (section === 'http' && catchAll === undefined && isCatchAll(rule.match)) catchAll = i;
        list(rule.match).forEach((m, j) => {
          if (gatewayOnly && isObj(m) && m.sourceLabels !== undefined) {
            out.push({ index, finding: { severity: 'warning', code: 'BOWLINE_W_API_SOURCE_LABELS_GATEWAY', path: ['spec', section, i, 'match', j, 'sourceLabels'], atKey: true, message: 'sourceLabels has no effect here: this VirtualService applies only to gateways, not to sidecars', hint: 'add "mesh" to spec.gateways or remove sourceLabels' } });
          }
        });
        list(rule.route).forEach((d, j) => {
          const dest = isObj(d) && isObj(d.destination) ? d.destination : undefined;
          if (!dest || typeof dest.subset !== 'string' || typeof dest.host !== 'string') return;
          const defined = subsets.get(shortHost(dest.host, ns));
          if (!defined?.has(dest.subset)) {
            out.push({ index, finding: { severity: 'warning', code: 'BOWLINE_W_API_UNKNOWN_SUBSET', path: ['spec', section, i, 'route', j, 'destination', 'subset'], message: `subset "${dest.subset}" of host ${dest.host} is not defined by any DestinationRule in the input`, hint: defined ? `defined subsets: ${[...defined].join(', ') || 'none'}` : `add a DestinationRule for ${dest.host} with subset ${dest.subset}` } });
          }
        });
      });
    }
  });
  return out;
}

/** Runs analyzeResources over parsed documents (possibly from several files) and locates each warning. */
export function analyzeDocuments(docs: ParsedDocument[]): Violation[] {
  const withRes = docs.filter((d) => d.resource);
  return analyzeResources(withRes.map((d) => d.resource!)).map(({ index, finding }) => {
    const d = withRes[index]!;
    const src = locators.get(d);
    return toViolation(finding, src?.loc, src?.file, d.docIndex);
  });
}
