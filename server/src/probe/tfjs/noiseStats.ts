/**
 * The gradient-noise and softmax-collapse statistics the Python harness reports
 * (server/python/regscope_probe/noise.py, tail_index.py, collapse.py), on plain arrays, for the
 * embedded engine: the same definitions, so the same events mean the same thing. Pure.
 */
import { axpy, dot, norm, symmetricEigen } from './linalg';
import type { Rng } from './rng';

export interface Segment { readonly name: string; readonly range: readonly [number, number] }

export interface Spectrum { readonly eigenvalues: number[]; readonly spike: number | null; readonly ratio12: number | null }

/**
 * Eigenvalues of the per-example noise covariance restricted to the span of the m centred
 * micro-batch gradients (the m × m Gram matrix × micro-batch size / (m − 1)), largest first, and
 * the spike score λ₁ / median λ.
 */
function spectrum(centred: readonly Float64Array[], from: number, to: number, b: number): Spectrum {
  const m = centred.length;
  const gram = centred.map((gi) => centred.map((gj) => {
    let s = 0;
    for (let k = from; k < to; k++) s += gi[k]! * gj[k]!;
    return (s / Math.max(1, m - 1)) * b;
  }));
  const values = symmetricEigen(gram).values.map((x) => Math.max(0, x)).sort((x, y) => y - x).slice(0, Math.max(1, m - 1));
  const median = [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;
  return { eigenvalues: values, spike: median > 0 ? values[0]! / median : null, ratio12: values.length > 1 && values[1]! > 0 ? values[0]! / values[1]! : null };
}

const centre = (grads: readonly Float64Array[]): Float64Array[] => {
  const mean = new Float64Array(grads[0]!.length);
  for (const g of grads) axpy(mean, 1 / grads.length, g);
  return grads.map((g) => Float64Array.from(g, (x, i) => x - mean[i]!));
};

export function noiseSpectrum(grads: readonly Float64Array[], segments: readonly Segment[], microBatch: number): Spectrum & { layers: (Spectrum & { name: string })[]; microBatches: number; scale: string } {
  const c = centre(grads);
  return {
    ...spectrum(c, 0, c[0]!.length, microBatch),
    layers: segments.map((s) => ({ name: s.name, ...spectrum(c, s.range[0], s.range[1], microBatch) })),
    microBatches: grads.length,
    scale: 'per-example noise covariance (micro-batch covariance × micro-batch size)',
  };
}

/** Gradient signal-to-noise ratio E[g]²/Var[g] per coordinate, averaged over coordinates with noise (overall and per layer). */
export function gsnr(grads: readonly Float64Array[], segments: readonly Segment[]): { overall: number | null; layers: { name: string; value: number | null }[] } {
  const m = grads.length;
  const n = grads[0]!.length;
  const ratio = new Float64Array(n);
  const ok = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let mu = 0;
    for (const g of grads) mu += g[i]!;
    mu /= m;
    let v = 0;
    for (const g of grads) v += (g[i]! - mu) ** 2;
    v /= m - 1;
    if (v > 0) { ok[i] = 1; ratio[i] = (mu * mu) / v; }
  }
  const avg = (from: number, to: number): number | null => {
    let s = 0, k = 0;
    for (let i = from; i < to; i++) if (ok[i]) { s += ratio[i]!; k++; }
    return k ? s / k : null;
  };
  return { overall: avg(0, n), layers: segments.map((s) => ({ name: s.name, value: avg(s.range[0], s.range[1]) })) };
}

/**
 * Tail index α of symmetric α-stable samples from block sums (the estimator "A Tail-Index
 * Analysis of Stochastic Gradient Noise in Deep Neural Networks" uses): 1/α̂ = (mean log|Yᵢ| −
 * mean log|Xⱼ|)/log K₁ with Yᵢ sums of K₁ samples, K₁ = ⌊√K⌋. α = 2 is Gaussian.
 */
