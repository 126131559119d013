import type { ServedKind } from './kinds.js';

/** One column of `kubectl get`, as a CRD's `additionalPrinterColumns` entry declares it. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  /** 0: always shown; 1: only with `-o wide`. */
  priority?: number;
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'How long ago the object was created.' };

/**
 * The columns of Istio's CRDs per kind (kinds missing here show Age only, as a CRD without columns
 * does). Core kinds get the columns kubectl shows for them on Kubernetes.
 */
const COLUMNS: Record<string, PrinterColumn[]> = {
  VirtualService: [
    { name: 'Gateways', type: 'string', jsonPath: '.spec.gateways', description: 'Gateways and sidecars the routes apply to.' },
    { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts', description: 'Destination hosts the routes apply to.' },
    age,
  ],
  DestinationRule: [{ name: 'Host', type: 'string', jsonPath: '.spec.host', description: 'The service the policies apply to.' }, age],
  ServiceEntry: [
    { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts', description: 'Hosts the entry adds to the registry.' },
    { name: 'Location', type: 'string', jsonPath: '.spec.location', description: 'MESH_EXTERNAL or MESH_INTERNAL.' },
    { name: 'Resolution', type: 'string', jsonPath: '.spec.resolution', description: 'How endpoints are found: NONE, STATIC, DNS or DNS_ROUND_ROBIN.' },
    age,
  ],
  WorkloadEntry: [age, { name: 'Address', type: 'string', jsonPath: '.spec.address', description: 'Address of the workload.' }],
  PeerAuthentication: [{ name: 'Mode', type: 'string', jsonPath: '.spec.mtls.mode', description: 'The mutual TLS mode.' }, age],
  AuthorizationPolicy: [{ name: 'Action', type: 'string', jsonPath: '.spec.action', description: 'ALLOW, DENY, AUDIT or CUSTOM.' }, age],
  ConfigMap: [{ name: 'Data', type: 'integer', jsonPath: '.data', description: 'Number of keys.' }, age],
  Secret: [
    { name: 'Type', type: 'string', jsonPath: '.type', description: 'The Secret type.' },
    { name: 'Data', type: 'integer', jsonPath: '.data', description: 'Number of keys.' },
    age,
  ],
  Namespace: [{ name: 'Status', type: 'string', jsonPath: '.status.phase', description: 'The namespace phase.' }, age],
  Event: [
    { name: 'Last Seen', type: 'date', jsonPath: '.lastTimestamp', description: 'When the event was last seen.' },
    { name: 'Type', type: 'string', jsonPath: '.type', description: 'Normal or Warning.' },
    { name: 'Reason', type: 'string', jsonPath: '.reason', description: 'Why the event happened.' },
    { name: 'Object', type: 'string', jsonPath: '.involvedObject.name', description: 'The object it is about.' },
    { name: 'Message', type: 'string', jsonPath: '.message', description: 'What happened.' },
  ],
};

/** The printer columns of a kind (Age only when none are declared). */
export function printerColumns(kind: ServedKind): PrinterColumn[] {
  return COLUMNS[kind.kind] ?? [age];
}
