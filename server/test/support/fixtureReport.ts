/**
 * Development aid: `npx tsx server/test/support/fixtureReport.ts [RULE_PREFIX] [FIXTURE_SUBSTRING]`
 * prints, per fixture, annotated findings that are missing and findings that are not annotated.
 */
import * as path from 'node:path';
import { analyzePath, expectations, listFixtures } from './analyzeFile';

(async () => {
  const [prefix = '', filter = ''] = process.argv.slice(2);
  const dir = path.join(__dirname, '..', 'fixtures');
  let bad = 0;
  for (const file of listFixtures(dir).filter((f) => f.includes(filter))) {
    const r = await analyzePath(file);
    const want = expectations(r.document.text).filter((e) => e.rule.startsWith(prefix)).map((e) => `${e.rule}@${e.line + 1}`);
    const got = r.findings.filter((f) => f.rule.startsWith(prefix));
    const gotKeys = got.map((f) => `${f.rule}@${f.range.start.line + 1}`);
    const missing = want.filter((w) => !gotKeys.includes(w));
    const extra = got.filter((f) => !want.includes(`${f.rule}@${f.range.start.line + 1}`));
    if (missing.length || extra.length || r.notices.length) {
      bad++;
      console.log(`\n${path.relative(dir, file)}`);
      for (const m of missing) console.log(`  MISSING ${m}`);
      for (const e of extra) console.log(`  EXTRA   ${e.rule}@${e.range.start.line + 1}: ${e.message.slice(0, 160)}`);
      for (const n of r.notices) console.log(`  NOTICE  ${n}`);
    }
  }
  console.log(`\n${bad} fixture(s) with differences${prefix ? ` for ${prefix}` : ''}`);
})();