export function tailIndex(samples: Float64Array, k1?: number): { alpha: number; invAlpha: number; k1: number; k2: number; samples: number } {
  const x = samples.filter((v) => v !== 0);
  if (x.length < 16) throw new Error(`the tail index needs at least 16 nonzero samples, got ${x.length}`);
  const K1 = k1 ?? Math.max(2, Math.floor(Math.sqrt(x.length)));
  const K2 = Math.floor(x.length / K1);
  let logX = 0, logY = 0, ny = 0;
  for (let i = 0; i < K1 * K2; i++) logX += Math.log(Math.abs(x[i]!));
  logX /= K1 * K2;
  for (let j = 0; j < K2; j++) {
    let y = 0;
    for (let i = 0; i < K1; i++) y += x[j * K1 + i]!;
    if (y !== 0) { logY += Math.log(Math.abs(y)); ny++; }
  }
  logY /= Math.max(1, ny);
  const inv = (logY - logX) / Math.log(K1);
  return { alpha: inv <= 0.5 ? 2 : Math.min(2, 1 / inv), invAlpha: inv, k1: K1, k2: K2, samples: K1 * K2 };
}

/** The tail index of the centred micro-batch gradient coordinates (the noise), shuffled and subsampled. */
export function gradientTailIndex(grads: readonly Float64Array[], rng: Rng, maxSamples = 1_000_000): ReturnType<typeof tailIndex> {
  const c = centre(grads);
  const all = new Float64Array(c.length * c[0]!.length);
  c.forEach((g, i) => all.set(g, i * g.length));
  // Shuffle so that block sums mix coordinates from different micro-batches and layers.
  const order = rng.permutation(all.length).slice(0, maxSamples);
  return tailIndex(Float64Array.from(order, (i) => all[i]!));
}

/** Share of ‖g‖² in the span of `vectors` (the top Hessian eigenvectors), through Gram–Schmidt. */
export function gradientAlignment(g: Float64Array, vectors: readonly Float64Array[]): number | null {
  const g2 = dot(g, g);
  if (vectors.length === 0 || !(g2 > 0)) return null;
  const basis: Float64Array[] = [];
  for (const v of vectors) {
    const q = Float64Array.from(v);
    for (const b of basis) axpy(q, -dot(q, b), b);
    const nq = norm(q);
    if (nq > 1e-10) basis.push(q.map((x) => x / nq));
  }
  return basis.reduce((s, q) => s + dot(q, g) ** 2, 0) / g2;
}

/** Thresholds of the collapse risk, as collapse.py's RISK_THRESHOLDS. */
export const COLLAPSE_THRESHOLDS = { rowsHigh: 0.1, cosHigh: -0.9, cosRising: -0.5, growthRising: 0.01, bitsRising: 16 } as const;

export interface CollapseStats {
  readonly logitNorm: number;
  readonly logitNormGrowth: number | null;
  readonly saturated: number;
  readonly zeros: number;
  readonly ones: number;
  readonly rowsCollapsed: number;
  readonly saturationBits: number | null;
  readonly gradWeightCosine: number | null;
  readonly examples: number;
  readonly classes: number;
  readonly passes: number;
}

/**
 * Softmax-collapse symptoms of a batch of logits (rows × classes), after "Grokking at the Edge
 * of Numerical Stability": the float32 softmax outputs that are exactly 0 or 1 (PyTorch's
 * float32 softmax: exp(z − max) / Σ, each operation rounded to float32), the median bits of
 * saturation −log₂(1 − p_max) in float64, the logit norm and its growth, and cos(g, θ).
 */
