import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyFixAndCheck, findingsOf, lineWith, linesOf } from './fixRoundTrip';

const HEAD = `import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
train_loader = DataLoader(train_ds, batch_size=64, shuffle=True)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
`;

const TRANSFORMER = `import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(1000, 64)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4), 6)
        self.out = nn.Linear(64, 2)

    def forward(self, x):
        return self.out(self.enc(self.emb(x)).mean(1))

model = Net()
train_loader = DataLoader(train_ds, batch_size=32, shuffle=True)
`;

const BATCH_LOOP = `    for x, y in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
`;

describe('LR001 scheduler.step() before optimizer.step()', () => {
  const bad = `${HEAD}scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
for epoch in range(90):
    scheduler.step()
${BATCH_LOOP}`;
  it('fires on a scheduler stepped at the top of the epoch loop', async () => {
    assert.deepEqual(await linesOf(bad, 'LR001'), [lineWith(bad, 'scheduler.step()')]);
  });
  it('fires inside an accumulation block that steps both', async () => {
    const text = `${HEAD}scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=1000)
for i, (x, y) in enumerate(train_loader):
    loss = F.cross_entropy(model(x), y) / 4
    loss.backward()
    if (i + 1) % 4 == 0:
        scheduler.step()
        optimizer.step()
        optimizer.zero_grad()
`;
    assert.deepEqual(await linesOf(text, 'LR001'), [lineWith(text, 'scheduler.step()')]);
    const fixed = await applyFixAndCheck(text, 'LR001', lineWith(text, 'scheduler.step()'));
    assert.match(fixed, /if \(i \+ 1\) % 4 == 0:\n {8}optimizer\.step\(\)\n {8}scheduler\.step\(\)\n/);
  });
  it('is silent after the optimizer step, under `if epoch > 0`, with an explicit epoch, and for ReduceLROnPlateau', async () => {
    const after = `${HEAD}scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
for epoch in range(90):
${BATCH_LOOP}    scheduler.step()
`;
    assert.deepEqual(await linesOf(after, 'LR001'), []);
    assert.deepEqual(await linesOf(bad.replace('    scheduler.step()', '    if epoch > 0:\n        scheduler.step()'), 'LR001'), []);
    assert.deepEqual(await linesOf(bad.replace('    scheduler.step()', '    scheduler.step(epoch)'), 'LR001'), []);
    const plateau = bad.replace('StepLR(optimizer, step_size=30)', 'ReduceLROnPlateau(optimizer)').replace('scheduler.step()', 'scheduler.step(val_loss)');
    assert.deepEqual(await linesOf(plateau, 'LR001'), []);
  });
  it('fix moves the scheduler step after the batch loop', async () => {
    const fixed = await applyFixAndCheck(bad, 'LR001', lineWith(bad, 'scheduler.step()'));
    assert.match(fixed, /optimizer\.step\(\)\n {4}scheduler\.step\(\)\n$/);
  });
  it('fix swaps two statements in a per-batch loop', async () => {
    const text = `${HEAD}scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=1000)
for x, y in train_loader:
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    scheduler.step()
    optimizer.step()
`;
    const fixed = await applyFixAndCheck(text, 'LR001', lineWith(text, 'scheduler.step()'));
    assert.match(fixed, /loss\.backward\(\)\n {4}optimizer\.step\(\)\n {4}scheduler\.step\(\)\n$/);
  });
});

