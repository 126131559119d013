/** The Istio kinds Bowline understands (the legacy MeshPolicy and Policy map to PeerAuthentication). */
export type Kind =
  | 'VirtualService'
  | 'DestinationRule'
  | 'Gateway'
  | 'ServiceEntry'
  | 'WorkloadEntry'
  | 'Sidecar'
  | 'WorkloadGroup'
  | 'ProxyConfig'
  | 'Telemetry'
  | 'PeerAuthentication'
  | 'AuthorizationPolicy'
  | 'RequestAuthentication'
  | 'MeshPolicy'
  | 'Policy';

/** Kubernetes-style object metadata. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  generation?: number;
  uid?: string;
  creationTimestamp?: string;
}

/** One Istio resource: apiVersion, kind, metadata and the kind's spec. */
export interface Resource<S = unknown> {
  apiVersion: string;
  kind: Kind;
  metadata: ObjectMeta;
  spec: S;
}

/** One problem found in user input: where (file:line:column, field path), what (stable code) and why. */
export interface Violation {
  severity: 'error' | 'warning';
  /** Stable code documented in docs/errors.md, e.g. BOWLINE_E_API_UNKNOWN_FIELD. */
  code: string;
  /** Field path such as `spec.http[1].route[0].destination.host`; empty for the whole document. */
  path: string;
  /** What was wrong and what was expected. */
  message: string;
  /** The likely fix ("did you mean ...", "belongs under match:"). */
  hint?: string;
  file?: string;
  /** 1-based line of the offending node in the source text (YAML/JSON input only). */
  line?: number;
  /** 1-based column. */
  column?: number;
  /** 0-based index of the document in a multi-document file. */
  docIndex?: number;
}

/** One document of a multi-document file after parsing and validation. */
export interface ParsedDocument {
  docIndex: number;
  /** For an item of a v1 List document: its 0-based index in `items`. */
  item?: number;
  /** 1-based line where the document (or List item) starts. */
  line: number;
  /** The resource, when the document is a valid Bowline resource (not normalised; see normalize()). */
  resource?: Resource;
  kind?: string;
  apiVersion?: string;
  /** The document's violations (errors and warnings). */
  violations: Violation[];
  /** For the `istio` ConfigMap: the parsed mesh config. */
  meshConfig?: import('./mesh.js').MeshConfig;
}
