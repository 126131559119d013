import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { groupVersions, kindsAt, sendCached } from './discovery.js';
import type { ServedKind } from './kinds.js';
import { kindSchema, type OpenApiSchema } from './openapi-schema.js';
import { patchTypesOf } from './patch.js';
import { noSuchPath } from './status.js';
import { bowlineVersion } from './version.js';

/**
 * OpenAPI v3 (`/openapi/v3` index, one document per group-version) generated from the kinds table and
 * src/api's schemas. PATCH operations carry `x-kubernetes-group-version-kind` and the
 * `fieldValidation` parameter, which is how kubectl decides to trust server-side validation.
 * Documents are immutable per `hash=` URL and carry ETags, so kubectl caches them.
 */

/** The OpenAPI definition name of a kind at a version, e.g. `io.istio.networking.v1.VirtualService`. */
export function definitionName(group: string, version: string, kind: string): string {
  if (group === '') return `io.k8s.api.core.v1.${kind}`;
  if (group === 'apiextensions.k8s.io') return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.${version}.${kind}`;
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

const STATUS = 'io.k8s.apimachinery.pkg.apis.meta.v1.Status';
const PATCH = 'io.k8s.apimachinery.pkg.apis.meta.v1.Patch';
const DELETE_OPTIONS = 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions';

/** One query or path parameter, in a version-neutral shape (converted for v2 and v3). */
export interface Param { name: string; in: 'query' | 'path'; type: 'string' | 'boolean' | 'integer'; description: string; required?: boolean }

const p = (name: string, type: Param['type'], description: string): Param => ({ name, in: 'query', type, description });
const P = {
  dryRun: p('dryRun', 'string', 'When present ("All"), the change is validated but not stored.'),
  fieldManager: p('fieldManager', 'string', 'Name of the actor making the change (server-side apply tracks fields per manager).'),
  fieldValidation: p('fieldValidation', 'string', 'What to do with unknown or duplicate fields: Ignore, Warn (Warning headers) or Strict (refuse).'),
  force: p('force', 'boolean', 'Server-side apply: take ownership of fields other managers own instead of failing with a conflict.'),
  labelSelector: p('labelSelector', 'string', 'Only objects whose labels match this selector.'),
  fieldSelector: p('fieldSelector', 'string', 'Only objects whose fields match (metadata.name, metadata.namespace).'),
  limit: p('limit', 'integer', 'Most objects in one answer; continue with the returned token.'),
  continue: p('continue', 'string', 'Token from a previous paged answer.'),
  resourceVersion: p('resourceVersion', 'string', 'Store revision to list or watch from.'),
  resourceVersionMatch: p('resourceVersionMatch', 'string', 'How resourceVersion applies to a list: Exact or NotOlderThan.'),
  watch: p('watch', 'boolean', 'Stream changes instead of answering a list.'),
  allowWatchBookmarks: p('allowWatchBookmarks', 'boolean', 'Send BOOKMARK events carrying the current revision.'),
  timeoutSeconds: p('timeoutSeconds', 'integer', 'End a watch after this many seconds.'),
  pretty: p('pretty', 'string', 'Ignored: answers are always compact JSON.'),
  gracePeriodSeconds: p('gracePeriodSeconds', 'integer', 'Accepted for compatibility; deletion is immediate.'),
  propagationPolicy: p('propagationPolicy', 'string', 'Orphan, Background or Foreground; Bowline objects have no dependents.'),
};
const NAME: Param = { name: 'name', in: 'path', type: 'string', description: 'Name of the object.', required: true };
const NAMESPACE: Param = { name: 'namespace', in: 'path', type: 'string', description: 'Namespace of the object.', required: true };

/** One operation of a path, in a version-neutral shape. */
export interface Op {
  method: 'get' | 'put' | 'post' | 'delete' | 'patch';
  action: string;
  id: string;
  description: string;
  params: Param[];
  /** Request body media types and the definition they carry (none: no body). */
  body?: { types: string[]; ref: string };
  response: string;
  kind: ServedKind;
  version: string;
}

/** One path with its operations and path parameters. */
export interface PathSpec { path: string; params: Param[]; ops: Op[] }

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The REST paths and operations of the kinds served at one group-version. */
export function pathsOf(group: string, version: string): PathSpec[] {
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const out: PathSpec[] = [];
  for (const k of kindsAt(group, version)) {
    const def = definitionName(group, version, k.kind);
    const list = definitionName(group, version, `${k.kind}List`);
    const id = `${cap(k.namespaced ? 'Namespaced' : '')}${k.kind}`;
    const has = (v: string) => k.verbs.includes(v);
    const op = (method: Op['method'], action: string, verb: string, params: Param[], response: string, body?: Op['body']): Op =>
      ({ method, action, id: `${verb}${id}`, description: `${verb} ${k.kind}`, params, response, kind: k, version, ...(body ? { body } : {}) });
    const nsParams = k.namespaced ? [NAMESPACE] : [];
    const collection = k.namespaced ? `${base}/namespaces/{namespace}/${k.plural}` : `${base}/${k.plural}`;
    const listParams = [P.labelSelector, P.fieldSelector, P.limit, P.continue, P.resourceVersion, P.resourceVersionMatch, P.watch, P.allowWatchBookmarks, P.timeoutSeconds];
    const writeParams = [P.dryRun, P.fieldManager, P.fieldValidation];
    const json = ['application/json', 'application/yaml'];
    out.push({
      path: collection, params: [...nsParams, P.pretty], ops: [
        ...(has('list') ? [op('get', 'list', 'list', listParams, list)] : []),
        ...(has('create') ? [op('post', 'post', 'create', writeParams, def, { types: json, ref: def })] : []),
        ...(has('deletecollection') ? [op('delete', 'deletecollection', 'deletecollection', [...listParams.slice(0, 6), P.dryRun, P.gracePeriodSeconds, P.propagationPolicy], STATUS, { types: ['application/json'], ref: DELETE_OPTIONS })] : []),
      ],
    });
    out.push({
      path: `${collection}/{name}`, params: [NAME, ...nsParams, P.pretty], ops: [
        op('get', 'get', 'read', [], def),
        ...(has('update') ? [op('put', 'put', 'replace', writeParams, def, { types: json, ref: def })] : []),
        ...(has('patch') ? [op('patch', 'patch', 'patch', [...writeParams, P.force], def, { types: patchTypesOf(k), ref: PATCH })] : []),
        ...(has('delete') ? [op('delete', 'delete', 'delete', [P.dryRun, P.gracePeriodSeconds, P.propagationPolicy], STATUS, { types: ['application/json'], ref: DELETE_OPTIONS })] : []),
      ],
    });
    if (k.custom) {
      out.push({
        path: `${collection}/{name}/status`, params: [NAME, ...nsParams, P.pretty], ops: [
          { ...op('get', 'get', 'read', [], def), id: `read${id}Status` },
          { ...op('put', 'put', 'replace', writeParams, def, { types: json, ref: def }), id: `replace${id}Status` },
          { ...op('patch', 'patch', 'patch', [...writeParams, P.force], def, { types: patchTypesOf(k), ref: PATCH }), id: `patch${id}Status` },
        ],
      });
    }
    if (k.namespaced && has('list')) out.push({ path: `${base}/${k.plural}`, params: [P.pretty], ops: [{ ...op('get', 'list', 'list', listParams, list), id: `list${k.kind}ForAllNamespaces` }] });
  }
  return out;
}

/** The definitions (schemas) of one group-version: each kind, its list, and the meta types operations refer to. */
export function definitionsOf(group: string, version: string, ref: (name: string) => string): Record<string, OpenApiSchema> {
  const defs: Record<string, OpenApiSchema> = {
    [STATUS]: { type: 'object', description: 'The answer to a failed request, or to a delete.', properties: { kind: { type: 'string' }, apiVersion: { type: 'string' }, status: { type: 'string' }, message: { type: 'string' }, reason: { type: 'string' }, code: { type: 'integer', format: 'int32' }, details: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
    [PATCH]: { type: 'object', description: 'A patch in one of the accepted patch formats.' },
    [DELETE_OPTIONS]: { type: 'object', description: 'Options of a delete.', properties: { propagationPolicy: { type: 'string' }, gracePeriodSeconds: { type: 'integer', format: 'int64' }, dryRun: { type: 'array', items: { type: 'string' } }, preconditions: { type: 'object', properties: { resourceVersion: { type: 'string' }, uid: { type: 'string' } } } } },
  };
  for (const k of kindsAt(group, version)) {
    const gvk = [{ group, kind: k.kind, version }];
    defs[definitionName(group, version, k.kind)] = { ...kindSchema(k), 'x-kubernetes-group-version-kind': gvk };
    defs[definitionName(group, version, `${k.kind}List`)] = {
      type: 'object', description: `A list of ${k.kind} objects.`, required: ['items'],
      properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object', properties: { resourceVersion: { type: 'string' }, continue: { type: 'string' }, remainingItemCount: { type: 'integer', format: 'int64' } } }, items: { type: 'array', items: { $ref: ref(definitionName(group, version, k.kind)) } } },
      'x-kubernetes-group-version-kind': [{ group, kind: `${k.kind}List`, version }],
    };
  }
  return defs;
}

const gvk = (o: Op) => ({ group: o.kind.group, version: o.version, kind: o.kind.kind });

function v3Param(x: Param) {
  return { name: x.name, in: x.in, description: x.description, ...(x.required ? { required: true } : {}), schema: { type: x.type, uniqueItems: true } };
}

/** The OpenAPI v3 document of one group-version. */
export function openApiV3(group: string, version: string): unknown {
  const ref = (n: string) => `#/components/schemas/${n}`;
  const paths: Record<string, unknown> = {};
  for (const ps of pathsOf(group, version)) {
    const item: Record<string, unknown> = { parameters: ps.params.map(v3Param) };
    for (const o of ps.ops) {
      item[o.method] = {
        tags: [group ? `${group.split('.')[0]}_${version}` : `core_${version}`], description: o.description, operationId: o.id,
        parameters: o.params.map(v3Param),
        ...(o.body ? { requestBody: { content: Object.fromEntries(o.body.types.map((t) => [t, { schema: { $ref: ref(o.body!.ref) } }])), required: true } } : {}),
        responses: { 200: { description: 'OK', content: { 'application/json': { schema: { $ref: ref(o.response) } }, 'application/yaml': { schema: { $ref: ref(o.response) } } } }, 401: { description: 'Unauthorized' } },
        'x-kubernetes-action': o.action, 'x-kubernetes-group-version-kind': gvk(o),
      };
    }
    paths[ps.path] = item;
  }
  return { openapi: '3.0.0', info: { title: 'Bowline', version: bowlineVersion() }, paths, components: { schemas: definitionsOf(group, version, ref) } };
}

