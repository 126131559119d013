/**
 * gRPC specifics of the proxy: recognising gRPC requests, the `grpc-timeout` header, status
 * names and codes, and the status a local reply carries (trailers-only responses), following
 * Envoy's HTTP-to-gRPC status mapping.
 */

/** gRPC status codes by name (as Istio's fault abort `grpcStatus` writes them). */
export const GRPC_CODES: Readonly<Record<string, number>> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/** True for gRPC content types (`application/grpc`, `application/grpc+proto`, ...). Not grpc-web. */
export function isGrpc(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.startsWith('application/grpc') && !contentType.startsWith('application/grpc-web');
}

/** A gRPC status given as a name (`UNAVAILABLE`) or a number (`14`); undefined when neither. */
export function grpcCode(status: string): number | undefined {
  const n = GRPC_CODES[status.toUpperCase()];
  if (n !== undefined) return n;
  return /^\d{1,2}$/.test(status) && Number(status) <= 16 ? Number(status) : undefined;
}

/** `grpc-timeout` in milliseconds (`100m`, `5S`, `1H`, ...), undefined when absent or malformed. */
export function grpcTimeoutMs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(v);
  if (m === null) return undefined;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'H': return n * 3_600_000;
    case 'M': return n * 60_000;
    case 'S': return n * 1000;
    case 'm': return n;
    case 'u': return Math.max(1, Math.ceil(n / 1000));
    default: return Math.max(1, Math.ceil(n / 1_000_000));
  }
}

/** The gRPC status for an HTTP status the proxy would answer (Envoy's mapping). */
export function grpcFromHttp(status: number): number {
  switch (status) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: case 504: return 14;
    default: return 2;
  }
}

/** Percent-encodes a grpc-message (RFC: printable ASCII except `%` is sent as is). */
export function grpcMessage(text: string): string {
  let out = '';
  for (const ch of Buffer.from(text, 'utf8')) out += ch >= 0x20 && ch <= 0x7e && ch !== 0x25 ? String.fromCharCode(ch) : '%' + ch.toString(16).toUpperCase().padStart(2, '0');
  return out;
}
