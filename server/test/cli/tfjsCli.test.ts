import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { MetricEvent, ProbeEvent } from '../../src/protocol';
import { ROOT } from '../probe/probeScripts';

/** `regscope probe --engine tfjs|auto` as a user runs it: the built CLI, the worker thread, the run store. */
const CLI = path.join(ROOT, 'dist', 'cli.js');
const run = (args: string[], env: NodeJS.ProcessEnv = process.env) => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-tfjs-cli-'));
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 300_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, cwd };
};
const eventsOf = (cwd: string): ProbeEvent[] => {
  const runs = path.join(cwd, '.regscope', 'runs');
  const dir = path.join(runs, fs.readdirSync(runs)[0]!);
  return fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeEvent);
};

describe('regscope probe on the embedded engine', () => {
  it('--engine tfjs probes a surrogate of examples/edge_of_stability.py, says so, and finds the lr at the edge of stability', () => {
    const r = run(['probe', path.join(ROOT, 'examples', 'edge_of_stability.py'), '--engine', 'tfjs', '--backend', 'wasm', '--html', 'report.html']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /runtime +TensorFlow\.js 4\.\d+\.\d+, wasm backend/);
    assert.match(r.stdout, /HVPs exact \(Pearlmutter R-operator, float32\)/);
    assert.match(r.stdout, /warning +This run trains a surrogate rebuilt from the script \(3 Linear layers, 4,801 parameters, SGD lr 0\.4, batch 512\)/);
    assert.match(r.stderr, /tfjs: asked for with --engine tfjs; the model is a surrogate rebuilt from the script/);
    const events = eventsOf(r.cwd);
    const names = new Set(events.filter((e): e is MetricEvent => e.type === 'metric').map((e) => e.name));
    for (const n of ['hessian.top', 'hessian.trace', 'stability.sharpness', 'stability.sgd_trace', 'landscape.2d', 'noise.scale', 'noise.gsnr', 'weights.alpha', 'weights.update_ratio', 'cost.hvp_ratio']) assert.ok(names.has(n), `${n} measured`);
    const sharp = events.filter((e): e is MetricEvent => e.type === 'metric' && e.name === 'stability.sharpness').at(-1)!;
    assert.equal(sharp.data?.['threshold'], 5, '2/η for lr 0.4');
    assert.match(r.stdout, /PRB001 warning/);
    assert.ok(fs.statSync(path.join(r.cwd, 'report.html')).size > 100_000);
  });

  it('the cpu backend gives the same run as wasm (same seed, same data, float32 either way)', () => {
    const a = run(['probe', path.join(ROOT, 'examples', 'mlp_sgd.py'), '--engine', 'tfjs', '--backend', 'cpu', '--metrics', 'hessian', '--json']);
    const b = run(['probe', path.join(ROOT, 'examples', 'mlp_sgd.py'), '--engine', 'tfjs', '--backend', 'wasm', '--metrics', 'hessian', '--json']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const top = (cwd: string): number => (eventsOf(cwd).filter((e): e is MetricEvent => e.type === 'metric' && e.name === 'hessian.top').at(-1)!.value as number);
    assert.ok(Math.abs(top(a.cwd) - top(b.cwd)) < 1e-3 * top(a.cwd), `${top(a.cwd)} vs ${top(b.cwd)}`);
  });

  it('a script it cannot rebuild: exit 2 with the layer, its line and what to use instead', () => {
    const r = run(['probe', path.join(ROOT, 'examples', 'tiny_transformer_lm.py'), '--engine', 'tfjs']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot rebuild TinyLM.forward \(line \d+\): line \d+ does .*\. Use the Python engine \(--engine python/);
  });

  it('the CNN example (an nn.Module with convolutions, batch norm and pooling) trains on the wasm backend', () => {
    const r = run(['probe', path.join(ROOT, 'examples', 'cnn_batchnorm_adamw.py'), '--engine', 'tfjs', '--backend', 'wasm', '--metrics', 'weights,landscape', '--steps', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /2 Conv2d, 2 BatchNorm, 2 pooling, 1 Linear layers, 7,926 parameters, AdamW lr 0\.001, batch 64/);
    const events = eventsOf(r.cwd);
    const steps = events.filter((e) => e.type === 'step');
    assert.equal(steps.length, 3);
    assert.ok(steps.every((e) => e.type === 'step' && Number.isFinite(e.loss)));
    // Its param groups split as torch splits them (the recorded Python run of the same script).
    const groups = (evs: ProbeEvent[]) => evs.filter((e) => e.type === 'hparams').at(-1)!;
    const python = fs.readFileSync(path.join(ROOT, 'server', 'test', 'fixtures', 'runs', 'cnn_batchnorm_adamw', 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeEvent);
    const ours = groups(events);
    const theirs = groups(python);
    assert.ok(ours.type === 'hparams' && theirs.type === 'hparams');
    assert.deepEqual(ours.optimizers[0]!.groups.map((g) => [g.numel, g.weightDecay]), theirs.optimizers[0]!.groups.map((g) => [g.numel, g.weightDecay]));
    const alpha = events.find((e): e is MetricEvent => e.type === 'metric' && e.name === 'weights.alpha')!;
    assert.deepEqual(alpha.layers?.map((l) => l.name), ['conv1', 'conv2', 'fc']);
  });

  it('--engine auto falls back to the embedded engine when no Python has torch, and says why', () => {
    // The only interpreter offered does not exist: as on a laptop without a Python environment.
    const r = run(['probe', path.join(ROOT, 'examples', 'mlp_sgd.py'), '--python', '/nonexistent/python3', '--metrics', 'hessian', '--steps', '4']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /tfjs: no Python with torch was found/);
  });

  it('--data trains on the user’s CSV: its epochs drive a per-epoch StepLR; a bad file is a clear error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-tfjs-data-'));
    const script = path.join(dir, 'train.py');
    fs.writeFileSync(script, [
      'import torch', 'from torch import nn',
      'model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))',
      'opt = torch.optim.SGD(model.parameters(), lr=0.2)',
      'sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)',
      'loader = torch.utils.data.DataLoader(ds, batch_size=50)',
      'loss_fn = nn.CrossEntropyLoss()',
      'for epoch in range(5):', '    for x, y in loader:', '        opt.zero_grad()', '        loss_fn(model(x), y).backward()', '        opt.step()', '    sched.step()', '',
    ].join('\n'));
    const rows = ['a,b,c,label', ...Array.from({ length: 200 }, (_, i) => { const x = [Math.sin(i), Math.cos(3 * i), (i % 7) / 7]; return `${x.join(',')},${x[0]! + x[1]! > 0 ? 'yes' : 'no'}`; })];
    fs.writeFileSync(path.join(dir, 'data.csv'), rows.join('\n'));
    const r = run(['probe', script, '--engine', 'tfjs', '--data', path.join(dir, 'data.csv'), '--metrics', 'weights', '--steps', '10']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /on data\.csv: 200 rows, 3 features, 2 classes \(labels mapped in sorted order: no→0, yes→1\), not your script's own code;/);
    assert.match(r.stdout, /StepLR \(line 5, stepped once per epoch of 4 steps\) is applied: lr 0\.200 at step 1, 0\.0500 at step 10/);
    const lrs = eventsOf(r.cwd).flatMap((e) => (e.type === 'step' ? [e.lr] : []));
    assert.deepEqual(lrs, [0.2, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05], '200 rows in batches of 50: the lr halves every 4 steps');
    fs.writeFileSync(path.join(dir, 'bad.csv'), 'a,b,c,label\n1,2,x,yes\n');
    const bad = run(['probe', script, '--engine', 'tfjs', '--data', path.join(dir, 'bad.csv'), '--steps', '2']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout + bad.stderr, /bad\.csv line 2, column 3 \("c"\): feature "x" is not a finite number/);
    const python = run(['probe', script, '--engine', 'python', '--data', path.join(dir, 'data.csv')]);
    assert.equal(python.code, 2);
    assert.match(python.stderr, /--data is for the embedded engine/);
    const noisy = run(['probe', script, '--engine', 'tfjs', '--label-noise', '0.25', '--metrics', 'weights', '--steps', '2']);
    assert.equal(noisy.code, 0, noisy.stderr);
    const flipped = Number(/2-class labels from a random teacher network, (\d+) flipped/.exec(noisy.stdout)?.[1]);
    // A quarter of 1,024 labels are redrawn uniformly: about half of those land on another class.
    assert.ok(flipped > 64 && flipped < 200, `${flipped} flipped`);
    assert.equal(run(['probe', script, '--engine', 'tfjs', '--label-noise', '1.5']).code, 2);
  });

  it('--engine auto probes a Keras script on the embedded engine even where Python has torch, and says why', () => {
    const r = run(['probe', path.join(ROOT, 'examples', 'keras_mlp.py'), '--metrics', 'hessian', '--steps', '4']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /tfjs: a Keras script: the Python engine probes PyTorch scripts/);
    assert.match(r.stdout, /3 Linear, 1 Dropout layers, 5,829 parameters, AdamW lr 0\.001, batch 64/);
    assert.match(r.stdout, /\(the Python engine probes PyTorch scripts only\)/);
  });
});
