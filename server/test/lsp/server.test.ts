import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { CodeAction, Hover, InlayHint, CodeLens, Diagnostic } from 'vscode-languageserver-protocol';
import { applyEdits } from '../../src/analysis/applyFixes';
import { LspTestClient } from './lspClient';

const SCRIPT = `import argparse
import torch
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=3e-4)
parser.add_argument("--wd", type=float, default=0.05)
args = parser.parse_args()

model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.wd)
for epoch in range(3):
    for x, y in [(torch.randn(4, 8), torch.tensor([0, 1, 0, 1]))]:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
`;

describe('language server over stdio', () => {
  let client: LspTestClient;
  let dir: string;
  let uri: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-lsp-'));
    fs.writeFileSync(path.join(dir, 'train.py'), SCRIPT);
    uri = pathToFileURL(path.join(dir, 'train.py')).href;
    client = new LspTestClient();
    const init = (await client.initialize(pathToFileURL(dir).href)) as { capabilities: Record<string, unknown> };
    assert.ok(init.capabilities.hoverProvider);
  });

  after(async () => {
    const code = await client.shutdown();
    assert.equal(code, 0);
    assert.ok(!client.logs.some((l) => /unhandled rejection|uncaught exception/.test(l)), client.logs.join('\n'));
  });

  it('publishes diagnostics on open with code, docs link, source and fixes in data', async () => {
    const pending = client.diagnostics(uri, (p) => p.diagnostics.length > 0);
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text: SCRIPT } });
    const { diagnostics, version } = await pending;
    assert.equal(version, 1);
    const wd001 = diagnostics.find((d) => d.code === 'WD001')!;
    assert.ok(wd001, JSON.stringify(diagnostics));
    assert.equal(wd001.source, 'regscope');
    assert.match(wd001.codeDescription!.href, /docs\/rules\/WD001\.md$/);
    assert.equal(wd001.range.start.line, 10);
    assert.ok(String(wd001.message).includes('0.05 (--wd default, line 7)'));
    assert.ok((wd001.data as { fixes: unknown[] }).fixes.length > 0);
    assert.ok(wd001.relatedInformation!.length > 0);
  });

  it('diagnostics follow edits and disappear when the problem is fixed', async () => {
    const fixedText = SCRIPT.replace('torch.optim.Adam(', 'torch.optim.AdamW(');
    const pending = client.diagnostics(uri, (p) => p.version === 2);
    await client.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [{ range: { start: { line: 10, character: 28 }, end: { line: 10, character: 28 } }, text: 'W' }],
    });
    const { diagnostics } = await pending;
    assert.ok(!diagnostics.some((d) => d.code === 'WD001'), JSON.stringify(diagnostics.map((d) => d.code)));
    // and back
    const back = client.diagnostics(uri, (p) => p.version === 3);
    await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 3 }, contentChanges: [{ text: SCRIPT }] });
    assert.ok((await back).diagnostics.some((d) => d.code === 'WD001'));
    assert.notEqual(fixedText, SCRIPT);
  });

  it('code actions: unsafe fix titled as such, ignore-on-line, fix-all; applying the fix removes the finding', async () => {
    const diags = client.lastDiagnostics.get(uri)!.diagnostics as Diagnostic[];
    const wd001 = diags.find((d) => d.code === 'WD001')!;
    const actions = (await client.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri }, range: wd001.range, context: { diagnostics: [wd001] },
    })) as CodeAction[];
    const switchFix = actions.find((a) => a.title.includes('AdamW'))!;
    assert.ok(switchFix, actions.map((a) => a.title).join('\n'));
    assert.match(switchFix.title, /changes training dynamics/);
    assert.notEqual(switchFix.isPreferred, true);
    const ignore = actions.find((a) => a.title === 'Ignore WD001 on this line')!;
    const ignored = applyEdits(SCRIPT, ignore.edit!.changes![uri]!);
    assert.match(ignored.text.split('\n')[10]!, /# regscope: ignore\[WD001\]$/);
    const fixed = applyEdits(SCRIPT, switchFix.edit!.changes![uri]!).text;
    const pending = client.diagnostics(uri, (p) => p.version === 4);
    await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 4 }, contentChanges: [{ text: ignored.text }] });
    assert.ok(!(await pending).diagnostics.some((d) => d.code === 'WD001'), 'suppressed');
    const p5 = client.diagnostics(uri, (p) => p.version === 5);
    await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 5 }, contentChanges: [{ text: fixed }] });
    assert.ok(!(await p5).diagnostics.some((d) => d.code === 'WD001'), 'fixed');
    const p6 = client.diagnostics(uri, (p) => p.version === 6);
    await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 6 }, contentChanges: [{ text: SCRIPT }] });
    await p6;
  });

  it('hover shows the resolved value, where it came from and the usual range', async () => {
    const hover = (await client.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line: 10, character: 57 } })) as Hover;
    const md = (hover.contents as { value: string }).value;
    assert.match(md, /`lr` = \*\*`3e-4`\*\*/);
    assert.match(md, /--lr default/);
    assert.match(md, /train\.py:6\]\(file:\/\/.*train\.py#L6\)/);
    assert.match(md, /Usual values/);
  });

  it('inlay hints carry resolved values of names', async () => {
    const hints = (await client.connection.sendRequest('textDocument/inlayHint', {
      textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: 20, character: 0 } },
    })) as InlayHint[];
    const labels = hints.map((h) => String(h.label));
    assert.ok(labels.includes('▸ 3e-4 (--lr default)'), labels.join(' | '));
    assert.ok(labels.includes('▸ 0.05 (--wd default)'));
  });

  it('code lenses above the optimizer and the training loop', async () => {
    const lenses = (await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } })) as CodeLens[];
    const lines = [...new Set(lenses.map((l) => l.range.start.line))];
    assert.deepEqual(lines, [10, 11]);
    assert.deepEqual(lenses.filter((l) => l.range.start.line === 10).map((l) => l.command!.command), ['regscope.probe', 'regscope.probeLandscape', 'regscope.probeNoise']);
  });

  it('settings: invalid values get a clear message; ignore works', async () => {
    client.configuration = { ignore: ['WD001'], severity: { WD002: 'loud' } };
    const pending = client.diagnostics(uri, (p) => !p.diagnostics.some((d) => d.code === 'WD001'));
    await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await pending;
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(client.logs.some((l) => l.includes('regscope.severity.WD002 must be one of')), client.logs.join('\n'));
    client.configuration = {};
    const back = client.diagnostics(uri, (p) => p.diagnostics.some((d) => d.code === 'WD001'));
    await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await back;
  });

  it('pyproject.toml changes re-analyse open documents', async () => {
    fs.writeFileSync(path.join(dir, 'pyproject.toml'), '[tool.regscope]\nignore = ["WD"]\n');
    const pending = client.diagnostics(uri, (p) => !p.diagnostics.some((d) => String(d.code).startsWith('WD')));
    await client.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(path.join(dir, 'pyproject.toml')).href, type: 2 }] });
    await pending;
    fs.rmSync(path.join(dir, 'pyproject.toml'));
    const back = client.diagnostics(uri, (p) => p.diagnostics.some((d) => d.code === 'WD001'));
    await client.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(path.join(dir, 'pyproject.toml')).href, type: 3 }] });
    await back;
  });

  it('a change to a YAML config the script loads re-analyses it', async () => {
    fs.writeFileSync(path.join(dir, 'hp.yaml'), 'optim:\n  weight_decay: 0.0\n');
    const cfgScript = 'import yaml\nimport torch\ncfg = yaml.safe_load(open("hp.yaml"))\nm = torch.nn.Linear(2, 2)\nopt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=cfg["optim"]["weight_decay"])\n';
    const cfgUri = pathToFileURL(path.join(dir, 'cfg_train.py')).href;
    const first = client.diagnostics(cfgUri);
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri: cfgUri, languageId: 'python', version: 1, text: cfgScript } });
    assert.ok(!(await first).diagnostics.some((d) => d.code === 'WD001'), 'no decay yet');
    fs.writeFileSync(path.join(dir, 'hp.yaml'), 'optim:\n  weight_decay: 0.05\n');
    const changed = client.diagnostics(cfgUri, (p) => p.diagnostics.some((d) => d.code === 'WD001'));
    await client.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(path.join(dir, 'hp.yaml')).href, type: 2 }] });
    const wd = (await changed).diagnostics.find((d) => d.code === 'WD001')!;
    assert.match(String(wd.message), /hp\.yaml: optim\.weight_decay/);
    await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri: cfgUri } });
  });

  it('checks the whole workspace on request', async () => {
    fs.writeFileSync(path.join(dir, 'other.py'), 'import torch\nm = torch.nn.Linear(2, 2)\nopt = torch.optim.RMSprop(m.parameters(), lr=0.01, weight_decay=0.1)\n');
    const otherUri = pathToFileURL(path.join(dir, 'other.py')).href;
    const pending = client.diagnostics(otherUri, (p) => p.diagnostics.length > 0);
    const result = (await client.connection.sendRequest('regscope/checkWorkspace', {})) as { files: number; findings: number };
    assert.equal(result.files, 2);
    assert.ok(result.findings >= 2);
    assert.ok((await pending).diagnostics.some((d) => d.code === 'WD001'));
  });

  it('keeps answering while a 10,000-line file is edited quickly', async () => {
    const big = Array.from({ length: 400 }, (_, i) => SCRIPT.replace(/optimizer/g, `opt${i}`)).join('\n');
    const bigUri = pathToFileURL(path.join(dir, 'big.py')).href;
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri: bigUri, languageId: 'python', version: 1, text: big } });
    let text = big;
    for (let v = 2; v < 40; v++) {
      text = text.replace(/--wd", type=float, default=0\.\d+/g, `--wd", type=float, default=0.${v}`);
      await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri: bigUri, version: v }, contentChanges: [{ text }] });
    }
    // Still answering another file in between, and the big file ends on its latest version.
    const hover = (await client.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line: 10, character: 57 } })) as Hover;
    assert.match((hover.contents as { value: string }).value, /--lr default/);
    const last = await client.diagnostics(bigUri, (p) => p.version === 39, 20000);
    assert.ok(last.diagnostics.some((d) => String(d.message).includes('weight_decay=0.39 (--wd default')), 'diagnostics reflect the last edit');
  });
});