describe('LR002 scheduler stepped at the wrong granularity', () => {
  it('fires on an epoch scheduler stepped per batch', async () => {
    const text = `${HEAD}scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
for epoch in range(90):
${BATCH_LOOP}        scheduler.step()
`;
    assert.deepEqual(await linesOf(text, 'LR002'), [lineWith(text, 'scheduler.step()')]);
    assert.match((await findingsOf(text, 'LR002'))[0]!.message, /step_size=30/);
  });
  it('fires on a per-iteration scheduler stepped per epoch, through a helper function', async () => {
    const text = `${HEAD}scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=10, steps_per_epoch=len(train_loader))

def train_one_epoch():
${BATCH_LOOP}
for epoch in range(10):
    train_one_epoch()
    scheduler.step()
`;
    assert.deepEqual(await linesOf(text, 'LR002'), [lineWith(text, 'scheduler.step()')]);
  });
  it('is silent for iteration-scale StepLR, deliberate per-epoch OneCycle and either-kind schedulers', async () => {
    const iters = `${HEAD}scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10000)
for epoch in range(90):
${BATCH_LOOP}        scheduler.step()
`;
    assert.deepEqual(await linesOf(iters, 'LR002'), []);
    const perEpoch = `${HEAD}scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
for epoch in range(10):
${BATCH_LOOP}    scheduler.step()
`;
    assert.deepEqual(await linesOf(perEpoch, 'LR002'), []);
    const cosine = `${HEAD}scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=90 * len(train_loader))
for epoch in range(90):
${BATCH_LOOP}        scheduler.step()
`;
    assert.deepEqual(await linesOf(cosine, 'LR002'), []);
  });
});

describe('LR003 transformer at a high lr without warmup', () => {
  const bad = `${TRANSFORMER}optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
for x, y in train_loader:
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
`;
  it('fires on the lr argument', async () => {
    assert.deepEqual(await linesOf(bad, 'LR003'), [lineWith(bad, 'AdamW(')]);
  });
  it('is silent with a warmup, a low lr, RAdam, an unknown scheduler or a non-transformer', async () => {
    assert.deepEqual(await linesOf(bad.replace('lr=1e-3', 'lr=3e-4'), 'LR003'), []);
    assert.deepEqual(await linesOf(bad.replace('AdamW(', 'RAdam('), 'LR003'), []);
    const warm = bad.replace('for x, y', 'sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, s / 500))\nfor x, y');
    assert.deepEqual(await linesOf(warm, 'LR003'), []);
    const hf = bad.replace('for x, y', 'from transformers import get_linear_schedule_with_warmup\nsched = get_linear_schedule_with_warmup(optimizer, 100, 1000)\nfor x, y');
    assert.deepEqual(await linesOf(hf, 'LR003'), []);
    const built = bad.replace('for x, y', 'sched = build_scheduler(cfg, optimizer)\nfor x, y');
    assert.deepEqual(await linesOf(built, 'LR003'), []);
    const mlp = `${HEAD.replace('optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)', 'optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)')}`;
    assert.deepEqual(await linesOf(mlp, 'LR003'), []);
  });
  it('fires for HF TrainingArguments without warmup', async () => {
    const text = `from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
args = TrainingArguments(output_dir="out", learning_rate=1e-3)
`;
    assert.deepEqual(await linesOf(text, 'LR003'), [3]);
  });
  it('fix adds a LinearLR warmup stepped after the optimizer', async () => {
    const fixed = await applyFixAndCheck(bad, 'LR003', lineWith(bad, 'AdamW('));
    assert.match(fixed, /optimizer_warmup = torch\.optim\.lr_scheduler\.LinearLR\(optimizer, start_factor=0\.01, total_iters=1000\)/);
    assert.match(fixed, /optimizer\.step\(\)\n {4}optimizer_warmup\.step\(\)\n$/);
  });
});

