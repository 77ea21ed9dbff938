/** Small real training scripts for the probe tests, and a workspace to put them in. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

export const ROOT = path.resolve(__dirname, '..', '..', '..');

/** A tiny classifier trained with SGD; `HOOK` runs each step before backward. */
export function trainScript(opts: { lr?: string; hook?: string; prelude?: string } = {}): string {
  return `import os, sys, time
import torch
import torch.nn as nn
${opts.prelude ?? ''}
torch.manual_seed(0)
X = torch.randn(256, 10)
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
model = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 2))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=${opts.lr ?? '0.1'}, momentum=0.9)
step = 0
for epoch in range(100):
    for i in range(0, 256, 64):
        x, y = X[i:i + 64], Y[i:i + 64]
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        ${opts.hook ?? 'pass'}
        loss.backward()
        optimizer.step()
        step += 1
`;
}

/** The line (1-based) of the first occurrence of `needle` in `text`. */
export function lineOf(text: string, needle: string): number {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`${needle} not in text`);
  return text.slice(0, i).split('\n').length;
}

export function workspace(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-probe-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

let cached: boolean | undefined;
/** Whether some interpreter here has torch (the probe tests need one; CI installs python3-torch). */
export function haveTorch(): boolean {
  cached ??= ['python3', '/usr/bin/python3', 'python'].some((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 }).status === 0);
  return cached;
}

/** Skip reason when torch is missing; under CI a missing torch is a failure, not a skip. */
export function torchSkip(): string | false {
  if (haveTorch()) return false;
  if (process.env['CI'] === 'true') throw new Error('no Python interpreter with torch: CI must install python3-torch');
  return 'no Python interpreter with torch (apt install python3-torch)';
}

/** Whether a process runs (a zombie, killed but not yet reaped by an init that does not reap, counts as dead). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
