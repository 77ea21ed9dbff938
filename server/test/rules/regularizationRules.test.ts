import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SETTINGS } from '../../src/analysis/settings';
import { analyzeText } from '../support/analyzeFile';
import { applyFixAndCheck, findingsOf, lineWith, linesOf } from './fixRoundTrip';

const TORCH = `import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
`;

/** A minimal training loop around `model`, so that loss/loader rules have something to read. */
const TRAIN = `
ds = TensorDataset(torch.randn(1000, 10), torch.randint(0, 2, (1000,)))
train_loader = DataLoader(ds, batch_size=32, shuffle=True)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=5e-4)
criterion = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
`;

describe('REG001 dropout directly before batch norm', () => {
  const seq = `${TORCH}model = nn.Sequential(
    nn.Linear(10, 20, bias=False),
    nn.Dropout(0.2),
    nn.BatchNorm1d(20),
    nn.ReLU(),
    nn.Linear(20, 2),
)
${TRAIN}`;
  it('fires on the dropout item of a Sequential and reorders it', async () => {
    assert.deepEqual(await linesOf(seq, 'REG001'), [lineWith(seq, 'nn.Dropout(0.2)')]);
    const fixed = await applyFixAndCheck(seq, 'REG001', lineWith(seq, 'nn.Dropout(0.2)'));
    assert.ok(fixed.indexOf('nn.BatchNorm1d(20)') < fixed.indexOf('nn.Dropout(0.2)'));
  });

  const nested = `${TORCH}class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, bias=False)
        self.drop = nn.Dropout(0.3)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        return F.relu(self.bn(self.drop(self.conv(x))))

model = Block()
`;
  it('follows the forward() data flow (nested calls) and places the finding on the dropout layer', async () => {
    assert.deepEqual(await linesOf(nested, 'REG001'), [lineWith(nested, 'self.drop = nn.Dropout')]);
    const fixed = await applyFixAndCheck(nested, 'REG001', lineWith(nested, 'self.drop = nn.Dropout'));
    assert.match(fixed, /self\.drop\(self\.bn\(self\.conv\(x\)\)\)/);
  });

  const statements = `${TORCH}class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16, bias=False)
        self.drop = nn.Dropout(0.5)
        self.bn = nn.BatchNorm1d(16)

    def forward(self, x):
        x = self.fc(x)
        x = self.drop(x)
        x = self.bn(x)
        return x

model = Head()
`;
  it('follows successive assignments and swaps the two statements', async () => {
    const line = lineWith(statements, 'self.drop = nn.Dropout');
    assert.deepEqual(await linesOf(statements, 'REG001'), [line]);
    const fixed = await applyFixAndCheck(statements, 'REG001', line);
    assert.ok(fixed.indexOf('x = self.bn(x)') < fixed.indexOf('x = self.drop(x)'));
  });

  it('trusts forward() over the __init__ order', async () => {
    const text = `${TORCH}class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.bn = nn.BatchNorm1d(16)

    def forward(self, x):
        return self.drop(self.bn(x))

model = Head()
`;
    assert.deepEqual(await linesOf(text, 'REG001'), []);
  });

  it('stays silent when a residual sum or an unknown call runs in between', async () => {
    const text = `${TORCH}class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.3)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        h = self.bn(my_op(self.drop(x)))
        y = self.drop(x)
        return self.bn(y + x)

model = Block()
`;
    assert.deepEqual(await linesOf(text, 'REG001'), []);
  });

  it('fires through an activation and one weight layer (the VGG pattern), without a fix', async () => {
    const text = `${TORCH}block = nn.Sequential(
    nn.Conv2d(64, 128, 3, padding=1),
    nn.BatchNorm2d(128),
    nn.ReLU(),
    nn.Dropout(0.3),
    nn.Conv2d(128, 128, 3, padding=1),
    nn.BatchNorm2d(128),
    nn.ReLU(),
)
head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * 8 * 8, 10))
`;
    const f = await findingsOf(text, 'REG001');
    assert.deepEqual(f.map((x) => x.range.start.line + 1), [lineWith(text, 'nn.Dropout(0.3),')]);
    assert.match(f[0]!.message, /through Conv2d/);
    assert.equal(f[0]!.fixes.length, 0);
  });

  it('stays silent across two weight layers or another normalization', async () => {
    const text = `${TORCH}a = nn.Sequential(nn.Dropout(0.3), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.BatchNorm1d(8))
b = nn.Sequential(nn.Dropout(0.3), nn.LayerNorm(8), nn.BatchNorm1d(8))
`;
    assert.deepEqual(await linesOf(text, 'REG001'), []);
  });

  it('fires on Keras Sequential models too', async () => {
    const text = `import keras
from keras import layers
model = keras.Sequential([layers.Dense(64), layers.Dropout(0.3), layers.BatchNormalization(), layers.Dense(10)])
`;
    assert.deepEqual(await linesOf(text, 'REG001'), [3]);
  });
});

