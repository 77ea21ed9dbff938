import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { PythonParser } from '../../src/analysis/syntax/pythonParser';
import { loadPythonParser } from '../../src/host/parserLoader';
import type { MetricEvent } from '../../src/protocol';
import { startPythonProbe, type FinishedProbe } from '../../src/probe/pythonEngine';
import { lineOf, ROOT, torchSkip } from './probeScripts';

/** Every shipped example, probed unmodified with the default probe, as `regscope probe` runs it. */
describe('the shipped examples under the default probe', { skip: torchSkip() }, () => {
  let parser: PythonParser;
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-examples-'));
  before(async () => { parser = await loadPythonParser(); });

  const probe = async (name: string, args: string[] = []): Promise<FinishedProbe> => {
    const running = await startPythonProbe(parser, { script: path.join(ROOT, 'examples', name), args, storeRoot: store });
    return running.done;
  };
  const metric = (done: FinishedProbe, name: string): MetricEvent => {
    const m = done.summary.metrics.get(name);
    assert.ok(m, `${name} missing; warnings: ${done.record.warnings.join(' | ')}`);
    return m;
  };
  const DEFAULT_METRICS = ['hessian.top', 'hessian.trace', 'hessian.density', 'landscape.2d', 'noise.scale', 'noise.spectrum',
    'noise.gsnr', 'noise.tail_index', 'weights.alpha', 'weights.update_ratio', 'cost.hvp_ratio'];

  for (const name of ['mlp_sgd.py', 'cnn_batchnorm_adamw.py', 'tiny_transformer_lm.py', 'label_noise.py']) {
    it(`${name}: completes with every measurement and no warning, within the HVP budget`, async () => {
      const done = await probe(name);
      assert.equal(done.record.status, 'ok', JSON.stringify(done.record.error));
      assert.deepEqual(done.record.warnings, []);
      for (const m of DEFAULT_METRICS) metric(done, m);
      assert.ok(done.record.cost.hvps <= 165, `${done.record.cost.hvps} HVPs`);
      const trace = metric(done, 'hessian.trace');
      const sum = (trace.layers ?? []).reduce((a, l) => a + (l.value ?? 0), 0);
      assert.ok(Math.abs(sum - (trace.value ?? 0)) <= 1e-6 * Math.max(1, Math.abs(trace.value ?? 0)), 'per-layer traces sum to the trace');
      const grid = metric(done, 'landscape.2d').data as { xs: number[]; loss: (number | null)[][] };
      assert.equal(grid.xs.length, 21);
      assert.equal(grid.loss.flat().filter((v) => v !== null).length, 25);
    });
  }

  it('cnn_batchnorm_adamw.py: live AdamW groups and Adam preconditioned sharpness; layers named as in the model', async () => {
    const done = await probe('cnn_batchnorm_adamw.py', []);
    const opt = done.summary.hparams?.optimizers[0];
    assert.equal(opt?.class, 'AdamW');
    assert.deepEqual(opt?.groups.map((g) => g.weightDecay), [0.05, 0]);
    const sharp = metric(done, 'stability.sharpness');
    assert.equal(sharp.data?.['rule'], 'adam');
    assert.ok(Math.abs(Number(sharp.data?.['threshold']) - 38 / 1e-3) < 1e-6);
    assert.deepEqual(metric(done, 'hessian.trace').layers?.map((l) => l.name), ['conv1', 'bn1', 'conv2', 'bn2', 'fc']);
  });

  it('edge_of_stability.py: PRB001 on the lr line; with --lr 0.1 it is gone', async () => {
    const text = fs.readFileSync(path.join(ROOT, 'examples', 'edge_of_stability.py'), 'utf8');
    const edge = await probe('edge_of_stability.py');
    const prb = edge.findings.find((f) => f.rule === 'PRB001');
    assert.ok(prb, JSON.stringify(edge.findings));
    assert.equal(prb.line, lineOf(text, 'lr=args.lr'));
    assert.ok(prb.measured / prb.threshold >= 0.9);
    const calm = await probe('edge_of_stability.py', ['--lr', '0.1']);
    assert.equal(calm.findings.find((f) => f.rule === 'PRB001'), undefined);
    assert.ok(Number(metric(calm, 'stability.sharpness').value) < 0.5);
  });
});
