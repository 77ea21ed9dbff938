/** Number formatting shared by tooltips, tables and CSV (pure). */

/** 4 significant digits, no trailing zeros; exponent form outside [1e-3, 1e5). */
export function num(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(digits - 1).replace(/\.?0+e/, 'e');
  return String(Number(x.toPrecision(digits)));
}

/** `0.896 ± 0.0006` or `108 [0, 280] (90 %)` from a value and its uncertainty. */
export function withUncertainty(value: number | null | undefined, u?: { kind: string; low?: number; high?: number; halfWidth?: number }): string {
  if (value === null || value === undefined) return '–';
  if (!u) return num(value);
  if (u.low !== undefined && u.high !== undefined && u.kind === 'interval90') return `${num(value)} [${num(u.low)}, ${num(u.high)}] (90 %)`;
  if (u.halfWidth !== undefined) {
    const label = u.kind === 'ci95' ? '95 %' : u.kind === 'residual' ? 'Ritz bound' : u.kind === 'stderr' ? '1 s.e.' : u.kind;
    return `${num(value)} ± ${num(u.halfWidth, 2)} (${label})`;
  }
  return num(value);
}

/** RFC 4180 CSV. */
export function toCsv(header: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  const cell = (v: string | number | null | undefined): string => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

export function seconds(s: number): string {
  return s < 1 ? `${Math.round(s * 1000)} ms` : s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