describe('LR004 ReduceLROnPlateau without a metric', () => {
  const bad = `${HEAD}scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=3)
for epoch in range(90):
${BATCH_LOOP}    scheduler.step()
`;
  it('fires on step()', async () => {
    assert.deepEqual(await linesOf(bad, 'LR004'), [lineWith(bad, 'scheduler.step()')]);
  });
  it('fires when the loop counter is passed as the metric', async () => {
    const text = bad.replace('    scheduler.step()', '    scheduler.step(epoch)');
    assert.deepEqual(await linesOf(text, 'LR004'), [lineWith(text, 'scheduler.step(epoch)')]);
    assert.match((await findingsOf(text, 'LR004'))[0]!.message, /loop counter `epoch`/);
  });
  it('is silent with a metric and for other schedulers', async () => {
    assert.deepEqual(await linesOf(bad.replace('scheduler.step()', 'scheduler.step(val_loss)'), 'LR004'), []);
    assert.deepEqual(await linesOf(bad.replace('scheduler.step()', 'scheduler.step(metrics=val_loss)'), 'LR004'), []);
    assert.deepEqual(await linesOf(bad.replace('ReduceLROnPlateau(optimizer, patience=3)', 'StepLR(optimizer, 30)'), 'LR004'), []);
  });
  it('fires on a Lightning config without monitor', async () => {
    const text = `import torch
import lightning as L

class Module(L.LightningModule):
    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
        return {"optimizer": opt, "lr_scheduler": sched}
`;
    assert.deepEqual(await linesOf(text, 'LR004'), [lineWith(text, 'return {')]);
    assert.deepEqual(await linesOf(text.replace('"lr_scheduler": sched}', '"lr_scheduler": sched, "monitor": "val_loss"}'), 'LR004'), []);
  });
});

describe('LR005 Lightning step-based schedule without interval="step"', () => {
  const module = (ret: string) => `import torch
import lightning as L

class Module(L.LightningModule):
    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=3e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-4, total_steps=self.trainer.estimated_stepping_batches)
        ${ret}
`;
  it('fires on the return of [opt], [sched] and fixes it', async () => {
    const text = module('return [opt], [sched]');
    assert.deepEqual(await linesOf(text, 'LR005'), [lineWith(text, 'return [opt]')]);
    const fixed = await applyFixAndCheck(text, 'LR005', lineWith(text, 'return [opt]'));
    assert.match(fixed, /return \[opt\], \[\{"scheduler": sched, "interval": "step"\}\]/);
  });
  it('fires on a config dict without interval and fixes it', async () => {
    const text = module('return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "frequency": 1}}');
    assert.deepEqual(await linesOf(text, 'LR005'), [lineWith(text, 'return {')]);
    const fixed = await applyFixAndCheck(text, 'LR005', lineWith(text, 'return {'));
    assert.match(fixed, /\{"interval": "step", "scheduler": sched, "frequency": 1\}/);
  });
  it('fires for a cosine over estimated_stepping_batches with interval="epoch"', async () => {
    const text = module('return {"optimizer": opt, "lr_scheduler": {"scheduler": cos, "interval": "epoch"}}')
      .replace('        sched = ', '        cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.trainer.estimated_stepping_batches)\n        sched = ');
    assert.deepEqual(await linesOf(text, 'LR005'), [lineWith(text, 'return {')]);
    const fixed = await applyFixAndCheck(text, 'LR005', lineWith(text, 'return {'));
    assert.match(fixed, /"interval": "step"/);
  });
  it('follows a variable re-bound to the config dict', async () => {
    const text = module('return [opt], [sched]').replace('        return [opt], [sched]', '        sched = {"scheduler": sched, "interval": "step", "frequency": 1}\n        return [opt], [sched]');
    assert.deepEqual(await linesOf(text, 'LR005'), []);
  });
  it('is silent with interval="step" and for epoch schedules', async () => {
    assert.deepEqual(await linesOf(module('return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}'), 'LR005'), []);
    const epoch = module('return [opt], [cos]').replace('        sched = ', '        cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.trainer.max_epochs)\n        sched = ');
    assert.deepEqual(await linesOf(epoch, 'LR005'), []);
  });
});

