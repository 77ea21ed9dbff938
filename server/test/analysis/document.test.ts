import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParsedDocument } from '../../src/analysis/document';
import { LineIndex } from '../../src/analysis/positions';
import type { SyntaxNode } from '../../src/analysis/syntax/syntaxNode';
import { loadPythonParser } from '../../src/host/parserLoader';

function shape(n: SyntaxNode, text: string): string {
  return `${n.type}[${n.start},${n.end}]${n.field ? `:${n.field}` : ''}(${n.children.map((c) => shape(c, text)).join(' ')})`;
}

const SCRIPT = `import torch
from torch import nn

LR = 3e-4

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

def train(model, loader, lr=LR):
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
`;

describe('ParsedDocument', () => {
  it('incremental updates give the same tree as a fresh parse', async () => {
    const parser = await loadPythonParser();
    let doc = ParsedDocument.parse(parser, SCRIPT);
    let text = SCRIPT;
    // Type statements character by character at line starts, as a user does: the states in
    // between are broken; whenever the text is valid again the trees must be identical.
    // (Inside errors tree-sitter may recover differently incrementally, which is fine.)
    let seed = 7;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    const statements = ['x = 1\n', 'opt.step()\n', 'lr = 0.1 * 2\n', 'import os\n', '# note\n', 'y = f(a, b=2)\n'];
    let compared = 0;
    for (let i = 0; i < 40; i++) {
      const lineStarts = [0, ...[...text.matchAll(/\n/g)].map((m) => m.index! + 1)].filter((o) => o <= text.length);
      const at = lineStarts[rand(lineStarts.length)]!;
      const indent = /^[ ]*/.exec(text.slice(at))![0];
      const stmt = indent + statements[rand(statements.length)]!;
      for (let k = 1; k <= stmt.length; k++) {
        const typed = text.slice(0, at) + stmt.slice(0, k) + text.slice(at);
        const next = doc.update(typed);
        doc.dispose();
        doc = next;
      }
      text = text.slice(0, at) + stmt + text.slice(at);
      const fresh = ParsedDocument.parse(parser, text);
      if (!fresh.hasSyntaxErrors) {
        assert.equal(shape(doc.root, text), shape(fresh.root, text), `statement ${i}`);
        compared++;
      }
      fresh.dispose();
    }
    assert.ok(compared > 20, `compared ${compared} valid states`);
    doc.dispose();
  });

  it('reuses unchanged top-level statements and shifts them', async () => {
    const parser = await loadPythonParser();
    const doc = ParsedDocument.parse(parser, SCRIPT);
    const classNode = doc.root.children.find((c) => c.type === 'class_definition')!;
    const edited = SCRIPT.replace('LR = 3e-4', 'LR = 3e-4 * 2');
    const next = doc.update(edited);
    const moved = next.root.children.find((c) => c.type === 'class_definition')!;
    assert.equal(moved, classNode, 'same object reused');
    assert.equal(edited.slice(moved.start, moved.end), SCRIPT.slice(SCRIPT.indexOf('class Net'), SCRIPT.indexOf('\n\ndef train')));
    next.dispose();
  });

  it('does not parse files over the size limit', async () => {
    const parser = await loadPythonParser();
    const doc = ParsedDocument.parse(parser, 'x = 1\n'.repeat(800_000));
    assert.equal(doc.tooLarge, true);
    assert.equal(doc.root.children.length, 0);
  });
});

describe('LineIndex', () => {
  it('maps offsets and positions both ways for LF, CRLF and CR', () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const text = ['a = 1', 'bé = 2', '', 'c😀 = 3'].join(eol);
      const idx = new LineIndex(text);
      assert.equal(idx.lineCount, 4);
      for (let o = 0; o <= text.length; o++) {
        const p = idx.positionAt(o);
        if (text[o - 1] === '\r' && text[o] === '\n') continue; // inside a CRLF pair
        assert.equal(idx.offsetAt(p), o, `offset ${o} with ${JSON.stringify(eol)}`);
      }
      assert.equal(idx.lineText(3), 'c😀 = 3');
    }
  });
});
