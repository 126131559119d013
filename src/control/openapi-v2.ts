import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import protobuf from 'protobufjs';
import { stringify } from 'yaml';
import { groupVersions, sendCached } from './discovery.js';
import { definitionsOf, pathsOf, type Op, type Param } from './openapi.js';
import type { OpenApiSchema } from './openapi-schema.js';
import { bowlineVersion } from './version.js';

/**
 * OpenAPI v2 (`/openapi/v2`), as JSON or, for kubectl 1.27/1.28, as the gnostic `openapi.v2.Document`
 * protobuf (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`). The message subset below is
 * written from gnostic's documented OpenAPIv2 schema: only the fields Bowline fills, with their field
 * numbers; vendor extensions and enum values travel as YAML text, as gnostic encodes them.
 */

/** The protobuf media type kubectl asks /openapi/v2 for. */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
/** The Content-Type of the protobuf answer: the same type spelled so Go's mime parser accepts it ("@" is not a token character). */
export const OPENAPI_V2_PROTOBUF_RESPONSE = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

const f = (id: number, type: string, rule?: 'repeated') => ({ id, type, ...(rule ? { rule } : {}) });
const S = 'string';

/** The gnostic openapi.v2 messages Bowline encodes (field numbers from the published schema). */
const DESCRIPTOR = {
  nested: {
    openapi: {
      nested: {
        v2: {
          nested: {
            Any: { fields: { yaml: f(2, S) } },
            NamedAny: { fields: { name: f(1, S), value: f(2, 'Any') } },
            Info: { fields: { title: f(1, S), version: f(2, S), description: f(3, S) } },
            Document: { fields: { swagger: f(1, S), info: f(2, 'Info'), paths: f(8, 'Paths'), definitions: f(9, 'Definitions') } },
            Paths: { fields: { path: f(2, 'NamedPathItem', 'repeated') } },
            NamedPathItem: { fields: { name: f(1, S), value: f(2, 'PathItem') } },
            PathItem: { fields: { get: f(2, 'Operation'), put: f(3, 'Operation'), post: f(4, 'Operation'), delete: f(5, 'Operation'), patch: f(8, 'Operation'), parameters: f(9, 'ParametersItem', 'repeated') } },
            Operation: {
              fields: {
                tags: f(1, S, 'repeated'), description: f(3, S), operationId: f(5, S), produces: f(6, S, 'repeated'), consumes: f(7, S, 'repeated'),
                parameters: f(8, 'ParametersItem', 'repeated'), responses: f(9, 'Responses'), schemes: f(10, S, 'repeated'), vendorExtension: f(13, 'NamedAny', 'repeated'),
              },
            },
            ParametersItem: { fields: { parameter: f(1, 'Parameter') } },
            Parameter: { fields: { bodyParameter: f(1, 'BodyParameter'), nonBodyParameter: f(2, 'NonBodyParameter') } },
            BodyParameter: { fields: { description: f(1, S), name: f(2, S), in: f(3, S), required: f(4, 'bool'), schema: f(5, 'Schema') } },
            NonBodyParameter: { fields: { queryParameterSubSchema: f(3, 'QueryParameterSubSchema'), pathParameterSubSchema: f(4, 'PathParameterSubSchema') } },
            QueryParameterSubSchema: { fields: { required: f(1, 'bool'), in: f(2, S), description: f(3, S), name: f(4, S), type: f(6, S), uniqueItems: f(20, 'bool') } },
            PathParameterSubSchema: { fields: { required: f(1, 'bool'), in: f(2, S), description: f(3, S), name: f(4, S), type: f(5, S), uniqueItems: f(19, 'bool') } },
            Responses: { fields: { responseCode: f(1, 'NamedResponseValue', 'repeated') } },
            NamedResponseValue: { fields: { name: f(1, S), value: f(2, 'ResponseValue') } },
            ResponseValue: { fields: { response: f(1, 'Response') } },
            Response: { fields: { description: f(1, S), schema: f(2, 'SchemaItem') } },
            SchemaItem: { fields: { schema: f(1, 'Schema') } },
            Definitions: { fields: { additionalProperties: f(1, 'NamedSchema', 'repeated') } },
            NamedSchema: { fields: { name: f(1, S), value: f(2, 'Schema') } },
            Properties: { fields: { additionalProperties: f(1, 'NamedSchema', 'repeated') } },
            AdditionalPropertiesItem: { fields: { schema: f(1, 'Schema'), boolean: f(2, 'bool') } },
            TypeItem: { fields: { value: f(1, S, 'repeated') } },
            ItemsItem: { fields: { schema: f(1, 'Schema', 'repeated') } },
            Schema: {
              fields: {
                _ref: f(1, S), format: f(2, S), description: f(4, S), maximum: f(7, 'double'), minimum: f(9, 'double'),
                required: f(19, S, 'repeated'), enum: f(20, 'Any', 'repeated'), additionalProperties: f(21, 'AdditionalPropertiesItem'),
                type: f(22, 'TypeItem'), items: f(23, 'ItemsItem'), properties: f(25, 'Properties'), vendorExtension: f(31, 'NamedAny', 'repeated'),
              },
            },
          },
        },
      },
    },
  },
};

