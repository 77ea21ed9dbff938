/** Lines and markers over x, with optional error bars, reference lines and shaded bands. */
import { line } from 'd3-shape';
import { num } from '../format';
import { drawAxes, makeScale, MARGIN, type Plot } from './axes';
import type { HoverPoint } from './chartFrame';
import { el, text, type Theme } from './svg';

export interface XY {
  readonly x: number;
  readonly y: number | null;
  readonly lo?: number;
  readonly hi?: number;
  /** Extra words in the tooltip. */
  readonly note?: string;
}

export interface Series {
  readonly name: string;
  readonly points: readonly XY[];
  /** Index into the theme's palette; series order by default. */
  readonly color?: number | 'red' | 'yellow' | 'green' | 'muted';
  readonly dashed?: boolean;
  readonly markers?: boolean;
  readonly noLine?: boolean;
  /** Shade between lo and hi instead of error bars. */
  readonly band?: boolean;
}

export interface RefLine {
  readonly at: number;
  readonly label: string;
  readonly color?: 'red' | 'yellow' | 'green' | 'muted';
  readonly id?: string;
}

export interface LineChartData {
  readonly series: readonly Series[];
  readonly xLabel: string;
  readonly yLabel: string;
  readonly hlines?: readonly RefLine[];
  readonly vlines?: readonly RefLine[];
  readonly yBand?: { readonly lo: number; readonly hi: number; readonly label: string };
  readonly xInteger?: boolean;
}

export function colorOf(t: Theme, c: Series['color'] | RefLine['color'], i: number): string {
  if (c === 'red') return t.red;
  if (c === 'yellow') return t.yellow;
  if (c === 'green') return t.green;
  if (c === 'muted') return t.muted;
  return t.series[(typeof c === 'number' ? c : i) % t.series.length]!;
}

