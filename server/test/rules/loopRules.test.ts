import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { analyzeText, listFixtures } from '../support/analyzeFile';
import { applyFixAndCheck, lineWith, linesOf } from './fixRoundTrip';

const HEAD = `import torch
import torch.nn as nn
import torch.nn.functional as F

model = nn.Linear(10, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
`;

describe('LOOP001 no zero_grad', () => {
  const bad = `${HEAD}
for x, y in loader:
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
`;
  it('fires on the backward call', async () => {
    assert.deepEqual(await linesOf(bad, 'LOOP001'), [lineWith(bad, 'loss.backward()')]);
  });
  it('accepts zero_grad at the end of the loop, model.zero_grad(), set_to_none and p.grad = None', async () => {
    for (const zero of ['optimizer.zero_grad()', 'model.zero_grad()', 'optimizer.zero_grad(set_to_none=True)']) {
      assert.deepEqual(await linesOf(`${bad}    ${zero}\n`, 'LOOP001'), [], zero);
    }
    const manual = bad.replace('    loss = F', '    for p in model.parameters():\n        p.grad = None\n    loss = F');
    assert.deepEqual(await linesOf(manual, 'LOOP001'), []);
  });
  it('sees zero_grad in a helper the loop calls, and ignores LBFGS closures', async () => {
    const helper = `${HEAD}
def train_step(x, y):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()

for x, y in loader:
    train_step(x, y)
`;
    assert.deepEqual(await linesOf(helper, 'LOOP001'), []);
    const lbfgs = `${HEAD}
for x, y in loader:
    def closure():
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss
    optimizer.step(closure)
`;
    assert.deepEqual(await linesOf(lbfgs, 'LOOP001'), []);
    assert.deepEqual(await linesOf(lbfgs, 'LOOP009'), []);
  });
  it('does not fire inside Lightning hooks', async () => {
    const lit = `import torch
import lightning as L

class M(L.LightningModule):
    def training_step(self, batch, idx):
        opt = self.optimizers()
        for chunk in batch:
            loss = self(chunk)
            loss.backward()
            opt.step()
`;
    assert.deepEqual(await linesOf(lit, 'LOOP001'), []);
  });
  it('unsafe fix inserts zero_grad after the step', async () => {
    const fixed = await applyFixAndCheck(bad, 'LOOP001', lineWith(bad, 'loss.backward()'));
    assert.match(fixed, /optimizer\.step\(\)\n {4}optimizer\.zero_grad\(\)\n/);
  });
});

describe('LOOP002 zero_grad between backward and step', () => {
  const bad = `${HEAD}
for x, y in loader:
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
`;
  it('fires on zero_grad', async () => {
    assert.deepEqual(await linesOf(bad, 'LOOP002'), [lineWith(bad, 'zero_grad')]);
    assert.deepEqual(await linesOf(bad, 'LOOP001'), []);
  });
  it('accepts GAN loops and a second backward after zeroing', async () => {
    const gan = `import torch
netD = D(); netG = G()
optD = torch.optim.Adam(netD.parameters())
optG = torch.optim.Adam(netG.parameters())
for x in loader:
    optD.zero_grad()
    lossD = netD(x).mean()
    lossD.backward()
    optD.step()
    optG.zero_grad()
    lossG = -netD(netG(x)).mean()
    lossG.backward()
    optG.step()
`;
    assert.deepEqual(await linesOf(gan, 'LOOP002'), []);
    const probe = `${HEAD}
for x, y in loader:
    loss = F.cross_entropy(model(x), y)
    loss.backward(retain_graph=True)
    norms = [p.grad.norm() for p in model.parameters()]
    optimizer.zero_grad()
    (loss * 2).backward()
    optimizer.step()
`;
    assert.deepEqual(await linesOf(probe, 'LOOP002'), []);
  });
  it('safe fix moves zero_grad after the step', async () => {
    const fixed = await applyFixAndCheck(bad, 'LOOP002', lineWith(bad, 'zero_grad'));
    assert.match(fixed, /loss\.backward\(\)\n {4}optimizer\.step\(\)\n {4}optimizer\.zero_grad\(\)\n/);
  });
  it('moves into the accumulation branch after scaler.update()', async () => {
    const amp = `${HEAD}
scaler = torch.amp.GradScaler("cuda")
for i, (x, y) in enumerate(loader):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = F.cross_entropy(model(x), y) / 4
    scaler.scale(loss).backward()
    optimizer.zero_grad()
    if (i + 1) % 4 == 0:
        scaler.step(optimizer)
        scaler.update()
`;
    const fixed = await applyFixAndCheck(amp, 'LOOP002', lineWith(amp, 'zero_grad'));
    assert.match(fixed, /scaler\.update\(\)\n {8}optimizer\.zero_grad\(\)\n/);
    assert.deepEqual(await linesOf(amp, 'LOOP004'), [], 'reported once, as LOOP002');
  });
});