const ref = (n: string) => `#/definitions/${n}`;
const ext = (name: string, value: unknown) => ({ name, value: { yaml: stringify(value) } });

function v2Param(p: Param) {
  return { name: p.name, in: p.in, type: p.type, description: p.description, uniqueItems: true, ...(p.required ? { required: true } : {}) };
}

function v2Op(o: Op) {
  return {
    tags: [o.kind.group ? `${o.kind.group.split('.')[0]}_${o.version}` : `core_${o.version}`], description: o.description, operationId: o.id,
    consumes: o.body?.types ?? ['*/*'], produces: ['application/json', 'application/yaml'], schemes: ['https'],
    parameters: [...(o.body ? [{ name: 'body', in: 'body', required: true, schema: { $ref: ref(o.body.ref) } }] : []), ...o.params.map(v2Param)],
    responses: { 200: { description: 'OK', schema: { $ref: ref(o.response) } }, 401: { description: 'Unauthorized' } },
    'x-kubernetes-action': o.action, 'x-kubernetes-group-version-kind': { group: o.kind.group, kind: o.kind.kind, version: o.version },
  };
}

/** Converts v3-style component refs inside a schema to v2 definition refs. */
function v2Schema(s: OpenApiSchema): OpenApiSchema {
  return JSON.parse(JSON.stringify(s).replace(/#\/components\/schemas\//g, '#/definitions/')) as OpenApiSchema;
}

/** The whole API as one swagger 2.0 document (JSON shape). */
export function openApiV2(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const definitions: Record<string, OpenApiSchema> = {};
  for (const [g, versions] of groupVersions()) {
    for (const v of versions) {
      for (const ps of pathsOf(g, v)) {
        const item: Record<string, unknown> = { parameters: ps.params.map(v2Param) };
        for (const o of ps.ops) item[o.method] = v2Op(o);
        paths[ps.path] = item;
      }
      for (const [n, s] of Object.entries(definitionsOf(g, v, ref))) definitions[n] = v2Schema(s);
    }
  }
  return { swagger: '2.0', info: { title: 'Bowline', version: bowlineVersion() }, paths, definitions };
}

function pbSchema(s: OpenApiSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const vendor: unknown[] = [];
  for (const [k, v] of Object.entries(s)) {
    switch (k) {
      case '$ref': out._ref = v; break;
      case 'type': out.type = { value: [v] }; break;
      case 'format': case 'description': case 'minimum': case 'maximum': case 'required': out[k] = v; break;
      case 'enum': out.enum = (v as unknown[]).map((e) => ({ yaml: stringify(e) })); break;
      case 'items': out.items = { schema: [pbSchema(v as OpenApiSchema)] }; break;
      case 'additionalProperties': out.additionalProperties = typeof v === 'boolean' ? { boolean: v } : { schema: pbSchema(v as OpenApiSchema) }; break;
      case 'properties': out.properties = { additionalProperties: Object.entries(v as Record<string, OpenApiSchema>).map(([name, c]) => ({ name, value: pbSchema(c) })) }; break;
      default: if (k.startsWith('x-')) vendor.push(ext(k, v));
    }
  }
  if (vendor.length) out.vendorExtension = vendor;
  return out;
}

function pbParam(p: Record<string, unknown>): Record<string, unknown> {
  if (p.in === 'body') return { parameter: { bodyParameter: { name: p.name, in: 'body', required: true, schema: pbSchema(p.schema as OpenApiSchema) } } };
  const sub = { required: !!p.required, in: p.in, description: p.description, name: p.name, type: p.type, uniqueItems: true };
  return { parameter: { nonBodyParameter: p.in === 'path' ? { pathParameterSubSchema: sub } : { queryParameterSubSchema: sub } } };
}

function pbOp(o: Record<string, unknown>): Record<string, unknown> {
  const responses = o.responses as Record<string, { description: string; schema?: OpenApiSchema }>;
  return {
    tags: o.tags, description: o.description, operationId: o.operationId, produces: o.produces, consumes: o.consumes, schemes: o.schemes,
    parameters: (o.parameters as Array<Record<string, unknown>>).map(pbParam),
    responses: { responseCode: Object.entries(responses).map(([name, r]) => ({ name, value: { response: { description: r.description, ...(r.schema ? { schema: { schema: pbSchema(r.schema) } } : {}) } } })) },
    vendorExtension: [ext('x-kubernetes-action', o['x-kubernetes-action']), ext('x-kubernetes-group-version-kind', o['x-kubernetes-group-version-kind'])],
  };
}

/** Encodes the v2 document as gnostic's protobuf `openapi.v2.Document`. */
export function encodeOpenApiV2(doc: Record<string, unknown>): Uint8Array {
  const Document = protobuf.Root.fromJSON(DESCRIPTOR).lookupType('openapi.v2.Document');
  const paths = Object.entries(doc.paths as Record<string, Record<string, unknown>>).map(([name, item]) => {
    const value: Record<string, unknown> = { parameters: (item.parameters as Array<Record<string, unknown>>).map(pbParam) };
    for (const m of ['get', 'put', 'post', 'delete', 'patch']) if (item[m]) value[m] = pbOp(item[m] as Record<string, unknown>);
    return { name, value };
  });
  const definitions = Object.entries(doc.definitions as Record<string, OpenApiSchema>).map(([name, s]) => ({ name, value: pbSchema(s) }));
  const msg = Document.fromObject({ swagger: doc.swagger, info: doc.info, paths: { path: paths }, definitions: { additionalProperties: definitions } });
  return Document.encode(msg).finish();
}

/** Decodes a gnostic v2 protobuf document to a plain object (tests read it back with this). */
export function decodeOpenApiV2(bytes: Uint8Array): Record<string, unknown> {
  const Document = protobuf.Root.fromJSON(DESCRIPTOR).lookupType('openapi.v2.Document');
  return Document.toObject(Document.decode(bytes), { defaults: false }) as Record<string, unknown>;
}

let cached: { json: Record<string, unknown>; pb?: Buffer } | undefined;

/** Serves `/openapi/v2` as protobuf when the Accept header asks for it, else JSON; false for other paths. */
export function serveOpenApiV2(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
  if (pathname !== '/openapi/v2' && pathname !== '/swagger.json') return false;
  cached ??= { json: openApiV2() };
  if ((req.headers.accept ?? '').includes('application/com.github.proto-openapi.spec.v2')) {
    cached.pb ??= Buffer.from(encodeOpenApiV2(cached.json));
    const etag = `"${createHash('sha512').update(cached.pb).digest('hex').toUpperCase()}"`;
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end(), true;
    res.writeHead(200, { 'content-type': OPENAPI_V2_PROTOBUF_RESPONSE, 'content-length': cached.pb.length, etag, vary: 'Accept' });
    res.end(cached.pb);
    return true;
  }
  sendCached(req, res, cached.json, 'application/json', { vary: 'Accept' });
  return true;
}
