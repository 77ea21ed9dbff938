/**
 * The curvature numbers of the embedded engine, the same methods as the Python harness
 * (docs/probes.md): Lanczos with full reorthogonalization for the top eigenvalues with Ritz
 * residual bounds, and Hutchinson's trace with the top eigenspace deflated (exact part) and a
 * Student-t 95 % interval, per layer from the same probes. Pure: an HVP callback in, numbers out.
 */
import { axpy, dot, norm, scaled, symmetricEigen, type Vec } from './linalg';
import type { Rng } from './rng';

export type Hvp = (v: Vec) => Vec;

export interface LanczosResult {
  readonly eigenvalues: number[];
  readonly residuals: number[];
  /** Ritz vectors of `eigenvalues`, unit norm. */
  readonly vectors: Vec[];
  readonly steps: number;
  /** Every Ritz value, ascending, and its Gauss quadrature weight (squared first component). */
  readonly ritzValues: number[];
  readonly weights: number[];
}

export interface LanczosOptions {
  /** The start vector (random normal when absent). */
  readonly start?: Vec;
  /** Orthonormal vectors whose span the run stays out of (the bulk of a spectrum whose outliers are known). */
  readonly deflate?: readonly Vec[];
}

export function lanczos(hvp: Hvp, n: number, steps: number, k: number, rng: Rng, opts: LanczosOptions = {}): LanczosResult {
  const deflate = opts.deflate ?? [];
  const project = (x: Vec): void => { for (const q of deflate) axpy(x, -dot(x, q), q); };
  const m = Math.max(1, Math.min(steps, n - deflate.length));
  let v: Vec = opts.start ? Float64Array.from(opts.start) : new Float64Array(n);
  if (!opts.start) for (let i = 0; i < n; i++) v[i] = rng.normal();
  project(v);
  v = scaled(v, 1 / norm(v));
  const basis: Vec[] = [];
  const alphas: number[] = [];
  const betas: number[] = [];
  let betaLast = 0;
  for (let j = 0; j < m; j++) {
    basis.push(v);
    const w = hvp(v);
    project(w);
    const alpha = dot(w, v);
    alphas.push(alpha);
    axpy(w, -alpha, v);
    if (j > 0) axpy(w, -betas[j - 1]!, basis[j - 1]!);
    // Full reorthogonalization, twice (Kahan): converged eigenvalues do not come back as ghosts.
    for (let r = 0; r < 2; r++) { for (const q of basis) axpy(w, -dot(w, q), q); project(w); }
    const beta = norm(w);
    const scale = Math.max(1, ...alphas.map(Math.abs));
    if (j === m - 1 || beta <= 1e-10 * scale) { betaLast = beta; break; }
    betas.push(beta);
    v = scaled(w, 1 / beta);
  }
  const size = alphas.length;
  const t = Array.from({ length: size }, (_, i) => Array.from({ length: size }, (_, j) => (i === j ? alphas[i]! : Math.abs(i - j) === 1 ? betas[Math.min(i, j)]! : 0)));
  const { values, vectors } = symmetricEigen(t);
  const order = values.map((_, i) => i).sort((a, b) => values[b]! - values[a]!).slice(0, Math.max(1, Math.min(k, size)));
  return {
    eigenvalues: order.map((i) => values[i]!),
    residuals: order.map((i) => Math.abs(betaLast * vectors[size - 1]![i]!)),
    vectors: order.map((i) => {
      const x = new Float64Array(n);
      for (let j = 0; j < size; j++) axpy(x, vectors[j]![i]!, basis[j]!);
      return scaled(x, 1 / norm(x));
    }),
    steps: size,
    ritzValues: values,
    weights: values.map((_, i) => vectors[0]![i]! ** 2),
  };
}

export interface DensityResult {
  readonly grid: number[];
  readonly density: number[];
  readonly outliers: number[];
  readonly nodes: number[][];
  readonly weights: number[][];
  readonly sigma: number;
  readonly impliedTrace: number;
  readonly impliedTraceStderr: number;
}

/**
 * The spectral density by stochastic Lanczos quadrature, the top eigenvalues apart (the Python
 * harness's density.py, same definitions): Rademacher probes on the Hessian deflated by the
 * outliers' Ritz vectors, each giving nodes θⱼ and weights τⱼ²; the bulk smoothed by a Gaussian
 * of width 1 % of its range on 256 points and normalised to the bulk's share (n−k)/n; every
 * probe's ‖P⊥z‖²·Σ τⱼ²θⱼ an unbiased estimate of the bulk's trace, plus the outliers exactly.
 */
