/**
 * `bowline kube-inject`: the injector applied, offline, to every pod template of a YAML or JSON
 * stream: Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs,
 * CronJobs and `List`s of them. Other documents pass through untouched.
 *
 * Idempotent to the byte: when no document changes (everything already injected, opted out, or not
 * a workload), the input is printed exactly as it came; changed documents are re-serialized, the
 * others keep their text (comments included).
 */
import { parseAllDocuments, stringify, type Document } from 'yaml';
import { injectPod, InjectError, type InjectOptions, type Json } from './inject.js';

/** Kinds whose pod template is at `spec.template`. */
const TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'DeploymentConfig']);

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What happened to one workload: injected, or left alone and why. */
export interface WorkloadNote {
  /** `Kind/name`. */
  workload: string;
  skipped?: string;
}

/** Injects one object (a workload or a List); returns the new object, or undefined when nothing changed. */
export function injectObject(o: Json, opts: InjectOptions, notes: WorkloadNote[]): Json | undefined {
  const kind = typeof o['kind'] === 'string' ? o['kind'] : '';
  const name = `${kind}/${String(isObj(o['metadata']) ? o['metadata']['name'] ?? '' : '')}`;
  if (kind === 'List' || (kind.endsWith('List') && Array.isArray(o['items']))) {
    let changed = false;
    const items = (o['items'] as unknown[]).map((it) => {
      if (!isObj(it)) return it;
      const r = injectObject(it, opts, notes);
      if (r) changed = true;
      return r ?? it;
    });
    return changed ? { ...o, items } : undefined;
  }
  const at = (template: unknown, wrap: (t: Json) => Json): Json | undefined => {
    if (!isObj(template)) throw new InjectError(`${name} has no pod template`);
    const r = injectPod(isObj(template['metadata']) ? template['metadata'] : {}, isObj(template['spec']) ? template['spec'] : {}, opts);
    if ('skipped' in r) { notes.push({ workload: name, skipped: r.skipped }); return undefined; }
    notes.push({ workload: name });
    return wrap({ ...template, metadata: r.meta, spec: r.spec });
  };
  const spec = isObj(o['spec']) ? o['spec'] : undefined;
  try {
    if (kind === 'Pod') {
      const r = injectPod(isObj(o['metadata']) ? o['metadata'] : {}, spec ?? {}, opts);
      if ('skipped' in r) { notes.push({ workload: name, skipped: r.skipped }); return undefined; }
      notes.push({ workload: name });
      return { ...o, metadata: r.meta, spec: r.spec };
    }
    if (TEMPLATE_KINDS.has(kind)) return at(spec?.['template'], (t) => ({ ...o, spec: { ...spec, template: t } }));
    if (kind === 'CronJob') {
      const job = isObj(spec?.['jobTemplate']) ? spec['jobTemplate'] : {};
      const jobSpec = isObj(job['spec']) ? job['spec'] : {};
      return at(jobSpec['template'], (t) => ({ ...o, spec: { ...spec, jobTemplate: { ...job, spec: { ...jobSpec, template: t } } } }));
    }
  } catch (err) {
    if (err instanceof InjectError) throw new InjectError(`${name}: ${err.message}`);
    throw err;
  }
  return undefined;
}

/** Injects every workload in a YAML/JSON stream; returns the text to print and what was done. */
export function injectStream(text: string, opts: InjectOptions, source = 'input'): { text: string; notes: WorkloadNote[] } {
  const docs: Document[] = parseAllDocuments(text, { uniqueKeys: false }) as Document[];
  const notes: WorkloadNote[] = [];
  const out: Array<{ doc: Document; changed?: Json }> = [];
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const [line, col] = err.linePos?.[0] ? [err.linePos[0].line, err.linePos[0].col] : [1, 1];
      throw new InjectError(`${source}:${line}:${col}: not YAML: ${err.message.split('\n')[0]}`);
    }
    const js: unknown = doc.toJS({ maxAliasCount: 1000 });
    const changed = isObj(js) ? injectObject(js, opts, notes) : undefined;
    out.push({ doc, ...(changed ? { changed } : {}) });
  }
  if (out.every((d) => !d.changed)) return { text, notes };
  const parts = out.filter((d) => d.changed || d.doc.contents !== null).map((d) => (d.changed ? stringify(d.changed, { lineWidth: 0 }) : String(d.doc).replace(/^---[ \t]*\n/, '')));
  return { text: parts.map((p) => (p.endsWith('\n') ? p : p + '\n')).join('---\n'), notes };
}
