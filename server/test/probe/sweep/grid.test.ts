import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gridPoints, parseGridFlag, pointInputs, routeAxes } from '../../../src/probe/sweep/grid';
import { taskIds } from '../../../src/probe/sweep/sweepRunner';
import { withOverrides } from '../../../src/probe/tfjs/tfjsEngine';
import { trySurrogateSpec } from '../../../src/probe/tfjs/surrogateSpec';
import { analyzeText } from '../../support/analyzeFile';

const SCRIPT = `import argparse
import torch
from torch import nn
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--batch-size", type=int, default=32)
args = p.parse_args()
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size)
DROPOUT = 0.1
`;

describe('sweep grids', () => {
  it('parses NAME=V1,V2 and refuses what is not a list of distinct numbers', () => {
    assert.deepEqual(parseGridFlag('lr=1e-4, 3e-4,1e-3'), { key: 'lr', values: [1e-4, 3e-4, 1e-3] });
    assert.throws(() => parseGridFlag('lr'), /expected NAME=V1,V2/);
    assert.throws(() => parseGridFlag('lr=0.1,abc'), /"abc" is not a number/);
    assert.throws(() => parseGridFlag('lr=0.1,0.1'), /repeated/);
  });

  it('Slurm task id lists: single ids, ranges, steps and the parallel limit', () => {
    assert.deepEqual(taskIds('3'), [3]);
    assert.deepEqual(taskIds('2-5%2'), [2, 3, 4, 5]);
    assert.deepEqual(taskIds('1,4-6,9-13:2'), [1, 4, 5, 6, 9, 11, 13]);
  });

  it('every combination, the first axis slowest', () => {
    const pts = gridPoints([{ key: 'a', values: [1, 2] }, { key: 'b', values: [10, 20, 30] }]);
    assert.equal(pts.length, 6);
    assert.deepEqual(pts.map((p) => `${p.values['a']}/${p.values['b']}`), ['1/10', '1/20', '1/30', '2/10', '2/20', '2/30']);
  });

  it('each value reaches the script where the analysis found it: a flag, the optimizer, or a clear refusal', async () => {
    const a = await analyzeText(SCRIPT);
    const routes = routeAxes(a.document, a, [{ key: 'lr', values: [0.1] }, { key: 'batch_size', values: [16] }, { key: 'weight_decay', values: [0] }]);
    assert.deepEqual(routes.map((r) => (r.via === 'flag' ? `${r.key}:${r.flag}` : `${r.key}:optimizer ${r.name}`)), ['lr:--lr', 'batch_size:--batch-size', 'weight_decay:optimizer weight_decay']);
    const inputs = pointInputs(routes, { index: 0, values: { lr: 0.3, batch_size: 16, weight_decay: 0.01 } }, ['--epochs', '2']);
    assert.deepEqual(inputs, { args: ['--epochs', '2', '--lr', '0.3', '--batch-size', '16'], overrides: { weight_decay: 0.01 } });
    assert.throws(() => routeAxes(a.document, a, [{ key: 'dropout', values: [0.1] }]), /--grid dropout: a sweep sets a value through a command-line flag or an optimizer setting, and dropout is neither\. .*sweep one the script has: lr, batch_size/);
  });

  it('the embedded engine applies a point’s optimizer settings to the surrogate', async () => {
    const a = await analyzeText(SCRIPT);
    const r = trySurrogateSpec(a.document, a);
    assert.ok('spec' in r, 'error' in r ? r.error : '');
    const o = withOverrides(r.spec, { lr: 0.02, weight_decay: 0.1, momentum: 0 }).optimizer;
    assert.deepEqual([o.lr, o.weightDecay, o.momentum], [0.02, 0.1, 0]);
    assert.equal(withOverrides(r.spec, undefined), r.spec);
  });
});