describe('REG002 dropout probability above 0.5', () => {
  const text = `${TORCH}model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Dropout(p=0.9), nn.Linear(20, 2))
${TRAIN}`;
  it('fires on the probability argument and suspects a keep probability at 0.9', async () => {
    const f = await findingsOf(text, 'REG002');
    assert.equal(f.length, 1);
    assert.equal(f[0]!.range.start.line + 1, lineWith(text, 'nn.Dropout(p=0.9)'));
    assert.equal(f[0]!.range.start.character, text.split('\n')[lineWith(text, 'nn.Dropout') - 1]!.indexOf('p=0.9'));
    assert.match(f[0]!.message, /keep probability/);
    const fixed = await applyFixAndCheck(text, 'REG002', lineWith(text, 'nn.Dropout(p=0.9)'));
    assert.match(fixed, /nn\.Dropout\(p=0\.1\)/);
  });

  it('resolves the value through constructor parameters and flags library configs and functional dropout', async () => {
    const t = `${TORCH}from transformers import BertConfig
cfg = {"keep_prob": 0.8}

class Net(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return F.dropout(self.drop(x), p=0.7, training=self.training)

net = Net(dropout=cfg["keep_prob"])
config = BertConfig(hidden_dropout_prob=0.6)
`;
    assert.deepEqual(await linesOf(t, 'REG002'), [lineWith(t, 'nn.Dropout(dropout)'), lineWith(t, 'F.dropout('), lineWith(t, 'BertConfig(')]);
  });

  it('stays silent at 0.5, for the default, for unknown values and for the script\'s own keyword arguments', async () => {
    const t = `${TORCH}import os
p = float(os.environ["P"])
class Net(nn.Module):
    def __init__(self, dropout=0.1):
        super().__init__()
        self.a = nn.Dropout(0.5)
        self.b = nn.Dropout()
        self.c = nn.Dropout(p)
        self.d = nn.Dropout(dropout)

net = Net(dropout=0.2)
other = Net(dropout=0.3)
`;
    assert.deepEqual(await linesOf(t, 'REG002'), []);
  });
});

describe('REG003 bias before batch norm', () => {
  it('fires on an implicit bias (the layer call) and adds bias=False', async () => {
    const text = `${TORCH}model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU())
`;
    assert.deepEqual(await linesOf(text, 'REG003'), [5]);
    const fixed = await applyFixAndCheck(text, 'REG003', 5);
    assert.match(fixed, /nn\.Conv2d\(3, 16, 3, bias=False\)/);
  });

  it('fires on an explicit bias=True and rewrites it', async () => {
    const text = `${TORCH}class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 16, bias=True)
        self.bn = nn.BatchNorm1d(16)

    def forward(self, x):
        x = self.fc(x)
        return torch.relu(self.bn(x))

model = Head()
`;
    const line = lineWith(text, 'nn.Linear(32, 16, bias=True)');
    const f = await findingsOf(text, 'REG003');
    assert.equal(f.length, 1);
    assert.equal(f[0]!.range.start.line + 1, line);
    assert.equal(f[0]!.range.start.character, text.split('\n')[line - 1]!.indexOf('bias=True'));
    const fixed = await applyFixAndCheck(text, 'REG003', line);
    assert.match(fixed, /nn\.Linear\(32, 16, bias=False\)/);
  });

  it('stays silent with bias=False, an activation in between, LayerNorm, or a Keras layer with an activation', async () => {
    const text = `${TORCH}a = nn.Sequential(nn.Conv2d(3, 16, 3, bias=False), nn.BatchNorm2d(16))
b = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.BatchNorm1d(8))
c = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8))
import keras
from keras import layers
d = keras.Sequential([layers.Dense(8, activation="relu"), layers.BatchNormalization()])
`;
    assert.deepEqual(await linesOf(text, 'REG003'), []);
  });
});

