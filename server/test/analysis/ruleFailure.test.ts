import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyze } from '../../src/analysis/analyze';
import { RULES_BY_ID } from '../../src/analysis/catalogue';
import { ParsedDocument } from '../../src/analysis/document';
import type { RuleSpec } from '../../src/analysis/rules/ruleSpec';
import { loadPythonParser } from '../../src/host/parserLoader';

describe('a rule that throws', () => {
  it('is skipped and reported; the other rules still report, and its partial findings are dropped', async () => {
    const parser = await loadPythonParser();
    const doc = ParsedDocument.parse(parser, 'import torch\nm = torch.nn.Linear(2, 2)\nopt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=0.1)\n');
    const broken: RuleSpec = {
      id: 'WD999', title: 'broken', family: 'WD', severity: 'error', fix: 'none', reference: '',
      check(ctx) {
        ctx.report({ node: ctx.model.optimizers[0]!.call.node, message: 'half-done' });
        throw new Error('boom');
      },
    };
    const r = analyze({ document: doc, rules: [broken, RULES_BY_ID.get('WD001')!] });
    assert.deepEqual(r.findings.map((f) => f.rule), ['WD001']);
    assert.deepEqual(r.notices, ['Rule WD999 failed on this file and was skipped: boom']);
  });
});
