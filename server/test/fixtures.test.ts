import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { analyzePath, expectations, listFixtures } from './support/analyzeFile';

/**
 * Every fixture states, with `# expect: ID` comments, exactly which findings it must produce
 * and on which line. Anything missing or extra fails: false positives count as much as misses.
 */
const FIXTURES = path.join(__dirname, 'fixtures');

describe('fixtures produce exactly their annotated findings', () => {
  for (const file of listFixtures(FIXTURES)) {
    it(path.relative(FIXTURES, file), async () => {
      const result = await analyzePath(file);
      const text = result.document.text;
      const want = expectations(text).map((e) => `${e.rule}@${e.line + 1}`).sort();
      const got = result.findings.map((f) => `${f.rule}@${f.range.start.line + 1}`).sort();
      const missing = want.filter((w) => !got.includes(w));
      const extra = got.filter((g) => !want.includes(g));
      const detail = result.findings
        .filter((f) => extra.includes(`${f.rule}@${f.range.start.line + 1}`))
        .map((f) => `  extra ${f.rule}@${f.range.start.line + 1}: ${f.message}`);
      assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, detail.join('\n'));
      assert.ok(want.length > 0 || !file.includes('_problems'), 'a problems fixture with no annotation tests nothing');
    });
  }
});