export function softmaxCollapse(logits: ArrayLike<number>, classes: number, previousNorm: number | null, grad: Float64Array | null, params: Float64Array | null): CollapseStats {
  const f = Math.fround;
  const rows = Math.floor(logits.length / classes);
  let zeros = 0, ones = 0, collapsed = 0, normSum = 0;
  const bits: number[] = [];
  for (let r = 0; r < rows; r++) {
    const z = Array.from({ length: classes }, (_, j) => logits[r * classes + j]!);
    const max = Math.max(...z);
    const e = z.map((v) => f(Math.exp(f(f(v) - f(max)))));
    let sum = 0;
    for (const v of e) sum = f(sum + v);
    const p = e.map((v) => f(v / sum));
    zeros += p.filter((v) => v === 0).length;
    const rowOnes = p.filter((v) => v === 1).length;
    ones += rowOnes;
    if (rowOnes > 0) collapsed++;
    normSum += Math.sqrt(z.reduce((s, v) => s + v * v, 0));
    // ln(1 − p_max) = logsumexp(others) − logsumexp(all), exactly in float64.
    const top = z.indexOf(max);
    const lse = (xs: number[]): number => { const m = Math.max(...xs); return m === -Infinity ? -Infinity : m + Math.log(xs.reduce((s, v) => s + Math.exp(v - m), 0)); };
    bits.push(-(lse(z.filter((_, j) => j !== top)) - lse(z)) / Math.LN2);
  }
  const total = Math.max(1, rows * classes);
  const logitNorm = rows ? normSum / rows : Number.NaN;
  const sorted = [...bits].sort((a, b) => a - b);
  let cos: number | null = null;
  if (grad && params) {
    const ng = norm(grad), np = norm(params);
    if (ng > 0 && np > 0 && Number.isFinite(ng) && Number.isFinite(np)) cos = Math.max(-1, Math.min(1, dot(grad, params) / (ng * np)));
  }
  return {
    logitNorm,
    logitNormGrowth: previousNorm !== null && previousNorm > 0 && Number.isFinite(logitNorm) ? logitNorm / previousNorm - 1 : null,
    saturated: (zeros + ones) / total, zeros: zeros / total, ones: ones / total,
    rowsCollapsed: collapsed / Math.max(1, rows),
    // torch.median of an even count takes the lower middle value.
    saturationBits: sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : null,
    gradWeightCosine: cos, examples: rows, classes, passes: 0,
  };
}

/** 'low' | 'rising' | 'high' with reasons, as collapse.py's collapse_risk. */
export function collapseRisk(s: CollapseStats): { level: 'low' | 'rising' | 'high'; reasons: string[] } {
  const t = COLLAPSE_THRESHOLDS;
  const pct = (x: number, digits = 1): string => `${(x * 100).toFixed(digits)}%`;
  const high: string[] = [];
  const rising: string[] = [];
  const cos = s.gradWeightCosine;
  if (s.rowsCollapsed >= t.rowsHigh) high.push(`${pct(s.rowsCollapsed)} of examples have a float32 softmax output of exactly 1.0 (zero gradient); threshold ${pct(t.rowsHigh, 0)}`);
  if (s.rowsCollapsed > 0 && cos !== null && cos <= t.cosHigh) high.push(`collapsed examples present and cos(grad, weights) = ${cos.toFixed(3)} ≤ ${t.cosHigh}: the step mostly scales the weights up`);
  if (s.rowsCollapsed > 0 && !high.length) rising.push(`${pct(s.rowsCollapsed)} of examples already have a float32 softmax output of 1.0`);
  if (s.zeros > 0) rising.push(`${pct(s.zeros, 2)} of softmax outputs underflow to exactly 0.0 in float32`);
  if (s.saturationBits !== null && s.saturationBits >= t.bitsRising) rising.push(`median example is ${s.saturationBits.toFixed(1)} bits into saturation (float32 collapses near 24); threshold ${t.bitsRising}`);
  if (cos !== null && cos <= t.cosRising && s.logitNormGrowth !== null && s.logitNormGrowth >= t.growthRising) {
    rising.push(`cos(grad, weights) = ${cos.toFixed(3)} ≤ ${t.cosRising} while the logit norm grew ${s.logitNormGrowth >= 0 ? '+' : ''}${pct(s.logitNormGrowth)}: naive loss minimisation`);
  }
  if (high.length) return { level: 'high', reasons: [...high, ...rising] };
  if (rising.length) return { level: 'rising', reasons: rising };
  return { level: 'low', reasons: [] };
}
