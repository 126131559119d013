/**
 * The parts of Marathon's REST API (v2) the registry reads: apps with their tasks
 * (`GET /v2/apps?embed=apps.tasks`), pods with their instances (`GET /v2/pods/::status`) and the
 * event stream (`GET /v2/events`). Field names are Marathon's; every field is optional where
 * Marathon may leave it out, so a partial answer never throws.
 */

/** A Marathon label map (`labels` on apps, pods, ports and endpoints). */
export type MarathonLabels = Record<string, string>;

/** One port of an app with host networking (`portDefinitions`). */
export interface MarathonPortDefinition {
  port?: number;
  protocol?: string;
  name?: string;
  labels?: MarathonLabels;
}

/** One port of an app with container or bridge networking (`container.portMappings`). */
export interface MarathonPortMapping {
  containerPort?: number;
  hostPort?: number;
  servicePort?: number;
  protocol?: string;
  name?: string;
  labels?: MarathonLabels;
}

/** A network an app or pod joins: `host`, `container` (named, own IP) or `container/bridge`. */
export interface MarathonNetwork {
  mode?: 'host' | 'container' | 'container/bridge';
  name?: string;
}

/** A health check result of one task. */
export interface MarathonHealth {
  alive?: boolean;
  firstSuccess?: string;
  lastFailure?: string;
}

/** A running (or starting) instance of an app. */
export interface MarathonTask {
  id: string;
  appId?: string;
  host?: string;
  /** Host ports, in the order of the app's port definitions (or the mappings that have a host port). */
  ports?: number[];
  servicePorts?: number[];
  ipAddresses?: Array<{ ipAddress: string; protocol?: string }>;
  state?: string;
  healthCheckResults?: MarathonHealth[];
  region?: string;
  zone?: string;
  version?: string;
}

/** An app as `GET /v2/apps?embed=apps.tasks` returns it. */
export interface MarathonApp {
  id: string;
  instances?: number;
  labels?: MarathonLabels;
  portDefinitions?: MarathonPortDefinition[];
  container?: { type?: string; portMappings?: MarathonPortMapping[]; docker?: { network?: string; portMappings?: MarathonPortMapping[] } };
  networks?: MarathonNetwork[];
  healthChecks?: unknown[];
  tasks?: MarathonTask[];
  env?: Record<string, unknown>;
}

/** An endpoint of a pod container. */
export interface MarathonPodEndpoint {
  name: string;
  containerPort?: number;
  hostPort?: number;
  protocol?: string[];
  labels?: MarathonLabels;
}

/** A container of a pod spec. */
export interface MarathonPodContainer {
  name: string;
  endpoints?: MarathonPodEndpoint[];
  labels?: MarathonLabels;
}

/** A pod spec (`spec` of a pod status). */
export interface MarathonPodSpec {
  id: string;
  labels?: MarathonLabels;
  containers?: MarathonPodContainer[];
  networks?: MarathonNetwork[];
  scaling?: { kind?: string; instances?: number };
}

/** Status of one container of a pod instance. */
export interface MarathonContainerStatus {
  name: string;
  status?: string;
  endpoints?: Array<{ name: string; allocatedHostPort?: number; healthy?: boolean }>;
}

/** One instance of a pod. */
export interface MarathonPodInstance {
  id: string;
  status?: 'PENDING' | 'STAGING' | 'STABLE' | 'DEGRADED' | 'TERMINAL' | string;
  agentHostname?: string;
  agentRegion?: string;
  agentZone?: string;
  networks?: Array<{ name?: string; addresses?: string[] }>;
  containers?: MarathonContainerStatus[];
}

/** A pod as `GET /v2/pods/::status` returns it. */
export interface MarathonPodStatus {
  id: string;
  spec?: MarathonPodSpec;
  status?: string;
  instances?: MarathonPodInstance[];
}

/** A Marathon event (`data:` of the event stream); `eventType` names it. */
export interface MarathonEvent {
  eventType?: string;
  appId?: string;
  podId?: string;
  taskId?: string;
  instanceId?: string;
  id?: string;
  plan?: { original?: { apps?: Array<{ id: string }>; pods?: Array<{ id: string }> }; target?: { apps?: Array<{ id: string }>; pods?: Array<{ id: string }> } };
  [key: string]: unknown;
}