describe('REG004 PyTorch batch-norm momentum in the Keras convention', () => {
  it('fires on momentum >= 0.5 and offers 1 - m', async () => {
    const text = `${TORCH}bn = nn.BatchNorm2d(64, momentum=0.99)
`;
    assert.deepEqual(await linesOf(text, 'REG004'), [5]);
    const fixed = await applyFixAndCheck(text, 'REG004', 5);
    assert.match(fixed, /momentum=0\.01/);
  });

  it('fires on the mirror mistake in Keras (PyTorch-style momentum=0.1)', async () => {
    const text = `import keras
bn = keras.layers.BatchNormalization(momentum=0.1)
`;
    assert.deepEqual(await linesOf(text, 'REG004'), [2]);
    const fixed = await applyFixAndCheck(text, 'REG004', 2);
    assert.match(fixed, /momentum=0\.9/);
  });

  it('honours max_momentum from the settings', async () => {
    const text = `${TORCH}bn = nn.BatchNorm2d(64, momentum=0.6)
`;
    const r = await analyzeText(text, { ...DEFAULT_SETTINGS, rules: { REG004: { max_momentum: 0.7 } } });
    assert.deepEqual(r.findings.filter((f) => f.rule === 'REG004'), []);
    assert.deepEqual(await linesOf(text, 'REG004'), [5]);
  });

  it('never fires on Keras BatchNormalization (opposite convention) nor on PyTorch defaults or None', async () => {
    const text = `${TORCH}import keras
a = keras.layers.BatchNormalization(momentum=0.99)
b = nn.BatchNorm2d(64)
c = nn.BatchNorm1d(64, momentum=None)
d = nn.BatchNorm1d(64, momentum=0.1)
`;
    assert.deepEqual(await linesOf(text, 'REG004'), []);
  });
});

describe('REG005 batch norm with tiny batches or a last batch of one', () => {
  const model = `${TORCH}model = nn.Sequential(nn.Linear(10, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
`;
  const loop = `opt = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in train_loader:
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()
`;
  it('fires on a training loader with batch_size <= 4', async () => {
    const text = `${model}train_loader = DataLoader(TensorDataset(torch.randn(100, 10), torch.zeros(100).long()), batch_size=2, shuffle=True)
${loop}`;
    assert.deepEqual(await linesOf(text, 'REG005'), [lineWith(text, 'train_loader = DataLoader')]);
  });

  it('fires when the dataset size leaves a last batch of one, and drop_last=True fixes it', async () => {
    const text = `${model}N = 1001
train_loader = DataLoader(TensorDataset(torch.randn(N, 10), torch.zeros(N).long()), batch_size=8, shuffle=True)
${loop}`;
    const line = lineWith(text, 'train_loader = DataLoader');
    const f = await findingsOf(text, 'REG005');
    assert.equal(f.length, 1);
    assert.match(f[0]!.message, /1001 training samples/);
    const fixed = await applyFixAndCheck(text, 'REG005', line);
    assert.match(fixed, /drop_last=True/);
  });

  it('stays silent for evaluation loaders, divisible sizes, drop_last=True and models without batch norm', async () => {
    const text = `${model}N = 1000
train_loader = DataLoader(TensorDataset(torch.randn(N, 10), torch.zeros(N).long()), batch_size=8, shuffle=True)
val_loader = DataLoader(TensorDataset(torch.randn(9, 10), torch.zeros(9).long()), batch_size=1)
${loop}`;
    assert.deepEqual(await linesOf(text, 'REG005'), []);
    const noBn = `${TORCH}model = nn.Sequential(nn.Linear(10, 16), nn.LayerNorm(16), nn.Linear(16, 2))
train_loader = DataLoader(TensorDataset(torch.randn(1001, 10), torch.zeros(1001).long()), batch_size=2, shuffle=True)
${loop}`;
    assert.deepEqual(await linesOf(noBn, 'REG005'), []);
  });
});

