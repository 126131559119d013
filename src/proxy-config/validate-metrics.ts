/** Validation of `mesh.metrics` (Telemetry metrics overrides, protocol 9). */
import { expressionError } from './expression.js';
import { ISTIO_METRICS } from './types.js';
import type { Checker } from './validate-kit.js';

/** A Prometheus label name (not `__` reserved, not `le`, which histograms use). */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Checks `mesh.metrics`: known metrics and modes, valid label names, parseable expressions. */
export function metricsSettings(c: Checker, v: unknown): void {
  const m = c.obj(v, 'mesh.metrics', false);
  if (!m) return;
  for (const k of Object.keys(m)) if (!['enabled', 'overrides'].includes(k)) c.error(`mesh.metrics.${k}`, 'unknown field');
  c.bool(m.enabled, 'mesh.metrics.enabled', false);
  c.arr(m.overrides, 'mesh.metrics.overrides').forEach((o, i) => {
    const path = `mesh.metrics.overrides[${i}]`;
    const ov = c.obj(o, path);
    if (!ov) return;
    for (const k of Object.keys(ov)) if (!['metric', 'mode', 'disabled', 'tags'].includes(k)) c.error(`${path}.${k}`, 'unknown field');
    c.oneOf(ov.metric, `${path}.metric`, ['ALL_METRICS', ...ISTIO_METRICS]);
    c.oneOf(ov.mode, `${path}.mode`, ['CLIENT_AND_SERVER', 'CLIENT', 'SERVER']);
    c.bool(ov.disabled, `${path}.disabled`, false);
    c.arr(ov.tags, `${path}.tags`, false).forEach((t, j) => {
      const tp = `${path}.tags[${j}]`;
      const tag = c.obj(t, tp);
      if (!tag) return;
      for (const k of Object.keys(tag)) if (!['name', 'operation', 'value'].includes(k)) c.error(`${tp}.${k}`, 'unknown field');
      if (c.str(tag.name, `${tp}.name`) && (!LABEL_NAME.test(tag.name) || tag.name.startsWith('__') || tag.name === 'le')) c.error(`${tp}.name`, `"${tag.name}" is not a Prometheus label name`);
      c.oneOf(tag.operation, `${tp}.operation`, ['UPSERT', 'REMOVE']);
      if (tag.operation === 'UPSERT' && c.str(tag.value, `${tp}.value`)) {
        const err = expressionError(tag.value);
        if (err) c.error(`${tp}.value`, err);
      }
      if (tag.operation === 'REMOVE' && tag.value !== undefined) c.error(`${tp}.value`, 'REMOVE takes no value');
    });
  });
}
