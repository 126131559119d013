import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Kek } from '../ca/index.js';
import { isStoreError, type Store, type StoredObject } from '../store/index.js';
import { admit, decodeBody, fieldValidationOf, isYaml, readBody, readBodyBytes, warningHeaders } from './admission.js';
import { decodeK8sProtobuf, K8S_PROTOBUF } from './k8s-protobuf.js';
import { CoreKinds, type Viewer } from './core-kinds.js';
import { apiVersionOf, CLUSTER_SCOPE_NAMESPACE, kindByPath, type ServedKind } from './kinds.js';
import type { Metrics } from './metrics.js';
import { parseApplyBody, serverSideApply, updateManager } from './apply.js';
import { trackUpdate } from './managed-fields.js';
import { applyPatch, mediaType, PATCH_TYPES } from './patch.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiError, badRequest, sendJson } from './status.js';
import { table, wantsTable, type TableContext } from './tables.js';
import { serveWatch } from './watch.js';

/** A request path resolved to a kind, namespace and (optionally) name and subresource. */
export interface ResourcePath {
  kind: ServedKind;
  version: string;
  /** Undefined for the all-namespaces collection and for cluster-scoped kinds. */
  namespace?: string;
  name?: string;
  /** `status` for `.../NAME/status`. */
  subresource?: string;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Parses `/apis/G/V/[namespaces/NS/]PLURAL[/NAME[/status]]` and `/api/v1/...`; undefined when not a resource path. */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const segs = pathname.split('/').filter(Boolean).map((s) => { try { return decodeURIComponent(s); } catch { return '\u0000'; } });
  let group: string, version: string, rest: string[];
  if (segs[0] === 'apis' && segs.length >= 4) [group, version, rest] = [segs[1]!, segs[2]!, segs.slice(3)];
  else if (segs[0] === 'api' && segs.length >= 3) [group, version, rest] = ['', segs[1]!, segs.slice(2)];
  else return undefined;
  let namespace: string | undefined;
  // `/api/v1/namespaces/NAME[/status]` is the Namespace object itself; `/api/v1/namespaces/NS/PLURAL...` is inside it.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(group === '' && rest.length === 3 && rest[2] === 'status')) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 3) return undefined;
  if (rest.length === 3 && rest[2] !== 'status') return undefined;
  const kind = kindByPath(group, version, rest[0]!);
  if (!kind) return undefined;
  if (!kind.namespaced && namespace !== undefined) return undefined;
  if (kind.namespaced && namespace === undefined && rest.length >= 2) return undefined;
  const out: ResourcePath = { kind, version };
  if (kind.namespaced) { if (namespace !== undefined) out.namespace = namespace; } else out.namespace = CLUSTER_SCOPE_NAMESPACE;
  if (rest[1] !== undefined) out.name = rest[1];
  if (rest[2] !== undefined) out.subresource = rest[2];
  return out;
}

/** Content-Type of a Table answer. */
const TABLE_HEADERS = { 'content-type': 'application/json;as=Table;v=v1;g=meta.k8s.io' };

/** Checks `resourceVersion`/`resourceVersionMatch` of a list against the current revision (only the current state is kept). */
function checkResourceVersion(query: URLSearchParams, current: number): void {
  const rv = query.get('resourceVersion');
  const match = query.get('resourceVersionMatch');
  if (rv !== null && rv !== '' && !/^\d+$/.test(rv)) throw badRequest(`resourceVersion "${rv}" is not a number`);
  if (match === null || match === '') return;
  if (match !== 'Exact' && match !== 'NotOlderThan') throw badRequest(`resourceVersionMatch "${match}" is not Exact or NotOlderThan`);
  if (rv === null || rv === '') throw badRequest('resourceVersionMatch needs resourceVersion');
  if (match === 'Exact' && Number(rv) !== current) throw new ApiError(410, 'Expired', `too old resource version: ${rv} (${current}): this server lists only its current state`);
  if (match === 'NotOlderThan' && Number(rv) > current) throw new ApiError(504, 'Timeout', `Too large resource version: ${rv}, current: ${current}`);
}

