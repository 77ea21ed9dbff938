import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyFixAndCheck, findingsOf, lineWith, linesOf } from './fixRoundTrip';

const TORCH = `import torch
import torch.nn as nn
import torch.nn.functional as F
`;

const penaltyLoop = (optimizer: string, penalty: string) => `${TORCH}model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
optimizer = ${optimizer}
for x, y in loader:
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    reg = ${penalty}
    loss = loss + 1e-4 * reg
    loss.backward()
    optimizer.step()
`;

describe('WD005 weight decay applied twice', () => {
  it('fires on the loss statement that adds an L2 penalty on top of optimizer decay', async () => {
    const text = penaltyLoop('torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)', 'sum(p.pow(2).sum() for p in model.parameters())');
    const f = await findingsOf(text, 'WD005');
    assert.deepEqual(f.map((x) => x.range.start.line + 1), [lineWith(text, 'loss = loss + 1e-4 * reg')]);
    assert.match(f[0]!.message, /weight_decay=0\.05/);
  });

  it('counts AdamW\'s default decay and `+=` forms with a loop-accumulated norm', async () => {
    const text = `${TORCH}model = nn.Linear(10, 2)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
for x, y in loader:
    loss = F.cross_entropy(model(x), y)
    l2 = 0.0
    for p in model.parameters():
        l2 = l2 + torch.norm(p) ** 2
    loss += 1e-4 * l2
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
`;
    assert.deepEqual(await linesOf(text, 'WD005'), [lineWith(text, 'loss += 1e-4 * l2')]);
  });

  it('stays silent for L1 penalties, distance-to-reference penalties and optimizers without decay', async () => {
    assert.deepEqual(await linesOf(penaltyLoop('torch.optim.AdamW(model.parameters(), lr=1e-3)', 'sum(p.abs().sum() for p in model.parameters())'), 'WD005'), []);
    assert.deepEqual(await linesOf(penaltyLoop('torch.optim.AdamW(model.parameters(), lr=1e-3)', 'sum((p - p0).pow(2).sum() for p, p0 in zip(model.parameters(), ref))'), 'WD005'), []);
    assert.deepEqual(await linesOf(penaltyLoop('torch.optim.SGD(model.parameters(), lr=0.1)', 'sum(p.pow(2).sum() for p in model.parameters())'), 'WD005'), []);
  });

  it('Keras: fires on kernel_regularizer when the optimizer decays too', async () => {
    const text = `import keras
from keras import layers
model = keras.Sequential([layers.Dense(64, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-4)), layers.Dense(10)])
model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
`;
    const f = await findingsOf(text, 'WD005');
    assert.equal(f.length, 1);
    assert.equal(f[0]!.range.start.character, text.split('\n')[2]!.indexOf('kernel_regularizer='));
    assert.match(f[0]!.message, /0\.004 \(AdamW default\)/);
  });

  it('Keras: silent when the optimizer does not decay', async () => {
    const text = `import keras
from keras import layers
model = keras.Sequential([layers.Dense(64, activation="relu", kernel_regularizer="l2"), layers.Dense(10)])
model.compile(optimizer="adam", loss="mse")
`;
    assert.deepEqual(await linesOf(text, 'WD005'), []);
  });
});

describe('WD006 Keras decay without exclusions', () => {
  const text = `import keras
from keras import layers
model = keras.Sequential([layers.Dense(64, activation="relu"), layers.BatchNormalization(), layers.Dense(10)])
opt = keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.05)
model.compile(optimizer=opt, loss="mse")
`;
  it('fires on the optimizer call and the fix excludes biases and norms', async () => {
    assert.deepEqual(await linesOf(text, 'WD006'), [4]);
    const fixed = await applyFixAndCheck(text, 'WD006', 4);
    assert.match(fixed, /\nopt\.exclude_from_weight_decay\(var_names=\["bias", "gamma", "beta"\]\)\nmodel\.compile/);
  });

  it('fires on compile(optimizer="adamw") without a fix', async () => {
    const t = `import keras
model = keras.Sequential([keras.layers.Dense(1)])
model.compile(optimizer="adamw", loss="mse")
`;
    const f = await findingsOf(t, 'WD006');
    assert.equal(f.length, 1);
    assert.equal(f[0]!.fixes.length, 0);
  });

  it('stays silent with exclusions or without decay', async () => {
    assert.deepEqual(await linesOf(text.replace('model.compile', 'opt.exclude_from_weight_decay(var_names=["bias"])\nmodel.compile'), 'WD006'), []);
    assert.deepEqual(await linesOf(text.replace('AdamW(learning_rate=1e-3, weight_decay=0.05)', 'Adam(learning_rate=1e-3)'), 'WD006'), []);
  });
});