describe('REG006 label smoothing out of range', () => {
  it('fires above 0.3 on the argument', async () => {
    const text = `${TORCH}SMOOTH = 0.4
criterion = nn.CrossEntropyLoss(label_smoothing=SMOOTH)
`;
    const f = await findingsOf(text, 'REG006');
    assert.deepEqual(f.map((x) => x.range.start.line + 1), [6]);
    assert.match(f[0]!.message, /SMOOTH = 0\.4/);
  });

  it('stays silent for the usual 0.1 and for unknown values', async () => {
    const text = `${TORCH}import sys
a = nn.CrossEntropyLoss(label_smoothing=0.1)
b = nn.CrossEntropyLoss(label_smoothing=float(sys.argv[1]))
`;
    assert.deepEqual(await linesOf(text, 'REG006'), []);
  });
});

describe('REG007 label smoothing in distillation', () => {
  const distill = `${TORCH}teacher = nn.Linear(10, 5)
student = nn.Linear(10, 5)
teacher_criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
kd = nn.KLDivLoss(reduction="batchmean")
def distill_loss(x, y, T=4.0):
    return kd(F.log_softmax(student(x) / T, dim=1), F.softmax(teacher(x) / T, dim=1)) * T * T
`;
  it('fires on the smoothing of a script that distills from a teacher', async () => {
    assert.deepEqual(await linesOf(distill, 'REG007'), [lineWith(distill, 'label_smoothing=0.1')]);
  });

  it('stays silent without distillation', async () => {
    const text = `${TORCH}criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
`;
    assert.deepEqual(await linesOf(text, 'REG007'), []);
  });

  it("stays silent on smoothing of the student's hard-label term (the DeiT recipe)", async () => {
    const text = `${TORCH}teacher = nn.Linear(10, 5)
student = nn.Linear(10, 5)
base_criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
kd = nn.KLDivLoss(reduction="batchmean")
def student_loss(x, y, T=4.0):
    return base_criterion(student(x), y) + kd(F.log_softmax(student(x) / T, dim=1), F.softmax(teacher(x) / T, dim=1)) * T * T
`;
    assert.deepEqual(await linesOf(text, 'REG007'), []);
  });
});

