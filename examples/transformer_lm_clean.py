"""A tiny decoder-only transformer language model on generated sequences, set up the way
current practice recommends: AdamW with decay only on matrices, warmup then cosine decay,
gradient clipping, evaluation under eval() and no_grad().

Run it:  python3 examples/transformer_lm_clean.py --steps 200
"""
import argparse
import math
import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=1000)
parser.add_argument("--lr", type=float, default=6e-4)
parser.add_argument("--weight-decay", type=float, default=0.1)
parser.add_argument("--warmup", type=int, default=100)
parser.add_argument("--batch-size", type=int, default=32)
args = parser.parse_args()

VOCAB, CONTEXT, WIDTH = 64, 32, 128


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, WIDTH)
        self.pos = nn.Parameter(torch.zeros(CONTEXT, WIDTH))
        layer = nn.TransformerEncoderLayer(WIDTH, nhead=4, dim_feedforward=4 * WIDTH, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, num_layers=2)
        self.norm = nn.LayerNorm(WIDTH)
        self.head = nn.Linear(WIDTH, VOCAB, bias=False)

    def forward(self, idx):
        t = idx.shape[1]
        mask = torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
        h = self.blocks(self.embed(idx) + self.pos[:t], mask=mask)
        return self.head(self.norm(h))


def batch(n: int):
    """Sequences that count upward modulo VOCAB from a random start: learnable, not trivial."""
    start = torch.randint(0, VOCAB, (n, 1))
    seq = (start + torch.arange(CONTEXT + 1)) % VOCAB
    return seq[:, :-1], seq[:, 1:]


def lr_at(step: int) -> float:
    if step < args.warmup:
        return (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate(model) -> float:
    model.eval()
    x, y = batch(256)
    loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
    model.train()
    return loss.item()


def main():
    seed_everything(0)
    model = TinyLM()
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.95),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    model.train()
    for step in range(args.steps):
        x, y = batch(args.batch_size)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        if step % 100 == 0:
            print(f"step {step}: train {loss.item():.3f} eval {evaluate(model):.3f}")


if __name__ == "__main__":
    main()
