import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PythonParser } from '../../../src/analysis/syntax/pythonParser';
import { loadPythonParser } from '../../../src/host/parserLoader';
import { startSweep } from '../../../src/probe/sweep/sweepRunner';
import { ProbeService } from '../../../src/lsp/probeService';
import { SweepService } from '../../../src/lsp/sweepService';
import type { SweepEventParams } from '../../../src/protocol';
import { pathToFileURL } from 'node:url';
import type { HparamsEvent, ProbeEvent, SweepRecord } from '../../../src/protocol';
import { slurmCommand, slurmSkip, startSlurm, type TestSlurm } from '../../support/testSlurm';
import { ROOT, torchSkip, workspace } from '../probeScripts';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const PY = '/usr/bin/python3';

/** lr from a flag, weight decay a literal (so the harness sets it), a StepLR made after the optimizer; lr ≥ FAIL_AT fails on purpose. */
const script = (opts: { sleep?: number } = {}): string => `import argparse, time
import torch
import torch.nn as nn
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
args = p.parse_args()
if args.lr >= 0.9:
    raise RuntimeError("this learning rate fails on purpose")
torch.manual_seed(0)
X = torch.randn(256, 10)
Y = (X[:, 0] > 0).long()
model = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 2))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1000, gamma=0.5)
for epoch in range(1000):
    for i in range(0, 256, 64):
        x, y = X[i:i + 64], Y[i:i + 64]
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        ${opts.sleep ? `time.sleep(${opts.sleep})` : 'pass'}
    scheduler.step()
`;

