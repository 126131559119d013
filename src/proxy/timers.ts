/**
 * The timers a proxy's connections use for their own deadlines (the request-headers timeout, drain deadlines),
 * injectable so unit tests move time by hand instead of waiting for it.
 */

/** setTimeout/clearTimeout as a proxy sees them. */
export interface ProxyTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers. */
export const realTimers: ProxyTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};
