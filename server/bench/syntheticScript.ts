/**
 * Realistic training scripts of a given length for benchmarks: imports, argparse, a config
 * dataclass, model classes, data loading, train/eval functions, repeated with distinct names
 * the way long research scripts grow.
 */
const HEADER = `import argparse
import math
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser(description="benchmark script")
parser.add_argument("--lr", type=float, default=3e-4)
parser.add_argument("--weight-decay", type=float, default=0.05)
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--batch-size", type=int, default=128)
args = parser.parse_args()


@dataclass
class Config:
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 200
    dropout: float = 0.1


def seed_everything(seed: int = 0) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

`;

function block(i: number): string {
  return `
class Block${i}(nn.Module):
    """Residual MLP block number ${i}."""

    def __init__(self, width: int = 256, p: float = 0.1):
        super().__init__()
        self.fc1 = nn.Linear(width, width * 4)
        self.act = nn.GELU()
        self.drop = nn.Dropout(p)
        self.fc2 = nn.Linear(width * 4, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x):
        h = self.fc2(self.drop(self.act(self.fc1(self.norm(x)))))
        return x + h


def make_optimizer_${i}(model, cfg: Config):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


def train_${i}(model, loader, cfg: Config, epochs: int = 3):
    optimizer = make_optimizer_${i}(model, cfg)
    total = epochs * len(loader)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total)
    model.train()
    running = 0.0
    for epoch in range(epochs):
        for step, (x, y) in enumerate(loader):
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            running += loss.item()
            if step % 100 == 0:
                print(f"epoch {epoch} step {step} loss {running / (step + 1):.4f}")
    return running


@torch.no_grad()
def evaluate_${i}(model, loader):
    model.eval()
    correct = 0
    count = 0
    for x, y in loader:
        pred = model(x).argmax(-1)
        correct += (pred == y).sum().item()
        count += y.numel()
    model.train()
    return correct / max(count, 1)
`;
}

const FOOTER = `

if __name__ == "__main__":
    seed_everything(0)
    cfg = Config(lr=args.lr, weight_decay=args.weight_decay)
    data = TensorDataset(torch.randn(4096, 256), torch.randint(0, 10, (4096,)))
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True, drop_last=True)
    model = nn.Sequential(Block0(), nn.Linear(256, 10))
    train_0(model, loader, cfg, epochs=args.epochs)
    print(evaluate_0(model, loader))
`;

export function syntheticScript(lines: number): string {
  let out = HEADER;
  let i = 0;
  while (out.split('\n').length + FOOTER.split('\n').length < lines) out += block(i++);
  out += FOOTER;
  return out.split('\n').slice(0, lines).join('\n') + '\n';
}