/** The path key of a group-version in the v3 index: `api/v1` or `apis/G/V`. */
export function gvKey(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

const hashes = new Map<string, { doc: unknown; hash: string }>();

/** A group-version's v3 document and its content hash (computed once: the kinds table is fixed for the process). */
export function v3Entry(key: string): { doc: unknown; hash: string } | undefined {
  const hit = hashes.get(key);
  if (hit) return hit;
  for (const [g, versions] of groupVersions()) {
    for (const v of versions) {
      if (gvKey(g, v) !== key) continue;
      const doc = openApiV3(g, v);
      const entry = { doc, hash: createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase() };
      hashes.set(key, entry);
      return entry;
    }
  }
  return undefined;
}

/** Serves `/openapi/v3` and `/openapi/v3/{api/v1|apis/G/V}`; false for other paths. */
export function serveOpenApiV3(req: IncomingMessage, res: ServerResponse, pathname: string, query: URLSearchParams): boolean {
  if (pathname === '/openapi/v3') {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [g, versions] of groupVersions()) for (const v of versions) paths[gvKey(g, v)] = { serverRelativeURL: `/openapi/v3/${gvKey(g, v)}?hash=${v3Entry(gvKey(g, v))!.hash}` };
    sendCached(req, res, { paths }, 'application/json', { 'cache-control': 'no-cache, private' });
    return true;
  }
  if (!pathname.startsWith('/openapi/v3/')) return false;
  const entry = v3Entry(pathname.slice('/openapi/v3/'.length));
  if (!entry) throw noSuchPath();
  const pinned = query.get('hash') === entry.hash;
  sendCached(req, res, entry.doc, 'application/json', { 'cache-control': pinned ? 'public, immutable, max-age=31536000' : 'no-cache, private' });
  return true;
}
