/**
 * What `bowline explain` answers (GET /debug/explain): the decisions a request from one workload
 * goes through, each with its reason and the resource (and file:line) it came from.
 */

/** The annotation `bowline apply` records on every resource it writes: `FILE:LINE` it was applied from. */
export const SOURCE_ANNOTATION = 'bowline.io/source';

/** One decision on the request's path. */
export interface ExplainStep {
  /** What was decided: `listener`, `virtual host`, `route`, `fault`, `timeout`, `retries`, `cluster`, `endpoints`,
   *  `client TLS`, `server mTLS`, `authorization`, `traffic`, ... */
  step: string;
  /** The decision, short (`outbound, chain http`, `STRICT`, `denied`). */
  decision: string;
  /** Why, in a sentence. */
  reason: string;
  /** The resource that decided, e.g. `VirtualService default/reviews http[0]`, and where it was applied from. */
  origin?: string;
  /** False when this step makes the request fail. */
  ok: boolean;
}

/** The verdict for the request (or for one destination of a split). */
export interface ExplainOutcome {
  ok: boolean;
  /** The status the client would get when the mesh answers itself (404 NR, 503, 403 ...); absent when the app answers. */
  status?: number;
  summary: string;
}

/** One weighted destination of the selected route, followed to the server. */
export interface ExplainDestination {
  cluster: string;
  weight: number;
  /** Share of requests (0..100). */
  percent: number;
  steps: ExplainStep[];
  outcome: ExplainOutcome;
}

/** The whole explanation. */
export interface Explanation {
  request: { method: string; url: string; headers: Record<string, string> };
  from: {
    workload: string;
    namespace: string;
    /** The connected proxy whose configuration was evaluated; absent when none is connected (the config is generated). */
    proxy?: string;
    /** Where the evaluated configuration came from. */
    config: string;
  };
  /** Decisions before the route's destinations (listener, virtual host, route, fault, timeout, retries). */
  steps: ExplainStep[];
  destinations: ExplainDestination[];
  /** Things that may make the real proxy differ from this explanation (NACKed or stale config). */
  warnings: string[];
  outcome: ExplainOutcome;
}
