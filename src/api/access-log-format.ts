/**
 * MeshConfig `accessLogFormat`: Envoy's format strings (command operators such as %START_TIME%,
 * %REQ(:PATH)%, %RESPONSE_CODE%, %UPSTREAM_HOST%) parsed into the parts the proxies' access log
 * writes (proxy-config `AccessLogPart`). With `accessLogEncoding: JSON` the format is a JSON object
 * whose values are format strings, one key per field (Envoy's json_format). An operator Bowline's
 * proxies cannot fill is refused by name: the proxies then keep their default format.
 */

/** The command operators the proxies fill (the same list as proxy-config's ACCESS_LOG_OPERATORS; a test holds them equal). */
export const SUPPORTED_OPERATORS: readonly string[] = [
  'START_TIME', 'REQ', 'PROTOCOL', 'RESPONSE_CODE', 'RESPONSE_FLAGS', 'BYTES_RECEIVED', 'BYTES_SENT', 'DURATION',
  'UPSTREAM_HOST', 'UPSTREAM_CLUSTER', 'ROUTE_NAME', 'DOWNSTREAM_REMOTE_ADDRESS',
  'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_PEER_URI_SAN', 'TRACE_ID', 'HOSTNAME', 'RESP',
];

/** One parsed piece: literal text or an operator (`REQ` with its header, alternative and length limit). */
export type FormatPart = string | { op: string; header?: string; altHeader?: string; maxLength?: number };

/** The parsed format, or the problems that refuse it. */
export type ParsedFormat = { text: FormatPart[] } | { json: Array<{ key: string; parts: FormatPart[] }> } | { problems: string[] };

const OPERATOR = /%([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?%/g;

/** Parses one format string; `problems` collects what cannot be served. */
export function parseFormatString(text: string, problems: string[]): FormatPart[] {
  const parts: FormatPart[] = [];
  let last = 0;
  for (const m of text.matchAll(OPERATOR)) {
    if (m.index! > last) parts.push(text.slice(last, m.index));
    last = m.index! + m[0].length;
    const [, op, arg, max] = m;
    if (!SUPPORTED_OPERATORS.includes(op!)) { problems.push(`command operator %${op}${arg !== undefined ? `(${arg})` : ''}% is not one Bowline's proxies fill (they fill ${SUPPORTED_OPERATORS.map((o) => `%${o}%`).join(', ')})`); continue; }
    const part: Exclude<FormatPart, string> = { op: op! };
    if (op === 'REQ' || op === 'RESP') {
      const [h, alt, extra] = (arg ?? '').toLowerCase().split('?');
      if (!h || extra !== undefined || (arg ?? '').includes(' ')) { problems.push(`%${op}(${arg ?? ''})% needs one header name (or NAME?ALTERNATIVE)`); continue; }
      if (op === 'RESP' && h !== 'x-envoy-upstream-service-time') { problems.push(`%RESP(${arg})%: only %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% is filled (response headers are not kept for the log)`); continue; }
      part.header = h;
      if (alt) part.altHeader = alt;
    } else if (arg !== undefined) {
      problems.push(`%${op}(${arg})%: arguments are supported only for %REQ(...)% (write %${op}%)`);
      continue;
    }
    if (max !== undefined) part.maxLength = Number(max);
    parts.push(part);
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** Parses `accessLogFormat` for an encoding (TEXT: one format string; JSON: an object of format strings). */
export function parseAccessLogFormat(format: string, encoding: 'TEXT' | 'JSON'): ParsedFormat {
  const problems: string[] = [];
  if (encoding === 'JSON') {
    let obj: unknown;
    try { obj = JSON.parse(format); } catch { return { problems: ['with accessLogEncoding JSON, accessLogFormat must be a JSON object of format strings, e.g. {"path": "%REQ(:PATH)%"}'] }; }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { problems: ['with accessLogEncoding JSON, accessLogFormat must be a JSON object of format strings'] };
    const json: Array<{ key: string; parts: FormatPart[] }> = [];
    for (const [key, v] of Object.entries(obj)) {
      if (typeof v !== 'string') { problems.push(`field ${key}: only string values (format strings) are supported`); continue; }
      json.push({ key, parts: parseFormatString(v, problems) });
    }
    return problems.length ? { problems } : { json };
  }
  const text = parseFormatString(format.endsWith('\n') ? format.slice(0, -1) : format, problems);
  return problems.length ? { problems } : { text };
}