const ACCUM = `${HEAD}
accum_steps = 4
for i, (x, y) in enumerate(loader):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    if (i + 1) % accum_steps == 0:
        optimizer.step()
`;

describe('LOOP003 accumulation without dividing the loss', () => {
  it('fires on backward with the resolved step count', async () => {
    const r = await analyzeText(ACCUM);
    const f = r.findings.filter((x) => x.rule === 'LOOP003');
    assert.deepEqual(f.map((x) => x.range.start.line + 1), [lineWith(ACCUM, 'loss.backward()')]);
    assert.match(f[0]!.message, /accum_steps/);
    assert.match(f[0]!.message, /4/);
  });
  it('accepts divided losses (assignment, /=, inline) and a micro-batch loop that divides', async () => {
    for (const div of ['loss = loss / accum_steps', 'loss /= accum_steps']) {
      const ok = ACCUM.replace('    loss.backward()', `    ${div}\n    loss.backward()`);
      assert.deepEqual(await linesOf(ok, 'LOOP003'), [], div);
    }
    assert.deepEqual(await linesOf(ACCUM.replace('loss.backward()', '(loss / accum_steps).backward()'), 'LOOP003'), []);
    const nano = `${HEAD}
scaler = torch.amp.GradScaler("cuda")
while True:
    for micro_step in range(grad_accum):
        logits, loss = model(X, Y)
        loss = loss / grad_accum
        scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
`;
    assert.deepEqual(await linesOf(nano, 'LOOP003'), []);
    assert.deepEqual(await linesOf(nano, 'LOOP004'), []);
    assert.deepEqual(await linesOf(nano, 'LOOP001'), []);
  });
  it('fires for an undivided micro-batch loop', async () => {
    const micro = `${HEAD}
for step in range(1000):
    for micro in range(8):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    optimizer.step()
    optimizer.zero_grad()
`;
    assert.deepEqual(await linesOf(micro, 'LOOP003'), [lineWith(micro, 'loss.backward()')]);
  });
  it('stays silent when the step count is 1 or the guard also wraps backward', async () => {
    assert.deepEqual(await linesOf(ACCUM.replace('accum_steps = 4', 'accum_steps = 1'), 'LOOP003'), []);
    const gan = `${HEAD}
for i, (x, y) in enumerate(loader):
    if i % 2 == 0:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
`;
    assert.deepEqual(await linesOf(gan, 'LOOP003'), []);
    assert.deepEqual(await linesOf(gan, 'LOOP004'), []);
  });
  it('unsafe fix divides the loss', async () => {
    const fixed = await applyFixAndCheck(ACCUM, 'LOOP003', lineWith(ACCUM, 'loss.backward()'));
    assert.match(fixed, / {4}loss = loss \/ accum_steps\n {4}loss\.backward\(\)/);
  });
});

describe('LOOP004 zeroing every micro-batch', () => {
  it('fires on the unconditional zero_grad', async () => {
    assert.deepEqual(await linesOf(ACCUM, 'LOOP004'), [lineWith(ACCUM, 'zero_grad')]);
  });
  it('accepts zero_grad at the start of each accumulation window', async () => {
    const ok = ACCUM.replace('    optimizer.zero_grad()', '    if i % accum_steps == 0:\n        optimizer.zero_grad()');
    assert.deepEqual(await linesOf(ok, 'LOOP004'), []);
  });
  it('safe fix moves zero_grad after the guarded step', async () => {
    const fixed = await applyFixAndCheck(ACCUM, 'LOOP004', lineWith(ACCUM, 'zero_grad'));
    assert.match(fixed, /optimizer\.step\(\)\n {8}optimizer\.zero_grad\(\)\n/);
    assert.doesNotMatch(fixed, /^ {4}optimizer\.zero_grad\(\)/m);
  });
});

