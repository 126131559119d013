/// <reference lib="dom" />
/** The Config page (every resource, read-only) and the pieces the other pages reuse. */
import { html } from 'htm/preact';
import { usePolled } from './data.js';

/** One stored resource as /ui/api/config gives it. */
export interface ConfigResource {
  kind: string; name: string; namespace: string; resourceVersion?: string; yaml: string; status?: unknown;
  findings: Array<{ severity: string; code: string; path: string; message: string }>;
  commands: string[];
}

/** One resource, folded. */
export function ResourceDetails({ r }: { r: ConfigResource }) {
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  const conds = (r.status as { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } | undefined)?.conditions ?? [];
  return html`<details data-resource=${`${r.kind}/${r.namespace}/${r.name}`}>
    <summary><strong>${r.kind}</strong> ${r.namespace}/${r.name} ${r.findings.length ? html`<span class=${errors ? 'bad' : 'state-STALE'}>${r.findings.length} finding${r.findings.length > 1 ? 's' : ''}</span>` : html`<span class="status-OK">valid</span>`}</summary>
    ${r.findings.length ? html`<ul>${r.findings.map((f) => html`<li><code>${f.code}</code> ${f.path ? html`<code>${f.path}</code>` : null}: ${f.message}</li>`)}</ul>` : null}
    ${conds.length ? html`<table><thead><tr><th>Condition</th><th>Status</th><th>Reason</th><th>Message</th></tr></thead><tbody>${conds.map((c) => html`<tr><td>${c.type}</td><td>${c.status}</td><td>${c.reason ?? ''}</td><td>${c.message ?? ''}</td></tr>`)}</tbody></table>` : null}
    <pre>${r.yaml}</pre>
    <p class="muted">To change it:</p>
    <pre>${r.commands.join('\n')}</pre>
  </details>`;
}

/** Rows of `bowline authn check`. */
export function AuthnTable({ rows }: { rows: Array<{ host: string; port: number; clientNamespace: string; server: { mode: string; source: string }; client: { mode: string; source: string }; status: string; message: string }> }) {
  if (!rows.length) return html`<p class="empty">No services with endpoints yet.</p>`;
  return html`<table aria-label="mTLS check"><thead><tr><th>Host:port</th><th>Clients in</th><th>Server mode</th><th>Client mode</th><th>Status</th><th>What to do</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr class=${r.status === 'CONFLICT' ? 'conflict' : ''} data-status=${r.status} data-host=${r.host}>
      <td>${r.host}:${r.port}</td><td>${r.clientNamespace}</td><td>${r.server.mode} <span class="muted">${r.server.source}</span></td>
      <td>${r.client.mode} <span class="muted">${r.client.source}</span></td><td class=${`status-${r.status}`}>${r.status}</td><td>${r.message}</td></tr>`)}</tbody></table>`;
}

/** The Config page. */
export function ConfigPage() {
  const { data } = usePolled<{ resources: ConfigResource[] }>('config', 5000);
  if (!data) return html`<p class="muted">Loading resources…</p>`;
  if (!data.resources.length) return html`<p class="empty">No configuration yet. Apply some: <code>bowline apply -f samples/bookinfo/networking/virtual-service-all-v1.yaml</code></p>`;
  const kinds = [...new Set(data.resources.map((r) => r.kind))];
  return html`<h2>Configuration</h2><p class="muted">Read-only; each resource shows the commands that change it.</p>
    ${kinds.map((k) => html`<section><h3>${k}</h3>${data.resources.filter((r) => r.kind === k).map((r) => html`<${ResourceDetails} r=${r} />`)}</section>`)}`;
}
