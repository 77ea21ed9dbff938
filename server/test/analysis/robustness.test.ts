import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { analyze } from '../../src/analysis/analyze';
import { ParsedDocument } from '../../src/analysis/document';
import { decodeSource } from '../../src/host/decodeSource';
import { loadPythonParser } from '../../src/host/parserLoader';
import { analyzeText } from '../support/analyzeFile';

const SEED_SCRIPT = `import argparse, yaml
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=3e-4)
parser.add_argument("--wd", type=float, default=0.05)
args = parser.parse_args()
cfg = yaml.safe_load(open("cfg.yaml"))

class Net(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.drop = nn.Dropout(p)
        self.bn = nn.BatchNorm1d(64, 0.8)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(self.bn(self.drop(F.relu(self.fc1(x)))))

def train(model, loader, epochs=10):
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.wd)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=30)
    scaler = torch.cuda.amp.GradScaler()
    running = 0
    for epoch in range(epochs):
        for i, (x, y) in enumerate(loader):
            with torch.cuda.amp.autocast():
                loss = F.cross_entropy(F.softmax(model(x), -1), y)
            sched.step()
            scaler.scale(loss).backward()
            opt.zero_grad()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
            running += loss
    return running

if __name__ == "__main__":
    train(Net(), DataLoader(list(range(10)), batch_size=2))
`;

/** Every finding's range and every fix edit lies inside the document. */
function assertRangesInside(text: string, r: ReturnType<typeof analyze>): void {
  const lines = text.split(/\r\n|\r|\n/);
  const inside = (p: { line: number; character: number }) => p.line >= 0 && p.line < lines.length && p.character >= 0 && p.character <= lines[p.line]!.length;
  for (const f of r.findings) {
    assert.ok(inside(f.range.start) && inside(f.range.end), `${f.rule} range outside the document`);
    for (const fix of f.fixes) for (const e of fix.edits) assert.ok(inside(e.range.start) && inside(e.range.end), `${f.rule} fix edit outside`);
  }
}

describe('bad input never crashes the analysis', () => {
  it('syntax errors, tabs, no newline, CRLF, not Python, empty, binary', async () => {
    const cases = [
      SEED_SCRIPT.replace('def train(model, loader, epochs=10):', 'def train(model, loader, epochs=10:'),
      SEED_SCRIPT.replace(/    /g, '\t'),
      SEED_SCRIPT.replace(/\n$/, ''),
      SEED_SCRIPT.replace(/\n/g, '\r\n'),
      '# Title\n\nSome *markdown* text, not Python.\n\n```\ncode\n```\n',
      '#include <stdio.h>\nint main(void) { printf("hi\\n"); return 0; }\n',
      '',
      '\u0000\u0001\u0002binary\u0000',
      'def f(:\n' .repeat(500),
      '('.repeat(5000),
      'x = [' + '1, '.repeat(20000) + ']',
    ];
    for (const text of cases) {
      const r = await analyzeText(text);
      assertRangesInside(text, r);
    }
  });

  it('partial results on a file with a syntax error mid-way', async () => {
    const broken = SEED_SCRIPT.replace('    return running', '    return running +* ]');
    const r = await analyzeText(broken);
    assert.ok(r.notices.some((n) => n.includes('syntax errors')));
    assert.ok(r.findings.some((f) => f.rule === 'WD001'), 'the intact optimizer line is still checked');
  });

  it('Latin-1 source with a coding declaration decodes and analyses', async () => {
    const text = '# -*- coding: latin-1 -*-\n# r\u00e9gularisation\nimport torch\nm = torch.nn.Linear(2, 2)\nopt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=1e-2)\n';
    const bytes = Buffer.from(text, 'latin1');
    const decoded = decodeSource(bytes);
    assert.equal(decoded.text, text);
    const r = await analyzeText(decoded.text);
    assert.ok(r.findings.some((f) => f.rule === 'WD001'));
    // invalid UTF-8 without a declaration falls back to latin-1 instead of failing
    assert.equal(decodeSource(Buffer.from([0x78, 0x20, 0x3d, 0x20, 0xe9, 0x0a])).encoding, 'latin-1 (invalid UTF-8)');
  });

  it('a 10 MB file gets a clear notice instead of minutes of work', async () => {
    const big = SEED_SCRIPT.repeat(Math.ceil(10_000_000 / SEED_SCRIPT.length));
    const r = await analyzeText(big);
    assert.ok(r.notices.some((n) => /not analysed/.test(n)));
    assert.equal(r.findings.length, 0);
  });

  it('fuzz: thousands of mutated scripts never throw and keep ranges inside the document', async () => {
    const parser = await loadPythonParser();
    const tokens = ['(', ')', ':', '\n', '    ', '=', ',', '.', 'lr=', '0.1', 'opt.step()', 'loss.backward()', 'for x in y:', '"', "'", '#', '\\', '**', 'é', '\t', 'def ', 'class '];
    const mutation = fc.record({
      at: fc.nat(),
      del: fc.nat({ max: 12 }),
      ins: fc.array(fc.constantFrom(...tokens), { maxLength: 4 }).map((a) => a.join('')),
    });
    let previous = ParsedDocument.parse(parser, SEED_SCRIPT);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (muts) => {
        let text = SEED_SCRIPT;
        for (const m of muts) {
          const at = m.at % (text.length + 1);
          text = text.slice(0, at) + m.ins + text.slice(at + m.del);
        }
        // Alternate fresh and incremental parsing so both paths are exercised.
        const doc = previous.update(text);
        const r = analyze({ document: doc });
        assertRangesInside(text, r);
        assert.ok(!r.notices.some((n) => n.startsWith('Rule ')), r.notices.join('\n'));
        previous.dispose();
        previous = doc;
      }),
      { numRuns: 3000, seed: 42 },
    );
    previous.dispose();
  });
});
