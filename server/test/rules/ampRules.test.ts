import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeText } from '../support/analyzeFile';
import { applyFixAndCheck, lineWith, linesOf } from './fixRoundTrip';

const HEAD = `import torch
import torch.nn.functional as F

model = Net()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
`;

const CLIP = `${HEAD}scaler = torch.amp.GradScaler("cuda")
for x, y in loader:
    optimizer.zero_grad()
    with torch.autocast("cuda", dtype=torch.float16):
        loss = F.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
`;

describe('AMP001 clipping scaled gradients', () => {
  it('fires on the clip call', async () => {
    assert.deepEqual(await linesOf(CLIP, 'AMP001'), [lineWith(CLIP, 'clip_grad_norm_')]);
  });
  it('accepts unscale_ first, Accelerate clipping, and a disabled scaler', async () => {
    const unscaled = CLIP.replace('    torch.nn.utils.clip', '    scaler.unscale_(optimizer)\n    torch.nn.utils.clip');
    assert.deepEqual(await linesOf(unscaled, 'AMP001'), []);
    const accel = CLIP.replace('torch.nn.utils.clip_grad_norm_', 'accelerator.clip_grad_norm_');
    assert.deepEqual(await linesOf(accel, 'AMP001'), []);
    const disabled = CLIP.replace('GradScaler("cuda")', 'GradScaler("cuda", enabled=False)');
    assert.deepEqual(await linesOf(disabled, 'AMP001'), []);
  });
  it('safe fix inserts scaler.unscale_(optimizer), also inside a clip guard', async () => {
    const fixed = await applyFixAndCheck(CLIP, 'AMP001', lineWith(CLIP, 'clip_grad_norm_'));
    assert.match(fixed, / {4}scaler\.unscale_\(optimizer\)\n {4}torch\.nn\.utils\.clip_grad_norm_/);
    const guarded = CLIP.replace('    torch.nn.utils.clip', '    if max_norm > 0:\n        torch.nn.utils.clip');
    const fixed2 = await applyFixAndCheck(guarded, 'AMP001', lineWith(guarded, 'clip_grad_norm_'));
    assert.match(fixed2, / {8}scaler\.unscale_\(optimizer\)\n {8}torch\.nn\.utils\.clip_grad_norm_/);
  });
});

const NOSCALER = `${HEAD}for x, y in loader:
    optimizer.zero_grad()
    with torch.autocast(device_type="cuda", dtype=torch.float16):
        loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
`;

describe('AMP002 fp16 autocast without GradScaler', () => {
  it('fires on fp16 autocast in training, including the cuda default dtype', async () => {
    assert.deepEqual(await linesOf(NOSCALER, 'AMP002'), [lineWith(NOSCALER, 'autocast')]);
    const dflt = NOSCALER.replace('torch.autocast(device_type="cuda", dtype=torch.float16)', 'torch.cuda.amp.autocast()');
    assert.deepEqual(await linesOf(dflt, 'AMP002'), [lineWith(dflt, 'autocast')]);
    const amp = NOSCALER.replace('torch.autocast(device_type="cuda", dtype=torch.float16)', 'torch.amp.autocast("cuda")');
    assert.deepEqual(await linesOf(amp, 'AMP002'), [lineWith(amp, 'autocast')]);
  });
  it('is silent for bfloat16, CPU, unknown device, inference, and with a GradScaler', async () => {
    const variants = [
      NOSCALER.replace('torch.float16', 'torch.bfloat16'),
      NOSCALER.replace('device_type="cuda", dtype=torch.float16', 'device_type="cpu"'),
      NOSCALER.replace('device_type="cuda"', 'device_type=device.type').replace(', dtype=torch.float16', ''),
      NOSCALER.replace('torch.float16', 'ptdtype'),
      `${HEAD}model.eval()
with torch.no_grad():
    for x in test_loader:
        with torch.autocast("cuda", dtype=torch.float16):
            preds = model(x)
`,
      NOSCALER.replace('for x, y in loader:', 'scaler = torch.amp.GradScaler("cuda")\nfor x, y in loader:'),
    ];
    for (const v of variants) assert.deepEqual(await linesOf(v, 'AMP002'), [], v);
  });
  it('follows a dtype variable set to float16', async () => {
    const v = NOSCALER.replace('for x, y in loader:', 'amp_dtype = torch.float16\nfor x, y in loader:').replace('dtype=torch.float16', 'dtype=amp_dtype');
    assert.deepEqual(await linesOf(v, 'AMP002'), [lineWith(v, 'autocast(')]);
  });
});

describe('AMP003 deprecated torch.cuda.amp', () => {
  const old = `import torch
scaler = torch.cuda.amp.GradScaler()
big = torch.cuda.amp.GradScaler(init_scale=1024.0)
with torch.cuda.amp.autocast():
    y = model(x)
with torch.cuda.amp.autocast(True, torch.bfloat16):
    y = model(x)
`;
  it('fires on every deprecated call', async () => {
    assert.deepEqual(await linesOf(old, 'AMP003'), [2, 3, 4, 6]);
  });
  it('is silent for torch.amp and torch.autocast', async () => {
    const ok = `import torch
scaler = torch.amp.GradScaler("cuda")
with torch.autocast("cuda"):
    y = model(x)
`;
    assert.deepEqual(await linesOf(ok, 'AMP003'), []);
  });
  it('safe fix rewrites to torch.amp with the device, turning autocast positionals into keywords', async () => {
    let text = old;
    for (const needle of ['GradScaler()', 'GradScaler(init', 'autocast():', 'autocast(True']) {
      text = await applyFixAndCheck(text, 'AMP003', lineWith(text, needle));
    }
    assert.equal(text, `import torch
scaler = torch.amp.GradScaler("cuda")
big = torch.amp.GradScaler("cuda", init_scale=1024.0)
with torch.amp.autocast("cuda"):
    y = model(x)
with torch.amp.autocast("cuda", enabled=True, dtype=torch.bfloat16):
    y = model(x)
`);
  });
  it('reports `from torch.cuda.amp import autocast` without an automatic fix', async () => {
    const r = await analyzeText('from torch.cuda.amp import autocast\nwith autocast():\n    y = model(x)\n');
    const f = r.findings.filter((x) => x.rule === 'AMP003');
    assert.equal(f.length, 1);
    assert.equal(f[0]!.fixes.length, 0);
  });
});
