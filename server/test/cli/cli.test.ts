import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv-draft-04';

/** These tests run the built CLI (dist/cli.js) as a real process, as users and CI do. */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');

function run(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function workspace(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-cli-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const BAD = `import torch
from torch import nn

model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=5e-4)
`;
const CLEAN = `import torch
from torch import nn

model = nn.Linear(8, 2)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
`;

describe('regscope CLI', () => {
  it('check: exit 1 with findings, 0 when clean, 2 on usage errors', () => {
    const dir = workspace({ 'bad.py': BAD, 'pkg/clean.py': CLEAN, '.venv/ignored.py': BAD });
    const bad = run(['check', '.'], dir);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stdout, /^bad\.py:5:\d+: WD001 warning /m);
    assert.doesNotMatch(bad.stdout, /ignored\.py/);
    assert.match(bad.stdout, /in 2 files\./);
    assert.equal(run(['check', 'pkg/clean.py', '--select', 'WD001'], dir).code, 0);
    assert.equal(run(['check', 'bad.py', '--fail-on', 'error'], dir).code, 0);
    assert.equal(run(['check', 'bad.py', '--select', 'NOPE'], dir).code, 2);
    assert.equal(run(['check', 'missing.py'], dir).code, 2);
    assert.equal(run(['check', 'bad.py', '--format', 'xml'], dir).code, 2);
    assert.equal(run(['frobnicate'], dir).code, 2);
  });

  it('check --format json: the documented shape, 1-based positions', () => {
    const dir = workspace({ 'bad.py': BAD });
    const r = run(['check', 'bad.py', '--format', 'json', '--select', 'WD001'], dir);
    const records = JSON.parse(r.stdout);
    assert.equal(records.length, 1);
    const f = records[0];
    assert.deepEqual(Object.keys(f).sort(), ['column', 'endColumn', 'endLine', 'file', 'fixes', 'line', 'message', 'rule', 'severity']);
    assert.equal(f.file, 'bad.py');
    assert.equal(f.line, 5);
    assert.equal(BAD.split('\n')[4]!.slice(f.column - 1, f.endColumn - 1), 'weight_decay=5e-4');
    assert.equal(f.fixes[0].safe, false);
  });

  it('check --format sarif: valid SARIF 2.1.0 with rule metadata and help URIs', () => {
    const dir = workspace({ 'bad.py': BAD });
    const r = run(['check', 'bad.py', '--format', 'sarif'], dir);
    const log: { runs: { tool: { driver: { rules: { helpUri: string }[] } }; results: { ruleId: string }[] }[] } = JSON.parse(r.stdout);
    const schemaPath = require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
    assert.ok(validate(log), JSON.stringify(validate.errors, null, 2));
    const rules = log.runs[0]!.tool.driver.rules;
    assert.ok(rules.every((x: { helpUri: string }) => /docs\/rules\/[A-Z]+\d{3}\.md$/.test(x.helpUri)));
    assert.ok(log.runs[0]!.results.some((x: { ruleId: string }) => x.ruleId === 'WD001'));
  });

  it('settings from the nearest pyproject.toml; bad settings are reported, not fatal', () => {
    const dir = workspace({
      'pyproject.toml': '[tool.regscope]\nignore = ["WD002"]\n[tool.regscope.severity]\nWD001 = "error"\n',
      'sub/bad.py': BAD,
    });
    const r = run(['check', 'sub', '--format', 'json'], dir);
    const records = JSON.parse(r.stdout);
    assert.deepEqual(records.map((x: { rule: string }) => x.rule).filter((x: string) => x.startsWith('WD')), ['WD001']);
    assert.equal(records.find((x: { rule: string }) => x.rule === 'WD001').severity, 'error');
    const broken = workspace({ 'pyproject.toml': '[tool.regscope]\nignore = "WD002"\n', 'bad.py': BAD });
    const b = run(['check', 'bad.py'], broken);
    assert.equal(b.code, 1);
    assert.match(b.stdout, /ignore must be a list of rule ids/);
  });

  it('inspect prints the model with every hyperparameter and its source', () => {
    const dir = workspace({ 'train.py': `import argparse\nimport torch\np = argparse.ArgumentParser()\np.add_argument("--lr", type=float, default=0.05)\nargs = p.parse_args()\nmodel = torch.nn.Linear(2, 2)\nopt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)\n` });
    const m = JSON.parse(run(['inspect', 'train.py', '--format', 'json'], dir).stdout);
    const lr = m.hyperparameters.find((h: { owner: string; name: string }) => h.owner === 'SGD' && h.name === 'lr');
    assert.deepEqual({ value: lr.value, source: lr.source, line: lr.line, origin: lr.origin }, { value: 0.05, source: 'argparse', line: 7, origin: { file: 'train.py', line: 4 } });
    assert.equal(m.optimizers[0].class, 'SGD');
  });

  it('fix applies safe fixes only unless --unsafe, and is idempotent', () => {
    const dir = workspace({ 'bad.py': BAD });
    run(['fix', 'bad.py'], dir);
    const afterSafe = fs.readFileSync(path.join(dir, 'bad.py'), 'utf8');
    assert.ok(afterSafe.includes('torch.optim.Adam('), 'unsafe fix not applied without --unsafe');
    run(['fix', 'bad.py', '--unsafe', '--select', 'WD001'], dir);
    const once = fs.readFileSync(path.join(dir, 'bad.py'), 'utf8');
    assert.match(once, /torch\.optim\.AdamW\(model\.parameters\(\), lr=1e-3, weight_decay=5e-4\)/);
    run(['fix', 'bad.py', '--unsafe', '--select', 'WD001'], dir);
    assert.equal(fs.readFileSync(path.join(dir, 'bad.py'), 'utf8'), once);
    const check = JSON.parse(run(['check', 'bad.py', '--format', 'json', '--select', 'WD001'], dir).stdout);
    assert.equal(check.length, 0);
  });

  it('rules lists the whole catalogue', () => {
    const r = run(['rules', '--format', 'json'], ROOT);
    const rules = JSON.parse(r.stdout);
    assert.ok(rules.length >= 4);
    assert.ok(rules.every((x: { docs: string; id: string }) => x.docs.endsWith(`${x.id}.md`)));
  });
});