describe('WD007 optax.adamw without a mask', () => {
  const text = `import jax
import optax
tx = optax.adamw(learning_rate=3e-4, weight_decay=0.1)
`;
  it('fires on the call and the fix adds an ndim mask', async () => {
    assert.deepEqual(await linesOf(text, 'WD007'), [3]);
    const fixed = await applyFixAndCheck(text, 'WD007', 3);
    assert.match(fixed, /weight_decay=0\.1, mask=lambda params: jax\.tree_util\.tree_map\(lambda p: p\.ndim >= 2, params\)\)/);
  });

  it('counts the library default decay; silent with a mask or zero decay', async () => {
    assert.deepEqual(await linesOf('import optax\ntx = optax.adamw(1e-3)\n', 'WD007'), [2]);
    assert.deepEqual(await linesOf('import optax\ntx = optax.adamw(1e-3, mask=lambda p: p)\n', 'WD007'), []);
    assert.deepEqual(await linesOf('import optax\ntx = optax.adamw(1e-3, weight_decay=0.0)\n', 'WD007'), []);
  });
});

describe('WD008 optax decay in the wrong place', () => {
  const text = `import optax
tx = optax.chain(
    optax.clip_by_global_norm(1.0),
    optax.add_decayed_weights(1e-4),
    optax.scale_by_adam(),
    optax.scale_by_learning_rate(1e-3),
)
`;
  it('fires on decay before scale_by_adam and moves it before the learning rate', async () => {
    assert.deepEqual(await linesOf(text, 'WD008'), [4]);
    const fixed = await applyFixAndCheck(text, 'WD008', 4);
    assert.match(fixed, /optax\.scale_by_adam\(\),\n {4}optax\.add_decayed_weights\(1e-4\),\n {4}optax\.scale_by_learning_rate\(1e-3\),/);
  });

  it('fires on decay after the learning-rate scaling (wrong sign)', async () => {
    const t = 'import optax\ntx = optax.chain(optax.scale_by_adam(), optax.scale_by_learning_rate(1e-3), optax.add_decayed_weights(1e-4))\n';
    const f = await findingsOf(t, 'WD008');
    assert.equal(f.length, 1);
    assert.match(f[0]!.message, /grow instead of decaying/);
    const fixed = await applyFixAndCheck(t, 'WD008', 2);
    assert.match(fixed, /optax\.scale_by_adam\(\), optax\.add_decayed_weights\(1e-4\), optax\.scale_by_learning_rate\(1e-3\)\)/);
  });

  it('stays silent for the decoupled order and for decay before plain SGD', async () => {
    assert.deepEqual(await linesOf('import optax\ntx = optax.chain(optax.scale_by_adam(), optax.add_decayed_weights(1e-4), optax.scale_by_learning_rate(1e-3))\n', 'WD008'), []);
    assert.deepEqual(await linesOf('import optax\ntx = optax.chain(optax.add_decayed_weights(5e-4), optax.sgd(0.1, momentum=0.9))\n', 'WD008'), []);
  });
});

describe('WD009 weak decay in many-epoch training on repeated data', () => {
  const lm = (decay: string, epochs: number, extra = '') => `${TORCH}from torch.utils.data import DataLoader
${extra}
class TinyLM(nn.Module):
    def __init__(self, vocab_size=5000, d=128):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d)
        self.head = nn.Linear(d, vocab_size)

    def forward(self, x):
        return self.head(self.embed(x))

model = TinyLM()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4${decay})
for epoch in range(${epochs}):
    for x, y in train_loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x).flatten(0, 1), y.flatten()).backward()
        optimizer.step()
`;
  it('fires on the decay of a from-scratch LM trained for many epochs', async () => {
    const text = lm(', weight_decay=0.1', 20);
    const f = await findingsOf(text, 'WD009');
    assert.deepEqual(f.map((x) => x.range.start.line + 1), [lineWith(text, 'torch.optim.AdamW(')]);
    assert.equal(f[0]!.range.start.character, text.split('\n')[lineWith(text, 'torch.optim.AdamW(') - 1]!.indexOf('weight_decay='));
    assert.match(f[0]!.message, /20 epochs/);
  });

  it('uses the AdamW default when decay is not written (placed on the call)', async () => {
    const text = lm('', 10);
    const f = await findingsOf(text, 'WD009');
    assert.equal(f.length, 1);
    assert.match(f[0]!.message, /0\.01 \(AdamW default\)/);
  });

  it('stays silent for few epochs, a strong decay, or fine-tuning a pretrained model', async () => {
    assert.deepEqual(await linesOf(lm(', weight_decay=0.1', 3), 'WD009'), []);
    assert.deepEqual(await linesOf(lm(', weight_decay=1.0', 20), 'WD009'), []);
    const hf = `from transformers import AutoModelForCausalLM, Trainer, TrainingArguments
model = AutoModelForCausalLM.from_pretrained("gpt2")
args = TrainingArguments(output_dir="o", num_train_epochs=20, weight_decay=0.01)
trainer = Trainer(model=model, args=args)
`;
    assert.deepEqual(await linesOf(hf, 'WD009'), []);
  });

  it('HF Trainer: a causal LM built from a config with TrainingArguments decay', async () => {
    const hf = `from transformers import AutoConfig, AutoModelForCausalLM, Trainer, TrainingArguments
config = AutoConfig.from_pretrained("gpt2")
model = AutoModelForCausalLM.from_config(config)
args = TrainingArguments(output_dir="o", num_train_epochs=16, weight_decay=0.1)
trainer = Trainer(model=model, args=args)
`;
    assert.deepEqual(await linesOf(hf, 'WD009'), [4]);
  });
});