describe('LR006 / LR007 HF warmup settings', () => {
  const args = (kw: string) => `from transformers import TrainingArguments
args = TrainingArguments(
    output_dir="out",
    learning_rate=2e-5,
    ${kw}
)
`;
  it('LR006 fires on warmup with a constant schedule and fixes the type', async () => {
    const text = args('lr_scheduler_type="constant",\n    warmup_steps=500,');
    assert.deepEqual(await linesOf(text, 'LR006'), [lineWith(text, 'warmup_steps')]);
    const fixed = await applyFixAndCheck(text, 'LR006', lineWith(text, 'warmup_steps'));
    assert.match(fixed, /lr_scheduler_type="constant_with_warmup"/);
  });
  it('LR006 fires for get_scheduler("constant", ..., num_warmup_steps=100)', async () => {
    const text = `import torch
from transformers import get_scheduler
sched = get_scheduler("constant", optimizer, num_warmup_steps=100, num_training_steps=1000)
`;
    assert.deepEqual(await linesOf(text, 'LR006'), [3]);
  });
  it('LR006 is silent for constant_with_warmup, linear, and warmup 0', async () => {
    assert.deepEqual(await linesOf(args('lr_scheduler_type="constant_with_warmup",\n    warmup_steps=500,'), 'LR006'), []);
    assert.deepEqual(await linesOf(args('warmup_ratio=0.1,'), 'LR006'), []);
    assert.deepEqual(await linesOf(args('lr_scheduler_type="constant",\n    warmup_steps=0,'), 'LR006'), []);
  });
  it('LR007 fires on warmup_ratio when warmup_steps is also set', async () => {
    const text = args('warmup_steps=500,\n    warmup_ratio=0.06,');
    assert.deepEqual(await linesOf(text, 'LR007'), [lineWith(text, 'warmup_ratio')]);
    assert.deepEqual(await linesOf(args('warmup_steps=0,\n    warmup_ratio=0.06,'), 'LR007'), []);
  });
});

describe('LR008 schedule length vs loop length', () => {
  it('fires when T_max counts epochs but the scheduler steps per batch', async () => {
    const text = `${HEAD}EPOCHS = 90
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
for epoch in range(EPOCHS):
${BATCH_LOOP}        scheduler.step()
`;
    assert.deepEqual(await linesOf(text, 'LR008'), [lineWith(text, 'CosineAnnealingLR(')]);
  });
  it('fires when T_max counts batches but the scheduler steps per epoch', async () => {
    const text = `${HEAD}scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(train_loader))
for epoch in range(args.epochs):
${BATCH_LOOP}    scheduler.step()
`;
    assert.deepEqual(await linesOf(text, 'LR008'), [lineWith(text, 'CosineAnnealingLR(')]);
  });
  it('fires when num_training_steps ignores gradient accumulation', async () => {
    const text = `${HEAD}from transformers import get_linear_schedule_with_warmup
accum_steps = 8
epochs = 3
scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=100,
                                            num_training_steps=epochs * len(train_loader))
for epoch in range(epochs):
    for i, (x, y) in enumerate(train_loader):
        loss = F.cross_entropy(model(x), y) / accum_steps
        loss.backward()
        if (i + 1) % accum_steps == 0:
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
`;
    assert.deepEqual(await linesOf(text, 'LR008'), [lineWith(text, 'num_training_steps=')]);
  });
  it('compares resolved numbers with a tolerance, and treats a rising LinearLR as a warmup', async () => {
    const decay = `${HEAD}scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=50)
for epoch in range(100):
${BATCH_LOOP}    scheduler.step()
`;
    assert.deepEqual(await linesOf(decay, 'LR008'), [lineWith(decay, 'LinearLR(')]);
    assert.deepEqual(await linesOf(decay.replace('total_iters=50', 'total_iters=95'), 'LR008'), []);
    assert.deepEqual(await linesOf(decay.replace('start_factor=1.0, end_factor=0.0, total_iters=50', 'start_factor=0.1, total_iters=5'), 'LR008'), []);
  });
  it('is silent when lengths match, cannot be compared, or the scheduler is part of SequentialLR', async () => {
    const match = `${HEAD}epochs = 90
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
for epoch in range(epochs):
${BATCH_LOOP}    scheduler.step()
`;
    assert.deepEqual(await linesOf(match, 'LR008'), []);
    const steps = `${HEAD}steps_per_epoch = len(train_loader)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=90 * steps_per_epoch)
for epoch in range(90):
${BATCH_LOOP}        scheduler.step()
`;
    assert.deepEqual(await linesOf(steps, 'LR008'), []);
    const unknown = `${HEAD}scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
for epoch in range(90):
${BATCH_LOOP}        scheduler.step()
`;
    assert.deepEqual(await linesOf(unknown, 'LR008'), []);
    const seq = `${HEAD}warm = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=5)
cos = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=85)
scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [warm, cos], milestones=[5])
for epoch in range(90):
${BATCH_LOOP}    scheduler.step()
`;
    assert.deepEqual(await linesOf(seq, 'LR008'), []);
  });
});