describe('REG008 probabilities into a loss that expects logits', () => {
  it('fires on a final nn.Softmax feeding CrossEntropyLoss, and removes it', async () => {
    const text = `${TORCH}model = nn.Sequential(
    nn.Linear(10, 32),
    nn.ReLU(),
    nn.Linear(32, 2),
    nn.Softmax(dim=1),
)
${TRAIN}`;
    const line = lineWith(text, 'nn.Softmax(dim=1)');
    assert.deepEqual(await linesOf(text, 'REG008'), [line]);
    const fixed = await applyFixAndCheck(text, 'REG008', line);
    assert.doesNotMatch(fixed, /Softmax/);
  });

  it('fires on softmax in the loop and on sigmoid into BCEWithLogitsLoss', async () => {
    const text = `${TORCH}model = nn.Linear(10, 2)
bce = nn.BCEWithLogitsLoss()
def step(x, y, t):
    logits = model(x)
    probs = F.softmax(logits, dim=1)
    a = F.cross_entropy(probs, y)
    b = bce(torch.sigmoid(model(x)), t)
    return a + b
`;
    assert.deepEqual(await linesOf(text, 'REG008'), [lineWith(text, 'F.softmax('), lineWith(text, 'torch.sigmoid(')]);
    const fixed = await applyFixAndCheck(text, 'REG008', lineWith(text, 'F.softmax('));
    assert.match(fixed, /probs = logits/);
  });

  it('stays silent for sigmoid into BCELoss, log_softmax into NLLLoss, softmax at eval only, and softmax used for metrics', async () => {
    const text = `${TORCH}class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 3)

    def forward(self, x):
        x = self.fc(x)
        if not self.training:
            x = F.softmax(x, dim=-1)
        return x

model = Net()
bce = nn.BCELoss()
def step(x, y, t):
    logits = model(x)
    loss = F.cross_entropy(logits, y) + F.nll_loss(F.log_softmax(logits, dim=1), y)
    loss = loss + bce(torch.sigmoid(logits[:, 0]), t)
    confidence = F.softmax(logits, dim=1).max(1).values
    return loss, confidence
`;
    assert.deepEqual(await linesOf(text, 'REG008'), []);
  });

  it('does not flag log_softmax into CrossEntropyLoss (idempotent, same loss)', async () => {
    const text = `${TORCH}class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 3)

    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)

model = Net()
${TRAIN}`;
    assert.deepEqual(await linesOf(text, 'REG008'), []);
  });

  it('Keras: from_logits=True with a softmax output, and a linear output with the default from_logits', async () => {
    const text = `import keras
from keras import layers
a = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
a.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
b = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(10)])
b.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
`;
    assert.deepEqual(await linesOf(text, 'REG008'), [4, 6]);
    const fixedA = await applyFixAndCheck(text, 'REG008', 4);
    assert.match(fixedA, /from_logits=False/);
    const fixedB = await applyFixAndCheck(text, 'REG008', 6);
    assert.match(fixedB, /loss=keras\.losses\.SparseCategoricalCrossentropy\(from_logits=True\)/);
  });

  it('Keras functional API: follows keras.Model(inputs, outputs) to the output layer', async () => {
    const text = `import keras
from keras import layers
inputs = keras.Input(shape=(32,))
x = layers.Dense(64, activation="relu")(inputs)
x = layers.Dropout(0.5)(x)
x = layers.BatchNormalization()(x)
outputs = layers.Dense(10, activation="softmax")(x)
model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
`;
    assert.deepEqual(await linesOf(text, 'REG008'), [9]);
    assert.deepEqual(await linesOf(text, 'REG001'), [5]);
    const fixed = await applyFixAndCheck(text, 'REG001', 5);
    assert.ok(fixed.indexOf('x = layers.BatchNormalization()(x)') < fixed.indexOf('x = layers.Dropout(0.5)(x)'));
  });

  it('Keras: stays silent for matching pairs', async () => {
    const text = `import tensorflow as tf
from tensorflow.keras import layers
a = tf.keras.Sequential([layers.Dense(10)])
a.compile(optimizer="adam", loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True))
b = tf.keras.Sequential([layers.Dense(1, activation="sigmoid")])
b.compile(optimizer="adam", loss="binary_crossentropy")
`;
    assert.deepEqual(await linesOf(text, 'REG008'), []);
  });
});

describe('REG009 stacked linear layers / activation on the logits', () => {
  it('fires on the second of two stacked Linear layers and on a ReLU before CrossEntropyLoss', async () => {
    const text = `${TORCH}model = nn.Sequential(
    nn.Linear(10, 64),
    nn.Linear(64, 64),
    nn.ReLU(),
    nn.Linear(64, 2),
    nn.ReLU(),
)
${TRAIN}`;
    assert.deepEqual(await linesOf(text, 'REG009'), [lineWith(text, 'nn.Linear(64, 64)'), lineWith(text, 'nn.Linear(64, 2)') + 1]);
  });

  it('fires on Keras Dense layers without activation between them', async () => {
    const text = `import keras
from keras import layers
m = keras.Sequential([layers.Dense(128), layers.Dropout(0.1), layers.Dense(64, activation="relu")])
`;
    assert.deepEqual(await linesOf(text, 'REG009'), [3]);
  });

  it('sees through batch norm and flatten (linear at inference) between weight layers', async () => {
    const text = `${TORCH}a = nn.Sequential(nn.Linear(10, 64), nn.BatchNorm1d(64), nn.Linear(64, 64), nn.ReLU())
b = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 30 * 30, 10))
`;
    assert.deepEqual(await linesOf(text, 'REG009'), [5, 6]);
  });

  it('stays silent for a depthwise-separable pair and across max pooling or layer norm', async () => {
    const text = `${TORCH}a = nn.Sequential(nn.Conv2d(32, 32, 3, groups=32), nn.Conv2d(32, 64, 1), nn.ReLU())
b = nn.Sequential(nn.Conv2d(3, 8, 3), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3))
c = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 8))
`;
    assert.deepEqual(await linesOf(text, 'REG009'), []);
  });

  it('stays silent with an activation in between, a low-rank bottleneck, and a Tanh output without a logits loss', async () => {
    const text = `${TORCH}a = nn.Sequential(nn.Linear(10, 64), nn.GELU(), nn.Linear(64, 2))
b = nn.Sequential(nn.Linear(512, 32), nn.Linear(32, 512))
generator = nn.Sequential(nn.Linear(100, 784), nn.Tanh())
`;
    assert.deepEqual(await linesOf(text, 'REG009'), []);
  });
});

