/**
 * The landscape as a 3D surface: quads projected with a rotatable orthographic camera and drawn
 * back to front (painter's algorithm) as SVG, so it exports like every other chart and needs no
 * WebGL. 41×41 is 1,600 quads: a few milliseconds.
 */
import { interpolateViridis } from 'd3-scale-chromatic';
import { num } from '../format';
import { completeLattice, type Grid, type Lattice } from '../landscapeData';
import type { HoverPoint } from './chartFrame';
import { el, text, type Theme } from './svg';

export interface Camera { azimuth: number; elevation: number }

/** At most this many quads a side: a finer mesh looks the same at panel size and costs a frame. */
const MAX_QUADS = 24;

export function drawSurfaceChart(svg: SVGSVGElement, size: { width: number; height: number }, grid: Grid, cam: Camera, opts: { logZ?: boolean }, t: Theme): HoverPoint[] {
  const lattice = thin(completeLattice(grid));
  if (!lattice) {
    text(svg, size.width / 2, size.height / 2, 'waiting for the first complete grid…', { 'text-anchor': 'middle', fill: t.muted, 'font-family': t.font });
    return [];
  }
  const nx = lattice.xs.length;
  const ny = lattice.ys.length;
  const raw = lattice.values;
  const lo = Math.min(...raw);
  const hi = Math.max(...raw);
  const z = raw.map((v) => (opts.logZ ?? false ? Math.log(v - lo + (hi - lo) * 1e-3) : v));
  const zlo = Math.min(...z);
  const zhi = Math.max(...z);
  const zn = (k: number): number => (zhi > zlo ? (z[k]! - zlo) / (zhi - zlo) : 0.5);
  const a = (cam.azimuth * Math.PI) / 180;
  const e = (cam.elevation * Math.PI) / 180;
  // World: x, y in [-1, 1], height in [0, 0.9]; camera rotates about the vertical axis, then tilts.
  const project = (i: number, j: number): { sx: number; sy: number; depth: number } => {
    const x = (i / (nx - 1)) * 2 - 1;
    const y = (j / (ny - 1)) * 2 - 1;
    const h = zn(j * nx + i) * 0.9;
    const xr = x * Math.cos(a) - y * Math.sin(a);
    const yr = x * Math.sin(a) + y * Math.cos(a);
    const sy = -h * Math.cos(e) + yr * Math.sin(e);
    return { sx: xr, sy, depth: yr * Math.cos(e) + h * Math.sin(e) };
  };
  const scale = Math.min(size.width, size.height) * 0.36;
  const ox = size.width / 2;
  const oy = size.height / 2 + 30;
  const quads: { d: number; pts: string; color: string }[] = [];
  const pts: { sx: number; sy: number; depth: number }[] = [];
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) pts.push(project(i, j));
  for (let j = 0; j < ny - 1; j++) {
    for (let i = 0; i < nx - 1; i++) {
      const c = [j * nx + i, j * nx + i + 1, (j + 1) * nx + i + 1, (j + 1) * nx + i];
      const depth = c.reduce((s, k) => s + pts[k]!.depth, 0) / 4;
      const mean = c.reduce((s, k) => s + zn(k), 0) / 4;
      quads.push({ d: depth, color: interpolateViridis(mean), pts: c.map((k) => `${(ox + pts[k]!.sx * scale).toFixed(1)},${(oy + pts[k]!.sy * scale).toFixed(1)}`).join(' ') });
    }
  }
  quads.sort((p, q) => q.d - p.d);
  const g = el('g', { class: 'surface' }, svg);
  for (const q of quads) el('polygon', { points: q.pts, fill: q.color, stroke: t.bg, 'stroke-width': 0.3, 'stroke-opacity': 0.5 }, g);
  const hover: HoverPoint[] = [];
  const centre = project(Math.floor(nx / 2), Math.floor(ny / 2));
  el('circle', { cx: ox + centre.sx * scale, cy: oy + centre.sy * scale, r: 4.5, fill: t.red, stroke: '#ffffff', 'stroke-width': 1.5, class: 'current-point' }, svg);
  hover.push({ x: ox + centre.sx * scale, y: oy + centre.sy * scale, label: `current weights: loss ${num(raw[Math.floor(ny / 2) * nx + Math.floor(nx / 2)])}` });
  for (let j = 0; j < ny; j += Math.max(1, Math.floor(ny / 10))) {
    for (let i = 0; i < nx; i += Math.max(1, Math.floor(nx / 10))) {
      const q = pts[j * nx + i]!;
      hover.push({ x: ox + q.sx * scale, y: oy + q.sy * scale, label: `(${num(lattice.xs[i])}, ${num(lattice.ys[j])}): loss ${num(raw[j * nx + i])}` });
    }
  }
  text(svg, 8, size.height - 6, `azimuth ${cam.azimuth}°, elevation ${cam.elevation}° · height: loss${opts.logZ ? ' (log above the minimum)' : ''} ${num(lo)} to ${num(hi)}`, { fill: t.muted, 'font-size': 10, 'font-family': t.font });
  return hover;
}

/** Every k-th row and column (ends kept) so the mesh has at most MAX_QUADS quads a side. */
function thin(l: Lattice | undefined): Lattice | undefined {
  if (!l) return l;
  const k = Math.ceil((Math.max(l.xs.length, l.ys.length) - 1) / MAX_QUADS);
  if (k <= 1) return l;
  const keep = (n: number): number[] => { const ix: number[] = []; for (let i = 0; i < n - 1; i += k) ix.push(i); ix.push(n - 1); return ix; };
  const ii = keep(l.xs.length);
  const jj = keep(l.ys.length);
  return { ...l, xs: ii.map((i) => l.xs[i]!), ys: jj.map((j) => l.ys[j]!), values: jj.flatMap((j) => ii.map((i) => l.values[j * l.xs.length + i]!)) };
}
