/**
 * Access log lines: Envoy's default text format, extended (after Envoy's fields, as Istio
 * extends it) with the upstream cluster, addresses, route, trace id and both identities; or
 * one JSON object per line with the same fields under Istio's JSON key names.
 */
import type { RequestRecord } from '../record.js';

/** Source and destination identities of a request, resolved by the caller. */
export interface LogIdentities {
  sourcePrincipal: string;
  destinationPrincipal: string;
  sourceWorkload: string;
  destinationWorkload: string;
  sourceNamespace: string;
  destinationNamespace: string;
}

/** `-` for absent or empty values (Envoy's convention). */
function d(v: string | number | undefined): string | number {
  return v === undefined || v === '' ? '-' : v;
}

/** Text values are quoted in places; a quote or control character inside would break parsing, so it is escaped. */
function q(v: string | undefined): string {
  if (v === undefined || v === '') return '-';
  return /["\\\x00-\x1f\x7f]/.test(v) ? JSON.stringify(v).slice(1, -1) : v;
}

/** The trace id of a record (W3C/B3 id), or undefined when untraced. */
function traceIdOf(r: RequestRecord): string | undefined {
  return r.trace?.traceId;
}

/**
 * One text line (without the newline):
 * `[START] "METHOD PATH PROTOCOL" CODE FLAGS BYTES_RECEIVED BYTES_SENT DURATION UPSTREAM_TIME "XFF" "UA" "REQUEST_ID" "AUTHORITY" "UPSTREAM_HOST"`
 * then ` CLUSTER LOCAL_ADDR REMOTE_ADDR ROUTE TRACE_ID SOURCE_PRINCIPAL DESTINATION_PRINCIPAL`.
 */
export function formatText(r: RequestRecord, id: LogIdentities): string {
  return (
    `[${new Date(r.startTime).toISOString()}] "${q(r.method)} ${q(r.path)} ${q(r.protocol)}" ${r.status} ${d(r.responseFlags)} ` +
    `${r.bytesReceived} ${r.bytesSent} ${Math.round(r.durationMs)} ${d(r.upstreamServiceTimeMs === undefined ? undefined : Math.round(r.upstreamServiceTimeMs))} ` +
    `"${q(r.xForwardedFor)}" "${q(r.userAgent)}" "${q(r.requestId)}" "${q(r.authority)}" "${q(r.upstreamHost)}" ` +
    `${d(r.cluster)} ${d(r.downstreamLocalAddress)} ${d(r.downstreamRemoteAddress)} ${d(r.route)} ${d(traceIdOf(r))} ` +
    `${d(id.sourcePrincipal)} ${d(id.destinationPrincipal)}`
  );
}

/** One JSON line (without the newline). Absent values are null, numbers are numbers. */
export function formatJson(r: RequestRecord, id: LogIdentities): string {
  return JSON.stringify({
    start_time: new Date(r.startTime).toISOString(),
    method: r.method,
    path: r.path,
    protocol: r.protocol,
    response_code: r.status,
    response_flags: r.responseFlags || '-',
    bytes_received: r.bytesReceived,
    bytes_sent: r.bytesSent,
    duration: Math.round(r.durationMs),
    upstream_service_time: r.upstreamServiceTimeMs === undefined ? null : Math.round(r.upstreamServiceTimeMs),
    x_forwarded_for: r.xForwardedFor ?? null,
    user_agent: r.userAgent ?? null,
    x_request_id: r.requestId ?? null,
    trace_id: traceIdOf(r) ?? null,
    authority: r.authority,
    upstream_host: r.upstreamHost ?? null,
    upstream_cluster: r.cluster ?? null,
    route_name: r.route ?? null,
    downstream_local_address: r.downstreamLocalAddress ?? null,
    downstream_remote_address: r.downstreamRemoteAddress ?? null,
    source_principal: id.sourcePrincipal,
    destination_principal: id.destinationPrincipal,
    source_workload: id.sourceWorkload,
    source_namespace: id.sourceNamespace,
    destination_workload: id.destinationWorkload,
    destination_namespace: id.destinationNamespace,
  });
}
