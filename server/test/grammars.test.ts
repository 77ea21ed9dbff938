import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

/** The TextMate grammars' patterns, checked with JavaScript's regex engine (their syntax is the common subset). */
const SYNTAXES = path.resolve(__dirname, '..', '..', 'syntaxes');
const load = (f: string) => JSON.parse(fs.readFileSync(path.join(SYNTAXES, f), 'utf8'));

describe('grammars', () => {
  it('the injection grammar finds suppression directives inside Python comments', () => {
    const g = load('regscope-suppression.injection.json');
    assert.equal(g.injectionSelector, 'L:comment.line.number-sign.python');
    const re = new RegExp(g.repository.directive.match);
    const ids = new RegExp(g.repository.directive.captures['4'].patterns[0].match, 'g');
    const m = re.exec('# regscope: ignore[WD001, LOOP]  # why');
    assert.ok(m);
    assert.equal(m[2], 'ignore');
    assert.deepEqual(m[4]!.match(ids), ['WD001', 'LOOP']);
    assert.equal(re.exec('# regscope: ignore-file[SEED001]')![2], 'ignore-file');
    assert.equal(re.exec('# regscope: ignore')![2], 'ignore');
    assert.equal(re.exec('# just a comment about regscope'), null);
  });

  it('the probe-log grammar marks levels, rule ids and numbers with uncertainty', () => {
    const g = load('regscope-probe-log.tmLanguage.json');
    const byScope = (scope: string) => new RegExp(g.patterns.find((p: { name: string }) => p.name === scope).match);
    assert.ok(byScope('invalid.illegal.error.regscope').test('ERROR probe crashed'));
    assert.ok(byScope('constant.other.rule-id.regscope').test('PRB001 sharpness 0.95 × threshold'));
    assert.equal(byScope('constant.numeric.regscope').exec('trace=41.2 ± 0.8')![0], '41.2 ± 0.8');
  });

  it('package.json contributes both grammars with files that exist', () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(SYNTAXES, '..', 'package.json'), 'utf8'));
    for (const g of pkg.contributes.grammars) assert.ok(fs.existsSync(path.resolve(SYNTAXES, '..', g.path)), g.path);
  });
});
