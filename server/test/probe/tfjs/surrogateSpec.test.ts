import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { HparamsEvent, ProbeEvent } from '../../../src/protocol';
import { parameterCount, trySurrogateSpec } from '../../../src/probe/tfjs/surrogateSpec';
import { analyzeText } from '../../support/analyzeFile';
import { haveTorch } from '../probeScripts';
import { FIXTURE_RUNS, ROOT } from '../../support/runFixtures';

async function specOf(example: string) {
  const file = path.join(ROOT, 'examples', example);
  const a = await analyzeText(fs.readFileSync(file, 'utf8'), undefined, file);
  return trySurrogateSpec(a.document, a);
}

/** The parameter count the Python engine reported for the same script: a recorded real run, else a fresh one-step probe. */
function pythonNumel(run: string): number {
  const fixture = path.join(FIXTURE_RUNS, run, 'events.jsonl');
  let text: string;
  if (fs.existsSync(fixture)) text = fs.readFileSync(fixture, 'utf8');
  else {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-numel-'));
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'probe', path.join(ROOT, 'examples', `${run}.py`), '--engine', 'python', '--steps', '1', '--metrics', 'weights', '--out', out], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const runs = path.join(out, '.regscope', 'runs');
    text = fs.readFileSync(path.join(runs, fs.readdirSync(runs)[0]!, 'events.jsonl'), 'utf8');
  }
  const events = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeEvent);
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
    // CosineAnnealingLR(T_max=args.epochs), stepped after each epoch's batch loop.
    assert.equal(r.spec.schedule?.per, 'epoch');
    assert.equal(r.spec.schedule?.shape.kind, 'cosine');
  });

  it('the schedule the loop steps: per optimizer step or per epoch, positional arguments read; one it cannot rebuild is an assumption', async () => {
    const head = 'import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))\nopt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\nloader = torch.utils.data.DataLoader(ds, batch_size=32)\nloss_fn = nn.CrossEntropyLoss()\n';
    const perStep = await analyzeText(`${head}sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.4, total_steps=200)\nfor epoch in range(3):\n    for x, y in loader:\n        opt.zero_grad()\n        loss_fn(model(x), y).backward()\n        opt.step()\n        sched.step()\n`);
    const a = trySurrogateSpec(perStep.document, perStep);
    assert.ok('spec' in a, 'error' in a ? a.error : '');
    assert.deepEqual([a.spec.schedule?.per, a.spec.schedule?.shape.kind, a.spec.schedule?.line], ['step', 'onecycle', 7]);
    assert.equal(a.spec.schedule?.shape.kind === 'onecycle' && a.spec.schedule.shape.maxLr, 0.4);
    const perEpoch = await analyzeText(`${head}sched = torch.optim.lr_scheduler.StepLR(opt, 5, 0.5)\nfor epoch in range(3):\n    for x, y in loader:\n        opt.zero_grad()\n        loss_fn(model(x), y).backward()\n        opt.step()\n    sched.step()\n`);
    const b = trySurrogateSpec(perEpoch.document, perEpoch);
    assert.ok('spec' in b);
    assert.deepEqual(b.spec.schedule, { className: 'StepLR', line: 7, per: 'epoch', shape: { kind: 'step', stepSize: 5, gamma: 0.5 } });
    const lambda = await analyzeText(`${head}sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5)\nfor x, y in loader:\n    opt.zero_grad()\n    loss_fn(model(x), y).backward()\n    opt.step()\n    sched.step()\n`);
    const c = trySurrogateSpec(lambda.document, lambda);
    assert.ok('spec' in c);
    assert.equal(c.spec.schedule, undefined);
    assert.ok(c.spec.assumptions.some((x) => /LambdaLR \(line 7\).*not rebuilt.*base learning rate/.test(x)), c.spec.assumptions.join(' | '));
  });

  it('text_cnn.py: Embedding, transpose, Conv1d, global max pooling over time; torch’s parameter count', { skip: haveTorch() ? false : 'no torch' }, async () => {
    const r = await specOf('text_cnn.py');
    assert.ok('spec' in r, 'error' in r ? r.error : '');
    assert.deepEqual(r.spec.layers.map((l) => `${l.name}:${l.kind}`), ['embed:embedding', 'forward.0:transpose', 'conv:conv1d', 'forward.1:activation', 'forward.2:globalpool', 'drop:dropout', 'head:linear']);
    assert.deepEqual([r.spec.tokens, r.spec.inputDim, r.spec.outputDim], [{ vocab: 500 }, 32, 4]);
    assert.ok(r.spec.assumptions.some((a) => /pools over its whole input.*32 token ids assumed/.test(a)));
    assert.ok(r.spec.assumptions.some((a) => /OneCycleLR \(line \d+\): OneCycleLR: its total_steps is not known statically/.test(a)), r.spec.assumptions.join(' | '));
    assert.deepEqual(r.spec.loss, { kind: 'cross_entropy', labelSmoothing: 0.1 });
    assert.equal(parameterCount(r.spec), pythonNumel('text_cnn'));
  });

  it('a Conv1d over a signal: the length that makes Flatten → Linear fit; BatchNorm1d and pooling over channels', async () => {
    const a = await analyzeText('import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Conv1d(3, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(8, 8, 3, stride=2), nn.Flatten(), nn.Linear(8 * 15, 2))\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n');
    const r = trySurrogateSpec(a.document, a);
    assert.ok('spec' in r, 'error' in r ? r.error : '');
    // 62 → conv(5, pad 2) 62 → pool 31 → conv(3, stride 2) 15 (63 and 64 fit too; the smallest is taken).
    assert.deepEqual([r.spec.inputSeq, r.spec.inputDim], [[62, 3], 186], "the smallest length that fits");
    assert.equal(parameterCount(r.spec), (3 * 8 * 5 + 8) + 16 + (8 * 8 * 3 + 8) + (120 * 2 + 2));
  });

  it('Keras Sequential (examples/keras_mlp.py): Dense sizes walked from keras.Input, activations split out, compile’s AdamW and fit’s batch size', async () => {
    const r = await specOf('keras_mlp.py');
    assert.ok('spec' in r, 'error' in r ? r.error : '');
    const s = r.spec;
    assert.deepEqual(s.layers.map((l) => `${l.kind}${l.kind === 'linear' ? `${l.inFeatures}x${l.outFeatures}` : l.kind === 'activation' ? `:${l.fn}` : l.kind === 'dropout' ? `:${l.p}` : ''}`),
      ['linear20x64', 'activation:relu', 'dropout:0.1', 'linear64x64', 'activation:relu', 'linear64x5']);
    assert.equal(parameterCount(s), 20 * 64 + 64 + 64 * 64 + 64 + 64 * 5 + 5);
    assert.deepEqual([s.keras, s.batchSize, s.loss.kind], [true, 64, 'cross_entropy']);
    assert.deepEqual([s.optimizer.kind, s.optimizer.lr, s.optimizer.weightDecay, s.optimizer.eps, s.optimizer.decoupledDecay, s.optimizer.epsBeforeCorrection], ['adamw', 1e-3, 0.01, 1e-7, true, true]);
  });

  it('Keras functional chain and a convolutional Sequential with string loss and optimizer; what it cannot follow is named', async () => {
    const head = 'from tensorflow import keras\nfrom tensorflow.keras import layers\n';
    const fn = await analyzeText(`${head}inputs = keras.Input(shape=(16,))\nx = layers.Dense(32, activation="tanh")(inputs)\nx = layers.LayerNormalization()(x)\noutputs = layers.Dense(1)(x)\nmodel = keras.Model(inputs=inputs, outputs=outputs)\nmodel.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="mse")\nmodel.fit(x_train, y_train, epochs=3)\n`);
    const f = trySurrogateSpec(fn.document, fn);
    assert.ok('spec' in f, 'error' in f ? f.error : '');
    assert.deepEqual(f.spec.layers.map((l) => l.kind), ['linear', 'activation', 'layernorm', 'linear']);
    assert.deepEqual([f.spec.inputDim, f.spec.outputDim, f.spec.loss.kind, f.spec.optimizer.kind, f.spec.optimizer.momentum, f.spec.batchSize], [16, 1, 'mse', 'sgd', 0.9, 32]);
    assert.ok(f.spec.assumptions.some((a) => /default 32/.test(a)));
    const conv = await analyzeText(`${head}model = keras.Sequential([\n    layers.Conv2D(8, 3, padding="same", activation="relu", input_shape=(12, 10, 1)),\n    layers.MaxPooling2D(),\n    layers.Flatten(),\n    layers.Dense(3, activation="softmax"),\n])\nmodel.compile(optimizer="adam", loss="sparse_categorical_crossentropy")\nmodel.fit(x, y, batch_size=16)\n`);
    const c = trySurrogateSpec(conv.document, conv);
    assert.ok('spec' in c, 'error' in c ? c.error : '');
    assert.deepEqual(c.spec.inputShape, [12, 10, 1], 'a non-square image, as keras.Input states it');
    assert.deepEqual(c.spec.layers.map((l) => l.kind), ['conv2d', 'activation', 'pool2d', 'flatten', 'linear'], 'the final softmax is folded into the cross-entropy');
    assert.equal(parameterCount(c.spec), 8 * 9 + 8 + 6 * 5 * 8 * 3 + 3);
    assert.deepEqual([c.spec.optimizer.kind, c.spec.optimizer.lr, c.spec.optimizer.eps, c.spec.batchSize], ['adam', 1e-3, 1e-7, 16]);
    const branch = await analyzeText(`${head}inputs = keras.Input(shape=(16,))\nx = layers.Dense(16)(inputs)\nx = layers.add([x, inputs])\noutputs = layers.Dense(2)(x)\nmodel = keras.Model(inputs, outputs)\nmodel.compile(optimizer="adam", loss="mse")\n`);
    const b = trySurrogateSpec(branch.document, branch);
    assert.ok('error' in b);
    assert.equal(b.error, 'cannot rebuild the Keras model at line 7: line 5 does `layers.add([x, inputs])`, which the embedded engine does not follow (it rebuilds a chain of layers)');
    const noInput = await analyzeText(`${head}model = keras.Sequential([layers.Dense(8), layers.Dense(2)])\nmodel.compile(optimizer="adam", loss="mse")\n`);
    const n = trySurrogateSpec(noInput.document, noInput);
    assert.ok('error' in n);
    assert.match(n.error, /input shape is not stated; start the list with keras\.Input\(shape=…\) or give the first layer input_shape=/);
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
    assert.equal(r.error, 'cannot rebuild the model: conv1d at line 3 gets 8 features, not an (N, C, T) sequence');
    const lstm = await analyzeText('import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Embedding(100, 8), nn.LSTM(8, 8))\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n');
    const rl = trySurrogateSpec(lstm.document, lstm);
    assert.ok('error' in rl);
    assert.equal(rl.error, 'cannot rebuild LSTM at line 3: the embedded engine rebuilds Linear, Conv1d, Conv2d, pooling, BatchNorm, LayerNorm, Embedding, Dropout, Flatten and activation layers');
    const noTranspose = await analyzeText('import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Embedding(100, 8), nn.Conv1d(8, 8, 3), nn.Flatten(), nn.Linear(8 * 14, 2))\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n');
    const rt = trySurrogateSpec(noTranspose.document, noTranspose);
    assert.ok('error' in rt);
    assert.match(rt.error, /conv1d at line 3 gets a sequence of \d+×8 as \(N, T, C\); a transpose\(1, 2\) is missing before it/);
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
