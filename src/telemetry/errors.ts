/**
 * Telemetry's error catalogue (docs/errors.md, "Telemetry"). Telemetry never throws on the
 * request path: bad peer metadata, a dead collector or a full log sink become counters. These
 * errors are for programming and configuration mistakes caught at setup time.
 */

/** Stable codes of telemetry errors. */
export const TelemetryCodes = {
  /** A metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  METRIC_NAME: 'BOWLINE_E_TELEMETRY_METRIC_NAME',
  /** A label name does not match `[a-zA-Z_][a-zA-Z0-9_]*` or starts with `__`. */
  LABEL_NAME: 'BOWLINE_E_TELEMETRY_LABEL_NAME',
  /** A metric was registered twice with a different type, help or label names. */
  METRIC_CONFLICT: 'BOWLINE_E_TELEMETRY_METRIC_CONFLICT',
  /** `labels(...)` was called with the wrong number of values. */
  LABEL_COUNT: 'BOWLINE_E_TELEMETRY_LABEL_COUNT',
  /** Histogram buckets are empty, unsorted or not finite. */
  BUCKETS: 'BOWLINE_E_TELEMETRY_BUCKETS',
  /** A trace exporter URL is not http(s). */
  EXPORTER_URL: 'BOWLINE_E_TELEMETRY_EXPORTER_URL',
  /** The metrics server could not listen (port in use, no permission). */
  METRICS_LISTEN: 'BOWLINE_E_TELEMETRY_METRICS_LISTEN',
} as const;

/** An error with a stable `BOWLINE_E_TELEMETRY_*` code. */
export class TelemetryError extends Error {
  constructor(
    /** One of TelemetryCodes. */
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'TelemetryError';
  }
}
