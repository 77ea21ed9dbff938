/** Axes, grid lines and scales shared by the x/y charts. */
import { scaleLinear, scaleLog, type ScaleContinuousNumeric } from 'd3-scale';
import { num } from '../format';
import { el, text, type Theme } from './svg';

export type Scale = ScaleContinuousNumeric<number, number>;

export interface Plot {
  readonly x: Scale;
  readonly y: Scale;
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

export const MARGIN = { left: 58, right: 16, top: 12, bottom: 40 };

/** A linear or log scale over the finite (and, for log, positive) values; a small pad when flat. */
export function makeScale(values: readonly number[], log: boolean, range: [number, number], nice = true): Scale {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  let lo = finite.length ? Math.min(...finite) : log ? 1 : 0;
  let hi = finite.length ? Math.max(...finite) : log ? 10 : 1;
  if (lo === hi) {
    const pad = log ? 2 : Math.abs(lo) * 0.1 || 1;
    lo = log ? lo / pad : lo - pad;
    hi = log ? hi * pad : hi + pad;
  }
  const s: Scale = log ? scaleLog().domain([lo, hi]).range(range) : scaleLinear().domain([lo, hi]).range(range);
  return nice ? s.nice() : s;
}

export function drawAxes(svg: SVGSVGElement, p: Plot, t: Theme, labels: { x: string; y: string }, opts: { xLog?: boolean; yLog?: boolean; xInteger?: boolean; grid?: boolean } = {}): void {
  const g = el('g', { class: 'axes', 'font-size': t.fontSize, fill: t.fg, 'font-family': t.font }, svg);
  const yt = ticks(p.y, opts.yLog ?? false, 6);
  for (const v of yt) {
    const y = p.y(v);
    if (opts.grid ?? true) el('line', { x1: p.left, x2: p.right, y1: y, y2: y, stroke: t.grid, 'stroke-width': 1, 'shape-rendering': 'crispEdges' }, g);
    else el('line', { x1: p.left - 4, x2: p.left, y1: y, y2: y, stroke: t.muted }, g);
    text(g, p.left - 6, y + 4, num(v, 3), { 'text-anchor': 'end', fill: t.muted });
  }
  let xt = ticks(p.x, opts.xLog ?? false, 7);
  if (opts.xInteger) xt = xt.filter((v) => Number.isInteger(v));
  for (const v of xt) {
    const x = p.x(v);
    el('line', { x1: x, x2: x, y1: p.bottom, y2: p.bottom + 4, stroke: t.muted }, g);
    text(g, x, p.bottom + 16, num(v, 3), { 'text-anchor': 'middle', fill: t.muted });
  }
  el('line', { x1: p.left, x2: p.right, y1: p.bottom, y2: p.bottom, stroke: t.muted, 'shape-rendering': 'crispEdges' }, g);
  el('line', { x1: p.left, x2: p.left, y1: p.top, y2: p.bottom, stroke: t.muted, 'shape-rendering': 'crispEdges' }, g);
  text(g, (p.left + p.right) / 2, p.bottom + 32, labels.x, { 'text-anchor': 'middle' });
  const yl = text(g, 0, 0, labels.y, { 'text-anchor': 'middle', transform: `translate(14 ${(p.top + p.bottom) / 2}) rotate(-90)` });
  yl.setAttribute('class', 'axis-label');
}

/** Ticks; on a log scale only the powers of ten (and 2, 5 when there are few decades). */
export function ticks(s: Scale, log: boolean, count: number): number[] {
  const all = s.ticks(count);
  if (!log) return all;
  const [a, b] = s.domain() as [number, number];
  const decades = Math.log10(b / a);
  return all.filter((v) => {
    const m = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
    return Math.abs(m - 1) < 1e-6 || (decades < 3 && (Math.abs(m - 2) < 1e-6 || Math.abs(m - 5) < 1e-6));
  });
}
