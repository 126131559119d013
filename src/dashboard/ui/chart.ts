/// <reference lib="dom" />
/** A time-series chart (uPlot) that follows its container's width. */
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

const COLORS = ['#0969da', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bc4c00'];

/** One chart: `x` seconds since epoch, one line per series. */
export function Chart({ title, x, series, unit }: { title: string; x: number[]; series: Array<{ label: string; values: Array<number | null> }>; unit: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const width = Math.max(260, el.clientWidth - 8);
    const opts: uPlot.Options = {
      width, height: 180,
      scales: { x: { time: true } },
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.6, spanGaps: false, value: (_u: uPlot, v: number | null) => (v == null ? '-' : `${v.toFixed(2)} ${unit}`) }))],
      axes: [{}, { size: 50, values: (_u: uPlot, vals: number[]) => vals.map((v) => `${+v.toFixed(2)}`) }],
      legend: { live: true },
    };
    const plot = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    return () => plot.destroy();
  }, [JSON.stringify([x, series])]);
  return html`<figure class="card" aria-label=${title}><h3>${title}</h3><div ref=${ref}></div></figure>`;
}
