import type { WorkloadEntrySpec } from './networking.js';

/** spec of a WorkloadGroup: the template for the WorkloadEntries of joining VMs. */
export interface WorkloadGroupSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  template: WorkloadEntrySpec;
  probe?: Record<string, unknown>;
}

/** Which side of a proxy a Telemetry rule applies to. */
export interface WorkloadMode { mode?: 'CLIENT_AND_SERVER' | 'CLIENT' | 'SERVER' }
/** A reference to a mesh config extension provider by name. */
export interface ProviderRef { name: string }

/** spec of a Telemetry: tracing, metrics and access-log overrides. */
export interface TelemetrySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: { group?: string; kind: string; name: string; namespace?: string };
  targetRefs?: Array<{ group?: string; kind: string; name: string; namespace?: string }>;
  tracing?: Array<{ match?: WorkloadMode; providers?: ProviderRef[]; randomSamplingPercentage?: number; disableSpanReporting?: boolean; customTags?: Record<string, unknown>; useRequestIdForTraceSampling?: boolean; enableIstioTags?: boolean; disableContextPropagation?: boolean }>;
  metrics?: Array<{ providers?: ProviderRef[]; overrides?: Array<{ match?: { metric?: string; customMetric?: string; mode?: WorkloadMode['mode'] }; disabled?: boolean; tagOverrides?: Record<string, { operation?: 'UPSERT' | 'REMOVE'; value?: string }> }>; reportingInterval?: string }>;
  accessLogging?: Array<{ match?: WorkloadMode; providers?: ProviderRef[]; disabled?: boolean; filter?: { expression?: string } }>;
}

/** spec of a ProxyConfig. */
export interface ProxyConfigSpec {
  selector?: { matchLabels?: Record<string, string> };
  concurrency?: number;
  environmentVariables?: Record<string, string>;
  image?: { imageType?: string };
}
