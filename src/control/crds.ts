import type { StoredObject } from '../store/index.js';
import { servedKinds, type ServedKind } from './kinds.js';
import { kindSchema } from './openapi-schema.js';
import { printerColumns } from './printer-columns.js';

/** When the CRDs "were created": the control plane's start (they exist as long as it runs). */
const createdAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The CRD Bowline serves for one Istio kind: names, scope, served versions, printer columns, schema and status subresource. */
export function crdOf(k: ServedKind): StoredObject {
  const name = `${k.plural}.${k.group}`;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name, namespace: '', uid: `bowline-crd-${name}`, resourceVersion: '1', generation: 1, creationTimestamp: createdAt, labels: { 'app.kubernetes.io/part-of': 'bowline' } },
    spec: {
      group: k.group,
      names: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.singular, ...(k.shortNames.length ? { shortNames: k.shortNames } : {}), ...(k.categories.length ? { categories: k.categories } : {}) },
      scope: k.namespaced ? 'Namespaced' : 'Cluster',
      versions: k.versions.map((v, i) => ({
        name: v, served: true, storage: i === 0,
        additionalPrinterColumns: printerColumns(k),
        schema: { openAPIV3Schema: kindSchema(k) },
        subresources: { status: {} },
      })),
    },
    status: {
      acceptedNames: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.singular, ...(k.shortNames.length ? { shortNames: k.shortNames } : {}), ...(k.categories.length ? { categories: k.categories } : {}) },
      storedVersions: [k.versions[0]],
      conditions: [
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: createdAt },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: createdAt },
      ],
    },
  };
}

/** Every CRD: one per Istio kind, sorted by name. */
export function allCrds(): StoredObject[] {
  return servedKinds.filter((k) => k.custom).map(crdOf).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}
