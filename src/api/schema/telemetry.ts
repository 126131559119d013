import { arr, bool, dur, en, map, num, obj, req, str, type Check } from './dsl.js';
import { matchLabelsSelector, targetRef } from './common.js';
import { celField } from '../cel.js';

const mode = obj('WorkloadMode', { mode: en('CLIENT_AND_SERVER', 'CLIENT', 'SERVER') });
const providers = arr(obj('ProviderRef', { name: req(str()) }));
const metric = en('ALL_METRICS', 'REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE', 'TCP_OPENED_CONNECTIONS', 'TCP_CLOSED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES', 'GRPC_REQUEST_MESSAGES', 'GRPC_RESPONSE_MESSAGES');

const tagOverrideCheck: Check = (o, path, ctx) => {
  const op = o.operation ?? 'UPSERT';
  if (op === 'UPSERT' && (o.value === undefined || o.value === '')) ctx.add({ code: 'BOWLINE_E_API_REQUIRED', path, message: 'a tag override with operation UPSERT needs a value' });
  if (op === 'REMOVE' && o.value !== undefined) ctx.add({ code: 'BOWLINE_E_API_ONEOF', path: [...path, 'value'], atKey: true, message: 'a tag override with operation REMOVE must not set a value' });
  const tag = path[path.length - 1];
  if (typeof tag === 'string' && (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(tag) || tag.startsWith('__') || tag === 'le')) {
    ctx.add({ code: 'BOWLINE_E_API_METRIC_TAG', path, atKey: true, message: `"${tag}" is not a Prometheus label name (letters, digits and _, not starting with a digit or __, not le)` });
  }
  if (op === 'UPSERT') celField('value')(o, path, ctx);
};

/** spec of a Telemetry: tracing, metrics and access-log overrides for a namespace or the selected workloads. */
export const telemetrySpec = obj('TelemetrySpec', {
  selector: matchLabelsSelector,
  targetRef,
  targetRefs: arr(targetRef),
  tracing: arr(obj('Tracing', {
    match: mode,
    providers,
    randomSamplingPercentage: num(0, 100),
    disableSpanReporting: bool(),
    customTags: map(obj('CustomTag', {
      literal: obj('Literal', { value: req(str()) }),
      environment: obj('Environment', { name: req(str()), defaultValue: str() }),
      header: obj('RequestHeader', { name: req(str()), defaultValue: str() }),
      formatter: obj('Formatter', { value: req(str()) }),
    }, { oneOf: [['literal', 'environment', 'header', 'formatter']] })),
    useRequestIdForTraceSampling: bool(),
    enableIstioTags: bool(),
    disableContextPropagation: bool(),
  })),
  metrics: arr(obj('Metrics', {
    providers,
    overrides: arr(obj('MetricsOverrides', {
      match: obj('MetricSelector', { metric, customMetric: str((v) => (v === '' ? { code: 'BOWLINE_E_API_EMPTY', message: 'customMetric must not be empty' } : undefined)), mode: en('CLIENT_AND_SERVER', 'CLIENT', 'SERVER') }, { oneOf: [['metric', 'customMetric']] }),
      disabled: bool(),
      tagOverrides: map(obj('TagOverride', { operation: en('UPSERT', 'REMOVE'), value: str() }, { check: tagOverrideCheck })),
    })),
    reportingInterval: dur(1),
  })),
  accessLogging: arr(obj('AccessLogging', {
    match: mode,
    providers,
    disabled: bool(),
    filter: obj('Filter', { expression: str() }, { check: celField('expression') }),
  })),
}, { oneOf: [['selector', 'targetRef', 'targetRefs']] });

/** spec of a ProxyConfig: per-workload proxy settings (concurrency, environment, image type). */
export const proxyConfigSpec = obj('ProxyConfigSpec', {
  selector: matchLabelsSelector,
  concurrency: { t: 'int', min: 0 },
  environmentVariables: map(str((v) => (v.length <= 2048 ? undefined : { code: 'BOWLINE_E_API_RANGE', message: 'an environment variable value is at most 2048 characters' }))),
  image: obj('ProxyImage', { imageType: str() }),
});
