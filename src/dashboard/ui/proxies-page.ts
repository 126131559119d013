/// <reference lib="dom" />
/** The Proxies page: proxy-status. */
import { html } from 'htm/preact';
import type { ProxyStatus } from '../../push/server/connection.js';
import { ms, usePolled } from './data.js';

const TYPES = ['listeners', 'routes', 'clusters', 'endpoints', 'secrets', 'authorization'] as const;

/** The Proxies page. */
export function ProxiesPage() {
  const { data } = usePolled<{ proxies: ProxyStatus[]; now: number }>('proxies', 3000);
  if (!data) return html`<p class="muted">Loading…</p>`;
  if (!data.proxies.length) return html`<p class="empty">No proxy is connected. Start one with <code>bowline proxy --server HOST:15010 --name NAME --service NAME:PORT</code>, or run <code>bowline demo</code>.</p>`;
  return html`<h2>Proxies</h2><table aria-label="Proxy status"><thead><tr><th>Proxy</th><th>Role</th>${TYPES.map((t) => html`<th>${t}</th>`)}<th>Last ACK</th><th>Convergence</th><th>Pushes / NACKs</th></tr></thead>
    <tbody>${data.proxies.map((p) => html`<tr data-proxy=${p.id}><td>${p.id}<br/><span class="muted">${p.address}</span></td><td>${p.role}</td>
      ${TYPES.map((t) => { const s = p.types[t]; return html`<td class=${`state-${s?.state ?? 'NOT_SENT'}`} title=${s?.error ?? ''}>${s?.state ?? '-'}${s?.error ? html`<br/><small>${s.error.slice(0, 200)}</small>` : null}</td>`; })}
      <td>${p.lastAckAt ? `${Math.round((data.now - p.lastAckAt) / 1000)} s ago` : '-'}</td><td>${ms(p.lastConvergenceMs)}</td><td>${p.pushes} / ${p.nacks}</td></tr>`)}</tbody></table>`;
}
