import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SETTINGS } from '../../src/analysis/settings';
import { analyzeText } from '../support/analyzeFile';
import { applyFixAndCheck, findingsOf, lineWith, linesOf } from './fixRoundTrip';

const HEAD = `import torch
import torch.nn as nn
import torch.nn.functional as F

model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
`;

const LOOP = `
for x, y in loader:
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
`;

const GPT = `import torch
import torch.nn as nn
import torch.nn.functional as F

class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        q, k, v = self.qkv(self.ln(x)).chunk(3, dim=-1)
        return x + self.proj(F.scaled_dot_product_attention(q, k, v, is_causal=True))

class GPT(nn.Module):
    def __init__(self, vocab=1000, d=64, n=4):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList([Block(d) for _ in range(n)])
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        x = self.wte(idx)
        for b in self.blocks:
            x = b(x)
        return self.lm_head(x)

model = GPT()
`;

describe('OPT001 Adam eps underflows in fp16', () => {
  const bad = `${HEAD}model = model.half()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
`;
  it('fires on the call when eps is the default and the model is fp16', async () => {
    assert.deepEqual(await linesOf(bad, 'OPT001'), [lineWith(bad, 'torch.optim.Adam(')]);
    const f = (await findingsOf(bad, 'OPT001'))[0]!;
    assert.match(f.message, /1e-8 \(Adam default\)/);
    assert.match(f.message, /\.half\(\) casts model to fp16/);
  });
  it('fires on an explicit eps and on .to(torch.float16)', async () => {
    const text = `${HEAD}model.to(torch.float16)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, eps=1e-8)
`;
    assert.deepEqual(await linesOf(text, 'OPT001'), [lineWith(text, 'AdamW(')]);
  });
  it('stays silent for fp32 params, bf16, autocast and inputs converted to half', async () => {
    assert.deepEqual(await linesOf(`${HEAD}optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n`, 'OPT001'), []);
    assert.deepEqual(await linesOf(`${HEAD}model = model.to(torch.bfloat16)\noptimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n`, 'OPT001'), []);
    const inputs = `${HEAD}optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for x, y in loader:
    x = x.half()
    with torch.autocast("cuda", dtype=torch.float16):
        loss = F.cross_entropy(model(x), y)
`;
    assert.deepEqual(await linesOf(inputs, 'OPT001'), []);
    assert.deepEqual(await linesOf(bad.replace('lr=1e-3)', 'lr=1e-3, eps=1e-4)'), 'OPT001'), []);
  });
  it('fix sets eps=1e-4 (explicit and default)', async () => {
    const fixed = await applyFixAndCheck(bad, 'OPT001', lineWith(bad, 'torch.optim.Adam('), { othersMayChange: true });
    assert.match(fixed, /lr=1e-3, eps=1e-4\)/);
    const explicit = bad.replace('lr=1e-3)', 'lr=1e-3, eps=1e-8)');
    assert.match(await applyFixAndCheck(explicit, 'OPT001', lineWith(explicit, 'torch.optim.Adam('), { othersMayChange: true }), /eps=1e-4\)/);
  });
});

