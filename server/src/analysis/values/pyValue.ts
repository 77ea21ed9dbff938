/**
 * Where a hyperparameter's value came from. `literal`: written at the use site; `constant`: a
 * named assignment in the script; `argparse`: a command-line flag's default; `config`: a dict,
 * dataclass, namespace or YAML/JSON file; `parameter`: a function or constructor parameter
 * (its default or the one call site that passes it); `default`: the library's own default,
 * because the script does not set it.
 */
export type ValueSource = 'literal' | 'constant' | 'argparse' | 'config' | 'parameter' | 'default';

/** A file and a zero-based position; `file` undefined means the analysed script itself. */
export interface Origin {
  readonly file: string | undefined;
  readonly line: number;
  readonly character: number;
}

export type PyValue =
  | { readonly kind: 'number'; readonly value: number; readonly isInt: boolean }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'none' }
  | { readonly kind: 'sequence'; readonly items: readonly Resolved[] }
  | { readonly kind: 'mapping'; readonly entries: ReadonlyMap<string, Resolved> };

/** A value (or `undefined` when it cannot be known statically) with its provenance. */
export interface Resolved {
  readonly value: PyValue | undefined;
  readonly source: ValueSource;
  readonly origin: Origin;
  /** Human-readable provenance: `--lr default`, `configs/a.yaml: optim.lr`, `AdamW default`. */
  readonly detail: string;
}

export const num = (value: number, isInt = Number.isInteger(value)): PyValue => ({ kind: 'number', value, isInt });

export function asNumber(r: Resolved | undefined): number | undefined {
  const v = r?.value;
  if (!v) return undefined;
  if (v.kind === 'number') return v.value;
  if (v.kind === 'bool') return v.value ? 1 : 0;
  return undefined;
}

export function asString(r: Resolved | undefined): string | undefined {
  return r?.value?.kind === 'string' ? r.value.value : undefined;
}

export function asBool(r: Resolved | undefined): boolean | undefined {
  const v = r?.value;
  if (!v) return undefined;
  if (v.kind === 'bool') return v.value;
  if (v.kind === 'number') return v.value !== 0;
  if (v.kind === 'none') return false;
  return undefined;
}

export function isNone(r: Resolved | undefined): boolean {
  return r?.value?.kind === 'none';
}

export function asNumbers(r: Resolved | undefined): number[] | undefined {
  const v = r?.value;
  if (v?.kind !== 'sequence') return undefined;
  const out: number[] = [];
  for (const item of v.items) {
    const n = asNumber(item);
    if (n === undefined) return undefined;
    out.push(n);
  }
  return out;
}

/** Python-style rendering for messages and hovers: 0.0003 → 3e-4, True, (0.9, 0.999). */
export function formatValue(v: PyValue | undefined): string {
  if (!v) return 'unknown';
  switch (v.kind) {
    case 'number':
      return formatNumber(v.value, v.isInt);
    case 'string':
      return JSON.stringify(v.value);
    case 'bool':
      return v.value ? 'True' : 'False';
    case 'none':
      return 'None';
    case 'sequence':
      return `(${v.items.map((i) => formatValue(i.value)).join(', ')}${v.items.length === 1 ? ',' : ''})`;
    case 'mapping':
      return `{${[...v.entries].slice(0, 4).map(([k, e]) => `${JSON.stringify(k)}: ${formatValue(e.value)}`).join(', ')}${v.entries.size > 4 ? ', …' : ''}}`;
  }
}

export function formatNumber(x: number, isInt = false): string {
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : x < 0 ? '-inf' : 'nan';
  if (isInt && Number.isInteger(x)) return String(x);
  if (x === 0) return '0.0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e5) {
    const s = String(Number(x.toPrecision(6)));
    return s.includes('.') || s.includes('e') ? s : `${s}.0`;
  }
  const [m, e] = x.toExponential().split('e');
  const mant = String(Number(Number(m).toPrecision(6)));
  return `${mant}e${Number(e)}`;
}
