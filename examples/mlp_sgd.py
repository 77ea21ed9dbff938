"""An MLP classifier trained with SGD + momentum on a generated Gaussian-mixture dataset.

The plain, well-configured baseline of the probe examples: a probe shows a sharpness well below
the momentum stability limit (2 + 2β)/η, a gradient noise scale near the batch size, and weight
spectra of a network early in training.

Run it:    python3 examples/mlp_sgd.py
Probe it:  regscope probe examples/mlp_sgd.py
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser(description="MLP on a Gaussian mixture")
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--momentum", type=float, default=0.9)
parser.add_argument("--weight-decay", type=float, default=5e-4)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

N_FEATURES, N_CLASSES = 20, 5


def make_data(n: int, seed: int) -> TensorDataset:
    """Five Gaussian clusters in 20 dimensions, overlapping enough that the task is not trivial."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(N_CLASSES, N_FEATURES, generator=torch.Generator().manual_seed(1234)) * 0.5
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = centers[y] + torch.randn(n, N_FEATURES, generator=g)
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
    train_loader = DataLoader(make_data(4096, 1), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(make_data(1024, 2), batch_size=512)
    model = nn.Sequential(
        nn.Linear(N_FEATURES, 64), nn.ReLU(),
        nn.Linear(64, 64), nn.ReLU(),
        nn.Linear(64, N_CLASSES),
    ).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
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
        print(f"epoch {epoch}: train loss {total / len(train_loader):.3f}, val acc {evaluate(model, val_loader, device):.3f}")


if __name__ == "__main__":
    main()
