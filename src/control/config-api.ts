import type { IncomingMessage, ServerResponse } from 'node:http';
import { isStoreError, type Store, type StoredObject } from '../store/index.js';
import { admit, decodeBody, isYaml, readBody, warningHeaders } from './admission.js';
import { CLUSTER_SCOPE_NAMESPACE, kindByPath, type ServedKind } from './kinds.js';
import type { Metrics } from './metrics.js';
import { mergePatch } from './merge-patch.js';
import { ApiError, badRequest, sendJson } from './status.js';
import { serveWatch } from './watch.js';

/** A request path resolved to a kind, namespace and (optionally) name. */
export interface ResourcePath {
  kind: ServedKind;
  version: string;
  /** Undefined for the all-namespaces collection and for cluster-scoped kinds. */
  namespace?: string;
  name?: string;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Parses `/apis/G/V/[namespaces/NS/]PLURAL[/NAME]` and `/api/v1/...`; undefined when not a resource path. */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const segs = pathname.split('/').filter(Boolean).map((s) => { try { return decodeURIComponent(s); } catch { return '\u0000'; } });
  let group: string, version: string, rest: string[];
  if (segs[0] === 'apis' && segs.length >= 4) [group, version, rest] = [segs[1]!, segs[2]!, segs.slice(3)];
  else if (segs[0] === 'api' && segs.length >= 3) [group, version, rest] = ['', segs[1]!, segs.slice(2)];
  else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 2) return undefined;
  const kind = kindByPath(group, version, rest[0]!);
  if (!kind) return undefined;
  if (!kind.namespaced && namespace !== undefined) return undefined;
  if (kind.namespaced && namespace === undefined && rest.length === 2) return undefined;
  const out: ResourcePath = { kind, version };
  if (kind.namespaced) { if (namespace !== undefined) out.namespace = namespace; } else out.namespace = CLUSTER_SCOPE_NAMESPACE;
  if (rest[1] !== undefined) out.name = rest[1];
  return out;
}

/** The object as the API shows it: cluster-scoped kinds carry no namespace. */
export function present(kind: ServedKind, obj: StoredObject): StoredObject {
  if (kind.namespaced) return obj;
  const { namespace: _ns, ...metadata } = obj.metadata;
  return { ...obj, metadata: metadata as StoredObject['metadata'] };
}

