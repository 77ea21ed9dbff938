/** Horizontal bars, one per layer or run, with intervals, a reference band and links to lines. */
import { num } from '../format';
import { makeScale, MARGIN, ticks } from './axes';
import type { HoverPoint } from './chartFrame';
import { el, text, type Theme } from './svg';

export interface Bar {
  readonly label: string;
  readonly value: number | null;
  readonly lo?: number;
  readonly hi?: number;
  readonly note?: string;
  /** Follow the bar to its source line. */
  readonly activate?: () => void;
}

export interface BarChartData {
  readonly bars: readonly Bar[];
  readonly valueLabel: string;
  readonly band?: { readonly lo: number; readonly hi: number; readonly label: string };
}

export function barChartHeight(n: number): number {
  return MARGIN.top + MARGIN.bottom + Math.max(1, n) * 22 + 8;
}

export function drawBarChart(svg: SVGSVGElement, size: { width: number; height: number }, d: BarChartData, opts: { log?: boolean }, t: Theme): HoverPoint[] {
  const log = opts.log ?? false;
  const labelWidth = Math.min(170, 12 + 7 * Math.max(4, ...d.bars.map((b) => b.label.length)));
  const left = labelWidth;
  const right = size.width - MARGIN.right - 60;
  const values: number[] = [];
  for (const b of d.bars) for (const v of [b.value, b.lo, b.hi]) if (typeof v === 'number') values.push(v);
  if (d.band) values.push(d.band.lo, d.band.hi);
  if (!log) values.push(0);
  const x = makeScale(values, log, [left, right]);
  const top = MARGIN.top;
  const rowH = 22;
  const bottom = top + d.bars.length * rowH;
  const g = el('g', { 'font-size': t.fontSize, 'font-family': t.font }, svg);
  if (d.band && (!log || d.band.lo > 0)) {
    const x0 = Math.max(left, x(d.band.lo));
    const x1 = Math.min(right, x(d.band.hi));
    el('rect', { x: x0, y: top, width: Math.max(0, x1 - x0), height: bottom - top, fill: t.green, 'fill-opacity': 0.13, class: 'band' }, g);
    text(g, (x0 + x1) / 2, bottom + 30, d.band.label, { 'text-anchor': 'middle', fill: t.muted });
  }
  for (const v of ticks(x, log, log ? 4 : 6)) {
    const px = x(v);
    el('line', { x1: px, x2: px, y1: top, y2: bottom, stroke: t.grid, 'shape-rendering': 'crispEdges' }, g);
    text(g, px, bottom + 14, num(v, 3), { 'text-anchor': 'middle', fill: t.muted });
  }
  text(g, (left + right) / 2, bottom + (d.band ? 44 : 30), d.valueLabel + (log ? ' (log)' : ''), { 'text-anchor': 'middle', fill: t.fg });
  const zero = log ? left : x(0);
  const hover: HoverPoint[] = [];
  d.bars.forEach((b, i) => {
    const y = top + i * rowH;
    const row = el('g', { class: b.activate ? 'bar linked' : 'bar', 'data-label': b.label }, g);
    const label = text(row, left - 6, y + 15, b.label, { 'text-anchor': 'end', fill: b.activate ? t.series[0]! : t.fg, 'text-decoration': b.activate ? 'underline' : undefined });
    label.setAttribute('class', 'bar-label');
    if (b.value === null || (log && b.value <= 0)) {
      text(row, left + 4, y + 15, b.value === null ? 'not measured' : `${num(b.value)} (not shown on a log axis)`, { fill: t.muted });
      hover.push({ x: left + 4, y: y + 11, label: `${b.label}: ${b.value === null ? 'not measured' : num(b.value)}${b.note ? ` · ${b.note}` : ''}`, activate: b.activate });
      return;
    }
    const xv = Math.max(left, Math.min(right, x(b.value)));
    const x0 = Math.min(zero, xv);
    el('rect', { x: x0, y: y + 4, width: Math.max(1, Math.abs(xv - zero)), height: rowH - 8, fill: t.series[0]!, 'fill-opacity': 0.85, class: 'bar-rect', 'data-value': b.value }, row);
    if (b.lo !== undefined && b.hi !== undefined && (!log || b.lo > 0)) {
      const l = Math.max(left, x(b.lo));
      const h = Math.min(right, x(b.hi));
      el('line', { x1: l, x2: h, y1: y + 11, y2: y + 11, stroke: t.fg, 'stroke-width': 1.2, class: 'error-bar', 'pointer-events': 'none' }, row);
    }
    text(row, Math.min(right, Math.max(xv, zero)) + 4, y + 15, num(b.value, 3), { fill: t.muted, 'pointer-events': 'none' });
    const range = b.lo !== undefined && b.hi !== undefined ? ` [${num(b.lo)}, ${num(b.hi)}]` : '';
    hover.push({ x: xv, y: y + 11, label: `${b.label}: ${d.valueLabel} ${num(b.value)}${range}${b.note ? ` · ${b.note}` : ''}`, activate: b.activate });
  });
  return hover;
}
