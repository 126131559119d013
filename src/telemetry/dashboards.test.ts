// The shipped Grafana dashboards (dashboards/*.json) are importable as they are: Grafana's
// dashboard model fields, the DS_PROMETHEUS input wired to the data-source variable every panel
// uses, and queries that only name metrics and labels the proxy emits.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HTTP_LABELS, IstioMetrics, TCP_LABELS } from './metrics/istio.js';
import { Family, Registry } from './metrics/registry.js';

const dir = new URL('../../dashboards/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
type Panel = { id: number; type: string; title: string; gridPos: { h: number; w: number; x: number; y: number }; datasource?: { type: string; uid: string }; targets?: Array<{ refId: string; expr: string; datasource: { uid: string } }>; panels?: Panel[] };

/** Metric names the proxy's registry exposes (histograms as _bucket/_sum/_count). */
function emitted(): Set<string> {
  const m = new IstioMetrics(new Registry()) as unknown as Record<string, unknown>;
  const names = new Set<string>();
  for (const f of Object.values(m)) {
    if (!(f instanceof Family)) continue;
    if (f.kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(f.name + s);
    else names.add(f.name);
  }
  return names;
}

describe('Grafana dashboards', () => {
  it('ships the mesh, service and workload dashboards', () => {
    expect(files.sort()).toEqual(['istio-mesh-dashboard.json', 'istio-service-dashboard.json', 'istio-workload-dashboard.json']);
  });

  for (const f of files) {
    it(`${f}: Grafana model, DS_PROMETHEUS input, bounded queries on emitted metrics`, () => {
      const text = readFileSync(new URL(f, dir), 'utf8');
      const d = JSON.parse(text) as Record<string, any>;
      expect(d).toMatchObject({ schemaVersion: expect.any(Number), title: expect.stringMatching(/^Bowline \/ /), uid: expect.stringMatching(/^[a-z0-9-]{1,40}$/) });
      expect(d.id ?? null).toBeNull(); // an import creates a new dashboard
      expect(d.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
      expect(d.__requires).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'datasource', id: 'prometheus' })]));
      // The import replaces ${DS_PROMETHEUS}: it must be used, and only as the data-source variable's value.
      expect(text.match(/\$\{DS_PROMETHEUS\}/g)).toHaveLength(1);
      const dsVar = d.templating.list.find((v: any) => v.type === 'datasource');
      expect(dsVar).toMatchObject({ name: 'datasource', query: 'prometheus', current: { value: '${DS_PROMETHEUS}' } });

      const panels: Panel[] = [];
      const walk = (ps: Panel[]): void => { for (const p of ps) { panels.push(p); walk(p.panels ?? []); } };
      walk(d.panels);
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
      const names = emitted();
      expect(names.size).toBeGreaterThanOrEqual(14);
      const labels = new Set([...HTTP_LABELS, ...TCP_LABELS, 'le']);
      let queries = 0;
      for (const p of panels) {
        expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
        if (p.type === 'row') continue;
        expect(['stat', 'timeseries']).toContain(p.type);
        expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(p.targets!.length, p.title).toBeGreaterThan(0);
        for (const t of p.targets!) {
          queries++;
          expect(t.refId).toMatch(/^[A-Z]$/);
          expect(t.datasource.uid).toBe('${datasource}');
          for (const m of t.expr.matchAll(/\b(istio_[a-z_]+)/g)) expect(names, `${p.title}: ${m[1]}`).toContain(m[1]);
          for (const m of t.expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const l of m[1]!.split(',').map((s) => s.trim()).filter(Boolean)) expect(labels, `${p.title}: by ${l}`).toContain(l);
          for (const m of t.expr.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)\s*"/g)) expect(labels, `${p.title}: matcher ${m[1]}`).toContain(m[1]);
        }
      }
      expect(queries).toBeGreaterThanOrEqual(8);
    });
  }
});
