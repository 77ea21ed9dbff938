"""A tiny decoder-only transformer language model on sequences from a random order-2 Markov chain.

Two pre-norm encoder blocks with a causal mask, AdamW with betas (0.9, 0.98), linear warm-up and
gradient clipping: the usual recipe at toy scale. The chain's transition table is sparse (each
pair of tokens has three likely successors), so the model can get well below the uniform loss
log(VOCAB). A probe reads the live warmed-up learning rate from the param groups.

Run it:    python3 examples/tiny_transformer_lm.py
Probe it:  regscope probe examples/tiny_transformer_lm.py
"""
import argparse
import math

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser(description="Tiny transformer LM on a Markov chain")
parser.add_argument("--lr", type=float, default=3e-3)
parser.add_argument("--weight-decay", type=float, default=0.1)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--warmup-steps", type=int, default=20)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

VOCAB, CONTEXT, D_MODEL = 24, 32, 48


def make_data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    table = torch.Generator().manual_seed(99)
    successors = torch.randint(0, VOCAB, (VOCAB, VOCAB, 3), generator=table)
    seq = torch.zeros(n, CONTEXT + 1, dtype=torch.long)
    seq[:, :2] = torch.randint(0, VOCAB, (n, 2), generator=g)
    for t in range(2, CONTEXT + 1):
        choice = torch.randint(0, 3, (n,), generator=g)
        seq[:, t] = successors[seq[:, t - 2], seq[:, t - 1], choice]
    return TensorDataset(seq[:, :-1], seq[:, 1:])


class TinyLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D_MODEL)
        self.pos = nn.Parameter(torch.zeros(1, CONTEXT, D_MODEL))
        layer = nn.TransformerEncoderLayer(D_MODEL, nhead=4, dim_feedforward=4 * D_MODEL, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, num_layers=2)
        self.norm = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, VOCAB)
        self.register_buffer("mask", torch.triu(torch.full((CONTEXT, CONTEXT), float("-inf")), diagonal=1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens) + self.pos[:, : tokens.shape[1]]
        h = self.blocks(h, mask=self.mask[: tokens.shape[1], : tokens.shape[1]])
        return self.head(self.norm(h))


def main() -> None:
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_loader = DataLoader(make_data(2048, 1), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(make_data(256, 2), batch_size=256)
    model = TinyLM().to(device)
    criterion = nn.CrossEntropyLoss()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos" not in n and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "pos" not in n and "embed" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.98),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / args.warmup_steps))
    print(f"uniform loss log(VOCAB) = {math.log(VOCAB):.3f}")
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = criterion(model(x).reshape(-1, VOCAB), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            total += loss.item()
        model.eval()
        with torch.no_grad():
            x, y = next(iter(val_loader))
            x, y = x.to(device), y.to(device)
            val = criterion(model(x).reshape(-1, VOCAB), y.reshape(-1)).item()
        print(f"epoch {epoch}: train loss {total / len(train_loader):.3f}, val loss {val:.3f}")


if __name__ == "__main__":
    main()
