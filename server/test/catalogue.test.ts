import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { RULES } from '../src/analysis/catalogue';
import { ruleTableMarkdown } from '../src/analysis/ruleTable';

const ROOT = path.resolve(__dirname, '..', '..');

describe('rule catalogue', () => {
  it('ids are unique and well-formed', () => {
    const ids = RULES.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^(WD|OPT|LR|LOOP|AMP|EVAL|REG|DATA|FW|SEED)\d{3}$/);
  });

  it('covers every rule of the design catalogue (shared/design/rules.md)', () => {
    const design = path.resolve(ROOT, '..', 'shared', 'design', 'rules.md');
    if (!fs.existsSync(design)) return; // the design folder sits beside the checkout in this workplace
    const wanted = [...fs.readFileSync(design, 'utf8').matchAll(/^\| ((?:WD|OPT|LR|LOOP|AMP|EVAL|REG|DATA|FW|SEED)\d{3}) \|/gm)].map((m) => m[1]!);
    const have = new Set(RULES.map((r) => r.id));
    assert.deepEqual(wanted.filter((id) => !have.has(id)), []);
  });

  it('every rule has a docs page with the required sections', () => {
    for (const r of RULES) {
      const page = path.join(ROOT, 'docs', 'rules', `${r.id}.md`);
      assert.ok(fs.existsSync(page), `docs/rules/${r.id}.md is missing`);
      const text = fs.readFileSync(page, 'utf8');
      for (const section of ['## What it detects', '## Why it matters', '## Example', '## Suppression', '## References']) {
        assert.ok(text.includes(section), `${r.id}: "${section}" missing`);
      }
      assert.ok(text.includes(`regscope: ignore[${r.id}]`), `${r.id}: suppression comment not shown`);
      for (const key of Object.keys(r.options ?? {})) assert.ok(text.includes(key), `${r.id}: option ${key} undocumented`);
    }
  });

  it('every probe rule the engine can emit has a docs page and a README row', () => {
    const source = fs.readFileSync(path.join(ROOT, 'server', 'src', 'probe', 'probeFindings.ts'), 'utf8');
    const ids = [...new Set([...source.matchAll(/rule: '(PRB\d{3})'/g)].map((m) => m[1]!))].sort();
    assert.deepEqual(ids, ['PRB001', 'PRB002', 'PRB003', 'PRB004', 'PRB005', 'PRB006', 'PRB007']);
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const id of ids) {
      const text = fs.readFileSync(path.join(ROOT, 'docs', 'rules', `${id}.md`), 'utf8');
      for (const section of ['## What it detects', '## Why it matters', '## Example', '## References']) {
        assert.ok(text.includes(section), `${id}: "${section}" missing`);
      }
      assert.ok(readme.includes(`[${id}](docs/rules/${id}.md)`), `${id} missing from the README's probe rules`);
    }
  });

  it('the README rule list matches the catalogue', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    assert.ok(readme.includes(ruleTableMarkdown()), 'README rule list is stale: run `npm run docs:rules`');
  });
});
