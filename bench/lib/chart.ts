/**
 * docs/benchmarks.png: for each summary row with a goal, two horizontal
 * bars — before (grey) and now (green when it meets the goal, red when it
 * misses) — of the figure as a multiple of its goal, on a log scale whose
 * line at 1 is the goal (left of it: met). Drawn as SVG, rendered with resvg.
 */
import { Resvg } from '@resvg/resvg-js';
import type { GoalRow } from './goals.js';
import { fmt, fmtRatio } from './report.js';

/** Chart geometry, px. */
const WIDTH = 1100;
const LABEL_W = 400;
const BAR_H = 13;
const BAR_GAP = 2;
const ROW_GAP = 14;
const TOP = 84;
/** The axis spans these multiples of the goal (bars past it are clipped; their labels keep the true figure). */
const LO = 1 / 10;
const HI = 100;
const TICKS = [1 / 10, 1 / 3, 1, 3, 10, 30, 100];
/** Room right of the axis for the labels of the longest bars. */
const RIGHT_MARGIN = 190;
/** Pixels per unit of font size the renderer uses for the PNG. */
const SCALE = 1.5;
const COLOURS = { before: '#a0a0a0', meets: '#3a8f5c', misses: '#c0553a' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function goalText(g: GoalRow): string {
  return [g.goal.maxRatio !== undefined ? `≤ ${g.goal.maxRatio}×` : '', g.goal.max !== undefined ? `≤ ${g.goal.max} ${g.unit}` : ''].filter(Boolean).join(', ');
}

/** The figure a bar is labelled with: the ratio when the goal is one, else the value. */
function figureText(g: GoalRow, value: number | undefined, ratio: number | undefined): string {
  if (g.goal.maxRatio !== undefined && ratio !== undefined) return fmtRatio(ratio);
  return value !== undefined ? `${fmt(value)} ${g.unit}` : '';
}

export function chartSvg(rows: readonly GoalRow[], title: string): string {
  const plotW = WIDTH - LABEL_W - RIGHT_MARGIN;
  const xOf = (v: number) => LABEL_W + ((Math.log(Math.min(HI, Math.max(LO, v))) - Math.log(LO)) / (Math.log(HI) - Math.log(LO))) * plotW;
  const x1 = xOf(1);
  const parts: string[] = [];
  let y = TOP;
  const bar = (v: number, colour: string, text: string) => {
    const x = xOf(v);
    const left = v <= 1;
    parts.push(`<rect x="${Math.min(x, x1)}" y="${y}" width="${Math.max(1, Math.abs(x - x1))}" height="${BAR_H}" fill="${colour}"/>`);
    parts.push(`<text x="${left ? Math.min(x, x1) - 4 : Math.max(x, x1) + 4}" y="${y + BAR_H - 3}" font-size="10.5" text-anchor="${left ? 'end' : 'start'}">${esc(text)}</text>`);
  };
  for (const g of rows.filter((r) => r.goal.maxRatio !== undefined || r.goal.max !== undefined)) {
    parts.push(`<text x="${LABEL_W - 10}" y="${y + BAR_H - 2}" font-size="12" text-anchor="end">${esc(g.goal.short)}</text>`);
    parts.push(`<text x="${LABEL_W - 10}" y="${y + 2 * BAR_H + BAR_GAP - 2}" font-size="10.5" text-anchor="end" fill="#555">${esc(`goal ${goalText(g)}`)}</text>`);
    if (g.beforeOfGoal !== undefined) bar(g.beforeOfGoal, COLOURS.before, `before ${figureText(g, g.before?.zmx, g.before?.ratio)}`);
    else parts.push(`<text x="${x1 + 4}" y="${y + BAR_H - 3}" font-size="10.5" fill="#777">before: not measured</text>`);
    y += BAR_H + BAR_GAP;
    if (g.ofGoal !== undefined) bar(g.ofGoal, g.verdict === 'meets' ? COLOURS.meets : COLOURS.misses, `now ${figureText(g, g.zmx, g.ratio)}`);
    else parts.push(`<text x="${x1 + 4}" y="${y + BAR_H - 3}" font-size="10.5" fill="${COLOURS.misses}">${esc(`now: not measured${g.why ? ` (${g.why.slice(0, 60)})` : ''}`)}</text>`);
    y += BAR_H + ROW_GAP;
  }
  const height = y + 20;
  const ticks = TICKS.map((t) => {
    const x = xOf(t);
    const text = t < 1 ? `1/${Math.round(1 / t)}` : String(t);
    return `<line x1="${x}" y1="${TOP - 16}" x2="${x}" y2="${height - 20}" stroke="${t === 1 ? '#333' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"/><text x="${x}" y="${TOP - 20}" font-size="11" text-anchor="middle">${text}×</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" font-size="17" font-weight="bold">${esc(title)}</text>
<text x="10" y="40" font-size="12" fill="#555">each figure as a multiple of its goal, log scale: the dark line is the goal, left of it the goal is met; grey before, green/red now</text>
${ticks.join('\n')}
${parts.join('\n')}
</svg>
`;
}

export function renderPng(svg: string): Buffer {
  const resvg = new Resvg(svg, { fitTo: { mode: 'zoom', value: SCALE }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: '#ffffff' });
  return resvg.render().asPng();
}
