import { checkRe2 } from '../re2.js';

/** A format problem of a string value. */
export type FormatError = { code: string; message: string; hint?: string } | undefined;

const label = /^[A-Za-z0-9](?:[-A-Za-z0-9_]*[A-Za-z0-9])?$/;

function dnsName(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  const labels = name.endsWith('.') ? name.slice(0, -1).split('.') : name.split('.');
  return labels.every((l) => l.length <= 63 && label.test(l));
}

/** A host as VirtualService/ServiceEntry/Sidecar take it: `*`, `*.example.com`, `*example.com`, a short or full name, or an IP. */
export function host(v: string): FormatError {
  if (v === '*') return undefined;
  const rest = v.startsWith('*') ? v.slice(1).replace(/^\./, '') : v;
  if (v.slice(1).includes('*')) {
    return { code: 'BOWLINE_E_API_HOST', message: `host "${v}" has a wildcard that is not leading: expected "*", "*.example.com" or a full name` };
  }
  if (ipAddress(rest) || dnsName(rest)) return undefined;
  return { code: 'BOWLINE_E_API_HOST', message: `host "${v}" is not a valid host name: expected DNS labels of letters, digits and "-", optionally starting with "*"` };
}

/** A destination host (no namespace prefix). */
export function destinationHost(v: string): FormatError {
  if (v.includes('/')) return { code: 'BOWLINE_E_API_HOST', message: `destination host "${v}" must not contain "/"`, hint: 'use the service name, e.g. reviews or reviews.default.svc.cluster.local' };
  return host(v);
}

/** A Gateway server host: `[namespace/]host` where namespace may be `.` or `*`. */
export function gatewayHost(v: string): FormatError {
  const parts = v.split('/');
  if (parts.length > 2) return { code: 'BOWLINE_E_API_HOST', message: `gateway host "${v}" has more than one "/": expected [namespace/]host` };
  if (parts.length === 2) {
    const ns = parts[0]!;
    if (ns !== '.' && ns !== '*' && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)) {
      return { code: 'BOWLINE_E_API_HOST', message: `gateway host "${v}": namespace "${ns}" must be ".", "*" or a namespace name` };
    }
  }
  return host(parts[parts.length - 1]!);
}

/** A Sidecar egress host: `namespace/host` with `.`, `*` or `~` as namespace. */
export function sidecarHost(v: string): FormatError {
  const parts = v.split('/');
  if (parts.length !== 2) return { code: 'BOWLINE_E_API_HOST', message: `sidecar egress host "${v}" must be namespace/host, e.g. "./*" or "istio-system/*"` };
  if (!['.', '*', '~'].includes(parts[0]!) && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(parts[0]!)) {
    return { code: 'BOWLINE_E_API_HOST', message: `sidecar egress host "${v}": namespace must be ".", "*", "~" or a namespace name` };
  }
  return host(parts[1]!);
}

/** A regex that RE2 must accept. */
export function regex(v: string): FormatError {
  const why = checkRe2(v);
  return why ? { code: 'BOWLINE_E_API_REGEX', message: `regex ${JSON.stringify(v)} is not valid RE2: ${why}`, hint: 'RE2 has no lookaround or backreferences; rewrite the pattern without them' } : undefined;
}

/** An IPv4 or IPv6 address. */
export function ipAddress(v: string): boolean {
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(v)) return true;
  return v.includes(':') && /^[0-9a-fA-F:.]+$/.test(v) && v.split('::').length <= 2 && v.split(':').length <= 8;
}

/** An IP address or a CIDR block. */
export function cidr(v: string): FormatError {
  const [ip, bits, extra] = v.split('/');
  const ok = extra === undefined && ipAddress(ip!) && (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (ip!.includes(':') ? 128 : 32)));
  return ok ? undefined : { code: 'BOWLINE_E_API_CIDR', message: `"${v}" is not an IP address or CIDR block (e.g. 10.0.0.0/8)` };
}

/** An address of a WorkloadEntry: IP, DNS name or unix:// socket. */
export function endpointAddress(v: string): FormatError {
  if (v.startsWith('unix://') || ipAddress(v) || dnsName(v)) return undefined;
  return { code: 'BOWLINE_E_API_ADDRESS', message: `"${v}" is not an IP address, host name or unix:// path` };
}

const protocols = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'HTTP_PROXY', 'MONGO', 'MYSQL', 'REDIS', 'TCP', 'TLS', 'UDP', 'THRIFT'];
/** A port protocol name, any case (http, HTTP, grpc, tcp, tls, http2, mongo ...). */
export function protocol(v: string): FormatError {
  return protocols.includes(v.toUpperCase()) ? undefined : { code: 'BOWLINE_E_API_PROTOCOL', message: `protocol "${v}" is not supported: expected one of ${protocols.join(', ')} (any case)` };
}

const qname = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
/** A Kubernetes label key: optional DNS prefix and "/", then a name of at most 63 characters. */
export function labelKey(k: string): string | undefined {
  const i = k.lastIndexOf('/');
  const prefix = i >= 0 ? k.slice(0, i) : undefined;
  const name = i >= 0 ? k.slice(i + 1) : k;
  if (prefix !== undefined && (prefix.length > 253 || !dnsName(prefix))) return `label key "${k}" has an invalid prefix: expected a DNS subdomain before "/"`;
  if (name.length === 0 || name.length > 63 || !qname.test(name)) return `label key "${k}" is invalid: expected at most 63 letters, digits, "-", "_" or "." starting and ending with a letter or digit`;
  return undefined;
}

/** A Kubernetes label value. */
export function labelValue(v: string): FormatError {
  if (v === '' || (v.length <= 63 && qname.test(v))) return undefined;
  return { code: 'BOWLINE_E_API_LABEL', message: `label value "${v}" is invalid: expected at most 63 letters, digits, "-", "_" or "." starting and ending with a letter or digit` };
}

/** A DNS-1123 label (port names, subset names). */
export function dnsLabel(v: string): FormatError {
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v) && v.length <= 63 ? undefined : { code: 'BOWLINE_E_API_NAME', message: `"${v}" is not a valid name: expected lower-case letters, digits and "-" (at most 63)` };
}

/** Port names in Istio are DNS labels, but upper-case and "_" are common in the wild and accepted. */
export function portName(v: string): FormatError {
  return /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(v) ? undefined : { code: 'BOWLINE_E_API_NAME', message: `port name "${v}" is invalid: expected letters, digits and "-"` };
}
