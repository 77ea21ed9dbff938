import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { lineOf, ROOT, torchSkip, trainScript, workspace } from '../probe/probeScripts';

/** `regscope probe` and `regscope runs` as a user runs them: the built CLI as a real process. */
const CLI = path.join(ROOT, 'dist', 'cli.js');
const run = (args: string[], cwd: string) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('regscope probe / runs', { skip: torchSkip() }, () => {
  it('probe prints a summary with numbers, their uncertainty and cost, and leaves the run; runs lists it', () => {
    const dir = workspace({ 'train.py': trainScript() });
    const r = run(['probe', 'train.py', '--steps', '4'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^RegScope probe of train\.py: ok$/m);
    assert.match(r.stdout, /λ₁ +[\d.e-]+ \(error ≤ [\d.e-]+\) at step 4; top 5: /);
    assert.match(r.stdout, /tr\(H\) +[\d.e-]+ ± [\d.e-]+ \(95 % CI\) from \d+ Hutchinson probes; per layer: 0 [-\d.e]+, 2 [-\d.e]+ +\[\d+ HVPs/);
    assert.match(r.stdout, /live +SGD: lr 0\.1, momentum 0\.9/);
    assert.match(r.stdout, /run stored in \.regscope\/runs\/\d{8}-\d{6}-train-[0-9a-f]{4}/);
    assert.match(r.stderr, /step 1: loss/);
    const list = run(['runs'], dir);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^run +status +script +steps/m);
    assert.match(list.stdout, /train-[0-9a-f]{4} +ok +train\.py +4 /);
    const json = JSON.parse(run(['runs', '--json'], dir).stdout) as { runs: { id: string; status: string; steps: number }[] };
    assert.deepEqual(json.runs.map((x) => [x.status, x.steps]), [['ok', 4]]);
    // The stored run as a standalone HTML report, by run id.
    const report = run(['report', json.runs[0]!.id, '--html', 'out/report.html'], dir);
    assert.equal(report.code, 0, report.stderr);
    assert.equal(report.stdout.trim(), path.join(dir, 'out', 'report.html'));
    const html = fs.readFileSync(path.join(dir, 'out', 'report.html'), 'utf8');
    assert.ok(html.includes(json.runs[0]!.id));
    assert.match(html, /<script type="application\/json" id="regscope-report-data">\{"bundles":\[\{"runDir"/);
    assert.equal(run(['report', 'no-such-run', '--html', 'x.html'], dir).code, 2);
    assert.equal(run(['report', json.runs[0]!.id], dir).code, 2, '--html is required');
  });

  it('probe --html writes the report of the run it made', () => {
    const dir = workspace({ 'train.py': trainScript() });
    const r = run(['probe', 'train.py', '--steps', '2', '--metrics', 'hessian', '--html', 'probe.html'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /report written to probe\.html \(\d+ KiB/);
    assert.match(fs.readFileSync(path.join(dir, 'probe.html'), 'utf8'), /"name":"hessian\.top"/);
  });

  it('probe --json: the run record with findings on their lines; script arguments after --', () => {
    const text = trainScript({ lr: 'float(sys.argv[1])' });
    const dir = workspace({ 'train.py': text });
    const r = run(['probe', 'train.py', '--steps', '6', '--metrics', 'hessian', '--json', '--', '1e12'], dir);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { run: { status: string; findings: { rule: string; line: number }[]; args: string[] } };
    assert.deepEqual(out.run.args, ['1e12']);
    const prb = out.run.findings.find((f) => f.rule === 'PRB007');
    assert.equal(prb?.line, lineOf(text, 'lr=float'));
  });

  it('a crashing script exits 1 with the error; bad usage exits 2', () => {
    const dir = workspace({ 'train.py': trainScript({ hook: "raise KeyError('labels')" }) });
    const r = run(['probe', 'train.py'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /error +script: KeyError: 'labels'/);
    assert.equal(run(['probe', 'train.py', '--metrics', 'vibes'], dir).code, 2);
    assert.equal(run(['probe', 'missing.py'], dir).code, 2);
    assert.match(run(['probe', 'train.py', '--python', '/bin/false'], dir).stderr, /torch/);
  });
});
