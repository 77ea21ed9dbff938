import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { HparamsEvent, ProbeEvent } from '../../../src/protocol';
import { parameterCount, trySurrogateSpec } from '../../../src/probe/tfjs/surrogateSpec';
import { analyzeText } from '../../support/analyzeFile';
import { FIXTURE_RUNS, ROOT } from '../../support/runFixtures';

async function specOf(example: string) {
  const file = path.join(ROOT, 'examples', example);
  const a = await analyzeText(fs.readFileSync(file, 'utf8'), undefined, file);
  return trySurrogateSpec(a.document, a);
}

/** The parameter count the Python engine reported for the same script (a recorded real run). */
function pythonNumel(run: string): number {
  const events = fs.readFileSync(path.join(FIXTURE_RUNS, run, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeEvent);
  const h = events.find((e): e is HparamsEvent => e.type === 'hparams')!;
  return h.optimizers.flatMap((o) => o.groups).reduce((n, g) => n + g.numel, 0);
}

describe('surrogate of a script (embedded engine)', () => {
  it('mlp_sgd.py: the layer list, sizes, loss, optimizer and batch size the script sets; the Python engine’s parameter count', async () => {
    const r = await specOf('mlp_sgd.py');
    assert.ok('spec' in r, 'error' in r ? r.error : '');
    const s = r.spec;
    assert.deepEqual(s.layers.map((l) => `${l.name}:${l.kind}${l.kind === 'linear' ? `${l.inFeatures}x${l.outFeatures}` : l.kind === 'activation' ? `:${l.fn}` : ''}`),
      ['0:linear20x64', '1:activation:relu', '2:linear64x64', '3:activation:relu', '4:linear64x5']);
    assert.deepEqual([s.inputDim, s.outputDim, s.batchSize], [20, 5, 64]);
    assert.deepEqual(s.loss, { kind: 'cross_entropy', labelSmoothing: 0 });
    assert.deepEqual([s.optimizer.kind, s.optimizer.lr, s.optimizer.momentum, s.optimizer.weightDecay], ['sgd', 0.05, 0.9, 5e-4]);
    assert.equal(parameterCount(s), pythonNumel('mlp_sgd'));
  });

  it('edge_of_stability.py: tanh, MSE, plain gradient descent, the same parameter count as torch', async () => {
    const r = await specOf('edge_of_stability.py');
    assert.ok('spec' in r);
    assert.equal(r.spec.loss.kind, 'mse');
    assert.equal(r.spec.optimizer.momentum, 0);
    assert.ok(r.spec.layers.some((l) => l.kind === 'activation' && l.fn === 'tanh'));
    assert.equal(parameterCount(r.spec), pythonNumel('edge_of_stability'));
  });

  it('cnn_batchnorm_adamw.py: an nn.Module rebuilt in the order its forward() applies its layers, the input size inferred, torch’s parameter count', async () => {
    const r = await specOf('cnn_batchnorm_adamw.py');
    assert.ok('spec' in r, 'error' in r ? r.error : '');
    assert.deepEqual(r.spec.layers.map((l) => `${l.name}:${l.kind}`), ['conv1:conv2d', 'bn1:batchnorm', 'forward.0:activation', 'forward.1:pool2d', 'conv2:conv2d', 'bn2:batchnorm', 'forward.2:activation', 'forward.3:pool2d', 'forward.4:flatten', 'fc:linear']);
    assert.deepEqual(r.spec.inputShape, [16, 16, 1], 'fc takes 32·4·4: two 2× poolings of a 16×16 image');
    assert.equal(parameterCount(r.spec), pythonNumel('cnn_batchnorm_adamw'));
    // The script's two param groups: decay on p.ndim > 1, none on p.ndim <= 1.
    assert.deepEqual(r.spec.optimizer.decayByShape, { matrices: 0.05, vectors: 0 });
  });

  it('a model it cannot rebuild is an error naming the model or layer and its line', async () => {
    const lm = await specOf('tiny_transformer_lm.py');
    assert.ok('error' in lm);
    assert.match(lm.error, /^cannot rebuild (TinyLM|Embedding|TransformerEncoderLayer)/);
    const residual = await analyzeText('import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.a = nn.Linear(4, 4)\n        self.b = nn.Linear(4, 2)\n    def forward(self, x):\n        x = x + self.a(x)\n        return self.b(x)\nmodel = Net()\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n');
    const rr = trySurrogateSpec(residual.document, residual);
    assert.ok('error' in rr);
    assert.equal(rr.error, 'cannot rebuild Net.forward (line 8): line 9 does `x + self.a(x)`, which the embedded engine does not follow');
    const conv = await analyzeText('import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Conv1d(8, 8, 3))\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n');
    const r = trySurrogateSpec(conv.document, conv);
    assert.ok('error' in r);
    assert.equal(r.error, 'cannot rebuild Conv1d at line 3: the embedded engine rebuilds Linear, Conv2d, pooling, BatchNorm, LayerNorm, Dropout, Flatten and activation layers');
  });

  it('Adam and AdamW keep their betas, eps and decay; unknown sizes are refused', async () => {
    const a = await analyzeText('import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 3))\nopt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.8, 0.95), eps=1e-6)\nloss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)\n');
    const r = trySurrogateSpec(a.document, a);
    assert.ok('spec' in r);
    assert.deepEqual([r.spec.optimizer.kind, r.spec.optimizer.beta1, r.spec.optimizer.beta2, r.spec.optimizer.eps, r.spec.optimizer.weightDecay], ['adamw', 0.8, 0.95, 1e-6, 0.01]);
    assert.deepEqual(r.spec.loss, { kind: 'cross_entropy', labelSmoothing: 0.1 });
    assert.equal(r.spec.clipNorm, null);
    const clipped = await analyzeText('import torch\nfrom torch import nn\nMAXN = 0.5\nmodel = nn.Sequential(nn.Linear(4, 2))\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nfor x, y in loader:\n    loss = nn.functional.mse_loss(model(x), y)\n    loss.backward()\n    torch.nn.utils.clip_grad_norm_(model.parameters(), MAXN)\n    opt.step()\n');
    const rc = trySurrogateSpec(clipped.document, clipped);
    assert.ok('spec' in rc);
    assert.equal(rc.spec.clipNorm, 0.5, 'clip_grad_norm_ with a constant max norm');
    assert.ok(r.spec.assumptions.some((x) => /batch size/.test(x)));
    const b = await analyzeText('import torch\nfrom torch import nn\nimport sys\nh = int(sys.argv[1])\nmodel = nn.Sequential(nn.Linear(4, h), nn.ReLU(), nn.Linear(h, 2))\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n');
    const rb = trySurrogateSpec(b.document, b);
    assert.ok('error' in rb);
    assert.match(rb.error, /cannot rebuild Linear at line 5: its out_features is not known statically/);
  });
});