export function drawLineChart(svg: SVGSVGElement, size: { width: number; height: number }, d: LineChartData, opts: { xLog?: boolean; yLog?: boolean }, t: Theme): HoverPoint[] {
  const xLog = opts.xLog ?? false;
  const yLog = opts.yLog ?? false;
  const legend = legendLayout(d.series, size.width);
  const legendRows = d.series.length > 1 ? legend.rows : 0;
  const top = MARGIN.top + legendRows * 16;
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of d.series) for (const p of s.points) {
    xs.push(p.x);
    if (p.y !== null) ys.push(p.y);
    if (p.lo !== undefined) ys.push(p.lo);
    if (p.hi !== undefined) ys.push(p.hi);
  }
  for (const h of d.hlines ?? []) ys.push(h.at);
  for (const v of d.vlines ?? []) xs.push(v.at);
  if (d.yBand) ys.push(d.yBand.lo, d.yBand.hi);
  const p: Plot = {
    x: makeScale(xs, xLog, [MARGIN.left, size.width - MARGIN.right], !d.xInteger),
    y: makeScale(ys, yLog, [size.height - MARGIN.bottom, top]),
    left: MARGIN.left, right: size.width - MARGIN.right, top, bottom: size.height - MARGIN.bottom,
  };
  drawAxes(svg, p, t, { x: d.xLabel, y: d.yLabel + (yLog ? ' (log)' : '') }, { xLog, yLog, xInteger: d.xInteger });
  const ok = (x: number, y: number | null | undefined): y is number =>
    y !== null && y !== undefined && Number.isFinite(x) && Number.isFinite(y) && (!xLog || x > 0) && (!yLog || y > 0);
  const clipY = (y: number): number => Math.max(p.top, Math.min(p.bottom, p.y(y)));
  const plot = el('g', { class: 'plot' }, svg);
  if (d.yBand && (!yLog || d.yBand.lo > 0)) {
    const y0 = clipY(d.yBand.hi);
    const y1 = clipY(d.yBand.lo);
    el('rect', { x: p.left, y: y0, width: p.right - p.left, height: Math.max(0, y1 - y0), fill: t.green, 'fill-opacity': 0.12, class: 'y-band' }, plot);
    text(plot, p.right - 4, y0 + 12, d.yBand.label, { 'text-anchor': 'end', fill: t.muted, 'font-size': t.fontSize, 'font-family': t.font });
  }
  const hover: HoverPoint[] = [];
  for (const h of d.hlines ?? []) {
    if (yLog && h.at <= 0) continue;
    const y = p.y(h.at);
    const c = colorOf(t, h.color ?? 'red', 0);
    el('line', { x1: p.left, x2: p.right, y1: y, y2: y, stroke: c, 'stroke-width': 1.5, 'stroke-dasharray': '6 4', class: 'hline', 'data-value': h.at, 'data-id': h.id ?? h.label }, plot);
    text(plot, p.right - 4, y - 4, `${h.label} = ${num(h.at)}`, { 'text-anchor': 'end', fill: c, 'font-size': t.fontSize, 'font-family': t.font });
    hover.push({ x: p.right - 8, y, label: `${h.label} = ${num(h.at)}` });
  }
  (d.vlines ?? []).forEach((v, vi) => {
    if (xLog && v.at <= 0) return;
    const x = p.x(v.at);
    const c = colorOf(t, v.color ?? 'muted', 0);
    el('line', { x1: x, x2: x, y1: p.top, y2: p.bottom, stroke: c, 'stroke-width': 1.2, 'stroke-dasharray': '4 3', class: 'vline', 'data-value': v.at, 'data-id': v.id ?? v.label }, plot);
    // Staggered, so labels of close lines (eigenvalue outliers) do not overprint.
    text(plot, x + 4, p.top + 10 + (vi % 4) * 12, v.label, { fill: c, 'font-size': t.fontSize, 'font-family': t.font });
    hover.push({ x, y: p.top + 6 + (vi % 4) * 12, label: `${v.label}: ${num(v.at)}` });
  });
  d.series.forEach((s, si) => {
    const c = colorOf(t, s.color, si);
    const g = el('g', { class: 'series', 'data-series': s.name }, plot);
    const pts = s.points.filter((q) => ok(q.x, q.y));
    if (s.band) {
      const banded = s.points.filter((q) => q.lo !== undefined && q.hi !== undefined && ok(q.x, q.lo) && ok(q.x, q.hi));
      if (banded.length > 1) {
        const path = [...banded.map((q) => `${p.x(q.x)},${clipY(q.hi!)}`), ...banded.reverse().map((q) => `${p.x(q.x)},${clipY(q.lo!)}`)];
        el('polygon', { points: path.join(' '), fill: c, 'fill-opacity': 0.18, stroke: 'none' }, g);
      }
    }
    if (!s.noLine && pts.length > 1) {
      const path = line<XY>().x((q) => p.x(q.x)).y((q) => clipY(q.y!))(pts);
      el('path', { d: path ?? '', fill: 'none', stroke: c, 'stroke-width': 1.8, 'stroke-dasharray': s.dashed ? '5 4' : undefined }, g);
    }
    for (const q of pts) {
      const x = p.x(q.x);
      const y = clipY(q.y!);
      if (!s.band && q.lo !== undefined && q.hi !== undefined && ok(q.x, q.lo) && ok(q.x, q.hi)) {
        el('line', { x1: x, x2: x, y1: clipY(q.lo), y2: clipY(q.hi), stroke: c, 'stroke-width': 1.2, class: 'error-bar' }, g);
      }
      if (s.markers ?? pts.length < 30) el('circle', { cx: x, cy: y, r: 3, fill: c, class: 'marker' }, g);
      const range = q.lo !== undefined && q.hi !== undefined ? ` [${num(q.lo)}, ${num(q.hi)}]` : '';
      hover.push({ x, y, label: `${s.name}: ${d.xLabel} ${num(q.x)}, ${d.yLabel} ${num(q.y)}${range}${q.note ? ` · ${q.note}` : ''}` });
    }
  });
  if (legendRows) {
    const lg = el('g', { class: 'legend', 'font-size': t.fontSize, 'font-family': t.font }, svg);
    d.series.forEach((s, i) => {
      const { x, y } = legend.at[i]!;
      el('line', { x1: x, x2: x + 16, y1: y, y2: y, stroke: colorOf(t, s.color, i), 'stroke-width': 2.5, 'stroke-dasharray': s.dashed ? '5 3' : undefined }, lg);
      text(lg, x + 20, y + 4, s.name, { fill: t.fg });
    });
  }
  hover.sort((a, b) => a.x - b.x || a.y - b.y);
  return hover;
}

/** Legend entries flowed left to right, wrapping at the chart's width (text width estimated). */
function legendLayout(series: readonly Series[], width: number): { rows: number; at: { x: number; y: number }[] } {
  const at: { x: number; y: number }[] = [];
  let x = MARGIN.left;
  let row = 0;
  for (const s of series) {
    const w = 30 + 6.2 * s.name.length;
    if (x > MARGIN.left && x + w > width - MARGIN.right) { row++; x = MARGIN.left; }
    at.push({ x, y: MARGIN.top + row * 16 });
    x += w + 10;
  }
  return { rows: series.length ? row + 1 : 0, at };
}
