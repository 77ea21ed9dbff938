"""A classifier whose training labels are partly wrong: 40 % are replaced by random classes.

With label noise the per-example gradients disagree more, so the gradient noise scale rises and
the gradient signal-to-noise ratio falls compared with `--label-noise 0`; trained long enough
the network memorises the wrong labels, which shows in heavier-tailed weight spectra. Probe both
and compare the runs.

Run it:    python3 examples/label_noise.py
Probe it:  regscope probe examples/label_noise.py
           regscope probe examples/label_noise.py -- --label-noise 0
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser(description="Classifier trained on noisy labels")
parser.add_argument("--label-noise", type=float, default=0.4)
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--weight-decay", type=float, default=0.05)
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

N_FEATURES, N_CLASSES = 32, 10


def make_data(n: int, seed: int, noise: float) -> TensorDataset:
    """Labels from a fixed random teacher network; a fraction `noise` replaced by random classes."""
    g = torch.Generator().manual_seed(seed)
    teacher = torch.Generator().manual_seed(7)
    w1 = torch.randn(N_FEATURES, 64, generator=teacher) / N_FEATURES ** 0.5
    w2 = torch.randn(64, N_CLASSES, generator=teacher) / 8
    x = torch.randn(n, N_FEATURES, generator=g)
    y = (torch.tanh(x @ w1) @ w2).argmax(1)
    flip = torch.rand(n, generator=g) < noise
    y[flip] = torch.randint(0, N_CLASSES, (int(flip.sum()),), generator=g)
    return TensorDataset(x, y)


def evaluate(model: nn.Module, loader: DataLoader, device: str) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            correct += (model(x).argmax(1) == y).sum().item()
            total += y.numel()
    return correct / total


def main() -> None:
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_loader = DataLoader(make_data(8192, 1, args.label_noise), batch_size=args.batch_size, shuffle=True)
    clean_val = DataLoader(make_data(2048, 2, 0.0), batch_size=1024)
    model = nn.Sequential(
        nn.Linear(N_FEATURES, 256), nn.ReLU(),
        nn.Linear(256, 256), nn.ReLU(),
        nn.Linear(256, N_CLASSES),
    ).to(device)
    criterion = nn.CrossEntropyLoss()
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr,
    )
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item()
        print(f"epoch {epoch}: train loss {total / len(train_loader):.3f}, clean val acc {evaluate(model, clean_val, device):.3f}")


if __name__ == "__main__":
    main()
