"""A small CNN with batch norm on synthetic CIFAR-sized images, written the way many
tutorials write it, with the regularization and hyperparameter mistakes RegScope looks for.

Run it:  python3 examples/cnn_adam_problems.py --epochs 2
Check it: regscope check examples/cnn_adam_problems.py
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser(description="CNN on synthetic images")
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--weight-decay", type=float, default=5e-4)
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--batch-size", type=int, default=64)
args = parser.parse_args()


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int = 10, p_drop: float = 0.3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.drop = nn.Dropout(p_drop)
        self.fc = nn.Linear(64 * 8 * 8, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(self.drop(torch.flatten(x, 1)))


def make_data(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 32, 32, generator=g)
    w = torch.randn(3 * 32 * 32, 10, generator=g)
    y = (x.flatten(1) @ w).argmax(1)
    return TensorDataset(x, y)


def evaluate(model, loader):
    correct = total = 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
        total += y.numel()
    return correct / total


def main():
    torch.manual_seed(0)
    train_loader = DataLoader(make_data(2048, 1), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(make_data(512, 2), batch_size=256)
    model = SmallCNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    for epoch in range(args.epochs):
        model.train()
        running_loss = 0.0
        for x, y in train_loader:
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            running_loss += loss
        acc = evaluate(model, val_loader)
        print(f"epoch {epoch}: loss {running_loss / len(train_loader):.3f} val acc {acc:.3f}")


if __name__ == "__main__":
    main()