describe('REG010 no regularization on a model far larger than its data', () => {
  const text = (extra: string, n = 200) => `${TORCH}model = nn.Sequential(nn.Linear(64, 2048), nn.ReLU(), nn.Linear(2048, 2048), nn.ReLU(), nn.Linear(2048, 10))
x = torch.randn(${n}, 64)
y = torch.randint(0, 10, (${n},))
train_loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3${extra})
for epoch in range(100):
    for xb, yb in train_loader:
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()
`;
  it('fires on the optimizer when nothing regularizes and parameters dwarf the samples', async () => {
    const t = text('');
    const f = await findingsOf(t, 'REG010');
    assert.deepEqual(f.map((x) => x.range.start.line + 1), [lineWith(t, 'torch.optim.Adam(')]);
    assert.match(f[0]!.message, /200 training samples/);
  });

  it('stays silent with weight decay, or with enough data', async () => {
    assert.deepEqual(await linesOf(text(', weight_decay=1e-4'), 'REG010'), []);
    assert.deepEqual(await linesOf(text('', 1_000_000), 'REG010'), []);
  });

  it('reads scikit-learn generators and slices for the sample count', async () => {
    const t = text('').replace('x = torch.randn(200, 64)\ny = torch.randint(0, 10, (200,))', 'from sklearn.datasets import make_classification\nX, Y = make_classification(n_samples=5000, n_features=64)\nx = torch.tensor(X[:300]).float()\ny = torch.tensor(Y[:300])');
    const f = await findingsOf(t, 'REG010');
    assert.equal(f.length, 1);
    assert.match(f[0]!.message, /300 training samples/);
  });

  it('stays silent when the dataset size is unknown', async () => {
    const t = text('').replace('x = torch.randn(200, 64)', 'x = torch.load("x.pt")');
    assert.deepEqual(await linesOf(t, 'REG010'), []);
  });
});

describe('REG011 mixup/cutmix alpha', () => {
  it('fires on a large alpha for timm, torchvision and the script\'s own mixup function', async () => {
    const text = `import numpy as np
import torch
from timm.data import Mixup
from torchvision.transforms import v2

def mixup_data(x, y, alpha=1.0):
    lam = np.random.beta(alpha, alpha)
    return lam * x + (1 - lam) * x.flip(0), y

a = Mixup(mixup_alpha=4.0, cutmix_alpha=1.0)
b = v2.CutMix(alpha=3.0, num_classes=10)
x, y = mixup_data(torch.randn(4, 3), torch.zeros(4), alpha=2.0)
`;
    assert.deepEqual(await linesOf(text, 'REG011'), [lineWith(text, 'Mixup('), lineWith(text, 'v2.CutMix('), lineWith(text, 'x, y = mixup_data')]);
  });

  it('fires on a literal Beta parameter in a hand-written mixup', async () => {
    const text = `import numpy as np
import torch

def blend(x, y):
    lam = np.random.beta(5.0, 5.0)
    idx = torch.randperm(x.size(0))
    return lam * x + (1 - lam) * x[idx], y, y[idx], lam
`;
    assert.deepEqual(await linesOf(text, 'REG011'), [5]);
  });

  it('stays silent for common values', async () => {
    const text = `from timm.data import Mixup
from torchvision.transforms import v2
a = Mixup(mixup_alpha=0.8, cutmix_alpha=1.0)
b = v2.MixUp(alpha=0.2, num_classes=10)
`;
    assert.deepEqual(await linesOf(text, 'REG011'), []);
  });
});

