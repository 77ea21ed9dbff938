/**
 * Loss-landscape grids as drawn (pure): the finest complete lattice of a grid that is still
 * being refined, the minimum, contour levels and 1D slices through the centre.
 */

export interface Grid {
  readonly xs: readonly number[];
  readonly ys: readonly number[];
  /** loss[j][i] at (xs[i], ys[j]); null where not computed yet (or not finite). */
  readonly loss: readonly (readonly (number | null)[])[];
}

export interface Lattice {
  readonly xs: number[];
  readonly ys: number[];
  /** Row-major values, ys outer: values[j * xs.length + i]. */
  readonly values: number[];
  readonly stride: number;
  /** Computed points of the full grid. */
  readonly known: number;
  readonly total: number;
}

export function toGrid(data: Readonly<Record<string, unknown>> | undefined): Grid | undefined {
  const xs = data?.['xs'];
  const ys = data?.['ys'];
  const loss = data?.['loss'];
  if (!Array.isArray(xs) || !Array.isArray(ys) || !Array.isArray(loss) || loss.length !== ys.length) return undefined;
  const rows = loss.map((row) => (Array.isArray(row) ? row.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null)) : []));
  if (rows.some((r) => r.length !== xs.length)) return undefined;
  return { xs: xs as number[], ys: ys as number[], loss: rows };
}

/** The smallest stride s whose sub-grid (every s-th row and column, ends included) is fully computed. */
export function completeLattice(g: Grid): Lattice | undefined {
  const nx = g.xs.length;
  const ny = g.ys.length;
  let known = 0;
  for (const row of g.loss) for (const v of row) if (v !== null) known++;
  for (let s = 1; s < Math.max(nx, ny); s++) {
    if ((nx - 1) % s !== 0 || (ny - 1) % s !== 0) continue;
    const ii = range(0, nx, s);
    const jj = range(0, ny, s);
    if (ii.length < 2 || jj.length < 2) break;
    const values: number[] = [];
    let ok = true;
    for (const j of jj) {
      for (const i of ii) {
        const v = g.loss[j]![i];
        if (v === null || v === undefined) { ok = false; break; }
        values.push(v);
      }
      if (!ok) break;
    }
    if (ok) return { xs: ii.map((i) => g.xs[i]!), ys: jj.map((j) => g.ys[j]!), values, stride: s, known, total: nx * ny };
  }
  return undefined;
}

function range(start: number, stop: number, step: number): number[] {
  const out: number[] = [];
  for (let i = start; i < stop; i += step) out.push(i);
  return out;
}

/** The computed point of lowest loss. */
export function gridMinimum(g: Grid): { i: number; j: number; x: number; y: number; loss: number } | undefined {
  let best: { i: number; j: number; x: number; y: number; loss: number } | undefined;
  g.loss.forEach((row, j) => row.forEach((v, i) => {
    if (v !== null && (!best || v < best.loss)) best = { i, j, x: g.xs[i]!, y: g.ys[j]!, loss: v };
  }));
  return best;
}

/**
 * `count` contour levels strictly between the lowest and highest loss: evenly spaced in
 * log(loss − min + δ) by default, because a landscape's loss grows by orders of magnitude
 * away from the minimum and even spacing would put every line at the rim.
 */
export function contourLevels(values: readonly number[], count: number, log: boolean): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!(hi > lo)) return [];
  const levels: number[] = [];
  if (log) {
    const delta = (hi - lo) * 1e-3;
    const a = Math.log(delta);
    const b = Math.log(hi - lo + delta);
    for (let k = 1; k <= count; k++) levels.push(lo - delta + Math.exp(a + ((b - a) * k) / (count + 1)));
  } else {
    for (let k = 1; k <= count; k++) levels.push(lo + ((hi - lo) * k) / (count + 1));
  }
  return levels;
}

/** Loss along each axis through the grid's centre (the point the probe measured at). */
export function centreSlices(g: Grid): { x: { at: number[]; loss: (number | null)[] }; y: { at: number[]; loss: (number | null)[] } } {
  const ci = nearestIndex(g.xs, 0);
  const cj = nearestIndex(g.ys, 0);
  return {
    x: { at: [...g.xs], loss: [...g.loss[cj]!] },
    y: { at: [...g.ys], loss: g.loss.map((row) => row[ci]!) },
  };
}

function nearestIndex(xs: readonly number[], x: number): number {
  let best = 0;
  xs.forEach((v, i) => { if (Math.abs(v - x) < Math.abs(xs[best]! - x)) best = i; });
  return best;
}
