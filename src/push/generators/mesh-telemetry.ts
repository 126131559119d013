/**
 * Istio's MeshConfig telemetry settings -> the proxy's tracing and access-log settings.
 *
 * Tracing: `enableTracing: false` turns it off. `defaultProviders.tracing` names providers in
 * `extensionProviders`; a `zipkin` provider becomes a Zipkin v2 URL, an `opentelemetry` provider
 * with `http` an OTLP/HTTP URL (gRPC-only OTLP providers are not exported: the proxy speaks
 * OTLP/HTTP). Without default providers, the legacy `defaultConfig.tracing.zipkin.address`
 * (host:port) is used. Sampling is `defaultConfig.tracing.sampling` percent (Istio default 1).
 *
 * Access logs: `accessLogFile` ("/dev/stdout", a path; "" = off) with `accessLogEncoding`, or
 * `defaultProviders.accessLogging` naming an `envoyFileAccessLog` provider (or Istio's built-in
 * `envoy`, stdout TEXT); a provider whose `logFormat` has `labels` logs JSON.
 * The MeshConfig schema leaves providers free-form, so every field is read defensively.
 */
import type { MeshConfig } from '../../api/types/mesh.js';
import type { AccessLogPart, MeshSettings } from '../../proxy-config/types.js';
import { parseAccessLogFormat } from '../../api/access-log-format.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** `http://HOSTPORT/PATH` when it parses with exactly that host (`a b:9411`, port 99999 do not): proxies never get a URL they must refuse. */
function httpUrl(hostPort: string, path: string): string | undefined {
  const url = `http://${hostPort}${path}`;
  try {
    const u = new URL(url);
    // The host must be exactly what was given: `x/y z` or `a@b` would land somewhere else.
    const want = hostPort.toLowerCase();
    return u.hostname !== '' && (u.host === want || `${u.host}:80` === want) ? url : undefined;
  } catch {
    return undefined;
  }
}

/** `http://HOST:PORT/PATH` from a provider's service and port; undefined when either is missing. */
function providerUrl(p: Obj, defaultPath: string, path: unknown): string | undefined {
  const service = str(p.service);
  const port = typeof p.port === 'number' ? p.port : Number(p.port);
  if (!service || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  const host = service.includes(':') && !service.startsWith('[') ? `[${service}]` : service;
  const pth = str(path) ?? defaultPath;
  return httpUrl(`${host}:${port}`, pth.startsWith('/') ? pth : `/${pth}`);
}

/** The extension providers named by `defaultProviders[kind]`, in order. */
function defaultProviders(m: MeshConfig, kind: 'tracing' | 'accessLogging'): Array<{ name: string; provider: Obj | undefined }> | undefined {
  const dp = isObj(m.defaultProviders) ? m.defaultProviders : undefined;
  const names = Array.isArray(dp?.[kind]) ? (dp[kind] as unknown[]).filter((n): n is string => typeof n === 'string') : undefined;
  if (!names?.length) return undefined;
  const list = Array.isArray(m.extensionProviders) ? m.extensionProviders.filter(isObj) : [];
  return names.map((name) => ({ name, provider: list.find((p) => p.name === name) }));
}

/** The proxy's tracing export settings, or undefined when no collector is configured. */
export function tracingSettings(m: MeshConfig): MeshSettings['tracing'] {
  if (m.enableTracing === false) return undefined;
  const providers = defaultProviders(m, 'tracing');
  if (!providers) {
    const address = str(m.defaultConfig?.tracing?.zipkin?.address);
    const url = address ? httpUrl(address, '/api/v2/spans') : undefined;
    return url ? { zipkin: { url } } : undefined;
  }
  const out: NonNullable<MeshSettings['tracing']> = {};
  for (const { provider } of providers) {
    if (!provider) continue;
    if (isObj(provider.zipkin) && !out.zipkin) {
      const url = providerUrl(provider.zipkin, '/api/v2/spans', provider.zipkin.path);
      if (url) out.zipkin = { url };
    }
    const otel = provider.opentelemetry;
    if (isObj(otel) && isObj(otel.http) && !out.otlp) {
      const url = providerUrl(otel, '/v1/traces', otel.http.path);
      if (url) out.otlp = { url };
    }
  }
  return out.zipkin || out.otlp ? out : undefined;
}

/** Percentage of new traces sampled: 0 when tracing is disabled mesh-wide. */
export function tracingSampling(m: MeshConfig): number {
  if (m.enableTracing === false) return 0;
  const s = Number(m.defaultConfig?.tracing?.sampling ?? 1);
  return Number.isFinite(s) ? Math.min(100, Math.max(0, s)) : 1;
}

/** `accessLogFormat` as parts for the proxies; nothing (the default format) when absent or refused (validation warns). */
function accessLogFormat(m: MeshConfig, encoding: 'TEXT' | 'JSON'): Pick<MeshSettings['accessLog'], 'format' | 'jsonFormat'> {
  const f = str(m.accessLogFormat);
  return f ? accessLogFormatText(f, encoding) : {};
}

/** A format string (or JSON object of them) as parts; nothing when refused. */
function accessLogFormatText(f: string, encoding: 'TEXT' | 'JSON'): Pick<MeshSettings['accessLog'], 'format' | 'jsonFormat'> {
  const parsed = parseAccessLogFormat(f, encoding);
  if ('text' in parsed) return { format: parsed.text as AccessLogPart[] };
  if ('json' in parsed) return { jsonFormat: parsed.json as Array<{ key: string; parts: AccessLogPart[] }> };
  return {};
}

/** The proxy's access-log settings. */
export function accessLogSettings(m: MeshConfig): MeshSettings['accessLog'] {
  const encoding = m.accessLogEncoding === 'JSON' ? 'JSON' : 'TEXT';
  const file = str(m.accessLogFile);
  if (file) return { enabled: true, encoding, path: file, ...accessLogFormat(m, encoding) };
  for (const { name, provider } of defaultProviders(m, 'accessLogging') ?? []) {
    // Istio's built-in provider `envoy` logs to stdout in the default text format.
    if (!provider && name === 'envoy') return { enabled: true, encoding: 'TEXT', path: '/dev/stdout' };
    const f = isObj(provider?.envoyFileAccessLog) ? provider.envoyFileAccessLog : undefined;
    if (!f) continue;
    const json = isObj(f.logFormat) && isObj(f.logFormat.labels);
    const lf = isObj(f.logFormat) ? f.logFormat : {};
    const text = str(lf.text);
    const fmt = json ? accessLogFormatText(JSON.stringify(lf.labels), 'JSON') : text ? accessLogFormatText(text, 'TEXT') : {};
    return { enabled: true, encoding: json ? 'JSON' : 'TEXT', path: str(f.path) ?? '/dev/stdout', ...fmt };
  }
  return { enabled: false, encoding };
}