describe('LOOP005 clipping order', () => {
  const after = `${HEAD}
for x, y in loader:
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
`;
  const before = `${HEAD}
for x, y in loader:
    optimizer.zero_grad()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
`;
  it('fires on clipping after step and before backward', async () => {
    assert.deepEqual(await linesOf(after, 'LOOP005'), [lineWith(after, 'clip_grad')]);
    assert.deepEqual(await linesOf(before, 'LOOP005'), [lineWith(before, 'clip_grad')]);
  });
  it('accepts clipping between backward and step, also under accumulation', async () => {
    const ok = `${HEAD}
for i, (x, y) in enumerate(loader):
    loss = F.cross_entropy(model(x), y) / 2
    loss.backward()
    if (i + 1) % 2 == 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
`;
    assert.deepEqual(await linesOf(ok, 'LOOP005'), []);
  });
  it('safe fix moves the clip between backward and step', async () => {
    for (const text of [after, before]) {
      const fixed = await applyFixAndCheck(text, 'LOOP005', lineWith(text, 'clip_grad'));
      assert.match(fixed, /loss\.backward\(\)\n {4}torch\.nn\.utils\.clip_grad_norm_\(model\.parameters\(\), 1\.0\)\n {4}optimizer\.step\(\)/);
    }
  });
  it('offers no move when the clip shares a one-line if', async () => {
    const r = await analyzeText(after.replace('    torch.nn.utils.clip', '    if clip: torch.nn.utils.clip'));
    const f = r.findings.find((x) => x.rule === 'LOOP005');
    assert.ok(f);
    assert.equal(f.fixes.length, 0);
  });
});

describe('LOOP006 no clipping for sequence models', () => {
  const rnn = `import torch
import torch.nn as nn

class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(128, 256)

model = LM()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for x, y in loader:
    optimizer.zero_grad()
    loss = model(x, y)
    loss.backward()
    optimizer.step()
`;
  it('fires on the step of an LSTM loop', async () => {
    assert.deepEqual(await linesOf(rnn, 'LOOP006'), [lineWith(rnn, 'optimizer.step()')]);
  });
  it('is silent with clipping anywhere, and for models without attention or recurrence', async () => {
    assert.deepEqual(await linesOf(rnn.replace('    optimizer.step()', '    nn.utils.clip_grad_norm_(model.parameters(), 0.5)\n    optimizer.step()'), 'LOOP006'), []);
    assert.deepEqual(await linesOf(rnn.replace('nn.LSTM(128, 256)', 'nn.Linear(128, 256)'), 'LOOP006'), []);
  });
  it('unsafe fix clips before the step', async () => {
    const fixed = await applyFixAndCheck(rnn, 'LOOP006', lineWith(rnn, 'optimizer.step()'));
    assert.match(fixed, / {4}torch\.nn\.utils\.clip_grad_norm_\(model\.parameters\(\), 1\.0\)\n {4}optimizer\.step\(\)/);
  });
});

describe('LOOP007 running loss as a tensor', () => {
  const bad = `${HEAD}
running_loss = 0.0
for x, y in loader:
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    running_loss += loss
print(running_loss / len(loader))
`;
  it('fires on the accumulation', async () => {
    assert.deepEqual(await linesOf(bad, 'LOOP007'), [lineWith(bad, 'running_loss += loss')]);
    const eq = bad.replace('running_loss += loss', 'running_loss = running_loss + loss * x.size(0)');
    assert.deepEqual(await linesOf(eq, 'LOOP007'), [lineWith(eq, 'running_loss = running_loss + loss')]);
  });
  it('accepts .item(), .detach(), and adding terms to the loss itself', async () => {
    for (const ok of ['running_loss += loss.item()', 'running_loss += loss.detach()', 'running_loss += float(loss)']) {
      assert.deepEqual(await linesOf(bad.replace('running_loss += loss', ok), 'LOOP007'), [], ok);
    }
    const reg = `${HEAD}
for x, y in loader:
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    total = loss
    total += 0.1 * sum(p.pow(2).sum() for p in model.parameters())
    total.backward()
    optimizer.step()
`;
    assert.deepEqual(await linesOf(reg, 'LOOP007'), []);
  });
  it('safe fix uses .item()', async () => {
    const fixed = await applyFixAndCheck(bad, 'LOOP007', lineWith(bad, 'running_loss += loss'));
    assert.match(fixed, /running_loss \+= loss\.item\(\)/);
  });
});

