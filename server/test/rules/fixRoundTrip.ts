import * as assert from 'node:assert/strict';
import { applyEdits } from '../../src/analysis/applyFixes';
import type { Finding } from '../../src/analysis/findings';
import { analyzeText } from '../support/analyzeFile';

/** Findings of one rule, as `RULE@line` (1-based) keys. */
export async function findingsOf(text: string, rule: string): Promise<Finding[]> {
  const r = await analyzeText(text);
  return r.findings.filter((f) => f.rule === rule);
}

export async function linesOf(text: string, rule: string): Promise<number[]> {
  return (await findingsOf(text, rule)).map((f) => f.range.start.line + 1);
}

/** 1-based line of the first line containing `needle`. */
export function lineWith(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `no line contains ${needle}`);
  return i + 1;
}

/**
 * Applies the finding's fix (the first, or the one whose title matches), re-analyses, and checks:
 * the file still parses, the finding is gone, and the other rules' findings are unchanged unless
 * `othersMayChange`. Returns the fixed text.
 */
export async function applyFixAndCheck(text: string, rule: string, line: number, opts: { title?: RegExp; othersMayChange?: boolean } = {}): Promise<string> {
  const before = await analyzeText(text);
  assert.equal(before.document.hasSyntaxErrors, false, 'input parses');
  const finding = before.findings.find((f) => f.rule === rule && f.range.start.line + 1 === line);
  assert.ok(finding, `${rule}@${line} found; got ${before.findings.map((f) => `${f.rule}@${f.range.start.line + 1}`).join(', ')}`);
  const fix = opts.title ? finding.fixes.find((f) => opts.title!.test(f.title)) : finding.fixes[0];
  assert.ok(fix, `${rule}@${line} has a fix`);
  const { text: fixed, skipped } = applyEdits(text, fix.edits);
  assert.equal(skipped.length, 0, 'no overlapping edits');
  const after = await analyzeText(fixed);
  assert.equal(after.document.hasSyntaxErrors, false, `fixed text parses:\n${fixed}`);
  const count = (fs: readonly Finding[]) => fs.filter((f) => f.rule === rule).length;
  assert.equal(count(after.findings), count(before.findings) - 1, `${rule} finding gone after the fix:\n${fixed}`);
  if (!opts.othersMayChange) {
    const others = (fs: readonly Finding[]) => fs.filter((f) => f.rule !== rule).map((f) => f.rule).sort();
    assert.deepEqual(others(after.findings), others(before.findings), `other findings unchanged:\n${fixed}`);
  }
  return fixed;
}
