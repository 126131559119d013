// Telemetry CEL fields at validation: refused when they do not parse (or misuse has()), warned for attributes no proxy binds.
import { describe, expect, it } from 'vitest';
import { parseAndValidate } from './index.js';

const tel = (body: string) => `apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t, namespace: default}\nspec:\n${body}`;
const findings = (yaml: string) => parseAndValidate(yaml, { file: 't.yaml' }).violations.filter((v) => v.code !== 'BOWLINE_W_API_NOT_ENFORCED').map((v) => `${v.severity} ${v.code} ${v.path}`);

describe('Telemetry expressions', () => {
  it('accepts CEL over the attributes the proxies bind', () => {
    expect(findings(tel(`  metrics:\n  - overrides:\n    - tagOverrides:\n        tenant: {value: "'x-tenant' in request.headers ? request.headers['x-tenant'] : 'none'"}\n        code: {value: "string(response.code)"}\n  accessLogging:\n  - filter: {expression: "response.code >= 400 && connection.mtls"}\n`))).toEqual([]);
  });

  it('refuses an expression that does not parse, has() on a map key, and a tag that is not a Prometheus label', () => {
    expect(findings(tel(`  metrics:\n  - overrides:\n    - tagOverrides:\n        tenant: {value: "request.headers["}\n        t2: {value: "has(request.headers['x'])"}\n        bad-name: {operation: REMOVE}\n  accessLogging:\n  - filter: {expression: "response.code >="}\n`))).toEqual([
      'error BOWLINE_E_API_EXPRESSION spec.metrics[0].overrides[0].tagOverrides.tenant.value',
      'error BOWLINE_E_API_EXPRESSION spec.metrics[0].overrides[0].tagOverrides.t2.value',
      'error BOWLINE_E_API_METRIC_TAG spec.metrics[0].overrides[0].tagOverrides.bad-name',
      'error BOWLINE_E_API_EXPRESSION spec.accessLogging[0].filter.expression',
    ]);
  });

  it('warns for an attribute root no proxy binds', () => {
    expect(findings(tel(`  accessLogging:\n  - filter: {expression: "filter_state['x'] == 'y' && [1].exists(i, i > 0)"}\n`))).toEqual(['warning BOWLINE_W_API_EXPRESSION_ATTRIBUTE spec.accessLogging[0].filter.expression']);
  });
});
