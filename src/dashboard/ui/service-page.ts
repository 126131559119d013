/// <reference lib="dom" />
/** The Service page: golden signals, the split per version, and the config that applies. */
import { html } from 'htm/preact';
import type { SeriesPoint } from '../../push/server/stats-window.js';
import { Chart } from './chart.js';
import { fmt, usePolled } from './data.js';
import { AuthnTable, ResourceDetails, type ConfigResource } from './config-page.js';

interface ServiceAnswer {
  host: string; name: string; namespace: string;
  ports: Array<{ name: string; port: number; protocol: string }>;
  endpoints: Array<{ workload: string; version: string; address: string; tlsMode: string; health: string }>;
  series: SeriesPoint[];
  split: Array<{ version: string; requests: number; percent: number }>;
  periodMs: number;
  config: ConfigResource[];
  authn: Parameters<typeof AuthnTable>[0]['rows'];
  error?: string; known?: string[];
}

/** The list of services (Service page without a name). */
export function ServiceList() {
  const { data } = usePolled<{ services: Array<{ host: string; name: string; namespace: string }> }>('services', 5000);
  if (!data) return html`<p class="muted">Loading services…</p>`;
  if (!data.services.length) return html`<p class="empty">No services yet: start workloads (\`bowline demo\`) or add a ServiceEntry.</p>`;
  return html`<h2>Services</h2><ul>${data.services.map((s) => html`<li><a href=${`#/service/${encodeURIComponent(s.host)}`}>${s.name}</a> <span class="muted">${s.namespace} · ${s.host}</span></li>`)}</ul>`;
}

/** One service. */
export function ServicePage({ name, period }: { name: string; period: number }) {
  const { data: s } = usePolled<ServiceAnswer>(`service?name=${encodeURIComponent(name)}&period=${period}`, 3000);
  if (!s) return html`<p class="muted">Loading ${name}…</p>`;
  if (s.error) return html`<p class="empty">${s.error}. Known services: ${(s.known ?? []).join(', ') || 'none'}.</p>`;
  const x = s.series.map((p) => p.t / 1000);
  const versions = [...new Set(s.series.flatMap((p) => Object.keys(p.byVersion)))].sort();
  const none = s.series.every((p) => p.rps === 0);
  return html`
    <h2>${s.name} <span class="muted">${s.namespace} · ${s.host}</span></h2>
    <p class="muted">Ports: ${s.ports.map((p) => `${p.name} ${p.port}/${p.protocol}`).join(', ')}</p>
    <h3>Traffic split per version over the last
      <select aria-label="Period of the split" value=${period} onChange=${(e: Event) => { location.hash = `#/service/${encodeURIComponent(name)}?period=${(e.target as HTMLSelectElement).value}`; }}>
        ${[20, 60, 300, 900].map((p) => html`<option value=${p}>${p < 60 ? `${p} s` : `${p / 60} min`}</option>`)}
      </select></h3>
    ${s.split.length
      ? html`<div class="split" role="list" aria-label="Traffic split">${s.split.map((v) => html`<div class="v" role="listitem" data-version=${v.version} data-percent=${v.percent.toFixed(1)}><strong>${v.version}</strong> ${fmt(v.percent)} % <span class="muted">(${v.requests} requests)</span></div>`)}</div>`
      : html`<p class="empty">No requests to ${s.name} in the last ${s.periodMs / 1000} s. Send some traffic; the split appears within a few seconds.</p>`}
    ${none ? html`<p class="muted">The charts fill in as proxies report traffic (every 5 s).</p>` : null}
    <div class="cards">
      <${Chart} title="Requests per second by version" unit="rps" x=${x} series=${versions.map((v) => ({ label: v, values: s.series.map((p) => p.byVersion[v] ?? 0) }))} />
      <${Chart} title="Error ratio" unit="%" x=${x} series=${[{ label: 'errors', values: s.series.map((p) => 100 * p.errorRatio) }]} />
      <${Chart} title="Latency" unit="ms" x=${x} series=${(['p50', 'p90', 'p99'] as const).map((q) => ({ label: q, values: s.series.map((p) => p[q] ?? null) }))} />
    </div>
    <h3>Endpoints</h3>
    <table><thead><tr><th>Workload</th><th>Version</th><th>Address</th><th>mTLS</th><th>Health</th></tr></thead>
      <tbody>${s.endpoints.map((e) => html`<tr><td>${e.workload}</td><td>${e.version}</td><td>${e.address}</td><td>${e.tlsMode === 'istio' ? 'sidecar' : 'none'}</td><td>${e.health}</td></tr>`)}</tbody></table>
    ${s.endpoints.length ? null : html`<p class="empty">No endpoints: no workload serves ${s.name} yet.</p>`}
    <h3>Configuration that applies</h3>
    ${s.config.length ? s.config.map((r) => html`<${ResourceDetails} r=${r} />`) : html`<p class="muted">No VirtualService, DestinationRule or policy selects ${s.name}: default routing, round robin, auto mTLS.</p>`}
    <h3>mTLS (authn check)</h3>
    <${AuthnTable} rows=${s.authn} />`;
}
