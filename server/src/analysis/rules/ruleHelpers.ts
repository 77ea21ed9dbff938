import type { Hyperparameter } from '../model/trainingScript';
import { asNumber, formatValue, type Resolved } from '../values/pyValue';

/** `0.1 (from --lr default)` / `0.01 (AdamW default)`: the value and where it came from. */
export function describe(h: Hyperparameter | Resolved): string {
  const r = 'resolved' in h ? h.resolved : h;
  const value = formatValue(r.value);
  if (r.source === 'literal') return value;
  const origin = r.origin.file ? `${r.origin.file}:${r.origin.line + 1}` : `line ${r.origin.line + 1}`;
  return r.source === 'default' ? `${value} (${r.detail})` : `${value} (${r.detail}, ${origin})`;
}

export function numberOf(h: Hyperparameter | undefined): number | undefined {
  return h ? asNumber(h.resolved) : undefined;
}

