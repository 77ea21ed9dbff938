/** Per-layer weight spectra as the Weights view reads them (pure). */

export interface WeightLayer {
  readonly name: string;
  readonly layer: string;
  readonly alpha: number | null;
  readonly xmin: number | null;
  readonly ks: number | null;
  readonly nTail: number | null;
  readonly stableRank: number | null;
  readonly spectralNorm: number | null;
  readonly shape: readonly number[];
  /** Eigenvalues of WᵀW/N (a log-spaced sample for large layers) and P(λ ≥ x) at each. */
  readonly eigenvalues: readonly number[];
  readonly ccdf: readonly number[];
  readonly numEigenvalues: number;
  readonly skipped: string | null;
}

const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function weightLayers(data: Readonly<Record<string, unknown>> | undefined): WeightLayer[] {
  const raw = data?.['layers'];
  if (!Array.isArray(raw)) return [];
  return (raw as Record<string, unknown>[]).map((l) => ({
    name: String(l['name'] ?? l['layer'] ?? '?'), layer: String(l['layer'] ?? l['name'] ?? '?'),
    alpha: n(l['alpha']), xmin: n(l['xmin']), ks: n(l['ks']), nTail: n(l['nTail']), stableRank: n(l['stableRank']), spectralNorm: n(l['spectralNorm']),
    shape: Array.isArray(l['shape']) ? (l['shape'] as number[]) : [],
    eigenvalues: Array.isArray(l['eigenvalues']) ? (l['eigenvalues'] as number[]) : [],
    ccdf: Array.isArray(l['eigenvalueCcdf']) ? (l['eigenvalueCcdf'] as number[]) : [],
    numEigenvalues: n(l['numEigenvalues']) ?? 0,
    skipped: typeof l['skipped'] === 'string' ? l['skipped'] : null,
  }));
}

/** Log-spaced histogram as a density (count / (N · bin width)), bins of equal width in log x. */
export function logHistogram(values: readonly number[], bins: number): { x: number; density: number }[] {
  if (values.length < 2) return [];
  const lo = Math.log10(Math.min(...values));
  const hi = Math.log10(Math.max(...values));
  if (!(hi > lo)) return [];
  const w = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((Math.log10(v) - lo) / w))]!++;
  return counts.map((c, i) => {
    const a = 10 ** (lo + i * w);
    const b = 10 ** (lo + (i + 1) * w);
    return { x: Math.sqrt(a * b), density: c / (values.length * (b - a)) };
  });
}
