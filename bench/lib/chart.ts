/**
 * docs/benchmarks.png: one horizontal bar per (zmx variant, peer) pair of
 * each measure's chart metric, on a log scale centred at 1 (left: zmx
 * better, right: worse). Drawn as SVG, rendered with resvg.
 */
import { Resvg } from '@resvg/resvg-js';
import type { MeasureResult } from './measure.js';
import { ratios } from './report.js';

/** Chart geometry, px. */
const WIDTH = 1000;
const LABEL_W = 360;
const BAR_H = 18;
const GAP = 6;
const SECTION_GAP = 28;
const TOP = 60;
/** The axis spans 1/RANGE .. RANGE (bars past it are clipped and marked). */
const RANGE = 100;
/** Pixels per unit of font size the renderer uses for the PNG. */
const SCALE = 1.5;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function chartSvg(measures: MeasureResult[], title: string): string {
  const plotW = WIDTH - LABEL_W - 40;
  const x0 = LABEL_W + plotW / 2;
  const xOf = (ratio: number) => x0 + (Math.max(-1, Math.min(1, Math.log(ratio) / Math.log(RANGE))) * plotW) / 2;
  const parts: string[] = [];
  let y = TOP;
  for (const m of measures) {
    const rs = ratios(m).filter((r) => r.metric === m.chartMetric);
    const metric = m.metrics.find((x) => x.key === m.chartMetric);
    parts.push(`<text x="10" y="${y + 4}" font-size="15" font-weight="bold">${esc(`${m.title} (${metric?.label ?? m.chartMetric})`)}</text>`);
    y += 14;
    if (rs.length === 0) {
      const why = m.contenders.find((c) => c.zmx && c.notRun)?.notRun?.replace(/^not run: /, '') ?? 'no zmx/peer pair ran';
      parts.push(`<text x="20" y="${y + 12}" font-size="13" fill="#777">${esc(`not run: ${why}`.slice(0, 120))}</text>`);
      y += BAR_H + SECTION_GAP;
      continue;
    }
    for (const r of rs) {
      const x = xOf(r.ratio);
      const better = r.ratio < 1;
      parts.push(`<text x="${LABEL_W - 8}" y="${y + BAR_H - 5}" font-size="12" text-anchor="end">${esc(`${r.zmx} / ${r.peer}`)}</text>`);
      parts.push(`<rect x="${Math.min(x, x0)}" y="${y}" width="${Math.max(1, Math.abs(x - x0))}" height="${BAR_H}" fill="${better ? '#3a8f5c' : '#c0553a'}"/>`);
      const tx = better ? Math.min(x, x0) - 4 : Math.max(x, x0) + 4;
      parts.push(`<text x="${tx}" y="${y + BAR_H - 5}" font-size="11" text-anchor="${better ? 'end' : 'start'}">${r.ratio >= 10 ? r.ratio.toFixed(0) : r.ratio.toFixed(2)}×</text>`);
      y += BAR_H + GAP;
    }
    y += SECTION_GAP;
  }
  const height = y + 30;
  const ticks = [1 / 100, 1 / 10, 1 / 3, 1, 3, 10, 100].map((t) => {
    const x = xOf(t);
    const label = t < 1 ? `1/${Math.round(1 / t)}` : String(t);
    return `<line x1="${x}" y1="${TOP - 20}" x2="${x}" y2="${height - 30}" stroke="${t === 1 ? '#333' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"/><text x="${x}" y="${TOP - 24}" font-size="11" text-anchor="middle">${label}×</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" font-size="17" font-weight="bold">${esc(title)}</text>
<text x="${WIDTH - 10}" y="22" font-size="12" text-anchor="end" fill="#555">median(zmx) / median(peer), log scale — left of 1: zmx faster/smaller</text>
${ticks.join('\n')}
${parts.join('\n')}
</svg>
`;
}

export function renderPng(svg: string): Buffer {
  const resvg = new Resvg(svg, { fitTo: { mode: 'zoom', value: SCALE }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: '#ffffff' });
  return resvg.render().asPng();
}
