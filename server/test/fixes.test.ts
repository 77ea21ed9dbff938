import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { applyEdits } from '../src/analysis/applyFixes';
import { analyzeText, listFixtures, analyzePath } from './support/analyzeFile';

/**
 * Every fix offered on every fixture, applied alone: the file still parses, the finding is
 * gone, the edit is stable (re-analysis does not offer the same fix again), and a safe fix
 * leaves every other finding as it was.
 */
const FIXTURES = path.join(__dirname, 'fixtures');

const count = (rules: string[]) => rules.reduce((m, r) => m.set(r, (m.get(r) ?? 0) + 1), new Map<string, number>());

describe('every quick fix on the fixtures', () => {
  for (const file of listFixtures(FIXTURES)) {
    it(path.relative(FIXTURES, file), async () => {
      const before = await analyzePath(file);
      const text = before.document.text;
      const brokenBefore = before.document.hasSyntaxErrors;
      for (const finding of before.findings) {
        for (const fix of finding.fixes) {
          const label = `${finding.rule}@${finding.range.start.line + 1} "${fix.title}"`;
          const { text: fixed, skipped } = applyEdits(text, fix.edits);
          assert.equal(skipped.length, 0, `${label}: its own edits overlap`);
          assert.notEqual(fixed, text, `${label}: changes nothing`);
          const after = await analyzeText(fixed, undefined, file);
          if (!brokenBefore) assert.equal(after.document.hasSyntaxErrors, false, `${label}: breaks the syntax\n${fixed}`);
          const was = before.findings.filter((f) => f.rule === finding.rule).length;
          const now = after.findings.filter((f) => f.rule === finding.rule).length;
          assert.ok(now < was, `${label}: the finding is still there after the fix`);
          if (fix.safe) {
            const others = (fs: typeof before.findings) => count(fs.filter((f) => f.rule !== finding.rule).map((f) => f.rule));
            assert.deepEqual(others(after.findings), others(before.findings), `${label}: a safe fix changed other findings`);
          }
        }
      }
    });
  }
});
