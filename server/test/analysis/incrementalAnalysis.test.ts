import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { analyze } from '../../src/analysis/analyze';
import { ParsedDocument } from '../../src/analysis/document';
import { loadPythonParser } from '../../src/host/parserLoader';

/**
 * Statement syntax and facts are reused across edits; the findings of an incrementally updated
 * document must equal those of a fresh parse of the same text, edit after edit.
 */
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'pytorch', 'resnet_cifar_problems.py');

const summary = (r: ReturnType<typeof analyze>) => r.findings.map((f) => `${f.rule} ${f.range.start.line}:${f.range.start.character}-${f.range.end.line}:${f.range.end.character} ${f.message}`);

describe('incremental analysis', () => {
  it('gives the same findings as a fresh analysis after every edit', async () => {
    const parser = await loadPythonParser();
    let text = fs.readFileSync(FIXTURE, 'utf8');
    let doc = ParsedDocument.parse(parser, text);
    analyze({ document: doc });
    const edits: [RegExp, string][] = [
      [/weight_decay=[^,)\n]+/, 'weight_decay=0.3'],
      [/\nimport torch\n/, '\nimport torch\nimport torch.nn as tnn\n'],
      [/momentum=[^,)\n]+/, 'momentum=0.0'],
      [/\n\n/, '\n\nBASE_LR = 0.4\n\n'],
      [/import torch.nn as tnn\n/, ''],
      [/lr=[^,)\n]+/, 'lr=BASE_LR'],
      // An import that changes what names mean elsewhere: qualification is per analysis, not cached.
      [/import torch\.optim as optim\n/, 'import torch.optim as optim_lib\noptim = None\n'],
      [/import torch\.optim as optim_lib\noptim = None\n/, 'import torch.optim as optim\n'],
    ];
    let compared = 0;
    for (const [pattern, replacement] of edits) {
      if (!pattern.test(text)) continue;
      text = text.replace(pattern, replacement);
      const next = doc.update(text);
      doc.dispose();
      doc = next;
      const fresh = ParsedDocument.parse(parser, text);
      assert.deepEqual(summary(analyze({ document: doc })), summary(analyze({ document: fresh })), `after replacing ${pattern}`);
      fresh.dispose();
      compared++;
    }
    assert.ok(compared >= 5);
    doc.dispose();
  });
});
