import type { Kind } from '../api/index.js';
import type { Schema } from '../api/schema/dsl.js';
import { resourceSchema } from '../api/schema/resource.js';
import { docOf } from './field-docs.js';
import { apiVersionOf, type ServedKind } from './kinds.js';

/** An OpenAPI v3 schema object (JSON). */
export type OpenApiSchema = Record<string, unknown>;

const META_DOC = 'Standard object metadata: name, namespace, labels, annotations, resourceVersion.';

const describe = (s: OpenApiSchema, d: string | undefined): OpenApiSchema => (d ? { ...s, description: d } : s);

/** Converts one node of src/api's schema language into an OpenAPI v3 (structural) schema. */
export function toOpenApi(s: Schema, doc?: string, depth = 0): OpenApiSchema {
  if (depth > 30) return describe({ 'x-kubernetes-preserve-unknown-fields': true }, doc);
  const dep = s.deprecated ? ` Deprecated: ${s.deprecated}.` : '';
  const d = doc || dep ? `${doc ?? ''}${dep}`.trim() : undefined;
  switch (s.t) {
    case 'string': return describe({ type: 'string' }, d);
    case 'int': return describe({ type: 'integer', format: 'int64', ...(s.min !== undefined ? { minimum: s.min } : {}), ...(s.max !== undefined ? { maximum: s.max } : {}) }, d);
    case 'number': return describe({ type: 'number', format: 'double' }, d);
    case 'bool': return describe({ type: 'boolean' }, d);
    case 'duration': return describe({ type: 'string', format: 'duration' }, d ?? 'A duration such as "5s", "100ms" or "1m30s".');
    case 'enum': return describe({ type: 'string', enum: s.values }, d ? `${d} Valid values: ${s.values.join(', ')}.` : `Valid values: ${s.values.join(', ')}.`);
    case 'array': return describe({ type: 'array', items: toOpenApi(s.of, undefined, depth + 1) }, d);
    case 'map': return describe({ type: 'object', additionalProperties: toOpenApi(s.of, undefined, depth + 1) }, d);
    case 'any': return describe({ 'x-kubernetes-preserve-unknown-fields': true }, d);
    case 'object': {
      const properties: Record<string, OpenApiSchema> = {};
      for (const [k, c] of Object.entries(s.fields)) properties[k] = toOpenApi(c, docOf(s.name, k), depth + 1);
      const required = Object.entries(s.fields).filter(([, c]) => c.required).map(([k]) => k);
      return describe({ type: 'object', properties, ...(required.length ? { required } : {}), ...(s.open ? { 'x-kubernetes-preserve-unknown-fields': true } : {}) }, d);
    }
  }
}

const objectMeta: OpenApiSchema = {
  type: 'object', description: META_DOC,
  properties: {
    name: { type: 'string', description: docOf('ObjectMeta', 'name') }, namespace: { type: 'string', description: docOf('ObjectMeta', 'namespace') },
    labels: { type: 'object', additionalProperties: { type: 'string' }, description: docOf('ObjectMeta', 'labels') },
    annotations: { type: 'object', additionalProperties: { type: 'string' }, description: docOf('ObjectMeta', 'annotations') },
    resourceVersion: { type: 'string', description: docOf('ObjectMeta', 'resourceVersion') }, generation: { type: 'integer', format: 'int64', description: docOf('ObjectMeta', 'generation') },
    uid: { type: 'string' }, creationTimestamp: { type: 'string', format: 'date-time' }, deletionTimestamp: { type: 'string', format: 'date-time' },
    generateName: { type: 'string' }, finalizers: { type: 'array', items: { type: 'string' } },
    ownerReferences: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
    managedFields: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
  },
};

const stringMap = (d: string): OpenApiSchema => ({ type: 'object', additionalProperties: { type: 'string' }, description: d });

/** Schemas of the core kinds' bodies (besides apiVersion, kind, metadata). */
const CORE: Record<string, { doc: string; properties: Record<string, OpenApiSchema> }> = {
  Namespace: {
    doc: 'A namespace: a scope for names. In Bowline every namespace exists; a Namespace object only carries labels and annotations (e.g. istio-injection).',
    properties: {
      spec: { type: 'object', properties: { finalizers: { type: 'array', items: { type: 'string' } } }, description: 'Kept for compatibility; not used.' },
      status: { type: 'object', properties: { phase: { type: 'string' } }, description: 'Always Active.' },
    },
  },
  ConfigMap: {
    doc: 'Configuration data as strings. The "istio" ConfigMap in the root namespace holds the mesh config in data.mesh.',
    properties: { data: stringMap('Configuration values by key.'), binaryData: stringMap('Binary values by key, base64.'), immutable: { type: 'boolean', description: 'When true, data cannot change.' } },
  },
  Secret: {
    doc: 'Secret data, kept encrypted at rest; values are returned only with the admin token. "cacerts" in the root namespace plugs in the CA.',
    properties: {
      data: stringMap('Secret values by key, base64.'), stringData: stringMap('Write-only plain-text values, merged into data.'),
      type: { type: 'string', description: 'Opaque, kubernetes.io/tls, ...' }, immutable: { type: 'boolean', description: 'When true, data cannot change.' },
    },
  },
  Event: {
    doc: 'An event about an object. Bowline keeps none: lists are always empty.',
    properties: {
      involvedObject: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, reason: { type: 'string' }, message: { type: 'string' },
      type: { type: 'string' }, lastTimestamp: { type: 'string', format: 'date-time' }, count: { type: 'integer' },
    },
  },
  CustomResourceDefinition: {
    doc: 'Describes a custom resource kind. Bowline serves one per Istio kind, read-only.',
    properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
  },
};

const top = (k: ServedKind): Record<string, OpenApiSchema> => ({
  apiVersion: { type: 'string', description: `The version of the schema, e.g. ${apiVersionOf(k)}.` },
  kind: { type: 'string', description: `The kind of object: ${k.kind}.` },
  metadata: objectMeta,
});

/** The OpenAPI v3 schema of a kind's object (without the GVK extension). */
export function kindSchema(k: ServedKind): OpenApiSchema {
  const core = CORE[k.kind];
  if (core) return { type: 'object', description: core.doc, properties: { ...top(k), ...core.properties } };
  let spec: OpenApiSchema;
  try {
    spec = toOpenApi((resourceSchema(k.kind as Kind).fields as Record<string, Schema>).spec!, `Specification of the ${k.kind}.`);
  } catch {
    spec = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  }
  return {
    type: 'object', description: docOf(k.kind) ?? `${k.kind} (${k.group}).`,
    properties: { ...top(k), spec, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, description: 'Status written by the control plane.' } },
  };
}
