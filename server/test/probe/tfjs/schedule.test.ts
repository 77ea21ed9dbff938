import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { scheduledLr, scheduleShape, type ScheduleShape } from '../../../src/probe/tfjs/schedule';
import { haveTorch } from '../probeScripts';

const shapeOf = (className: string, args: Record<string, number | number[] | string>): ScheduleShape => {
  const s = scheduleShape(className, (n) => args[n]);
  assert.ok(typeof s !== 'string', String(s));
  return s;
};

/** torch's own learning rates for 40 scheduler steps per constructor, as the optimizer sees them before each step (one Python). */
function torchLrs(ctors: readonly string[], steps = 40): number[][] {
  const one = (ctor: string): string => `def run():\n    p = torch.nn.Parameter(torch.zeros(1))\n    opt = torch.optim.SGD([p], lr=0.1)\n    sched = ${ctor}\n    out = []\n    for _ in range(${steps}):\n        out.append(opt.param_groups[0]['lr'])\n        opt.step()\n        sched.step()\n    return out\nruns.append(run())\n`;
  const py = `import torch, json, warnings\nwarnings.simplefilter('ignore')\nfrom torch.optim.lr_scheduler import *\nruns = []\n${ctors.map(one).join('')}print(json.dumps(runs))\n`;
  const r = spawnSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as number[][];
}

describe('learning-rate schedules', () => {
  it('closed forms by hand: StepLR, warmup then linear decay, OneCycle’s ends', () => {
    const step = shapeOf('StepLR', { step_size: 3, gamma: 0.5 });
    assert.deepEqual([0, 2, 3, 6].map((k) => scheduledLr(step, 0.1, k)), [0.1, 0.1, 0.05, 0.025]);
    const warm = shapeOf('get_linear_schedule_with_warmup', { num_warmup_steps: 10, num_training_steps: 110 });
    assert.deepEqual([0, 5, 10, 60, 110, 200].map((k) => scheduledLr(warm, 1, k)), [0, 0.5, 1, 0.5, 0, 0]);
    const one = shapeOf('OneCycleLR', { max_lr: 1, total_steps: 100 });
    assert.ok(Math.abs(scheduledLr(one, 0.1, 0) - 1 / 25) < 1e-12, 'starts at max_lr / div_factor');
    assert.ok(Math.abs(scheduledLr(one, 0.1, 29) - 1) < 1e-12, 'peaks at pct_start');
    assert.ok(Math.abs(scheduledLr(one, 0.1, 99) - 1 / 25 / 1e4) < 1e-12, 'ends at initial / final_div_factor');
  });

  it('what it cannot rebuild is said, not guessed', () => {
    assert.match(String(scheduleShape('LambdaLR', () => undefined)), /LambdaLR is not rebuilt/);
    assert.match(String(scheduleShape('StepLR', () => undefined)), /step_size is not known statically/);
    assert.match(String(scheduleShape('OneCycleLR', (n) => (n === 'max_lr' ? [0.1, 0.2] : undefined))), /max_lr is not known/);
  });

  it('matches torch.optim.lr_scheduler step for step', { skip: haveTorch() ? false : 'no torch' }, () => {
    const cases: [string, string, Record<string, number | number[] | string>][] = [
      ['StepLR', 'StepLR(opt, 7, gamma=0.5)', { step_size: 7, gamma: 0.5 }],
      ['MultiStepLR', 'MultiStepLR(opt, [5, 12, 30], 0.3)', { milestones: [5, 12, 30], gamma: 0.3 }],
      ['ExponentialLR', 'ExponentialLR(opt, 0.93)', { gamma: 0.93 }],
      ['CosineAnnealingLR', 'CosineAnnealingLR(opt, T_max=25, eta_min=0.001)', { T_max: 25, eta_min: 0.001 }],
      ['CosineAnnealingWarmRestarts', 'CosineAnnealingWarmRestarts(opt, 6, T_mult=2)', { T_0: 6, T_mult: 2 }],
      ['LinearLR', 'LinearLR(opt, start_factor=0.1, total_iters=8)', { start_factor: 0.1, total_iters: 8 }],
      ['ConstantLR', 'ConstantLR(opt, factor=0.5, total_iters=4)', { factor: 0.5, total_iters: 4 }],
      ['PolynomialLR', 'PolynomialLR(opt, total_iters=30, power=2.0)', { total_iters: 30, power: 2 }],
      ['OneCycleLR', 'OneCycleLR(opt, max_lr=0.5, total_steps=41)', { max_lr: 0.5, total_steps: 41 }],
      ['OneCycleLR', 'OneCycleLR(opt, max_lr=0.5, epochs=4, steps_per_epoch=11, anneal_strategy="linear", three_phase=True)', { max_lr: 0.5, epochs: 4, steps_per_epoch: 11, anneal_strategy: 'linear', three_phase: 1 }],
    ];
    const all = torchLrs(cases.map((c) => c[1]));
    for (const [i, [cls, ctor, args]] of cases.entries()) {
      const expected = all[i]!;
      const shape = shapeOf(cls, args);
      expected.forEach((lr, k) => assert.ok(Math.abs(scheduledLr(shape, 0.1, k) - lr) <= 1e-9 * Math.max(1, lr), `${ctor} at step ${k}: ${scheduledLr(shape, 0.1, k)} vs torch ${lr}`));
    }
  });
});
