import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyFixAndCheck, findingsOf, linesOf } from './fixRoundTrip';

const BODY = `
model = nn.Linear(10, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in loader:
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
`;

describe('SEED001 no framework seed', () => {
  const text = `"""Train a linear model."""
import os
import torch
import torch.nn as nn
${BODY}`;
  it('fires on the first torch import and inserts a seed after the import block', async () => {
    const f = await findingsOf(text, 'SEED001');
    assert.deepEqual(f.map((x) => x.range.start.line + 1), [3]);
    assert.equal(f[0]!.severity, 'hint');
    const fixed = await applyFixAndCheck(text, 'SEED001', 3);
    assert.match(fixed, /import torch\.nn as nn\ntorch\.manual_seed\(0\)\n/);
  });

  it('numpy/random seeds alone do not seed torch', async () => {
    const t = `import random
import numpy as np
import torch
import torch.nn as nn
random.seed(0)
np.random.seed(0)
${BODY}`;
    assert.deepEqual(await linesOf(t, 'SEED001'), [3]);
  });

  it('stays silent with torch.manual_seed, Lightning seed_everything, a seeding helper, or HF Trainer', async () => {
    for (const seed of ['torch.manual_seed(42)', 'import lightning as L\nL.seed_everything(42)', 'from transformers import set_seed\nset_seed(1)']) {
      assert.deepEqual(await linesOf(`import torch\nimport torch.nn as nn\n${seed}\n${BODY}`, 'SEED001'), [], seed);
    }
    const helper = `import random
import torch
import torch.nn as nn

def init_seeds(s):
    random.seed(s)
    torch.manual_seed(s)

init_seeds(3)
${BODY}`;
    assert.deepEqual(await linesOf(helper, 'SEED001'), []);
    const imported = `import torch
import torch.nn as nn
from utils import seed_all

seed_all(3)
${BODY}`;
    assert.deepEqual(await linesOf(imported, 'SEED001'), []);
    const hf = `import torch
from transformers import Trainer, TrainingArguments
trainer = Trainer(model=None, args=TrainingArguments(output_dir="o"))
trainer.train()
`;
    assert.deepEqual(await linesOf(hf, 'SEED001'), []);
  });

  it('stays silent for files that do not train (library modules that only build models or optimizers)', async () => {
    const t = `import torch
import torch.nn as nn

class Net(nn.Module):
    def forward(self, x):
        return x

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)
`;
    assert.deepEqual(await linesOf(t, 'SEED001'), []);
  });

  it('Keras: fires on the first Keras/TensorFlow import, silent after keras.utils.set_random_seed', async () => {
    const t = `import numpy as np
import keras
from keras import layers
model = keras.Sequential([layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(np.zeros((4, 2)), np.zeros(4), epochs=1)
`;
    assert.deepEqual(await linesOf(t, 'SEED001'), [2]);
    const fixed = await applyFixAndCheck(t, 'SEED001', 2);
    assert.match(fixed, /from keras import layers\nkeras\.utils\.set_random_seed\(0\)\n/);
    assert.deepEqual(await linesOf(t.replace('model = keras', 'keras.utils.set_random_seed(1)\nmodel = keras'), 'SEED001'), []);
  });
});
