import type { Finding, Fix, TextEdit } from './findings';
import { LineIndex } from './positions';

/**
 * Applies edits to a text. Edits are applied from the end so earlier offsets stay valid;
 * an edit overlapping one already taken is skipped (returned in `skipped`), never merged.
 */
export function applyEdits(text: string, edits: readonly TextEdit[]): { text: string; applied: number; skipped: TextEdit[] } {
  const lines = new LineIndex(text);
  const withOffsets = edits.map((e) => ({ e, start: lines.offsetAt(e.range.start), end: lines.offsetAt(e.range.end) }));
  withOffsets.sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  let floor = Infinity;
  let applied = 0;
  const skipped: TextEdit[] = [];
  for (const { e, start, end } of withOffsets) {
    if (end > floor) {
      skipped.push(e);
      continue;
    }
    out = out.slice(0, start) + e.newText + out.slice(end);
    floor = start;
    applied++;
  }
  return { text: out, applied, skipped };
}

/** The fixes `regscope fix` applies: the first safe one of each finding (and unsafe ones if asked). */
export function chooseFixes(findings: readonly Finding[], includeUnsafe: boolean): Fix[] {
  const out: Fix[] = [];
  for (const f of findings) {
    const fix = f.fixes.find((x) => x.safe) ?? (includeUnsafe ? f.fixes[0] : undefined);
    if (fix) out.push(fix);
  }
  return out;
}

/**
 * Applies whole fixes, never half of one: a fix whose edits overlap an earlier chosen fix waits
 * for the next round (the caller re-analyses and tries again).
 */
export function applyFixes(text: string, fixes: readonly Fix[]): { text: string; applied: Fix[]; deferred: Fix[] } {
  const lines = new LineIndex(text);
  const taken: [number, number][] = [];
  const applied: Fix[] = [];
  const deferred: Fix[] = [];
  const overlaps = (s: number, e: number) => taken.some(([a, b]) => s < b && a < e || (s === e && a <= s && s <= b) || (a === b && s <= a && a <= e));
  for (const fix of fixes) {
    const spans = fix.edits.map((ed) => [lines.offsetAt(ed.range.start), lines.offsetAt(ed.range.end)] as [number, number]);
    if (spans.some(([s, e]) => overlaps(s, e))) {
      deferred.push(fix);
      continue;
    }
    taken.push(...spans);
    applied.push(fix);
  }
  const result = applyEdits(text, applied.flatMap((f) => f.edits));
  return { text: result.text, applied, deferred };
}