describe('LOOP008 optimizer built in the loop', () => {
  const bad = `import torch
model = Net()
for epoch in range(10):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in loader:
        optimizer.zero_grad()
        loss = model(x, y)
        loss.backward()
        optimizer.step()
`;
  it('fires on the constructor in the epoch loop', async () => {
    assert.deepEqual(await linesOf(bad, 'LOOP008'), [lineWith(bad, 'torch.optim.Adam')]);
  });
  it('accepts a fresh model per fold/trial and a conditional rebuild', async () => {
    const folds = `import torch
for fold in range(5):
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(10):
        for x, y in loader:
            optimizer.zero_grad()
            loss = model(x, y)
            loss.backward()
            optimizer.step()
`;
    assert.deepEqual(await linesOf(folds, 'LOOP008'), []);
    const unfreeze = bad.replace('    optimizer = torch.optim.Adam', '    if epoch == 5:\n        optimizer = torch.optim.Adam');
    assert.deepEqual(await linesOf(unfreeze, 'LOOP008'), []);
    const sweep = bad.replace('for epoch in range(10):', 'for lr in [1e-3, 1e-4]:');
    assert.deepEqual(await linesOf(sweep, 'LOOP008'), []);
  });
  it('fires on a constructor inside a helper the epoch loop calls', async () => {
    const helper = `import torch
model = Net()

def train_epoch(net, lr):
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    for x, y in loader:
        optimizer.zero_grad()
        net(x, y).backward()
        optimizer.step()

for epoch in range(10):
    train_epoch(model, 0.1 * 0.9 ** epoch)
`;
    assert.deepEqual(await linesOf(helper, 'LOOP008'), [lineWith(helper, 'torch.optim.SGD')]);
    const once = helper.replace('for epoch in range(10):\n    train_epoch', 'train_epoch');
    assert.deepEqual(await linesOf(once, 'LOOP008'), []);
  });
  it('fires on a scheduler rebuilt every epoch', async () => {
    const sched = `import torch
model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(10):
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3)
    for x, y in loader:
        optimizer.zero_grad()
        model(x, y).backward()
        optimizer.step()
    scheduler.step()
`;
    assert.deepEqual(await linesOf(sched, 'LOOP008'), [lineWith(sched, 'StepLR')]);
  });
});

describe('LOOP009 step without backward', () => {
  const bad = `${HEAD}
for x, y in loader:
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    optimizer.step()
`;
  it('fires on the step', async () => {
    assert.deepEqual(await linesOf(bad, 'LOOP009'), [lineWith(bad, 'optimizer.step()')]);
  });
  it('accepts backward in a helper, accelerator/scaler backward, autograd.grad into .grad, and opaque helpers', async () => {
    const variants = [
      bad.replace('    optimizer.step()', '    accelerator.backward(loss)\n    optimizer.step()'),
      bad.replace('    optimizer.step()', '    scaler.scale(loss).backward()\n    optimizer.step()'),
      bad.replace('    optimizer.step()', '    torch.autograd.backward(loss)\n    optimizer.step()'),
      bad.replace('    optimizer.step()', '    grads = torch.autograd.grad(loss, list(model.parameters()))\n    for p, g in zip(model.parameters(), grads):\n        p.grad = g\n    optimizer.step()'),
      bad.replace('for x, y in loader:', 'def backprop(l):\n    l.backward()\n\nfor x, y in loader:').replace('    optimizer.step()', '    backprop(loss)\n    optimizer.step()'),
      bad.replace('import torch\n', 'import torch\nfrom engine import compute_grads\n').replace('    optimizer.step()', '    compute_grads(model, loss)\n    optimizer.step()'),
    ];
    for (const v of variants) assert.deepEqual(await linesOf(v, 'LOOP009'), [], v);
  });
  it('still fires when the loop calls harmless helpers (meters, loggers)', async () => {
    const meters = `import torch
import torch.nn.functional as F
from utils import AverageMeter, progress_bar

class Meter:
    def update(self, v):
        self.sum += v

model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
meter = Meter()
for x, y in loader:
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    optimizer.step()
    meter.update(loss.item())
    progress_bar(loss.item())
`;
    assert.deepEqual(await linesOf(meters, 'LOOP009'), [lineWith(meters, 'optimizer.step()')]);
  });
  it('accepts backward in the caller of a loop over optimizers', async () => {
    const multi = `${HEAD}
opts = [optimizer]
def update():
    for opt in opts:
        opt.step()

for x, y in loader:
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    update()
`;
    assert.deepEqual(await linesOf(multi, 'LOOP009'), []);
  });
});

describe('LOOP, AMP and EVAL fixes on the fixtures', () => {
  it('every fix applies cleanly, keeps the file parsing and removes its finding', async () => {
    const dir = path.join(__dirname, '..', 'fixtures');
    for (const file of listFixtures(dir)) {
      const text = fs.readFileSync(file, 'utf8');
      const r = await analyzeText(text);
      if (r.document.hasSyntaxErrors) continue;
      for (const f of r.findings.filter((x) => /^(LOOP|AMP|EVAL)\d/.test(x.rule))) {
        for (const fix of f.fixes) {
          await applyFixAndCheck(text, f.rule, f.range.start.line + 1, { title: new RegExp(`^${fix.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`), othersMayChange: true });
        }
      }
    }
  });
});