const eventsOf = (root: string, runId: string): ProbeEvent[] =>
  fs.readFileSync(path.join(root, '.regscope', 'runs', runId, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeEvent);

/** Cells of the report's first heatmap (final loss): one SVG swatch or one failed cell per point. */
const lossCells = (html: string): { values: number; failed: number } => {
  const grid = html.split('<h2>')[1]!;
  return { values: (grid.match(/<svg width="92"/g) ?? []).length, failed: (grid.match(/class="failed"/g) ?? []).length };
};

describe('sweeps', { skip: torchSkip() }, () => {
  it('a local pool: a flag and an optimizer setting per point, each a real run; the report has a cell per point', () => {
    const dir = workspace({ 'train.py': script() });
    const r = spawnSync(process.execPath, [CLI, 'sweep', 'train.py', '--grid', 'lr=0.05,0.2', '--grid', 'weight_decay=0,0.01', '--python', PY, '--steps', '4', '--metrics', 'hessian,noise,landscape', '--max-parallel', '2', '--html', 'sweep.html', '--json'], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    const { sweep } = JSON.parse(r.stdout) as { sweep: SweepRecord };
    assert.equal(sweep.status, 'ok');
    assert.deepEqual(sweep.axes.map((a) => `${a.key} via ${a.via}`), ['lr via --lr', 'weight_decay via optimizer weight_decay']);
    for (const p of sweep.points) {
      const events = eventsOf(dir, p.runId!);
      const h = events.filter((e): e is HparamsEvent => e.type === 'hparams').at(-1)!;
      // What the optimizer really held: the flag's lr (the StepLR built after it keeps it), the harness's weight decay.
      assert.equal(h.optimizers[0]!.groups[0]!.lr, p.values['lr']);
      assert.equal(h.optimizers[0]!.groups[0]!.weightDecay, p.values['weight_decay']);
      assert.ok(p.sharpnessRatio! > 0 && p.finalLoss! > 0 && p.noiseScale !== null && p.landscape !== null);
    }
    assert.deepEqual(lossCells(fs.readFileSync(path.join(dir, 'sweep.html'), 'utf8')), { values: 4, failed: 0 });
  });

  it('from the editor: the sweep service runs the grid with the probe settings, notifies each point, lists the sweep and renders its report', async () => {
    const parser = await loadPythonParser();
    const dir = workspace({ 'train.py': script() });
    const folders = () => [pathToFileURL(dir).toString()];
    const probes = new ProbeService(parser, { event: () => undefined, refresh: () => undefined, log: () => undefined }, folders, () => PY, () => 'python');
    const events: SweepEventParams[] = [];
    const sweeps = new SweepService(parser, probes, (e) => events.push(e), folders, () => ({ probeSteps: 2, probeMetrics: ['hessian'] }));
    await assert.rejects(sweeps.start({ uri: pathToFileURL(path.join(dir, 'train.py')).toString(), grid: ['lr'] }), /expected NAME=V1,V2/);
    const started = await sweeps.start({ uri: pathToFileURL(path.join(dir, 'train.py')).toString(), grid: ['lr=0.05,0.2'] });
    assert.equal(started.points, 2);
    const deadline = Date.now() + 180_000;
    while (!events.some((e) => e.done) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const done = events.find((e) => e.done)!.done!;
    assert.equal(done.status, 'ok');
    assert.ok(events.filter((e) => e.point?.status === 'ok').length === 2);
    assert.deepEqual(sweeps.list().map((l) => l.record.id), [started.sweepId]);
    assert.match(sweeps.report(started.dir), /<title>RegScope sweep of train\.py<\/title>/);
    assert.throws(() => sweeps.report(dir), /is not a RegScope sweep folder/);
  });

  describe('on Slurm: one job array', { skip: slurmSkip() }, () => {
    let slurm: TestSlurm;
    let parser: PythonParser;
    const saved = process.env['SLURM_CONF'];
    before(async () => { slurm = startSlurm(); process.env['SLURM_CONF'] = slurm.conf; parser = await loadPythonParser(); });
    after(() => { slurm?.stop(); if (saved === undefined) delete process.env['SLURM_CONF']; else process.env['SLURM_CONF'] = saved; });

    it('a 3×3 sweep runs as a job array; the failing row is marked failed, the other six report', () => {
      const dir = workspace({ 'train.py': script() });
      const r = spawnSync(process.execPath, [CLI, 'sweep', 'train.py', '--grid', 'lr=0.05,0.2,0.9', '--grid', 'momentum=0,0.5,0.9', '--engine', 'slurm', '--remote-python', PY, '--steps', '2', '--metrics', 'hessian', '--max-parallel', '2', '--html', 'sweep.html', '--json'], { cwd: dir, encoding: 'utf8', env: slurm.env, timeout: 600_000 });
      assert.equal(r.status, 1, r.stderr);
      const { sweep } = JSON.parse(r.stdout) as { sweep: SweepRecord };
      assert.equal(sweep.status, 'partial');
      assert.match(sweep.engineReason, /^Slurm job array \d+ on this machine: 9 tasks, at most 2 at once$/);
      assert.equal(sweep.points.length, 9);
      assert.deepEqual(sweep.points.filter((p) => p.status === 'ok').map((p) => p.values['lr']).sort(), [0.05, 0.05, 0.05, 0.2, 0.2, 0.2]);
      const failed = sweep.points.filter((p) => p.status !== 'ok');
      assert.ok(failed.every((p) => p.values['lr'] === 0.9 && /fails on purpose/.test(p.error ?? '')), JSON.stringify(failed));
      assert.ok(sweep.points.every((p) => /^\d+_\d$/.test(p.task ?? '')));
      assert.ok(sweep.scheduler && sweep.scheduler.runSeconds !== null);
      assert.deepEqual(lossCells(fs.readFileSync(path.join(dir, 'sweep.html'), 'utf8')), { values: 6, failed: 3 });
    });

    it('scancel of a running sweep stops it: the unfinished points say cancelled', async () => {
      const dir = workspace({ 'train.py': script({ sleep: 0.3 }) });
      const logs: string[] = [];
      const sweep = await startSweep(parser, {
        script: path.join(dir, 'train.py'), args: [], storeRoot: dir, axes: [{ key: 'lr', values: [0.01, 0.02, 0.03, 0.04] }],
        probe: { engine: 'slurm', remotePython: PY, steps: 400, metrics: ['weights'] }, maxParallel: 2,
      }, { log: (t) => logs.push(t) });
      const jobId = /Slurm job array (\d+)/.exec(logs.join(''))?.[1];
      assert.ok(jobId, logs.join(''));
      const deadline = Date.now() + 60_000;
      while (!/RUNNING/.test(slurmCommand(slurm, ['squeue', '-h', '-r', '-j', jobId!, '-o', '%T'])) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 300));
      slurmCommand(slurm, ['scancel', jobId!]);
      const record = await sweep.done;
      assert.ok(record.points.every((p) => p.status === 'cancelled'), JSON.stringify(record.points.map((p) => p.status)));
      assert.equal(record.status, 'cancelled');
      assert.equal(slurmCommand(slurm, ['squeue', '-h', '-j', jobId!]).trim(), '', 'nothing of the array is left in the queue');
    });
  });
});
