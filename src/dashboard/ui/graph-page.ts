/// <reference lib="dom" />
/** The Graph page: the mesh as services and versions, with live edges; click for details. */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { GraphEdge, GraphNode, MeshGraph } from '../graph.js';
import { fmt, ms, usePolled } from './data.js';
import { layout, NODE_H } from './layout.js';

type GraphAnswer = MeshGraph & { source: string; periodMs: number; proxies: number; trafficMissing?: string[] };

function edgeLabel(e: GraphEdge): string {
  return `${fmt(e.rps)} rps · ${fmt(100 * e.errorRatio)}% err · p99 ${ms(e.p99)}`;
}

function Details({ node, edge, g }: { node?: GraphNode; edge?: GraphEdge; g: GraphAnswer }) {
  if (edge) {
    const from = g.nodes.find((n) => n.id === edge.from);
    const to = g.nodes.find((n) => n.id === edge.to);
    return html`<aside class="details" aria-label="Edge details">
      <h2>${from?.label} → ${to?.label}</h2>
      <dl>
        <dt>Service</dt><dd>${edge.service}</dd>
        <dt>Requests</dt><dd>${edge.requests} in the last ${g.periodMs / 1000} s (${fmt(edge.rps, 2)} per second)</dd>
        <dt>Errors</dt><dd>${edge.errors} (${fmt(100 * edge.errorRatio)} %)</dd>
        <dt>Latency</dt><dd>p50 ${ms(edge.p50)}, p99 ${ms(edge.p99)}</dd>
        <dt>Responses</dt><dd>${Object.entries(edge.classes).map(([c, n]) => `${c}: ${n}`).join(', ') || '-'}</dd>
        <dt>Protocol</dt><dd>${edge.protocol}</dd>
        <dt>mTLS</dt><dd>${edge.mtls ? 'yes: mutual TLS (SPIFFE identities verified)' : 'not mutual TLS (or not known: reported by the caller)'}</dd>
        <dt>Reported by</dt><dd>${edge.reporter === 'destination' ? 'the callee\'s proxy' : 'the caller\'s proxy'}</dd>
      </dl>
      <p><a href=${`#/service/${encodeURIComponent(edge.service)}`}>Open the service ${edge.service.split('.')[0]}</a></p>
    </aside>`;
  }
  if (node) {
    const out = g.edges.filter((e) => e.from === node.id);
    const inc = g.edges.filter((e) => e.to === node.id);
    return html`<aside class="details" aria-label="Node details">
      <h2>${node.label}</h2>
      <dl>
        <dt>Workload</dt><dd>${node.workload}.${node.namespace}</dd>
        <dt>Kind</dt><dd>${node.kind}${node.hasProxy ? ' (with proxy)' : ' (no proxy)'}</dd>
        ${node.version ? html`<dt>Version</dt><dd>${node.version}</dd>` : null}
        <dt>Incoming</dt><dd>${fmt(inc.reduce((a, e) => a + e.rps, 0), 2)} rps from ${inc.length} callers</dd>
        <dt>Outgoing</dt><dd>${out.map((e) => e.service.split('.')[0]).join(', ') || 'none'}</dd>
      </dl>
      ${node.kind === 'workload' ? html`<p><a href=${`#/service/${encodeURIComponent(node.app + '.' + node.namespace)}`}>Open the service ${node.app}</a></p>` : null}
    </aside>`;
  }
  return html`<aside class="details" aria-label="Details"><p class="muted">Select a node or an edge (click, or focus it and press Enter) to see its numbers.</p>
    <p class="muted">Edges: requests per second, error %, p99 latency over the last ${g.periodMs / 1000} s; a green lock and "mTLS" mark mutual TLS. Traffic from ${g.source === 'prometheus' ? 'Prometheus' : 'the proxies\' reports'}; ${g.proxies} proxies connected.</p></aside>`;
}

/** The Graph page. */
export function GraphPage() {
  const { data: g } = usePolled<GraphAnswer>('graph');
  const [sel, setSel] = useState<string | undefined>();
  if (!g) return html`<p class="muted">Loading the graph…</p>`;
  const groupOf = (n: GraphNode): string => (n.kind === 'workload' ? `${n.app}.${n.namespace}` : n.id);
  const { boxes, width, height } = layout(g.nodes.map((n) => ({ id: n.id, group: groupOf(n), kind: n.kind })), g.edges);
  const groups = new Map<string, { label: string; x: number; y: number; w: number; h: number }>();
  for (const n of g.nodes) {
    if (n.kind !== 'workload') continue;
    const b = boxes.get(n.id)!;
    const k = groupOf(n);
    const cur = groups.get(k);
    if (!cur) groups.set(k, { label: `${n.app} (${n.namespace})`, x: b.x - 8, y: b.y - 18, w: b.w + 16, h: b.h + 26 });
    else cur.h = b.y + b.h + 8 - cur.y;
  }
  const key = (e: KeyboardEvent, id: string): void => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); setSel(id); } };
  return html`
    ${g.empty ? html`<p class="empty" role="status">${g.empty}</p>` : null}
    ${g.trafficMissing?.length ? html`<p class="bad" role="alert">Not every replica's traffic is shown: ${g.trafficMissing.join('; ')}</p>` : null}
    <div class="graph-wrap">
      <div class="graph">
        <svg width=${Math.max(width, 300)} height=${Math.max(height + 20, 120)} role="img" aria-label="Service graph">
          <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#8c959f" /></marker></defs>
          ${[...groups.values()].map((gr) => html`<g class="group"><rect x=${gr.x} y=${gr.y} width=${gr.w} height=${gr.h} rx="8" /><text x=${gr.x + 6} y=${gr.y + 12}>${gr.label}</text></g>`)}
          ${g.edges.map((e) => {
            const a = boxes.get(e.from);
            const b = boxes.get(e.to);
            if (!a || !b) return null;
            const x1 = a.x + a.w, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
            const mx = (x1 + x2) / 2;
            // Labels sit just before the target, stacked when several edges arrive at one node.
            const into = g.edges.filter((x) => x.to === e.to);
            const i = into.indexOf(e);
            const ly = y2 - 6 + (i - (into.length - 1) / 2) * 26;
            const lx = x2 - 10;
            const label = edgeLabel(e);
            return html`<g class=${`edge${e.errorRatio > 0.05 ? ' errors' : ''}${sel === e.id ? ' selected' : ''}`} tabindex="0" role="button"
                data-edge=${`${e.from}>${e.to}`} data-service=${e.service} data-rps=${e.rps} data-mtls=${String(e.mtls)}
                aria-label=${`${e.from} to ${e.to}: ${label}${e.mtls ? ', mutual TLS' : ''}, ${e.protocol}`}
                onClick=${() => setSel(e.id)} onKeyDown=${(ev: KeyboardEvent) => key(ev, e.id)}>
              <path d=${`M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2 - 2} ${y2}`} marker-end="url(#arrow)" />
              <text x=${lx} y=${ly} text-anchor="end">${label}</text>
              <text x=${lx} y=${ly + 11} text-anchor="end" class="proto">${e.protocol}${e.mtls ? ' · mTLS' : ''}</text>
              ${e.mtls ? html`<g class="lock" transform=${`translate(${lx - 7 - 6 * (e.protocol.length + 7)}, ${ly + 3})`} aria-hidden="true"><title>mutual TLS</title><rect x="0" y="3" width="8" height="6" rx="1" /><path d="M 1.8 3 V 1.8 a 2.2 2.2 0 0 1 4.4 0 V 3" /></g>` : null}
            </g>`;
          })}
          ${g.nodes.map((n) => {
            const b = boxes.get(n.id)!;
            return html`<g class=${`node ${n.kind}${sel === n.id ? ' selected' : ''}`} tabindex="0" role="button" data-node=${n.id}
                aria-label=${`${n.kind === 'gateway' ? 'gateway ' : ''}${n.label} (${n.namespace})`}
                onClick=${() => setSel(n.id)} onKeyDown=${(ev: KeyboardEvent) => key(ev, n.id)}>
              <rect x=${b.x} y=${b.y} width=${b.w} height=${b.h} rx="6" />
              <text x=${b.x + b.w / 2} y=${b.y + 21} text-anchor="middle">${n.kind === 'gateway' ? '⇥ ' : ''}${n.label}</text>
            </g>`;
          })}
        </svg>
      </div>
      <${Details} node=${g.nodes.find((n) => n.id === sel)} edge=${g.edges.find((e) => e.id === sel)} g=${g} />
    </div>`;
}
