import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyFixAndCheck, lineWith, linesOf } from './fixRoundTrip';

const HEAD = `import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.fc1(x))))

model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
`;

const TRAIN = `    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
`;

describe('EVAL001 evaluation in training mode', () => {
  const bad = `${HEAD}
for epoch in range(10):
${TRAIN}    correct = 0
    with torch.no_grad():
        for x, y in val_loader:
            correct += (model(x).argmax(1) == y).sum().item()
`;
  it('fires on the for statement over the validation loader', async () => {
    assert.deepEqual(await linesOf(bad, 'EVAL001'), [lineWith(bad, 'in val_loader')]);
  });
  it('accepts model.eval() before the loop, model.train(False), and eval() in the caller of evaluate()', async () => {
    assert.deepEqual(await linesOf(bad.replace('    correct = 0', '    model.eval()\n    correct = 0'), 'EVAL001'), []);
    assert.deepEqual(await linesOf(bad.replace('    correct = 0', '    model.train(False)\n    correct = 0'), 'EVAL001'), []);
    const caller = `${HEAD}
@torch.no_grad()
def evaluate(net, loader):
    total = 0.0
    for x, y in loader:
        total += F.cross_entropy(net(x), y).item()
    return total

for epoch in range(10):
${TRAIN}    model.eval()
    val_loss = evaluate(model, val_loader)
`;
    assert.deepEqual(await linesOf(caller, 'EVAL001'), []);
    const missing = caller.replace('    model.eval()\n', '');
    assert.deepEqual(await linesOf(missing, 'EVAL001'), [lineWith(missing, 'for x, y in loader')]);
  });
  it('is silent for a model without dropout or batch norm', async () => {
    const plain = bad.replace('        self.drop = nn.Dropout(0.5)\n', '').replace('self.drop(', '(');
    assert.deepEqual(await linesOf(plain, 'EVAL001'), []);
  });
  it('safe fix brackets the loop with model.eval() / model.train()', async () => {
    const fixed = await applyFixAndCheck(bad, 'EVAL001', lineWith(bad, 'in val_loader'));
    assert.match(fixed, / {8}model\.eval\(\)\n {8}for x, y in val_loader:\n {12}correct \+= .*\n {8}model\.train\(\)\n/);
    assert.deepEqual(await linesOf(fixed, 'EVAL002'), []);
  });
});

describe('EVAL002 eval() without train() before the next step', () => {
  const bad = `${HEAD}
for epoch in range(10):
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for x, y in val_loader:
            model(x)
`;
  it('fires on model.eval()', async () => {
    assert.deepEqual(await linesOf(bad, 'EVAL002'), [lineWith(bad, 'model.eval()')]);
  });
  it('accepts train() at the start of the epoch or inside the training helper, and teacher.eval()', async () => {
    const ok = bad.replace('for epoch in range(10):\n', 'for epoch in range(10):\n    model.train()\n');
    assert.deepEqual(await linesOf(ok, 'EVAL002'), []);
    const helpers = `${HEAD}
def train_one_epoch(net):
    net.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        F.cross_entropy(net(x), y).backward()
        optimizer.step()

def evaluate(net):
    net.eval()
    with torch.no_grad():
        return sum(net(x).sum() for x, _ in val_loader)

for epoch in range(10):
    train_one_epoch(model)
    evaluate(model)
`;
    assert.deepEqual(await linesOf(helpers, 'EVAL002'), []);
    const kd = `${HEAD}
teacher = Net()
for x, y in train_loader:
    teacher.eval()
    with torch.no_grad():
        t = teacher(x)
    optimizer.zero_grad()
    F.mse_loss(model(x), t).backward()
    optimizer.step()
`;
    assert.deepEqual(await linesOf(kd, 'EVAL002'), []);
  });
  it('fires on eval() inside a helper, mapped to the caller\'s model', async () => {
    const periodic = `${HEAD}
def evaluate(net):
    net.eval()
    with torch.no_grad():
        for x, y in val_loader:
            net(x)

for step, (x, y) in enumerate(train_loader):
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
    if step % 500 == 0:
        evaluate(model)
`;
    assert.deepEqual(await linesOf(periodic, 'EVAL002'), [lineWith(periodic, 'net.eval()')]);
    const fixed = await applyFixAndCheck(periodic, 'EVAL002', lineWith(periodic, 'net.eval()'));
    assert.match(fixed, / {8}evaluate\(model\)\n {8}model\.train\(\)\n/);
  });
  it('fires on eval() before a training loop that never calls train()', async () => {
    const before = `${HEAD}
model.eval()
baseline = sum(model(x).sum() for x, _ in val_loader)
for x, y in train_loader:
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
`;
    assert.deepEqual(await linesOf(before, 'EVAL002'), [lineWith(before, 'model.eval()')]);
    const fixed = await applyFixAndCheck(before, 'EVAL002', lineWith(before, 'model.eval()'));
    assert.match(fixed, /model\.train\(\)\nfor x, y in train_loader:/);
  });
  it('safe fix inserts model.train() at the start of the epoch', async () => {
    const fixed = await applyFixAndCheck(bad, 'EVAL002', lineWith(bad, 'model.eval()'));
    assert.match(fixed, /for epoch in range\(10\):\n {4}model\.train\(\)\n {4}for x, y in train_loader:/);
  });
});

