/**
 * Generates the Grafana dashboards in this folder from one description each, so panels stay
 * consistent: `node --import tsx dashboards/generate.ts`. The JSON files are committed; the
 * e2e test test/e2e/telemetry-prometheus.test.ts runs every query against a real Prometheus.
 * Queries follow Istio's own dashboards (same metric names and labels), so Istio's dashboards
 * also work on Bowline unchanged.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One query of a panel. */
interface Target { expr: string; legend: string }
/** One panel: a time series or a single stat. */
interface Panel { title: string; kind: 'timeseries' | 'stat'; unit: string; targets: Target[]; w?: number; description?: string }
/** A dashboard: variables (label_values queries) and rows of panels. */
interface Dash { uid: string; title: string; file: string; vars: Array<{ name: string; label: string; query: string; includeAll?: boolean }>; rows: Array<{ title: string; panels: Panel[] }> }

const rate = (sel: string, w = '1m'): string => `sum(rate(istio_requests_total{${sel}}[${w}]))`;
const quantiles = (metric: string, sel: string, by = ''): Target[] =>
  ['0.50', '0.90', '0.99'].map((q) => ({ expr: `histogram_quantile(${q}, sum(rate(${metric}_bucket{${sel}}[1m])) by (le${by ? ', ' + by : ''}))`, legend: `P${Number(q) * 100}${by ? ' {{' + by + '}}' : ''}` }));

const mesh: Dash = {
  uid: 'bowline-mesh',
  title: 'Bowline / Istio Mesh',
  file: 'istio-mesh-dashboard.json',
  vars: [],
  rows: [
    {
      title: 'Global',
      panels: [
        { title: 'Global Request Volume', kind: 'stat', unit: 'reqps', targets: [{ expr: `round(${rate('reporter="source"')}, 0.001)`, legend: 'requests' }] },
        { title: 'Global Success Rate (non-5xx responses)', kind: 'stat', unit: 'percentunit', targets: [{ expr: `${rate('reporter="source",response_code!~"5.*"')} / ${rate('reporter="source"')}`, legend: 'success' }] },
        { title: '4xxs', kind: 'stat', unit: 'reqps', targets: [{ expr: `sum(rate(istio_requests_total{reporter="source",response_code=~"4.*"}[1m])) or vector(0)`, legend: '4xx' }] },
        { title: '5xxs', kind: 'stat', unit: 'reqps', targets: [{ expr: `sum(rate(istio_requests_total{reporter="source",response_code=~"5.*"}[1m])) or vector(0)`, legend: '5xx' }] },
      ],
    },
    {
      title: 'Services',
      panels: [
        { title: 'Requests by destination service', kind: 'timeseries', unit: 'reqps', w: 12, targets: [{ expr: `sum(rate(istio_requests_total{reporter="destination"}[1m])) by (destination_service)`, legend: '{{destination_service}}' }] },
        { title: 'Success rate by destination service', kind: 'timeseries', unit: 'percentunit', w: 12, targets: [{ expr: `sum(rate(istio_requests_total{reporter="destination",response_code!~"5.*"}[1m])) by (destination_service) / sum(rate(istio_requests_total{reporter="destination"}[1m])) by (destination_service)`, legend: '{{destination_service}}' }] },
        { title: 'P99 latency by destination service', kind: 'timeseries', unit: 'ms', w: 12, targets: [{ expr: `histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[1m])) by (le, destination_service))`, legend: '{{destination_service}}' }] },
        { title: 'Requests by response flags (non-empty)', kind: 'timeseries', unit: 'reqps', w: 12, targets: [{ expr: `sum(rate(istio_requests_total{response_flags!="-"}[1m])) by (reporter, response_flags, destination_service)`, legend: '{{reporter}} {{response_flags}} {{destination_service}}' }] },
        { title: 'TCP bytes sent by destination service', kind: 'timeseries', unit: 'Bps', w: 12, targets: [{ expr: `sum(rate(istio_tcp_sent_bytes_total{reporter="destination"}[1m])) by (destination_service)`, legend: '{{destination_service}}' }] },
        { title: 'mTLS share of requests', kind: 'timeseries', unit: 'percentunit', w: 12, targets: [{ expr: `sum(rate(istio_requests_total{reporter="destination",connection_security_policy="mutual_tls"}[1m])) / sum(rate(istio_requests_total{reporter="destination"}[1m]))`, legend: 'mutual_tls' }] },
      ],
    },
  ],
};

