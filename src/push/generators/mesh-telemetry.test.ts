// Istio MeshConfig YAML (as users write it in the `istio` ConfigMap) -> the proxy's mesh settings.
import { describe, expect, it } from 'vitest';
import { parseMeshConfig } from '../../api/index.js';
import { meshSettings } from './mesh.js';

const settings = (yaml: string) => {
  const { mesh, violations } = parseMeshConfig(yaml);
  expect(violations.filter((v) => v.severity === 'error')).toEqual([]);
  return meshSettings(mesh);
};

describe('mesh settings from MeshConfig', () => {
  it('uses Istio defaults: 1 % sampling, no collector, access log off', () => {
    expect(settings('')).toEqual({ tracingSampling: 1, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: true, outboundTrafficPolicy: 'ALLOW_ANY' });
  });

  it('maps sampling, the legacy zipkin address, accessLogFile/Encoding, auto-mTLS and outbound policy', () => {
    const s = settings(`
enableAutoMtls: false
outboundTrafficPolicy: {mode: REGISTRY_ONLY}
accessLogFile: /dev/stdout
accessLogEncoding: JSON
defaultConfig:
  tracing:
    sampling: 100
    zipkin: {address: 127.0.0.1:9411}
`);
    expect(s).toEqual({
      tracingSampling: 100,
      tracing: { zipkin: { url: 'http://127.0.0.1:9411/api/v2/spans' } },
      accessLog: { enabled: true, encoding: 'JSON', path: '/dev/stdout' },
      autoMtls: false,
      outboundTrafficPolicy: 'REGISTRY_ONLY',
    });
  });

  it('an empty accessLogFile turns access logs off; enableTracing: false turns tracing off', () => {
    const s = settings(`
accessLogFile: ""
enableTracing: false
defaultConfig: {tracing: {sampling: 50, zipkin: {address: "zipkin:9411"}}}
`);
    expect(s.accessLog.enabled).toBe(false);
    expect(s.tracingSampling).toBe(0);
    expect(s.tracing).toBeUndefined();
  });

  it('defaultProviders.tracing picks zipkin and OTLP/HTTP extension providers over the legacy address', () => {
    const s = settings(`
defaultConfig: {tracing: {sampling: 10, zipkin: {address: "legacy:9411"}}}
extensionProviders:
- name: otel
  opentelemetry:
    service: otel-collector.observability.svc.cluster.local
    port: 4318
    http: {path: /custom/traces, timeout: 5s}
- name: jaeger
  zipkin: {service: jaeger-collector.istio-system.svc.cluster.local, port: 9411}
- name: unused
  zipkin: {service: other, port: 1}
defaultProviders:
  tracing: [jaeger, otel]
`);
    expect(s.tracingSampling).toBe(10);
    expect(s.tracing).toEqual({
      zipkin: { url: 'http://jaeger-collector.istio-system.svc.cluster.local:9411/api/v2/spans' },
      otlp: { url: 'http://otel-collector.observability.svc.cluster.local:4318/custom/traces' },
    });
  });

  it('an OTLP provider without http (gRPC) or a dangling provider name exports nothing', () => {
    const s = settings(`
extensionProviders:
- name: otel-grpc
  opentelemetry: {service: otel, port: 4317}
defaultProviders: {tracing: [otel-grpc, missing]}
`);
    expect(s.tracing).toBeUndefined();
    const http = settings(`
extensionProviders: [{name: o, opentelemetry: {service: "::1", port: 4318, http: {}}}]
defaultProviders: {tracing: [o]}
`);
    expect(http.tracing).toEqual({ otlp: { url: 'http://[::1]:4318/v1/traces' } });
    expect(settings('defaultConfig: {tracing: {zipkin: {address: "Zipkin.Tracing:80"}}}').tracing).toEqual({ zipkin: { url: 'http://Zipkin.Tracing:80/api/v2/spans' } });
  });

  it('defaultProviders.accessLogging: built-in envoy (stdout TEXT) and envoyFileAccessLog with labels (JSON, its fields)', () => {
    expect(settings('defaultProviders: {accessLogging: [envoy]}').accessLog).toEqual({ enabled: true, encoding: 'TEXT', path: '/dev/stdout' });
    const s = settings(`
extensionProviders:
- name: json-log
  envoyFileAccessLog:
    path: /var/log/bowline/access.log
    logFormat: {labels: {method: "%REQ(:METHOD)%"}}
defaultProviders: {accessLogging: [json-log]}
`);
    expect(s.accessLog).toEqual({ enabled: true, encoding: 'JSON', path: '/var/log/bowline/access.log', jsonFormat: [{ key: 'method', parts: [{ op: 'REQ', header: ':method' }] }] });
  });

  it('free-form provider values of the wrong shape are ignored, never thrown on', () => {
    for (const doc of ['defaultConfig: {tracing: {zipkin: {address: "a b:9411"}}}', 'extensionProviders: [{name: a, zipkin: {service: "x/y z", port: 9411}}]\ndefaultProviders: {tracing: [a]}', 'extensionProviders: 5\ndefaultProviders: {tracing: [a]}', 'extensionProviders: [{name: a, zipkin: {service: z, port: 99999}}]\ndefaultProviders: {tracing: [a]}', 'defaultProviders: {tracing: a, accessLogging: [{}]}']) {
      const s = settings(doc);
      expect(s.tracing).toBeUndefined();
      expect(s.accessLog.enabled).toBe(false);
    }
  });

  it('pathNormalization.normalization reaches the proxy; DEFAULT and absent mean BASE; other values are refused', () => {
    expect(settings('pathNormalization: {normalization: MERGE_SLASHES}').pathNormalization).toBe('MERGE_SLASHES');
    expect(settings('pathNormalization: {normalization: NONE}').pathNormalization).toBe('NONE');
    expect(settings('pathNormalization: {normalization: DEFAULT}').pathNormalization).toBeUndefined();
    expect(settings('').pathNormalization).toBeUndefined();
    const bad = parseMeshConfig('pathNormalization: {normalization: SOMETIMES}').violations.filter((v) => v.severity === 'error');
    expect(bad.map((v) => v.path)).toEqual(['pathNormalization.normalization']);
  });

  it('defaultConfig.drainDuration reaches the proxy as mesh.drainDurationMs, only when set, without a warning', () => {
    const { mesh, violations } = parseMeshConfig('defaultConfig:\n  drainDuration: 30s\n');
    expect(violations).toEqual([]);
    expect(meshSettings(mesh).drainDurationMs).toBe(30000);
    expect(settings('defaultConfig: {drainDuration: 1m30s}').drainDurationMs).toBe(90000);
    expect(settings('').drainDurationMs).toBeUndefined();
    expect(settings('defaultConfig: {terminationDrainDuration: 10s}').drainDurationMs).toBeUndefined();
    expect(parseMeshConfig('defaultConfig: {drainDuration: soon}').violations.filter((v) => v.severity === 'error').map((v) => v.path)).toEqual(['defaultConfig.drainDuration']);
  });

  it('defaultConfig.terminationDrainDuration reaches the proxy as mesh.terminationDrainDurationMs, only when set, without a warning', () => {
    const { mesh, violations } = parseMeshConfig('defaultConfig:\n  drainDuration: 30s\n  terminationDrainDuration: 10s\n');
    expect(violations).toEqual([]);
    expect(meshSettings(mesh)).toMatchObject({ drainDurationMs: 30000, terminationDrainDurationMs: 10000 });
    expect(settings('defaultConfig: {terminationDrainDuration: 1.5s}').terminationDrainDurationMs).toBe(1500);
    expect(settings('defaultConfig: {drainDuration: 30s}').terminationDrainDurationMs).toBeUndefined();
    expect(settings('').terminationDrainDurationMs).toBeUndefined();
    expect(parseMeshConfig('defaultConfig: {terminationDrainDuration: later}').violations.filter((v) => v.severity === 'error').map((v) => v.path)).toEqual(['defaultConfig.terminationDrainDuration']);
  });
});