describe('EVAL003 evaluation without no_grad', () => {
  const bad = `${HEAD}
def validate(net, loader):
    net.eval()
    total = 0.0
    for x, y in loader:
        total += F.cross_entropy(net(x), y).item()
    return total
`;
  it('fires on the for statement', async () => {
    assert.deepEqual(await linesOf(bad, 'EVAL003'), [lineWith(bad, 'for x, y in loader')]);
  });
  it('accepts no_grad around, inside, as a decorator, inference_mode, or around the call site', async () => {
    const variants = [
      bad.replace('def validate', '@torch.no_grad()\ndef validate'),
      bad.replace('def validate', '@torch.inference_mode()\ndef validate'),
      bad.replace('        total += F.cross_entropy(net(x), y).item()', '        with torch.no_grad():\n            total += F.cross_entropy(net(x), y).item()'),
      `${bad}\nwith torch.no_grad():\n    v = validate(model, val_loader)\n`,
    ];
    for (const v of variants) assert.deepEqual(await linesOf(v, 'EVAL003'), [], v);
  });
  it('safe fix wraps the loop in torch.no_grad()', async () => {
    const fixed = await applyFixAndCheck(bad, 'EVAL003', lineWith(bad, 'for x, y in loader'));
    assert.match(fixed, / {4}with torch\.no_grad\(\):\n {8}for x, y in loader:\n {12}total \+= /);
  });
});

describe('EVAL004 validation metrics on training data', () => {
  it('stays silent on the held-out fold of k-fold cross-validation', async () => {
    const text = `${HEAD}
from sklearn.model_selection import KFold
from torch.utils.data import Subset
for fold, (tr_idx, va_idx) in enumerate(KFold(5).split(range(len(train_set)))):
    train_loader = DataLoader(Subset(train_set, tr_idx), batch_size=32, shuffle=True)
    val_loader = DataLoader(Subset(train_set, va_idx), batch_size=64)
`;
    assert.deepEqual(await linesOf(text, 'EVAL004'), []);
  });

  it('fires on the training loader passed to validation', async () => {
    const text = `${HEAD}
def evaluate(net, loader):
    net.eval()
    with torch.no_grad():
        return sum(F.cross_entropy(net(x), y).item() for x, y in loader)

val_loss = evaluate(model, train_loader)
train_loss = evaluate(model, train_loader)
`;
    assert.deepEqual(await linesOf(text, 'EVAL004'), [lineWith(text, 'val_loss = evaluate')]);
  });
  it('fires on a validation loop over the training loader and on eval_dataset=train', async () => {
    const loop = `${HEAD}
def validate(net):
    net.eval()
    with torch.no_grad():
        for x, y in train_loader:
            net(x)
`;
    assert.deepEqual(await linesOf(loop, 'EVAL004'), [lineWith(loop, 'in train_loader')]);
    const hf = `from transformers import Trainer
trainer = Trainer(model=model, args=args, train_dataset=ds["train"], eval_dataset=ds["train"])
`;
    assert.deepEqual(await linesOf(hf, 'EVAL004'), [2]);
  });
  it('is silent for test splits built with train=False and sliced train splits', async () => {
    const ok = `import torch
from torchvision import datasets
test_loader = torch.utils.data.DataLoader(datasets.MNIST("data", train=False), batch_size=1000)
from datasets import load_dataset
val_ds = load_dataset("imdb", split="train[90%:]")
train_metrics = trainer.evaluate(eval_dataset=train_ds.select(range(2000)), metric_key_prefix="train")
`;
    assert.deepEqual(await linesOf(ok, 'EVAL004'), []);
  });
});
