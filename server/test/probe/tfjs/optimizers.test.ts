import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Optimizer, stabilityThreshold } from '../../../src/probe/tfjs/optimizers';
import type { OptimizerSpec } from '../../../src/probe/tfjs/surrogateSpec';
import { haveTorch } from '../probeScripts';

const base: OptimizerSpec = { kind: 'sgd', className: 'SGD', lr: 0.1, momentum: 0, dampening: 0, nesterov: false, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, alpha: 0.99 };

function run(spec: Partial<OptimizerSpec>, grads: number[][], theta0 = [1, -2]): number[] {
  const o = new Optimizer({ ...base, ...spec }, theta0.length);
  const theta = Float64Array.from(theta0);
  for (const g of grads) o.apply(theta, Float64Array.from(g));
  return [...theta];
}

const close = (a: readonly number[], b: readonly number[], tol = 1e-6): void => {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)), `${a} vs ${b}`));
};

describe('optimizers (PyTorch update rules)', () => {
  it('hand-computed steps: SGD with momentum and L2, Nesterov, Adam, AdamW, RMSprop', () => {
    // SGD, momentum 0.9, wd 0.1: g₁ = 0.5 + 0.1·1 = 0.6, buf = 0.6, θ = 1 − 0.06 = 0.94;
    // g₂ = 0.5 + 0.094 = 0.594, buf = 0.9·0.6 + 0.594 = 1.134, θ = 0.94 − 0.1134 = 0.8266.
    close(run({ momentum: 0.9, weightDecay: 0.1 }, [[0.5, 0], [0.5, 0]]).slice(0, 1), [0.8266]);
    // Nesterov: step 1 uses g + 0.9·buf = 0.5 + 0.45 = 0.95 → θ = 0.905.
    close(run({ momentum: 0.9, nesterov: true }, [[0.5, 0]]).slice(0, 1), [0.905]);
    // Adam's first step moves every coordinate by lr (bias-corrected m/√v = sign g), up to ε.
    close(run({ kind: 'adam', className: 'Adam' }, [[0.5, -3]]), [0.9, -1.9]);
    // AdamW decays first: θ·(1 − lr·wd) = 1·(1 − 0.1·0.5) = 0.95, then − lr·sign(g) = 0.85.
    close(run({ kind: 'adamw', className: 'AdamW', weightDecay: 0.5 }, [[0.5, 0.5]]).slice(0, 1), [0.85]);
    // RMSprop: v = 0.01·g² = 0.0025, step = lr·g/√v = 0.1·0.5/0.05 = 1 → θ = 0.
    close(run({ kind: 'rmsprop', className: 'RMSprop' }, [[0.5, 0]]).slice(0, 1), [0], 1e-6);
  });

  it('matches torch.optim over five steps', { skip: haveTorch() ? false : 'no torch' }, () => {
    const grads = [[0.3, -1.2, 0.05], [0.1, 0.4, -0.2], [-0.5, 0.2, 0.3], [0.25, -0.1, 0.0], [0.6, 0.6, -0.6]];
    const cases: [Partial<OptimizerSpec>, string][] = [
      [{ momentum: 0.9, weightDecay: 0.01 }, 'torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)'],
      [{ momentum: 0.9, nesterov: true, dampening: 0 }, 'torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)'],
      [{ kind: 'adam', className: 'Adam', weightDecay: 0.01 }, 'torch.optim.Adam([p], lr=0.1, weight_decay=0.01)'],
      [{ kind: 'adamw', className: 'AdamW', weightDecay: 0.05, beta1: 0.8, beta2: 0.95 }, 'torch.optim.AdamW([p], lr=0.1, weight_decay=0.05, betas=(0.8, 0.95))'],
      [{ kind: 'rmsprop', className: 'RMSprop', weightDecay: 0.01 }, 'torch.optim.RMSprop([p], lr=0.1, weight_decay=0.01)'],
    ];
    for (const [spec, ctor] of cases) {
      const py = `import torch, json\np = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))\nopt = ${ctor}\nfor g in ${JSON.stringify(grads)}:\n    p.grad = torch.tensor(g, dtype=torch.float64)\n    opt.step()\nprint(json.dumps(p.detach().tolist()))\n`;
      const r = spawnSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      close(run(spec, grads, [1, -2, 0.5]), JSON.parse(r.stdout) as number[], 1e-10);
    }
  });

  it('Keras’s variants: decay decoupled in SGD, Adam’s ε added before bias correction', () => {
    // SGD, wd 0.5, decoupled: θ ← θ·(1 − 0.1·0.5) − 0.1·g = 0.95 − 0.05 = 0.9 (coupled would be 1 − 0.1·(0.5 + 0.5) = 0.9 too
    // for one step; two steps with momentum tell them apart).
    const keras = run({ momentum: 0.9, weightDecay: 0.5, decoupledDecay: true }, [[0.5, 0], [0.5, 0]]);
    // Step 1: θ = 0.95 − 0.1·0.5 = 0.9, buf = 0.5. Step 2: θ = 0.9·0.95 = 0.855, buf = 0.9·0.5 + 0.5 = 0.95, θ = 0.855 − 0.095 = 0.76.
    close(keras.slice(0, 1), [0.76]);
    const torch = run({ momentum: 0.9, weightDecay: 0.5 }, [[0.5, 0], [0.5, 0]]);
    assert.ok(Math.abs(torch[0]! - 0.76) > 1e-3, 'L2 in the gradient differs');
    // Adam with a large ε: Keras moves by lr·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε), at t = 1 lr·√0.001·g/(√(0.001)·|g| + ε)·… = lr·|g|√0.001/(|g|√0.001 + ε)·sign g.
    const g = 0.5, eps = 0.1, lr = 0.1;
    const m = 0.1 * g, v = 0.001 * g * g;
    const expected = 1 - lr * (Math.sqrt(1 - 0.999) / (1 - 0.9)) * (m / (Math.sqrt(v) + eps));
    close(run({ kind: 'adam', className: 'Adam', eps, epsBeforeCorrection: true }, [[g, 0]]).slice(0, 1), [expected], 1e-12);
    assert.ok(Math.abs(run({ kind: 'adam', className: 'Adam', eps }, [[g, 0]])[0]! - expected) > 1e-3, 'PyTorch’s ε (after correction) differs');
  });

  it('stability thresholds: 2/η, (2+2β)/η, and Adam’s (2+2β₁)/((1−β₁)η)', () => {
    assert.deepEqual(stabilityThreshold(base, 0.4), { rule: 'gd', threshold: 5 });
    assert.equal(stabilityThreshold({ ...base, momentum: 0.9 }, 0.05).threshold, 3.8 / 0.05);
    assert.ok(Math.abs(stabilityThreshold({ ...base, kind: 'adam' }, 1e-3).threshold - 38_000) < 1e-6);
  });
});
