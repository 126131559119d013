/**
 * `bowline analyze` findings: Istio's analysis message codes (IST0xxx) where the meaning is the
 * same, Bowline's own codes for what Istio has no message for. Messages are our own words.
 */

/** How bad a finding is (istioctl's levels): any Error makes `bowline analyze` exit 79. */
export type Level = 'Error' | 'Warning' | 'Info';

/** One finding on one resource (or registry service). */
export interface AnalysisFinding {
  code: string;
  level: Level;
  /** The resource: kind, name, namespace (cluster-scoped: no namespace). */
  kind: string;
  name: string;
  namespace?: string;
  message: string;
  /** Field path inside the resource, when the finding is about one field. */
  path?: Array<string | number>;
}

/** The codes analyze emits, their level and name (docs/errors.md lists the Bowline ones; docs/analyze.md all). */
export const ANALYSIS_CODES: Readonly<Record<string, { level: Level; name: string }>> = {
  IST0101: { level: 'Error', name: 'ReferencedResourceNotFound' },
  IST0104: { level: 'Warning', name: 'GatewayPortNotOnWorkload' },
  IST0106: { level: 'Error', name: 'SchemaValidationError' },
  IST0109: { level: 'Error', name: 'ConflictingMeshGatewayVirtualServiceHosts' },
  IST0118: { level: 'Info', name: 'PortNameIsNotUnderNamingConvention' },
  IST0128: { level: 'Warning', name: 'NoServerCertificateVerificationDestinationLevel' },
  IST0129: { level: 'Warning', name: 'NoServerCertificateVerificationPortLevel' },
  IST0130: { level: 'Warning', name: 'VirtualServiceUnreachableRule' },
  IST0131: { level: 'Info', name: 'VirtualServiceIneffectiveMatch' },
  IST0132: { level: 'Warning', name: 'VirtualServiceHostNotFoundInGateway' },
  BOWLINE_E_ANALYZE_MTLS_CONFLICT: { level: 'Error', name: 'MtlsConflict' },
  BOWLINE_W_ANALYZE_SUBSET_NO_ENDPOINTS: { level: 'Warning', name: 'SubsetWithoutEndpoints' },
  BOWLINE_W_ANALYZE_SELECTS_NOTHING: { level: 'Warning', name: 'PolicySelectsNoWorkload' },
  BOWLINE_W_ANALYZE_ZERO_WEIGHT: { level: 'Warning', name: 'DestinationWeightSendsNothing' },
};

/** A finding for `r` with the level its code has. */
export function finding(code: keyof typeof ANALYSIS_CODES, r: { kind: string; metadata: { name: string; namespace?: string } }, message: string, path?: Array<string | number>): AnalysisFinding {
  return {
    code, level: ANALYSIS_CODES[code]!.level, kind: r.kind, name: r.metadata.name,
    ...(r.metadata.namespace !== undefined ? { namespace: r.metadata.namespace } : {}),
    message, ...(path ? { path } : {}),
  };
}