describe('OPT002 LLM pretraining with beta2 = 0.999', () => {
  const bad = `${GPT}optimizer = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.999), weight_decay=0.1)\n`;
  it('fires on the betas argument of a causal LM trained from scratch', async () => {
    assert.deepEqual(await linesOf(bad, 'OPT002'), [lineWith(bad, 'betas=')]);
  });
  it('is silent with beta2 = 0.95, for fine-tuning and for non-LM models', async () => {
    assert.deepEqual(await linesOf(bad.replace('0.999', '0.95'), 'OPT002'), []);
    const finetune = `import torch
from transformers import AutoModelForCausalLM
model = AutoModelForCausalLM.from_pretrained("gpt2")
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, betas=(0.9, 0.999))
`;
    assert.deepEqual(await linesOf(finetune, 'OPT002'), []);
    assert.deepEqual(await linesOf(`${HEAD}optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999))\n`, 'OPT002'), []);
  });
  it('fires for a HF causal LM built from its config', async () => {
    const hf = `import torch
from transformers import GPT2Config, GPT2LMHeadModel
model = GPT2LMHeadModel(GPT2Config())
optimizer = torch.optim.AdamW(model.parameters(), lr=6e-4)
`;
    assert.deepEqual(await linesOf(hf, 'OPT002'), [lineWith(hf, 'AdamW(')]);
    await applyFixAndCheck(hf, 'OPT002', lineWith(hf, 'AdamW('), { othersMayChange: true });
  });
  it('fires on TrainingArguments when the Trainer pretrains a causal LM with the default adam_beta2', async () => {
    const text = `from transformers import AutoConfig, AutoModelForCausalLM, Trainer, TrainingArguments
model = AutoModelForCausalLM.from_config(AutoConfig.for_model("llama"))
args = TrainingArguments(output_dir="out", learning_rate=3e-4, warmup_steps=2000)
`;
    assert.deepEqual(await linesOf(text, 'OPT002'), [3]);
    const fixed = await applyFixAndCheck(text, 'OPT002', 3);
    assert.match(fixed, /adam_beta2=0\.95\)/);
    assert.deepEqual(await linesOf(text.replace('warmup_steps=2000)', 'warmup_steps=2000, adam_beta2=0.95)'), 'OPT002'), []);
  });
  it('fix replaces beta2 with 0.95', async () => {
    const fixed = await applyFixAndCheck(bad, 'OPT002', lineWith(bad, 'betas='));
    assert.match(fixed, /betas=\(0\.9, 0\.95\)/);
  });
});

describe('OPT003 SGD without momentum on a deep net', () => {
  const deep = `import torch
import torchvision
import torch.nn.functional as F
model = torchvision.models.resnet50()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=1e-4)
${LOOP}`;
  it('fires on the SGD call for a torchvision ResNet', async () => {
    assert.deepEqual(await linesOf(deep, 'OPT003'), [lineWith(deep, 'optim.SGD(')]);
  });
  it('counts blocks built in a comprehension', async () => {
    const text = `import torch
import torch.nn as nn
class Blk(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3)
        self.b = nn.Conv2d(c, c, 3)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3)
        self.body = nn.Sequential(*[Blk(16) for _ in range(8)])
        self.fc = nn.Linear(16, 10)
model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0)
${LOOP}`;
    assert.deepEqual(await linesOf(text, 'OPT003'), [lineWith(text, 'optim.SGD(')]);
  });
  it('is silent for an inner-loop SGD (meta-learning) that never steps on a data loader', async () => {
    const inner = deep.replace(LOOP, `
for _ in range(5):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(support_x), support_y)
    loss.backward()
    optimizer.step()
`);
    assert.deepEqual(await linesOf(inner, 'OPT003'), []);
  });
  it('is silent with momentum, for shallow nets and for unknown momentum', async () => {
    assert.deepEqual(await linesOf(deep.replace('lr=0.1', 'lr=0.1, momentum=0.9'), 'OPT003'), []);
    assert.deepEqual(await linesOf(`${HEAD}optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n${LOOP}`, 'OPT003'), []);
    assert.deepEqual(await linesOf(deep.replace('lr=0.1', 'lr=0.1, momentum=args.m'), 'OPT003'), []);
  });
  it('fix adds momentum=0.9', async () => {
    const fixed = await applyFixAndCheck(deep, 'OPT003', lineWith(deep, 'optim.SGD('));
    assert.match(fixed, /weight_decay=1e-4, momentum=0\.9\)/);
  });
});

