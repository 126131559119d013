/// <reference lib="dom" />
/** The Proxies page: proxy-status. */
import { html } from 'htm/preact';
import type { ProxiesView } from '../api.js';
import { ms, usePolled } from './data.js';

const TYPES = ['listeners', 'routes', 'clusters', 'endpoints', 'secrets', 'authorization'] as const;

/** The Proxies page. */
export function ProxiesPage() {
  const { data } = usePolled<ProxiesView & { now: number }>('proxies', 3000);
  if (!data) return html`<p class="muted">Loading…</p>`;
  // Replicas on a shared store: every replica's proxies, a column naming the replica holding each stream, and the replicas that did not answer.
  const many = (data.replicas?.length ?? 0) > 1 || (data.unreachableReplicas?.length ?? 0) > 0;
  const missing = [...(data.unreachableReplicas ?? []).map((u) => `replica ${u.id} (${u.apiUrl}): ${u.error}`), ...(data.peersUnknown ? [data.peersUnknown] : [])];
  const warning = missing.length ? html`<p class="bad" role="alert">Not every replica answered; their proxies are not listed: ${missing.join('; ')}</p>` : null;
  if (!data.proxies.length) return html`${warning}<p class="empty">No proxy is connected. Start one with <code>bowline proxy --server HOST:15010 --name NAME --service NAME:PORT</code>, or run <code>bowline demo</code>.</p>`;
  return html`<h2>Proxies</h2>${warning}<table aria-label="Proxy status"><thead><tr><th>Proxy</th><th>Role</th>${many ? html`<th>Replica</th>` : null}${TYPES.map((t) => html`<th>${t}</th>`)}<th>Last ACK</th><th>Convergence</th><th>Pushes / NACKs</th></tr></thead>
    <tbody>${data.proxies.map((p) => html`<tr data-proxy=${p.id}><td>${p.id}<br/><span class="muted">${p.address}</span></td><td>${p.role}</td>${many ? html`<td data-replica=${p.replica ?? ''}>${p.replica ?? '-'}</td>` : null}
      ${TYPES.map((t) => { const s = p.types[t]; return html`<td class=${`state-${s?.state ?? 'NOT_SENT'}`} title=${s?.error ?? ''}>${s?.state ?? '-'}${s?.error ? html`<br/><small>${s.error.slice(0, 200)}</small>` : null}</td>`; })}
      <td>${p.lastAckAt ? `${Math.round((data.now - p.lastAckAt) / 1000)} s ago` : '-'}</td><td>${ms(p.lastConvergenceMs)}</td><td>${p.pushes} / ${p.nacks}</td></tr>`)}</tbody></table>`;
}