describe('LR009 lr variable decayed but never applied', () => {
  const bad = `${HEAD.replace('lr=0.1', 'lr=lr').replace('optimizer = ', 'lr = 0.1\noptimizer = ')}for epoch in range(90):
${BATCH_LOOP}    if epoch % 30 == 29:
        lr *= 0.1
    print(f"epoch {epoch} lr {lr}")
`;
  it('fires on the decay', async () => {
    assert.deepEqual(await linesOf(bad, 'LR009'), [lineWith(bad, 'lr *= 0.1')]);
  });
  it('is silent when the value reaches the param groups or a function that may apply it', async () => {
    const applied = `${bad}    for g in optimizer.param_groups:
        g["lr"] = lr
`;
    assert.deepEqual(await linesOf(applied, 'LR009'), []);
    assert.deepEqual(await linesOf(`${bad}    set_learning_rate(optimizer, lr)\n`, 'LR009'), []);
  });
  it('fires on an lr recomputed by a schedule function, not on one that receives the optimizer', async () => {
    const fn = bad.replace('    if epoch % 30 == 29:\n        lr *= 0.1\n', '    lr = cosine_lr(epoch, 90)\n');
    assert.deepEqual(await linesOf(fn, 'LR009'), [lineWith(fn, 'lr = cosine_lr')]);
    const adj = bad.replace('    if epoch % 30 == 29:\n        lr *= 0.1\n', '    lr = adjust_learning_rate(optimizer, epoch)\n');
    assert.deepEqual(await linesOf(adj, 'LR009'), []);
  });
});

describe('LR010 non-positive lr, floor above base lr', () => {
  it('fires on lr=0 and negative lr', async () => {
    const text = `${HEAD}a = torch.optim.Adam(model.parameters(), lr=0.0)\nb = torch.optim.SGD(model.parameters(), lr=-0.1)\n`;
    assert.deepEqual(await linesOf(text, 'LR010'), [lineWith(text, 'a = '), lineWith(text, 'b = ')]);
  });
  it('fires on eta_min above the base lr', async () => {
    const text = `${HEAD}scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=90, eta_min=0.5)\n`;
    assert.deepEqual(await linesOf(text, 'LR010'), [lineWith(text, 'eta_min')]);
    assert.match((await findingsOf(text, 'LR010'))[0]!.message, /eta_min=0\.5 is above the optimizer's base lr=0\.1/);
  });
  it('fires on TrainingArguments(learning_rate=0)', async () => {
    const text = `from transformers import TrainingArguments\nargs = TrainingArguments(output_dir="o", learning_rate=0.0)\n`;
    assert.deepEqual(await linesOf(text, 'LR010'), [2]);
  });
  it('is silent for frozen param groups, hand-written lr schedules and sane floors', async () => {
    const text = `${HEAD}a = torch.optim.Adam([{"params": backbone, "lr": 0.0}, {"params": head}], lr=1e-3)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=90, eta_min=1e-5)
plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, min_lr=1e-6)
`;
    assert.deepEqual(await linesOf(text, 'LR010'), []);
    const manual = `${HEAD}b = torch.optim.AdamW(model.parameters(), lr=0.0)
for it in range(1000):
    for g in b.param_groups:
        g["lr"] = get_lr(it)
`;
    assert.deepEqual(await linesOf(manual, 'LR010'), []);
  });
});