const svcSel = 'reporter=~"$qrep",destination_service=~"$service"';
const service: Dash = {
  uid: 'bowline-service',
  title: 'Bowline / Istio Service',
  file: 'istio-service-dashboard.json',
  vars: [
    { name: 'service', label: 'Service', query: 'label_values(istio_requests_total{reporter="destination"}, destination_service)' },
    { name: 'qrep', label: 'Reporter', query: 'label_values(istio_requests_total, reporter)' },
    { name: 'srcns', label: 'Client namespace', query: 'label_values(istio_requests_total{destination_service=~"$service"}, source_workload_namespace)', includeAll: true },
  ],
  rows: [
    {
      title: 'Service: $service',
      panels: [
        { title: 'Client Request Volume', kind: 'stat', unit: 'reqps', targets: [{ expr: `round(${rate(svcSel)}, 0.001)`, legend: 'requests' }] },
        { title: 'Client Success Rate (non-5xx responses)', kind: 'stat', unit: 'percentunit', targets: [{ expr: `${rate(svcSel + ',response_code!~"5.*"')} / ${rate(svcSel)}`, legend: 'success' }] },
        { title: 'Client Request Duration', kind: 'timeseries', unit: 'ms', targets: quantiles('istio_request_duration_milliseconds', svcSel) },
        { title: 'TCP Received Bytes', kind: 'stat', unit: 'Bps', targets: [{ expr: `sum(rate(istio_tcp_received_bytes_total{${svcSel}}[1m])) or vector(0)`, legend: 'bytes' }] },
      ],
    },
    {
      title: 'Client workloads',
      panels: [
        { title: 'Incoming Requests By Source And Response Code', kind: 'timeseries', unit: 'reqps', w: 12, targets: [{ expr: `round(sum(rate(istio_requests_total{${svcSel},source_workload_namespace=~"$srcns"}[1m])) by (source_workload, source_workload_namespace, response_code), 0.001)`, legend: '{{source_workload}}.{{source_workload_namespace}} : {{response_code}}' }] },
        { title: 'Incoming Success Rate (non-5xx) By Source', kind: 'timeseries', unit: 'percentunit', w: 12, targets: [{ expr: `sum(rate(istio_requests_total{${svcSel},response_code!~"5.*"}[1m])) by (source_workload, source_workload_namespace) / sum(rate(istio_requests_total{${svcSel}}[1m])) by (source_workload, source_workload_namespace)`, legend: '{{source_workload}}.{{source_workload_namespace}}' }] },
        { title: 'Incoming Request Duration By Source', kind: 'timeseries', unit: 'ms', w: 12, targets: quantiles('istio_request_duration_milliseconds', svcSel, 'source_workload') },
        { title: 'Incoming Request Size By Source', kind: 'timeseries', unit: 'decbytes', w: 12, targets: quantiles('istio_request_bytes', svcSel, 'source_workload') },
        { title: 'Response Size By Source', kind: 'timeseries', unit: 'decbytes', w: 12, targets: quantiles('istio_response_bytes', svcSel, 'source_workload') },
        { title: 'Requests By Destination Version', kind: 'timeseries', unit: 'reqps', w: 12, targets: [{ expr: `sum(rate(istio_requests_total{${svcSel}}[1m])) by (destination_version)`, legend: '{{destination_version}}' }] },
      ],
    },
  ],
};