/** Maps a store error to the Status the API answers with. */
export function storeErrorToApi(err: unknown, kind: ServedKind, name?: string): unknown {
  if (!isStoreError(err)) return err;
  const details = { ...(name ? { name } : {}), group: kind.group, kind: kind.plural };
  switch (err.reason) {
    case 'NotFound': return new ApiError(404, 'NotFound', `${kind.plural}${kind.group ? '.' + kind.group : ''} "${name ?? ''}" not found`, details);
    case 'AlreadyExists': return new ApiError(409, 'AlreadyExists', `${kind.plural}${kind.group ? '.' + kind.group : ''} "${name ?? ''}" already exists`, details);
    case 'Conflict': return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${kind.plural}${kind.group ? '.' + kind.group : ''} "${name ?? ''}": ${err.message}`, details);
    case 'Expired': return new ApiError(410, 'Expired', err.message);
    case 'Invalid': return new ApiError(422, 'Invalid', err.message, details);
    case 'Unavailable': return new ApiError(503, 'ServiceUnavailable', `the config store is unavailable (${err.code}): ${err.message}`);
  }
}

function parseSelector(sel: string | null): Array<(labels: Record<string, string>) => boolean> {
  if (!sel) return [];
  return sel.split(',').filter(Boolean).map((term) => {
    const m = /^\s*([^!=\s]+)\s*(==|=|!=)?\s*([^\s]*)\s*$/.exec(term);
    if (!m) throw badRequest(`labelSelector term "${term}" is not key, key=value or key!=value`);
    const [, k, op, v] = m;
    if (!op) return (l) => k! in l;
    return op === '!=' ? (l) => l[k!] !== v : (l) => l[k!] === v;
  });
}

/** Serves every verb on resource paths, over the store, with src/api validation. */
export class ConfigApi {
  constructor(private readonly store: Store, private readonly metrics: Metrics, private readonly log: (line: string) => void) {}

  /** Handles one request on a resource path. */
  async handle(req: IncomingMessage, res: ServerResponse, path: ResourcePath, query: URLSearchParams): Promise<void> {
    const method = req.method ?? 'GET';
    const { kind, name } = path;
    try {
      if (method === 'GET' && !name) {
        if (query.get('watch') === '1' || query.get('watch') === 'true') return await serveWatch(this.store, req, res, path, query, (o) => present(kind, o));
        return await this.list(res, path, query);
      }
      if (method === 'GET') return sendJson(res, 200, present(kind, await this.store.get(kind.kind, path.namespace!, name!)));
      if (method === 'POST' && !name) return await this.write(req, res, path, query, 'create');
      if (method === 'PUT' && name) return await this.write(req, res, path, query, 'update');
      if (method === 'PATCH' && name) return await this.write(req, res, path, query, 'patch');
      if (method === 'DELETE' && name) return await this.remove(req, res, path, query);
      throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported on ${name ? 'a single' : 'a collection of'} ${kind.plural}`);
    } catch (err) {
      const mapped = storeErrorToApi(err, kind, name);
      if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
        this.metrics.inc('bowline_config_writes_total', 'Config API writes by kind, verb and result', { kind: kind.kind, verb: method.toLowerCase(), result: mapped instanceof ApiError ? mapped.reason : 'error' });
      }
      throw mapped;
    }
  }

  private async list(res: ServerResponse, path: ResourcePath, query: URLSearchParams): Promise<void> {
    const { kind } = path;
    const selectors = parseSelector(query.get('labelSelector'));
    const { items, revision } = await this.store.list(kind.kind, path.namespace);
    const shown = items.filter((o) => selectors.every((s) => s(o.metadata.labels ?? {}))).map((o) => present(kind, o));
    sendJson(res, 200, {
      apiVersion: kind.group ? `${kind.group}/${path.version}` : path.version,
      kind: `${kind.kind}List`,
      metadata: { resourceVersion: String(revision) },
      items: shown,
    });
  }

  private async write(req: IncomingMessage, res: ServerResponse, path: ResourcePath, query: URLSearchParams, verb: 'create' | 'update' | 'patch'): Promise<void> {
    const { kind } = path;
    if (kind.namespaced && path.namespace === undefined) throw new ApiError(405, 'MethodNotAllowed', `${kind.plural} are created in a namespace: POST to .../namespaces/NS/${kind.plural}`);
    const dryRun = query.get('dryRun') === 'All';
    const text = await readBody(req);
    const contentType = req.headers['content-type'];
    let obj: Record<string, unknown>;
    let yamlViolations: ReturnType<typeof decodeBody>['violations'] | undefined;
    if (verb === 'patch') {
      if (!/^application\/merge-patch\+json\b/i.test(contentType ?? '')) {
        throw new ApiError(415, 'UnsupportedMediaType', `PATCH needs Content-Type application/merge-patch+json (got ${contentType ?? 'none'})`);
      }
      const patch = decodeBody(text, 'application/json').obj;
      const current = await this.store.get(kind.kind, path.namespace!, path.name!);
      obj = mergePatch(present(kind, current), patch) as Record<string, unknown>;
      const patchRv = (patch.metadata as { resourceVersion?: unknown } | undefined)?.resourceVersion;
      const meta = (obj.metadata ?? {}) as Record<string, unknown>;
      meta.resourceVersion = typeof patchRv === 'string' ? patchRv : current.metadata.resourceVersion;
      obj.metadata = meta;
    } else {
      const d = decodeBody(text, contentType);
      obj = d.obj;
      if (isYaml(contentType)) yamlViolations = d.violations;
    }
    const stored = this.normalizeIdentity(obj, path, verb);
    const warnings = admit(kind, obj, yamlViolations);
    if (!kind.namespaced) stored.metadata.namespace = CLUSTER_SCOPE_NAMESPACE;
    const headers = warningHeaders(warnings);
    let out: StoredObject;
    if (dryRun) {
      out = verb === 'create' ? stored : { ...stored, metadata: { ...(await this.store.get(kind.kind, stored.metadata.namespace, stored.metadata.name)).metadata, ...stored.metadata } };
    } else {
      out = verb === 'create' ? await this.store.create(stored) : await this.store.update(stored);
      this.metrics.inc('bowline_config_writes_total', 'Config API writes by kind, verb and result', { kind: kind.kind, verb: verb === 'create' ? 'post' : verb === 'update' ? 'put' : 'patch', result: 'ok' });
      this.log(`config: ${verb} ${kind.kind} ${stored.metadata.namespace}/${stored.metadata.name} rv=${out.metadata.resourceVersion}`);
    }
    sendJson(res, verb === 'create' ? 201 : 200, present(kind, out), headers);
  }

  /** Checks kind, apiVersion, name and namespace against the path, and fills what the path implies. */
  private normalizeIdentity(obj: Record<string, unknown>, path: ResourcePath, verb: string): StoredObject {
    const { kind } = path;
    if (obj.kind === undefined) obj.kind = kind.kind;
    if (obj.kind !== kind.kind) throw badRequest(`the body's kind "${String(obj.kind)}" does not match the path's kind ${kind.kind}`);
    const expectedApi = kind.group ? `${kind.group}/` : '';
    if (obj.apiVersion === undefined) obj.apiVersion = kind.group ? `${kind.group}/${path.version}` : path.version;
    if (typeof obj.apiVersion !== 'string' || (kind.group ? !obj.apiVersion.startsWith(expectedApi) : obj.apiVersion !== 'v1')) {
      throw badRequest(`the body's apiVersion "${String(obj.apiVersion)}" does not belong to group ${kind.group || 'core'}`);
    }
    const meta = obj.metadata;
    if (!meta || typeof meta !== 'object' || Array.isArray(meta)) throw badRequest('the body needs metadata with a name');
    const m = meta as Record<string, unknown>;
    if (typeof m.name !== 'string' || m.name === '') {
      if (verb !== 'create' && path.name) m.name = path.name;
      else throw new ApiError(422, 'Invalid', `${kind.kind} is invalid: metadata.name: Required value`, { kind: kind.kind, causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'metadata.name' }] });
    }
    const name = m.name as string;
    if (!NAME_RE.test(name)) {
      throw new ApiError(422, 'Invalid', `${kind.kind} "${name}" is invalid: metadata.name: must be a lowercase RFC 1123 subdomain`, { name, kind: kind.kind, causes: [{ reason: 'FieldValueInvalid', message: 'must consist of lower case alphanumeric characters, "-" or ".", and start and end with an alphanumeric character', field: 'metadata.name' }] });
    }
    if (path.name !== undefined && name !== path.name) throw badRequest(`the body's metadata.name "${name}" does not match the name in the path "${path.name}"`);
    if (kind.namespaced) {
      if (m.namespace !== undefined && m.namespace !== path.namespace) {
        throw badRequest(`the namespace of the object (${String(m.namespace)}) does not match the namespace on the request (${path.namespace})`);
      }
      m.namespace = path.namespace;
    } else if (m.namespace !== undefined) {
      throw badRequest(`${kind.kind} is cluster-scoped: remove metadata.namespace`);
    }
    if (m.resourceVersion !== undefined && typeof m.resourceVersion !== 'string') throw badRequest('metadata.resourceVersion must be a string');
    if (verb === 'create') {
      if (m.resourceVersion) throw badRequest('metadata.resourceVersion must not be set on create');
      delete m.resourceVersion;
    }
    for (const f of ['labels', 'annotations'] as const) {
      const v = m[f];
      if (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string'))) {
        throw new ApiError(422, 'Invalid', `metadata.${f} must be a map of strings`, { name, kind: kind.kind, causes: [{ reason: 'FieldValueInvalid', message: 'must be a map of strings', field: `metadata.${f}` }] });
      }
    }
    delete m.uid;
    delete m.creationTimestamp;
    delete m.generation;
    return obj as StoredObject;
  }

  private async remove(req: IncomingMessage, res: ServerResponse, path: ResourcePath, query: URLSearchParams): Promise<void> {
    const { kind } = path;
    let expected: string | undefined;
    const text = await readBody(req);
    if (text.trim()) {
      const opts = decodeBody(text, 'application/json').obj as { preconditions?: { resourceVersion?: unknown } };
      const rv = opts.preconditions?.resourceVersion;
      if (rv !== undefined && typeof rv !== 'string') throw badRequest('preconditions.resourceVersion must be a string');
      expected = rv;
    }
    if (query.get('dryRun') === 'All') {
      return sendJson(res, 200, present(kind, await this.store.get(kind.kind, path.namespace!, path.name!)));
    }
    const gone = await this.store.delete(kind.kind, path.namespace!, path.name!, expected);
    this.metrics.inc('bowline_config_writes_total', 'Config API writes by kind, verb and result', { kind: kind.kind, verb: 'delete', result: 'ok' });
    this.log(`config: delete ${kind.kind} ${path.namespace}/${path.name}`);
    sendJson(res, 200, present(kind, gone));
  }
}