describe('REG012 batch-norm eps that was meant as momentum', () => {
  it('fires on a positional 0.8 and turns it into momentum=0.2', async () => {
    const text = `${TORCH}block = nn.Sequential(nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), nn.BatchNorm2d(32, 0.8), nn.ReLU(True))
`;
    assert.deepEqual(await linesOf(text, 'REG012'), [5]);
    const fixed = await applyFixAndCheck(text, 'REG012', 5);
    assert.match(fixed, /nn\.BatchNorm2d\(32, momentum=0\.2\)/);
  });

  it('stays silent for ordinary eps values', async () => {
    const text = `${TORCH}a = nn.BatchNorm2d(32, 1e-3)
b = nn.BatchNorm2d(32, eps=1e-5, momentum=0.1)
`;
    assert.deepEqual(await linesOf(text, 'REG012'), []);
  });
});

describe('REG013 frozen backbone with batch norms in train mode', () => {
  const base = (extra: string) => `${TORCH}import torchvision
backbone = torchvision.models.resnet18(weights="IMAGENET1K_V1")
for p in backbone.parameters():
    p.requires_grad = False
backbone.fc = nn.Linear(512, 10)
model = backbone
optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01)
for epoch in range(3):
    model.train()
${extra}    for x, y in loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
`;
  it('fires on the freezing statement', async () => {
    const t = base('');
    assert.deepEqual(await linesOf(t, 'REG013'), [lineWith(t, 'p.requires_grad = False')]);
  });

  it('stays silent when the backbone is put back in eval mode', async () => {
    assert.deepEqual(await linesOf(base('    backbone.eval()\n'), 'REG013'), []);
  });

  it('stays silent for a frozen module without batch norm', async () => {
    const t = `${TORCH}class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 10)
        self.ln = nn.LayerNorm(10)

    def forward(self, x):
        return self.ln(self.fc(x))

encoder = Encoder()
encoder.requires_grad_(False)
head = nn.Linear(10, 2)
optimizer = torch.optim.SGD(head.parameters(), lr=0.01)
for x, y in loader:
    optimizer.zero_grad()
    F.cross_entropy(head(encoder(x)), y).backward()
    optimizer.step()
`;
    assert.deepEqual(await linesOf(t, 'REG013'), []);
  });
});

describe('REG014 functional dropout that stays on in evaluation', () => {
  const text = `${TORCH}class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 2)

    def forward(self, x):
        x = F.dropout(x, p=0.1, training=True)
        x = F.dropout(x, 0.2)
        return self.fc(x)
`;
  it('fires on training=True and on the implicit default', async () => {
    assert.deepEqual(await linesOf(text, 'REG014'), [lineWith(text, 'training=True'), lineWith(text, 'F.dropout(x, 0.2)')]);
    const f = (await findingsOf(text, 'REG014'))[0]!;
    assert.equal(f.range.start.character, text.split('\n')[lineWith(text, 'training=True') - 1]!.indexOf('training=True'));
  });

  it('the fix passes training=self.training', async () => {
    const fixed = await applyFixAndCheck(text, 'REG014', lineWith(text, 'training=True'));
    assert.match(fixed, /F\.dropout\(x, p=0\.1, training=self\.training\)/);
    const fixed2 = await applyFixAndCheck(text, 'REG014', lineWith(text, 'F.dropout(x, 0.2)'));
    assert.match(fixed2, /F\.dropout\(x, 0\.2, training=self\.training\)/);
  });

  it('Keras: fires on a dropout layer called with training=True', async () => {
    const text = `import keras
from keras import layers

class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.drop = layers.Dropout(0.2)
        self.out = layers.Dense(2)

    def call(self, x, training=None):
        return self.out(self.drop(x, training=True))
`;
    const line = lineWith(text, 'training=True');
    assert.deepEqual(await linesOf(text, 'REG014'), [line]);
    const fixed = await applyFixAndCheck(text, 'REG014', line);
    assert.match(fixed, /self\.drop\(x, training=training\)/);
  });

  it('stays silent for training=self.training, Monte-Carlo dropout and code outside modules', async () => {
    const t = `${TORCH}class Net(nn.Module):
    def forward(self, x):
        return F.dropout(x, p=0.1, training=self.training)

class MCDropoutNet(nn.Module):
    def forward(self, x):
        return F.dropout(x, p=0.1, training=True)

def augment(x):
    return F.dropout(x, p=0.1)
`;
    assert.deepEqual(await linesOf(t, 'REG014'), []);
  });
});