describe('OPT004 Muon on all parameters', () => {
  const bad = `${GPT}from muon import Muon
optimizer = Muon(model.parameters(), lr=0.02, momentum=0.95)
for idx, y in loader:
    loss = F.cross_entropy(model(idx).flatten(0, 1), y.flatten())
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
`;
  it('fires on model.parameters()', async () => {
    assert.deepEqual(await linesOf(bad, 'OPT004'), [lineWith(bad, 'Muon(model')]);
  });
  it('fires on an ndim filter that keeps the embedding and head, not on a proper split', async () => {
    const ndim = bad.replace('Muon(model.parameters()', 'Muon([p for p in model.parameters() if p.ndim >= 2]');
    assert.deepEqual(await linesOf(ndim, 'OPT004'), [lineWith(ndim, 'Muon(')]);
    const ok = bad.replace('Muon(model.parameters()', 'Muon([p for n, p in model.named_parameters() if p.ndim == 2 and "wte" not in n and "lm_head" not in n]');
    assert.deepEqual(await linesOf(ok, 'OPT004'), []);
    const groups = bad.replace('Muon(model.parameters(), lr=0.02, momentum=0.95)', 'Muon([{"params": hidden, "use_muon": True}, {"params": list(model.wte.parameters()), "use_muon": False}])');
    assert.deepEqual(await linesOf(groups, 'OPT004'), []);
  });
  it('fix splits the parameters and steps an AdamW beside Muon', async () => {
    const fixed = await applyFixAndCheck(bad, 'OPT004', lineWith(bad, 'Muon(model'), { othersMayChange: true });
    assert.match(fixed, /optimizer_aux = torch\.optim\.AdamW\(/);
    assert.match(fixed, /optimizer\.step\(\)\n {4}optimizer_aux\.step\(\)/);
    assert.match(fixed, /optimizer_aux\.zero_grad\(set_to_none=True\)/);
  });
});

describe('OPT005 learning rate outside the usual range', () => {
  it('fires on Adam at an SGD-style lr and on SGD at a tiny one', async () => {
    const text = `${HEAD}a = torch.optim.Adam(model.parameters(), lr=0.1)\nb = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9)\n`;
    assert.deepEqual(await linesOf(text, 'OPT005'), [lineWith(text, 'Adam('), lineWith(text, 'SGD(')]);
    const f = (await findingsOf(text, 'OPT005'))[0]!;
    assert.match(f.message, /lr=0\.1 is above the usual range for Adam-family optimizers \(1e-6 – 0\.01/);
  });
  it('resolves argparse defaults and reports where they came from', async () => {
    const text = `${HEAD}import argparse
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.5)
args = p.parse_args()
opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
`;
    const f = await findingsOf(text, 'OPT005');
    assert.equal(f.length, 1);
    assert.match(f[0]!.message, /--lr default/);
  });
  it('is silent for usual values, library defaults, unknown values and lr schedules', async () => {
    const text = `${HEAD}a = torch.optim.Adam(model.parameters(), lr=3e-4)
b = torch.optim.SGD(model.parameters(), lr=0.1)
c = torch.optim.RMSprop(model.parameters())
d = torch.optim.Adam(model.parameters(), lr=args.lr)
`;
    assert.deepEqual(await linesOf(text, 'OPT005'), []);
  });
  it('checks OneCycleLR max_lr against its optimizer family', async () => {
    const text = `${HEAD}optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=1000)
`;
    assert.deepEqual(await linesOf(text, 'OPT005'), [lineWith(text, 'OneCycleLR(')]);
  });
  it('checks param groups and HF TrainingArguments, and honours lr_range', async () => {
    const groups = `${HEAD}opt = torch.optim.AdamW([{"params": a, "lr": 1e-4}, {"params": b, "lr": 0.5}], lr=1e-4)\n`;
    assert.deepEqual(await linesOf(groups, 'OPT005'), [lineWith(groups, 'AdamW(')]);
    const hf = `from transformers import TrainingArguments\nargs = TrainingArguments(output_dir="o", learning_rate=0.1)\n`;
    assert.deepEqual(await linesOf(hf, 'OPT005'), [2]);
    const text = `${HEAD}a = torch.optim.Adam(model.parameters(), lr=0.05)\n`;
    const r = await analyzeText(text, { ...DEFAULT_SETTINGS, rules: { OPT005: { lr_range: { adam: [1e-6, 0.1] } } } });
    assert.deepEqual(r.findings.filter((f) => f.rule === 'OPT005'), []);
  });
});

describe('OPT006 implicit optimizer / lr / batch size', () => {
  it('fires on an optimizer without lr and writes the default out', async () => {
    const text = `${HEAD}optimizer = torch.optim.Adam(model.parameters())\n`;
    assert.deepEqual(await linesOf(text, 'OPT006'), [lineWith(text, 'Adam(')]);
    const fixed = await applyFixAndCheck(text, 'OPT006', lineWith(text, 'Adam('));
    assert.match(fixed, /Adam\(model\.parameters\(\), lr=0\.001\)/);
  });
  it('fires on compile("adam") and writes the optimizer out', async () => {
    const text = `import tensorflow as tf
tf.keras.utils.set_random_seed(0)
model = tf.keras.Sequential([tf.keras.layers.Dense(10)])
model.compile(optimizer="adam", loss="mse")
`;
    assert.deepEqual(await linesOf(text, 'OPT006'), [4]);
    const fixed = await applyFixAndCheck(text, 'OPT006', 4);
    assert.match(fixed, /optimizer=tf\.keras\.optimizers\.Adam\(learning_rate=0\.001\)/);
  });
  it('fires on Keras fit on arrays without batch_size, not on a dataset', async () => {
    const text = `import tensorflow as tf
tf.keras.utils.set_random_seed(0)
model = tf.keras.Sequential([tf.keras.layers.Dense(10)])
model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
model.fit(x_train, y_train, epochs=5)
model.fit(train_ds, epochs=5)
`;
    assert.deepEqual(await linesOf(text, 'OPT006'), [lineWith(text, 'fit(x_train')]);
    const fixed = await applyFixAndCheck(text, 'OPT006', lineWith(text, 'fit(x_train'));
    assert.match(fixed, /epochs=5, batch_size=32\)/);
  });
  it('is silent when OneCycleLR sets the lr', async () => {
    const text = `${HEAD}optimizer = torch.optim.SGD(model.parameters(), momentum=0.9)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=1000)
`;
    assert.deepEqual(await linesOf(text, 'OPT006'), []);
  });
  it('is silent when everything is explicit, for param groups that all set lr, re.compile and batch_sampler', async () => {
    const text = `${HEAD}import re
from torch.utils.data import DataLoader
a = torch.optim.Adam(model.parameters(), lr=1e-3)
b = torch.optim.Adam([{"params": p1, "lr": 1e-3}, {"params": p2, "lr": 1e-4}])
r = re.compile("adam")
loader = DataLoader(ds)
`;
    assert.deepEqual(await linesOf(text, 'OPT006'), []);
  });
});

describe('OPT007 Adam lr scaled linearly with batch size', () => {
  it('fires on the scaling expression, through a variable', async () => {
    const text = `${HEAD}batch_size = 1024
lr = 3e-4 * batch_size / 256
optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
`;
    assert.deepEqual(await linesOf(text, 'OPT007'), [lineWith(text, 'lr = 3e-4')]);
  });
  it('fires on world-size scaling of RMSprop', async () => {
    const text = `${HEAD}world_size = 8
optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3 * world_size)
`;
    assert.deepEqual(await linesOf(text, 'OPT007'), [lineWith(text, 'RMSprop(')]);
  });
  it('is silent for square-root scaling, for SGD and for division by the batch size', async () => {
    const text = `${HEAD}import math
batch_size = 1024
a = torch.optim.AdamW(model.parameters(), lr=3e-4 * math.sqrt(batch_size / 256))
b = torch.optim.SGD(model.parameters(), lr=0.1 * batch_size / 256, momentum=0.9)
c = torch.optim.Adam(model.parameters(), lr=0.256 / batch_size)
d = torch.optim.Adam(model.parameters(), lr=3e-4 * (batch_size / 256) ** 0.5)
`;
    assert.deepEqual(await linesOf(text, 'OPT007'), []);
  });
});

describe('OPT008 large-batch SGD without warmup', () => {
  const bad = `${HEAD}from torch.utils.data import DataLoader
train_loader = DataLoader(ds, batch_size=4096, shuffle=True)
optimizer = torch.optim.SGD(model.parameters(), lr=1.6, momentum=0.9)
`;
  it('fires on the SGD call', async () => {
    assert.deepEqual(await linesOf(bad, 'OPT008'), [lineWith(bad, 'SGD(')]);
  });
  it('counts gradient accumulation into the batch size', async () => {
    const text = `${bad.replace('4096', '256')}accum = 8
for i, (x, y) in enumerate(train_loader):
    (F.cross_entropy(model(x), y) / accum).backward()
    if (i + 1) % accum == 0:
        optimizer.step()
        optimizer.zero_grad()
`;
    assert.deepEqual(await linesOf(text, 'OPT008'), [lineWith(text, 'SGD(')]);
    assert.match((await findingsOf(text, 'OPT008'))[0]!.message, /2048 \(batch_size=256 × accum = 8/);
  });
  it('is silent with a warmup, a small batch or an eval loader', async () => {
    assert.deepEqual(await linesOf(`${bad}warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=5)\n`, 'OPT008'), []);
    assert.deepEqual(await linesOf(bad.replace('4096', '256'), 'OPT008'), []);
    assert.deepEqual(await linesOf(bad.replace('train_loader', 'val_loader'), 'OPT008'), []);
    assert.deepEqual(await linesOf(bad.replace('lr=1.6', 'lr=0.01'), 'OPT008'), []);
  });
});

describe('OPT009 invalid betas', () => {
  it('fires on swapped and out-of-range betas', async () => {
    const text = `${HEAD}a = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.999, 0.9))
b = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(1.0, 0.999))
`;
    assert.deepEqual(await linesOf(text, 'OPT009'), [lineWith(text, 'a = '), lineWith(text, 'b = ')]);
  });
  it('Keras: placed on beta_2 when it is below the default beta_1', async () => {
    const text = `from tensorflow import keras
opt = keras.optimizers.Adam(
    learning_rate=1e-3,
    beta_2=0.5,
)
`;
    assert.deepEqual(await linesOf(text, 'OPT009'), [lineWith(text, 'beta_2')]);
  });
  it('fires on equal betas and on TrainingArguments adam_beta2 below adam_beta1', async () => {
    const text = `${HEAD}a = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.9))
from transformers import TrainingArguments
args = TrainingArguments(output_dir="o", adam_beta2=0.5)
`;
    assert.deepEqual(await linesOf(text, 'OPT009'), [lineWith(text, 'a = '), lineWith(text, 'adam_beta2')]);
  });
  it('is silent for GAN-style and LLM betas, Lion, and defaults', async () => {
    const text = `${HEAD}a = torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))
b = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95))
c = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.0, 0.99))
d = torch.optim.Adam(model.parameters(), lr=1e-3)
from lion_pytorch import Lion
e = Lion(model.parameters(), lr=1e-4, betas=(0.95, 0.9))
`;
    assert.deepEqual(await linesOf(text, 'OPT009'), []);
  });
});

describe('OPT010 invalid momentum / nesterov', () => {
  it('fires on momentum ≥ 1 and on nesterov without momentum', async () => {
    const text = `${HEAD}a = torch.optim.SGD(model.parameters(), lr=0.1, momentum=1.5)
b = torch.optim.SGD(model.parameters(), lr=0.1, nesterov=True)
`;
    assert.deepEqual(await linesOf(text, 'OPT010'), [lineWith(text, 'a = '), lineWith(text, 'b = ')]);
    const f = await findingsOf(text, 'OPT010');
    assert.match(f[1]!.message, /momentum=0 \(SGD default\)/);
  });
  it('fires on Keras SGD with nesterov and no momentum, and on negative momentum', async () => {
    const text = `from tensorflow import keras
a = keras.optimizers.SGD(learning_rate=0.1, nesterov=True)
b = keras.optimizers.SGD(learning_rate=0.1, momentum=-0.9)
`;
    assert.deepEqual(await linesOf(text, 'OPT010'), [2, 3]);
  });
  it('is silent for valid settings', async () => {
    const text = `${HEAD}a = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
b = torch.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.0)
`;
    assert.deepEqual(await linesOf(text, 'OPT010'), []);
  });
});

