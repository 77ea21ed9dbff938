import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyFixAndCheck, findingsOf, lineWith, linesOf } from './fixRoundTrip';

const HEAD = `import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, IterableDataset, RandomSampler, TensorDataset

model = nn.Linear(10, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
ds = TensorDataset(torch.randn(100, 10), torch.randint(0, 2, (100,)))
`;

const LOOP = (loader: string) => `for epoch in range(5):
    for x, y in ${loader}:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
`;

describe('DATA001 training DataLoader without shuffling', () => {
  it('stays silent when the dataset draws a random window in __getitem__ (order does not matter)', async () => {
    const text = `${HEAD}class Windows(Dataset):
    def __init__(self, data, n):
        self.data, self.n = data, n
    def __len__(self):
        return len(self.data) // self.n
    def __getitem__(self, index):
        start = torch.randint(0, len(self.data) - self.n - 1, (1,))
        return self.data[start:start + self.n], self.data[start + 1:start + self.n + 1]
train_ds = Windows(torch.arange(1000), 16)
train_loader = DataLoader(train_ds, batch_size=16)
${LOOP('train_loader')}`;
    assert.deepEqual(await linesOf(text, 'DATA001'), []);
  });

  it('fires on a loader named for training without shuffle, and adds shuffle=True', async () => {
    const text = `${HEAD}train_loader = DataLoader(ds, batch_size=16)
${LOOP('train_loader')}`;
    const line = lineWith(text, 'train_loader = DataLoader');
    const f = await findingsOf(text, 'DATA001');
    assert.deepEqual(f.map((x) => x.range.start.line + 1), [line]);
    assert.match(f[0]!.message, /shuffle=False \(DataLoader default\)/);
    const fixed = await applyFixAndCheck(text, 'DATA001', line);
    assert.match(fixed, /DataLoader\(ds, batch_size=16, shuffle=True\)/);
  });

  it('fires on an explicitly unshuffled loader that the training loop iterates through a function parameter', async () => {
    const text = `${HEAD}def train_epoch(loader):
    for x, y in loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

batches = DataLoader(ds, 16, False)
for epoch in range(3):
    train_epoch(batches)
`;
    const line = lineWith(text, 'batches = DataLoader');
    assert.deepEqual(await linesOf(text, 'DATA001'), [line]);
    const fixed = await applyFixAndCheck(text, 'DATA001', line);
    assert.match(fixed, /DataLoader\(ds, 16, True\)/);
  });

  it('stays silent with shuffle=True, a sampler, an IterableDataset, or for evaluation loaders', async () => {
    const text = `${HEAD}class Stream(IterableDataset):
    def __iter__(self):
        yield from []

train_loader = DataLoader(ds, batch_size=16, shuffle=True)
sampled_train_loader = DataLoader(ds, batch_size=16, sampler=RandomSampler(ds))
stream_train_loader = DataLoader(Stream(), batch_size=16)
val_loader = DataLoader(ds, batch_size=64)
${LOOP('train_loader')}${LOOP('sampled_train_loader')}${LOOP('stream_train_loader')}
model.eval()
for x, y in val_loader:
    pass
`;
    assert.deepEqual(await linesOf(text, 'DATA001'), []);
  });

  it('stays silent when shuffle comes from a value it cannot resolve', async () => {
    const text = `${HEAD}import os
train_loader = DataLoader(ds, batch_size=16, shuffle=os.environ.get("SHUFFLE") == "1")
${LOOP('train_loader')}`;
    assert.deepEqual(await linesOf(text, 'DATA001'), []);
  });
});
