/**
 * The loss landscape as filled contours (d3-contour, marching squares) over the finest fully
 * computed lattice, with the optimizer's trajectory projected onto the plane, the current point
 * and the grid's minimum marked. A grid still being refined draws its coarse lattice first.
 */
import { contours } from 'd3-contour';
import { scaleLinear } from 'd3-scale';
import { interpolateViridis } from 'd3-scale-chromatic';
import { num } from '../format';
import { completeLattice, contourLevels, gridMinimum, type Grid } from '../landscapeData';
import { drawAxes, MARGIN, type Plot } from './axes';
import type { HoverPoint } from './chartFrame';
import { el, text, type Theme } from './svg';

export const CONTOUR_LEVELS = 14;

export interface TrajectoryPoint { readonly step: number; readonly x: number; readonly y: number; readonly loss: number | null }

export interface ContourData {
  readonly grid: Grid;
  /** More points are coming (the run is still refining the grid). */
  readonly refining: boolean;
  readonly trajectory: readonly TrajectoryPoint[];
  readonly xLabel: string;
  readonly yLabel: string;
}

export function drawContourChart(svg: SVGSVGElement, size: { width: number; height: number }, d: ContourData, opts: { logLevels?: boolean }, t: Theme): HoverPoint[] {
  const lattice = completeLattice(d.grid);
  const legendW = 54;
  const side = Math.min(size.width - MARGIN.left - MARGIN.right - legendW, size.height - MARGIN.top - MARGIN.bottom - 16);
  const p: Plot = {
    x: scaleLinear().domain([d.grid.xs[0]!, d.grid.xs.at(-1)!]).range([MARGIN.left, MARGIN.left + side]),
    y: scaleLinear().domain([d.grid.ys[0]!, d.grid.ys.at(-1)!]).range([MARGIN.top + side, MARGIN.top]),
    left: MARGIN.left, right: MARGIN.left + side, top: MARGIN.top, bottom: MARGIN.top + side,
  };
  const hover: HoverPoint[] = [];
  if (!lattice) {
    text(svg, size.width / 2, size.height / 2, 'waiting for the first complete grid of loss values…', { 'text-anchor': 'middle', fill: t.muted, 'font-family': t.font });
    return hover;
  }
  const nx = lattice.xs.length;
  const ny = lattice.ys.length;
  const levels = contourLevels(lattice.values, CONTOUR_LEVELS, opts.logLevels ?? true);
  const color = (k: number): string => interpolateViridis(levels.length ? k / levels.length : 0);
  const lo = Math.min(...lattice.values);
  const hi = Math.max(...lattice.values);
  // Grid coordinate g (cell centres at g + 0.5) → data coordinate.
  const dx = (lattice.xs.at(-1)! - lattice.xs[0]!) / (nx - 1);
  const dy = (lattice.ys.at(-1)! - lattice.ys[0]!) / (ny - 1);
  const gx = (g: number): number => p.x(lattice.xs[0]! + Math.max(0, Math.min(nx - 1, g - 0.5)) * dx);
  const gy = (g: number): number => p.y(lattice.ys[0]! + Math.max(0, Math.min(ny - 1, g - 0.5)) * dy);
  const plot = el('g', { class: 'contours', 'data-stride': lattice.stride, 'data-known': lattice.known, 'data-total': lattice.total }, svg);
  el('rect', { x: p.left, y: p.top, width: side, height: side, fill: color(0) }, plot);
  const gen = contours().size([nx, ny]).thresholds(levels).smooth(true);
  gen(lattice.values).forEach((mp, k) => {
    const path = mp.coordinates.map((poly) => poly.map((ring) => `M${ring.map(([a, b]) => `${gx(a!).toFixed(1)},${gy(b!).toFixed(1)}`).join('L')}Z`).join('')).join('');
    el('path', { d: path, fill: color(k + 1), stroke: t.bg, 'stroke-width': 0.6, 'stroke-opacity': 0.7, class: 'contour-level', 'data-level': mp.value }, plot);
  });
  drawAxes(svg, p, t, { x: d.xLabel, y: d.yLabel }, { grid: false });
  // Colour legend: the level values.
  const lg = el('g', { class: 'legend', 'font-size': 10, 'font-family': t.font }, svg);
  const lx = p.right + 10;
  const bands = levels.length + 1;
  const bh = side / bands;
  for (let k = 0; k < bands; k++) {
    el('rect', { x: lx, y: p.bottom - (k + 1) * bh, width: 10, height: bh, fill: color(k) }, lg);
    if (k < levels.length && (bands <= 8 || k % 2 === 1)) text(lg, lx + 13, p.bottom - (k + 1) * bh + 3, num(levels[k]!, 4), { fill: t.muted });
  }
  // Trajectory (projected), current point, minimum.
  const traj = d.trajectory.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
  if (traj.length > 1) {
    el('polyline', { points: traj.map((q) => `${p.x(q.x)},${p.y(q.y)}`).join(' '), fill: 'none', stroke: t.red, 'stroke-width': 1.6, class: 'trajectory' }, svg);
  }
  for (const q of traj) {
    el('circle', { cx: p.x(q.x), cy: p.y(q.y), r: 2.2, fill: t.red, class: 'trajectory-point' }, svg);
    hover.push({ x: p.x(q.x), y: p.y(q.y), label: `step ${q.step}: (${num(q.x)}, ${num(q.y)}), loss ${num(q.loss)}` });
  }
  const cx = p.x(0);
  const cy = p.y(0);
  el('circle', { cx, cy, r: 5.5, fill: 'none', stroke: '#ffffff', 'stroke-width': 2.5, class: 'current-point' }, svg);
  el('circle', { cx, cy, r: 5.5, fill: 'none', stroke: t.red, 'stroke-width': 1.5 }, svg);
  const centre = lattice.values[Math.floor(ny / 2) * nx + Math.floor(nx / 2)];
  hover.push({ x: cx, y: cy, label: `current weights θ (0, 0): loss ${num(centre)}` });
  const min = gridMinimum(d.grid);
  if (min) {
    const mx = p.x(min.x);
    const my = p.y(min.y);
    el('path', { d: `M${mx - 6},${my - 6}L${mx + 6},${my + 6}M${mx - 6},${my + 6}L${mx + 6},${my - 6}`, stroke: '#ffffff', 'stroke-width': 3.5, class: 'min-marker-halo' }, svg);
    el('path', { d: `M${mx - 6},${my - 6}L${mx + 6},${my + 6}M${mx - 6},${my + 6}L${mx + 6},${my - 6}`, stroke: t.fg === '#ffffff' ? '#000000' : '#1a1a1a', 'stroke-width': 2, class: 'min-marker', 'data-x': min.x, 'data-y': min.y, 'data-loss': min.loss }, svg);
    hover.push({ x: mx, y: my, label: `lowest loss on the grid: ${num(min.loss)} at (${num(min.x)}, ${num(min.y)})` });
  }
  text(svg, p.left, size.height - 4, `${nx}×${ny} of ${d.grid.xs.length}×${d.grid.ys.length}${lattice.known < lattice.total ? (d.refining ? ` · refining: ${lattice.known}/${lattice.total} points` : ' · preview (--full-landscape for all)') : ''} · loss ${num(lo)} to ${num(hi)}`, { fill: t.muted, 'font-size': 10, 'font-family': t.font, class: 'lattice-note' });
  // Every lattice point is a tooltip target too, for exact values.
  lattice.ys.forEach((y, j) => lattice.xs.forEach((x, i) => {
    hover.push({ x: p.x(x), y: p.y(y), label: () => `(${num(x)}, ${num(y)}): loss ${num(lattice.values[j * nx + i])}` });
  }));
  return hover;
}