export function slqDensity(hvp: Hvp, n: number, probes: number, steps: number, outliers: LanczosResult, rng: Rng, gridPoints = 256): DensityResult {
  const deflate = outliers.vectors;
  const nodes: number[][] = [];
  const weights: number[][] = [];
  const estimates: number[] = [];
  for (let p = 0; p < Math.max(3, probes); p++) {
    const z = new Float64Array(n);
    for (let i = 0; i < n; i++) z[i] = rng.sign();
    for (const q of deflate) axpy(z, -dot(z, q), q);
    const run = lanczos(hvp, n, steps, 1, rng, { start: z, deflate });
    nodes.push(run.ritzValues);
    weights.push(run.weights);
    estimates.push(dot(z, z) * run.weights.reduce((acc, w, j) => acc + w * run.ritzValues[j]!, 0));
  }
  const bulk = estimates.reduce((a, b) => a + b, 0) / estimates.length;
  const variance = estimates.reduce((a, e) => a + (e - bulk) ** 2, 0) / Math.max(1, estimates.length - 1);
  const all = nodes.flat();
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const width = hi > lo ? hi - lo : Math.max(Math.abs(hi), 1);
  const sigma = 0.01 * width;
  const grid = Array.from({ length: gridPoints }, (_, i) => lo - 3 * sigma + ((hi - lo + 6 * sigma) * i) / (gridPoints - 1));
  const share = (n - deflate.length) / n;
  const scale = 1 / (sigma * Math.sqrt(2 * Math.PI) * nodes.length);
  const density = grid.map((g) => {
    let d = 0;
    nodes.forEach((row, r) => row.forEach((x, j) => { d += share * weights[r]![j]! * scale * Math.exp(-0.5 * ((g - x) / sigma) ** 2); }));
    return d;
  });
  return {
    grid, density, outliers: [...outliers.eigenvalues], nodes, weights, sigma,
    impliedTrace: bulk + outliers.eigenvalues.reduce((a, b) => a + b, 0),
    impliedTraceStderr: Math.sqrt(variance / estimates.length),
  };
}

/** Two-sided 95 % Student-t quantiles by degrees of freedom (1…30; normal beyond). */
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export function t95(df: number): number {
  return df >= 1 && df <= 30 ? T95[df - 1]! : 1.96;
}

export interface TraceResult {
  readonly trace: number;
  readonly halfWidth: number;
  readonly probes: number;
  /** Each probe's estimate of the whole trace (exact part included). */
  readonly estimates: number[];
  /** Per segment (layer): trace and 95 % half-width. */
  readonly segments: { readonly value: number; readonly halfWidth: number }[];
}

/**
 * tr(H) = Σ vᵢᵀHvᵢ over the deflation vectors (exact) + Hutchinson on (I−VVᵀ)H(I−VVᵀ) with
 * Rademacher probes, stopping once the 95 % half-width is within `relTol` of |trace| (at least 3
 * probes) or at `maxProbes`. `segments` are [start, end) index ranges (layers).
 */
export function hutchinson(hvp: Hvp, n: number, deflate: readonly Vec[], maxProbes: number, relTol: number, segments: readonly (readonly [number, number])[], rng: Rng): TraceResult {
  const project = (x: Vec): Vec => {
    const y = Float64Array.from(x);
    for (const q of deflate) axpy(y, -dot(y, q), q);
    return y;
  };
  // Exact part, also per segment: Σ_q (q_s · (Hq)_s).
  let exact = 0;
  const exactSeg = segments.map(() => 0);
  for (const q of deflate) {
    const hq = hvp(q);
    exact += dot(q, hq);
    segments.forEach(([a, b], s) => { let x = 0; for (let i = a; i < b; i++) x += q[i]! * hq[i]!; exactSeg[s]! += x; });
  }
  const samples: number[] = [];
  const segSamples: number[][] = segments.map(() => []);
  const stats = (xs: readonly number[]): { mean: number; half: number } => {
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    if (xs.length < 2) return { mean, half: Infinity };
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1);
    return { mean, half: t95(xs.length - 1) * Math.sqrt(variance / xs.length) };
  };
  for (let p = 0; p < maxProbes; p++) {
    const z = new Float64Array(n);
    for (let i = 0; i < n; i++) z[i] = rng.sign();
    const pz = project(z);
    const hz = project(hvp(pz));
    samples.push(dot(pz, hz));
    segments.forEach(([a, b], s) => { let x = 0; for (let i = a; i < b; i++) x += pz[i]! * hz[i]!; segSamples[s]!.push(x); });
    const { mean, half } = stats(samples);
    if (samples.length >= 3 && half <= relTol * Math.abs(mean + exact)) break;
  }
  const total = stats(samples);
  return {
    trace: exact + total.mean,
    halfWidth: total.half,
    probes: samples.length,
    estimates: samples.map((x) => exact + x),
    segments: segSamples.map((xs, s) => { const st = stats(xs); return { value: exactSeg[s]! + st.mean, halfWidth: st.half }; }),
  };
}
