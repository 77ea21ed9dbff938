"""A small CNN with batch norm, trained with AdamW and cosine annealing on generated 16×16 images.

Each class is an oriented grating at its own angle, with random phase and noise, so the network
has real structure to learn. A probe measures Adam's preconditioned sharpness against
(2 + 2β₁)/((1 − β₁)η) from the optimizer's own second-moment state, with the batch-norm
buffers restored around every landscape point.

Run it:    python3 examples/cnn_batchnorm_adamw.py
Probe it:  regscope probe examples/cnn_batchnorm_adamw.py
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser(description="CNN with batch norm on generated gratings")
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--weight-decay", type=float, default=0.05)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--epochs", type=int, default=4)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

N_CLASSES, SIZE = 6, 16


def make_data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    angle = y.float() * math.pi / N_CLASSES
    phase = torch.rand(n, generator=g) * 2 * math.pi
    coords = torch.arange(SIZE).float()
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    wave = torch.cos(0.9 * (xx * torch.cos(angle)[:, None, None] + yy * torch.sin(angle)[:, None, None]) + phase[:, None, None])
    x = wave + 0.8 * torch.randn(n, SIZE, SIZE, generator=g)
    return TensorDataset(x.unsqueeze(1), y)


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32 * 4 * 4, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


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
    train_loader = DataLoader(make_data(3072, 1), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(make_data(768, 2), batch_size=256)
    model = SmallCNN().to(device)
    criterion = nn.CrossEntropyLoss()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
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
        scheduler.step()
        print(f"epoch {epoch}: train loss {total / len(train_loader):.3f}, val acc {evaluate(model, val_loader, device):.3f}")


if __name__ == "__main__":
    main()
