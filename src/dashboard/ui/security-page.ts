/// <reference lib="dom" />
/** The Security page: the mTLS check matrix, each proxy's certificate, AuthorizationPolicies per workload. */
import { html } from 'htm/preact';
import { AuthnTable } from './config-page.js';
import { usePolled } from './data.js';

interface SecurityAnswer {
  authn: Parameters<typeof AuthnTable>[0]['rows'];
  proxies: Array<{ id: string; role: string; workload: string; namespace: string; replica?: string; spiffeId?: string; notAfter?: string; issuedAt?: number; rotations: number; clockSkewMs?: number }>;
  policies: Array<{ name: string; namespace: string; action: string; selector: Record<string, string> | null; rules: number; workloads: string[] }>;
}

function expiry(iso: string | undefined): string {
  if (!iso) return '-';
  const left = Date.parse(iso) - Date.now();
  return `${iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} (${left > 0 ? `in ${Math.round(left / 3_600_000 * 10) / 10} h` : 'expired'})`;
}

/** A proxy whose host clock is a second or more off the control plane's (it refuses peers' certificates that are fine), else nothing. */
function clockNote(skewMs: number | undefined) {
  if (skewMs === undefined || Math.abs(skewMs) < 1000) return null;
  return html`<br/><span class="bad" data-clock-skew=${skewMs}>host clock ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs > 0 ? 'ahead of' : 'behind'} the control plane's: it judges peers' certificates by it (synchronise it: NTP)</span>`;
}

/** The Security page. */
export function SecurityPage() {
  const { data } = usePolled<SecurityAnswer>('security', 5000);
  if (!data) return html`<p class="muted">Loading…</p>`;
  const conflicts = data.authn.filter((r) => r.status === 'CONFLICT').length;
  return html`<h2>mTLS: server mode against client mode</h2>
    <p class=${conflicts ? 'bad' : 'muted'} role="status">${conflicts ? `${conflicts} CONFLICT row${conflicts > 1 ? 's' : ''}: requests there fail (503 or connection reset) until fixed.` : 'No conflicts.'}</p>
    <${AuthnTable} rows=${data.authn} />
    <h2>Proxy certificates</h2>
    ${data.proxies.length ? html`<table><thead><tr><th>Proxy</th><th>SPIFFE id</th><th>Expires</th><th>Issued over the stream</th></tr></thead><tbody>
      ${data.proxies.map((p) => html`<tr><td>${p.id} <span class="muted">${p.role}${p.replica !== undefined ? ` on ${p.replica}` : ''}</span>${clockNote(p.clockSkewMs)}</td><td>${p.spiffeId ?? html`<span class="muted">none (plaintext stream, no --token-file)</span>`}</td><td>${expiry(p.notAfter)}</td>
        <td>${p.rotations ? `${p.rotations} (last ${new Date(p.issuedAt!).toLocaleTimeString()})` : '-'}</td></tr>`)}</tbody></table>`
      : html`<p class="empty">No proxies connected.</p>`}
    <h2>AuthorizationPolicies</h2>
    ${data.policies.length ? html`<table><thead><tr><th>Policy</th><th>Action</th><th>Selector</th><th>Rules</th><th>Workloads it applies to</th></tr></thead><tbody>
      ${data.policies.map((p) => html`<tr><td>${p.namespace}/${p.name}</td><td>${p.action}</td><td>${p.selector ? Object.entries(p.selector).map(([k, v]) => `${k}=${v}`).join(', ') : 'whole namespace'}</td><td>${p.rules}</td>
        <td class=${p.workloads.length ? '' : 'bad'}>${p.workloads.join(', ') || 'none (selects no workload)'}</td></tr>`)}</tbody></table>`
      : html`<p class="muted">No AuthorizationPolicy: every request that passes mTLS is allowed.</p>`}`;
}