/** Checks DELETE's `propagationPolicy` and `gracePeriodSeconds` (accepted: Bowline objects have no dependents and delete at once). */
function checkDeleteOptions(policy: unknown, grace: unknown): void {
  if (policy !== null && policy !== '' && !['Orphan', 'Background', 'Foreground'].includes(String(policy))) throw badRequest(`propagationPolicy "${String(policy)}" is not Orphan, Background or Foreground`);
  if (grace !== null && grace !== '' && !(typeof grace === 'number' ? Number.isInteger(grace) && grace >= 0 : /^\d+$/.test(String(grace)))) throw badRequest(`gracePeriodSeconds "${String(grace)}" is not a non-negative integer`);
}

/** The Kubernetes "resource.group" spelling used in messages, e.g. `virtualservices.networking.istio.io`. */
function resourceName(kind: ServedKind): string {
  return `${kind.plural}${kind.group ? '.' + kind.group : ''}`;
}

/** Maps a store error to the Status the API answers with (details name the object, group and resource). */
export function storeErrorToApi(err: unknown, kind: ServedKind, name?: string): unknown {
  if (!isStoreError(err)) return err;
  const details = { ...(name ? { name } : {}), group: kind.group, kind: kind.plural };
  switch (err.reason) {
    case 'NotFound': return new ApiError(404, 'NotFound', `${resourceName(kind)} "${name ?? ''}" not found`, details);
    case 'AlreadyExists': return new ApiError(409, 'AlreadyExists', `${resourceName(kind)} "${name ?? ''}" already exists`, details);
    case 'Conflict': return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${resourceName(kind)} "${name ?? ''}": the object has been modified; please apply your changes to the latest version and try again (${err.message})`, details);
    case 'Expired': return new ApiError(410, 'Expired', err.message);
    case 'Invalid': return new ApiError(422, 'Invalid', err.message, details);
    case 'Unavailable':
    case 'Corrupt': return new ApiError(503, 'ServiceUnavailable', `the config store is unavailable (${err.code}): ${err.message}`);
  }
}

/** The name a write body carries, for error details when the path has none (POST). */
function bodyName(text: string | undefined): string | undefined {
  const m = text ? /"name"\s*:\s*"([^"]{1,253})"|^\s*name:\s*(\S{1,253})\s*$/m.exec(text) : null;
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Serves every verb on resource paths, over the store, with src/api validation. */
export class ConfigApi {
  readonly core: CoreKinds;

  constructor(private readonly store: Store, private readonly metrics: Metrics, private readonly log: (line: string) => void, opts: { kek: () => Kek; rootNamespace: string }) {
    this.core = new CoreKinds(store, opts.kek, opts.rootNamespace);
  }

  /** Handles one request on a resource path. */
  async handle(req: IncomingMessage, res: ServerResponse, path: ResourcePath, query: URLSearchParams, viewer: Viewer = { admin: false }): Promise<void> {
    const method = req.method ?? 'GET';
    const { kind, name } = path;
    let errorName = name;
    try {
      const verb = method === 'GET' ? (name ? 'get' : query.get('watch') === '1' || query.get('watch') === 'true' ? 'watch' : 'list')
        : method === 'POST' && !name ? 'create' : method === 'PUT' && name ? 'update' : method === 'PATCH' && name ? 'patch'
          : method === 'DELETE' ? (name ? 'delete' : 'deletecollection') : undefined;
      if (!verb || !kind.verbs.includes(verb)) throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported on ${name ? 'a single' : 'a collection of'} ${kind.plural}`, { ...(name ? { name } : {}), group: kind.group, kind: kind.plural });
      const asTable = wantsTable(req.headers.accept);
      if (verb === 'watch') {
        let first = true;
        const show = (o: StoredObject) => this.core.present(kind, o, viewer, false);
        const present = asTable ? (o: StoredObject) => {
          const t = table(kind, [show(o)], { resourceVersion: o.metadata.resourceVersion }, this.tableContext([o]), query.get('includeObject') ?? undefined, first);
          first = false;
          return t as unknown as StoredObject;
        } : show;
        return await serveWatch(this.store, req, res, path, query, present, {
          labels: parseLabelSelector(query.get('labelSelector')), fields: parseFieldSelector(query.get('fieldSelector'), kind.kind), list: (ns) => this.core.list(kind, ns),
          bookmarks: query.get('allowWatchBookmarks') === 'true' || query.get('allowWatchBookmarks') === '1',
        });
      }
      if (verb === 'list') return await this.list(res, path, query, viewer, asTable);
      if (verb === 'get') {
        if (asTable) {
          const stored = await this.core.get(kind, path.namespace!, name!);
          const o = this.core.present(kind, stored, viewer, false);
          return sendJson(res, 200, table(kind, [o], { resourceVersion: o.metadata.resourceVersion ?? '' }, this.tableContext([stored]), query.get('includeObject') ?? undefined), TABLE_HEADERS);
        }
        this.core.guardSecretRead(kind, viewer, name);
        return sendJson(res, 200, this.core.present(kind, await this.core.get(kind, path.namespace!, name!), viewer, true));
      }
      if (verb === 'delete') return await this.remove(req, res, path, query, viewer);
      if (verb === 'deletecollection') return await this.removeCollection(res, path, query, viewer);
      let contentType = req.headers['content-type'];
      let text: string;
      if (mediaType(contentType) === K8S_PROTOBUF) {
        text = JSON.stringify(decodeK8sProtobuf(await readBodyBytes(req), kind.kind));
        contentType = 'application/json';
      } else text = await readBody(req);
      errorName ??= bodyName(text);
      return await this.write(req, res, path, query, verb, text, viewer, contentType);
    } catch (err) {
      const mapped = storeErrorToApi(err, kind, errorName);
      if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
        this.metrics.inc('bowline_config_writes_total', 'Config API writes by kind, verb and result', { kind: kind.kind, verb: method.toLowerCase(), result: mapped instanceof ApiError ? mapped.reason : 'error' });
      }
      throw mapped;
    }
  }

  private async selected(path: ResourcePath, query: URLSearchParams): Promise<{ items: StoredObject[]; revision: number }> {
    const labels = parseLabelSelector(query.get('labelSelector'));
    const fields = parseFieldSelector(query.get('fieldSelector'), path.kind.kind);
    const { items, revision } = await this.core.list(path.kind, path.namespace);
    return { items: items.filter((o) => labels(o) && fields(o)), revision };
  }

  /** What tables need besides the objects: the clock and a Secret's key count. */
  private tableContext(stored: StoredObject[] = []): TableContext {
    const byKey = new Map(stored.map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o]));
    return {
      now: Date.now(),
      secretKeys: (o) => {
        const s = byKey.get(`${o.metadata.namespace}/${o.metadata.name}`) ?? o;
        try { return Object.keys(this.core.secretData(s)).length; } catch { return 0; }
      },
    };
  }

  private async list(res: ServerResponse, path: ResourcePath, query: URLSearchParams, viewer: Viewer, asTable: boolean): Promise<void> {
    const { kind } = path;
    checkResourceVersion(query, await this.store.revision());
    const limitText = query.get('limit');
    if (limitText !== null && !/^\d+$/.test(limitText)) throw badRequest(`limit "${limitText}" is not a number`);
    const limit = Number(limitText ?? 0);
    const selected = await this.selected(path, query);
    const revision = selected.revision;
    let items = selected.items;
    const cont = query.get('continue');
    if (cont) {
      let token: { rv: number; after: string };
      try {
        token = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { rv: number; after: string };
        if (typeof token.after !== 'string' || typeof token.rv !== 'number') throw new Error('shape');
      } catch {
        throw badRequest('continue token is malformed: start the list again without it');
      }
      items = items.filter((o) => `${o.metadata.namespace}/${o.metadata.name}` > token.after);
    }
    let next: string | undefined;
    let remaining: number | undefined;
    if (limit > 0 && items.length > limit) {
      remaining = items.length - limit;
      items = items.slice(0, limit);
      const last = items[items.length - 1]!;
      next = Buffer.from(JSON.stringify({ rv: revision, after: `${last.metadata.namespace}/${last.metadata.name}` })).toString('base64url');
    }
    const metadata = { resourceVersion: String(revision), ...(next ? { continue: next, remainingItemCount: remaining } : {}) };
    const shown = items.map((o) => this.core.present(kind, o, viewer, false));
    if (asTable) return sendJson(res, 200, table(kind, shown, metadata, this.tableContext(items), query.get('includeObject') ?? undefined), TABLE_HEADERS);
    sendJson(res, 200, { apiVersion: apiVersionOf(kind, path.version), kind: `${kind.kind}List`, metadata, items: shown });
  }

  private async write(req: IncomingMessage, res: ServerResponse, path: ResourcePath, query: URLSearchParams, verb: 'create' | 'update' | 'patch', text: string, viewer: Viewer, contentType: string | undefined): Promise<void> {
    const { kind } = path;
    if (kind.namespaced && path.namespace === undefined) throw new ApiError(405, 'MethodNotAllowed', `${kind.plural} are created in a namespace: POST to .../namespaces/NS/${kind.plural}`);
    if (kind.kind === 'Secret' && verb !== 'create') this.core.guardSecretRead(kind, viewer, path.name);
    const dryRun = query.get('dryRun') === 'All';
    let obj: Record<string, unknown>;
    let yamlViolations: ReturnType<typeof decodeBody>['violations'] | undefined;
    let exists = verb !== 'create';
    let before: Record<string, unknown> | undefined;
    let ownershipDone = false;
    if (verb === 'patch') {
      let current: StoredObject | undefined;
      let missing: unknown;
      try {
        current = await this.store.get(kind.kind, path.namespace!, path.name!);
      } catch (e) {
        if (!isStoreError(e, 'NotFound')) throw e;
        missing = e;
        if (kind.kind === 'Namespace') current = this.core.implicitNamespace(path.name!);
        exists = false;
      }
      before = current && exists ? this.core.present(kind, current, { admin: true }, true) : undefined;
      if (mediaType(contentType) === PATCH_TYPES.apply) {
        const manager = query.get('fieldManager');
        if (!manager) throw badRequest('PATCH with application/apply-patch+yaml needs the fieldManager query parameter');
        const force = query.get('force') === 'true' || query.get('force') === '1';
        obj = serverSideApply(kind, before, parseApplyBody(text), manager, force).obj;
        ownershipDone = true;
      } else {
        if (!current) throw missing;
        obj = applyPatch(kind, this.core.present(kind, current, { admin: true }, true), text, contentType);
      }
      if (obj.metadata !== undefined && (typeof obj.metadata !== 'object' || obj.metadata === null || Array.isArray(obj.metadata))) throw badRequest('the patched metadata is not an object');
      const meta = (obj.metadata ?? {}) as Record<string, unknown>;
      if (meta.resourceVersion === undefined && current?.metadata.resourceVersion) meta.resourceVersion = current.metadata.resourceVersion;
      obj.metadata = meta;
      if (!exists) delete meta.resourceVersion;
    } else {
      const d = decodeBody(text, contentType);
      obj = d.obj;
      if (isYaml(contentType)) yamlViolations = d.violations;
      if (verb === 'update') {
        try {
          before = this.core.present(kind, await this.store.get(kind.kind, path.namespace!, path.name!), { admin: true }, true);
        } catch (e) {
          if (!isStoreError(e, 'NotFound')) throw e;
        }
      }
    }
    if (kind.custom) {
      // The status subresource changes only status; the main resource never does (as with CRDs that declare /status).
      if (path.subresource === 'status') {
        if (!before) throw new ApiError(404, 'NotFound', `${resourceName(kind)} "${path.name}" not found`, { name: path.name!, group: kind.group, kind: kind.plural });
        obj = { ...structuredClone(before), status: obj.status, metadata: { ...(before.metadata as object), resourceVersion: (obj.metadata as { resourceVersion?: unknown } | undefined)?.resourceVersion ?? (before.metadata as { resourceVersion?: unknown }).resourceVersion } };
      } else if (before && before.status !== undefined) obj.status = before.status;
      else delete obj.status;
    }
    if (!ownershipDone && obj.metadata && typeof obj.metadata === 'object') {
      const sent = (obj.metadata as Record<string, unknown>).managedFields;
      const had = (before?.metadata as Record<string, unknown> | undefined)?.managedFields;
      // A client that rewrites managedFields itself (kubectl's client-side to server-side apply upgrade) keeps what it sent.
      if (sent === undefined || JSON.stringify(sent) === JSON.stringify(had)) {
        const manager = updateManager(query, req.headers['user-agent']);
        const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : apiVersionOf(kind, path.version);
        (obj.metadata as Record<string, unknown>).managedFields = trackUpdate(before, obj, manager, apiVersion);
      }
    }
    const stored = this.normalizeIdentity(obj, path, verb);
    const warnings = admit(kind, obj, yamlViolations, fieldValidationOf(query), path.version);
    if (!kind.namespaced) stored.metadata.namespace = CLUSTER_SCOPE_NAMESPACE;
    if (verb === 'update' && kind.kind === 'Namespace') {
      try { await this.store.get(kind.kind, CLUSTER_SCOPE_NAMESPACE, stored.metadata.name); } catch (e) { if (isStoreError(e, 'NotFound')) exists = false; else throw e; }
      if (!exists) delete stored.metadata.resourceVersion;
    }
    const toStore = this.core.toStore(kind, stored);
    const headers = warningHeaders(warnings);
    let out: StoredObject;
    if (dryRun) {
      out = !exists ? toStore : { ...toStore, metadata: { ...(await this.store.get(kind.kind, toStore.metadata.namespace, toStore.metadata.name)).metadata, ...toStore.metadata } };
    } else {
      out = !exists ? await this.store.create(toStore) : await this.store.update(toStore);
      this.metrics.inc('bowline_config_writes_total', 'Config API writes by kind, verb and result', { kind: kind.kind, verb: verb === 'create' ? 'post' : verb === 'update' ? 'put' : 'patch', result: 'ok' });
      this.log(`config: ${verb} ${kind.kind} ${toStore.metadata.namespace}/${toStore.metadata.name} rv=${out.metadata.resourceVersion}`);
    }
    // 201 for a create, and for an apply that created the object (an implied Namespace already "exists": 200).
    const created = verb === 'create' || (ownershipDone && !exists && kind.kind !== 'Namespace');
    sendJson(res, created ? 201 : 200, this.core.present(kind, out, viewer, true), headers);
  }

  /** Checks kind, apiVersion, name and namespace against the path, and fills what the path implies. */
  private normalizeIdentity(obj: Record<string, unknown>, path: ResourcePath, verb: string): StoredObject {
    const { kind } = path;
    if (obj.kind === undefined) obj.kind = kind.kind;
    if (obj.kind !== kind.kind) throw badRequest(`the body's kind "${String(obj.kind)}" does not match the path's kind ${kind.kind}`);
    const expectedApi = kind.group ? `${kind.group}/` : '';
    if (obj.apiVersion === undefined) obj.apiVersion = apiVersionOf(kind, path.version);
    if (typeof obj.apiVersion !== 'string' || (kind.group ? !obj.apiVersion.startsWith(expectedApi) : obj.apiVersion !== 'v1')) {
      throw badRequest(`the body's apiVersion "${String(obj.apiVersion)}" does not belong to group ${kind.group || 'core'}`);
    }
    const meta = obj.metadata;
    if (!meta || typeof meta !== 'object' || Array.isArray(meta)) throw badRequest('the body needs metadata with a name');
    const m = meta as Record<string, unknown>;
    if (typeof m.name !== 'string' || m.name === '') {
      if (verb !== 'create' && path.name) m.name = path.name;
      else throw new ApiError(422, 'Invalid', `${kind.kind} is invalid: metadata.name: Required value`, { group: kind.group, kind: kind.kind, causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'metadata.name' }] });
    }
    const name = m.name as string;
    if (!NAME_RE.test(name)) {
      throw new ApiError(422, 'Invalid', `${kind.kind} "${name}" is invalid: metadata.name: must be a lowercase RFC 1123 subdomain`, { name, group: kind.group, kind: kind.kind, causes: [{ reason: 'FieldValueInvalid', message: 'must consist of lower case alphanumeric characters, "-" or ".", and start and end with an alphanumeric character', field: 'metadata.name' }] });
    }
    if (path.name !== undefined && name !== path.name) throw badRequest(`the body's metadata.name "${name}" does not match the name in the path "${path.name}"`);
    if (kind.namespaced) {
      if (m.namespace !== undefined && m.namespace !== path.namespace) {
        throw badRequest(`the namespace of the object (${String(m.namespace)}) does not match the namespace on the request (${path.namespace})`);
      }
      m.namespace = path.namespace;
    } else if (m.namespace !== undefined && m.namespace !== '') {
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
        throw new ApiError(422, 'Invalid', `metadata.${f} must be a map of strings`, { name, group: kind.group, kind: kind.kind, causes: [{ reason: 'FieldValueInvalid', message: 'must be a map of strings', field: `metadata.${f}` }] });
      }
    }
    delete m.uid;
    delete m.creationTimestamp;
    delete m.generation;
    return obj as StoredObject;
  }

  private async remove(req: IncomingMessage, res: ServerResponse, path: ResourcePath, query: URLSearchParams, viewer: Viewer): Promise<void> {
    const { kind } = path;
    checkDeleteOptions(query.get('propagationPolicy'), query.get('gracePeriodSeconds'));
    let expected: string | undefined;
    const text = await readBody(req);
    if (text.trim()) {
      const opts = decodeBody(text, 'application/json').obj as { preconditions?: { resourceVersion?: unknown }; dryRun?: unknown; propagationPolicy?: unknown; gracePeriodSeconds?: unknown };
      checkDeleteOptions(opts.propagationPolicy ?? null, opts.gracePeriodSeconds ?? null);
      const rv = opts.preconditions?.resourceVersion;
      if (rv !== undefined && typeof rv !== 'string') throw badRequest('preconditions.resourceVersion must be a string');
      expected = rv;
      if (Array.isArray(opts.dryRun) && opts.dryRun.includes('All')) query.set('dryRun', 'All');
    }
    if (query.get('dryRun') === 'All') {
      return sendJson(res, 200, this.core.present(kind, await this.store.get(kind.kind, path.namespace!, path.name!), viewer, false));
    }
    const gone = await this.store.delete(kind.kind, path.namespace!, path.name!, expected);
    this.metrics.inc('bowline_config_writes_total', 'Config API writes by kind, verb and result', { kind: kind.kind, verb: 'delete', result: 'ok' });
    this.log(`config: delete ${kind.kind} ${path.namespace}/${path.name}`);
    sendJson(res, 200, this.core.present(kind, gone, viewer, false));
  }

  private async removeCollection(res: ServerResponse, path: ResourcePath, query: URLSearchParams, viewer: Viewer): Promise<void> {
    const { kind } = path;
    checkDeleteOptions(query.get('propagationPolicy'), query.get('gracePeriodSeconds'));
    const { items, revision } = await this.selected(path, query);
    const gone: StoredObject[] = [];
    if (query.get('dryRun') !== 'All') {
      for (const o of items) {
        try {
          gone.push(await this.store.delete(kind.kind, o.metadata.namespace, o.metadata.name));
        } catch (e) {
          if (!isStoreError(e, 'NotFound')) throw e;
        }
      }
      this.log(`config: deletecollection ${kind.kind} ${path.namespace ?? '(all)'}: ${gone.length} deleted`);
    } else gone.push(...items);
    sendJson(res, 200, { apiVersion: apiVersionOf(kind, path.version), kind: `${kind.kind}List`, metadata: { resourceVersion: String(revision) }, items: gone.map((o) => this.core.present(kind, o, viewer, false)) });
  }
}