const wlIn = 'reporter=~"$qrep",destination_workload="$workload",destination_workload_namespace=~"$namespace"';
const wlOut = 'reporter="source",source_workload="$workload",source_workload_namespace=~"$namespace"';
const workload: Dash = {
  uid: 'bowline-workload',
  title: 'Bowline / Istio Workload',
  file: 'istio-workload-dashboard.json',
  vars: [
    { name: 'namespace', label: 'Namespace', query: 'label_values(istio_requests_total, destination_workload_namespace)' },
    { name: 'workload', label: 'Workload', query: 'label_values(istio_requests_total{destination_workload_namespace=~"$namespace"}, destination_workload)' },
    { name: 'qrep', label: 'Reporter', query: 'label_values(istio_requests_total, reporter)' },
  ],
  rows: [
    {
      title: 'Workload: $workload.$namespace',
      panels: [
        { title: 'Incoming Request Volume', kind: 'stat', unit: 'reqps', targets: [{ expr: `round(${rate(wlIn)}, 0.001)`, legend: 'requests' }] },
        { title: 'Incoming Success Rate (non-5xx responses)', kind: 'stat', unit: 'percentunit', targets: [{ expr: `${rate(wlIn + ',response_code!~"5.*"')} / ${rate(wlIn)}`, legend: 'success' }] },
        { title: 'Request Duration', kind: 'timeseries', unit: 'ms', targets: quantiles('istio_request_duration_milliseconds', wlIn) },
        { title: 'TCP Server Traffic', kind: 'timeseries', unit: 'Bps', targets: [{ expr: `sum(rate(istio_tcp_sent_bytes_total{${wlIn}}[1m])) or vector(0)`, legend: 'sent' }, { expr: `sum(rate(istio_tcp_received_bytes_total{${wlIn}}[1m])) or vector(0)`, legend: 'received' }] },
      ],
    },
    {
      title: 'Inbound workloads',
      panels: [
        { title: 'Incoming Requests By Source And Response Code', kind: 'timeseries', unit: 'reqps', w: 12, targets: [{ expr: `round(sum(rate(istio_requests_total{${wlIn}}[1m])) by (source_workload, source_workload_namespace, response_code), 0.001)`, legend: '{{source_workload}}.{{source_workload_namespace}} : {{response_code}}' }] },
        { title: 'Incoming Request Duration By Source', kind: 'timeseries', unit: 'ms', w: 12, targets: quantiles('istio_request_duration_milliseconds', wlIn, 'source_workload') },
      ],
    },
    {
      title: 'Outbound services',
      panels: [
        { title: 'Outgoing Requests By Destination And Response Code', kind: 'timeseries', unit: 'reqps', w: 12, targets: [{ expr: `round(sum(rate(istio_requests_total{${wlOut}}[1m])) by (destination_service, response_code), 0.001)`, legend: '{{destination_service}} : {{response_code}}' }] },
        { title: 'Outgoing Success Rate (non-5xx) By Destination', kind: 'timeseries', unit: 'percentunit', w: 12, targets: [{ expr: `sum(rate(istio_requests_total{${wlOut},response_code!~"5.*"}[1m])) by (destination_service) / sum(rate(istio_requests_total{${wlOut}}[1m])) by (destination_service)`, legend: '{{destination_service}}' }] },
        { title: 'Outgoing Request Duration By Destination', kind: 'timeseries', unit: 'ms', w: 12, targets: quantiles('istio_request_duration_milliseconds', wlOut, 'destination_service') },
        { title: 'Outgoing Requests By Response Flags', kind: 'timeseries', unit: 'reqps', w: 12, targets: [{ expr: `sum(rate(istio_requests_total{${wlOut},response_flags!="-"}[1m])) by (destination_service, response_flags)`, legend: '{{destination_service}} {{response_flags}}' }] },
      ],
    },
  ],
};

/** Grafana JSON (schemaVersion 39) for a description. */
export function render(d: Dash): unknown {
  const panels: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const row of d.rows) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ }, panels: [] });
    let x = 0;
    for (const p of row.panels) {
      const w = p.w ?? 6;
      if (x + w > 24) { x = 0; y += 8; }
      panels.push({
        id: id++,
        type: p.kind,
        title: p.title,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w, x, y },
        fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
        options: p.kind === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area' } : { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
        targets: p.targets.map((t, i) => ({ refId: String.fromCharCode(65 + i), expr: t.expr, legendFormat: t.legend, datasource: { type: 'prometheus', uid: '${datasource}' } })),
      });
      x += w;
    }
    y += 8;
  }
  return {
    uid: d.uid,
    title: d.title,
    tags: ['bowline', 'istio'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '10s',
    time: { from: 'now-15m', to: 'now' },
    timezone: 'browser',
    // Grafana's import dialog asks for DS_PROMETHEUS and replaces `${DS_PROMETHEUS}` with the chosen
    // data source: it becomes the `datasource` variable's current value, which every panel uses.
    // Provisioned from files (no import step), the variable falls back to the default Prometheus.
    __inputs: [{ name: 'DS_PROMETHEUS', label: 'Prometheus', description: 'Prometheus that scrapes the proxies', type: 'datasource', pluginId: 'prometheus', pluginName: 'Prometheus' }],
    __requires: [
      { type: 'grafana', id: 'grafana', name: 'Grafana', version: '9.0.0' },
      { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
      { type: 'panel', id: 'stat', name: 'Stat', version: '' },
      { type: 'panel', id: 'timeseries', name: 'Time series', version: '' },
    ],
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: { selected: true, text: 'Prometheus', value: '${DS_PROMETHEUS}' }, hide: 0 },
        ...d.vars.map((v) => ({
          name: v.name,
          label: v.label,
          type: 'query',
          datasource: { type: 'prometheus', uid: '${datasource}' },
          query: { query: v.query, refId: 'vars' },
          definition: v.query,
          refresh: 1,
          includeAll: v.includeAll === true,
          allValue: v.includeAll ? '.*' : undefined,
          multi: false,
          current: {},
          hide: 0,
        })),
      ],
    },
    panels,
  };
}

/** The three dashboards (for the generator and for tests that check their queries). */
export const dashboards: Dash[] = [mesh, service, workload];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = fileURLToPath(new URL('./', import.meta.url));
  for (const d of dashboards) writeFileSync(dir + d.file, JSON.stringify(render(d), null, 2) + '\n');
  process.stdout.write(`wrote ${dashboards.map((d) => d.file).join(', ')}\n`);
}
