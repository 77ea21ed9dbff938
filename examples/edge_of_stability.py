"""Full-batch gradient descent with a learning rate at the edge of stability.

Gradient descent on a quadratic diverges once η·λ₁ > 2. Neural networks trained with a large
step do something subtler (Gradient Descent on Neural Networks Typically Occurs at the Edge of
Stability): the sharpness λ₁ rises or sits at 2/η and the loss keeps falling, but non-monotonically,
with oscillation along the top eigenvector. Here the default lr = 0.4 puts λ₁ of this tanh MLP at
about 2/η from the first steps (measured on CPU, torch 1.13: η·λ₁/2 ≈ 0.90–0.94 over steps 5–20,
rising above 1 by step 40); `--lr 0.1` is the comfortable comparison (η·λ₁/2 ≈ 0.25).

Run it:    python3 examples/edge_of_stability.py
Probe it:  regscope probe examples/edge_of_stability.py     (PRB001 on the lr line)
           regscope probe examples/edge_of_stability.py -- --lr 0.1
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser(description="Full-batch GD at the edge of stability")
parser.add_argument("--lr", type=float, default=0.4)
parser.add_argument("--epochs", type=int, default=200)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

N = 512


def make_data(seed: int) -> TensorDataset:
    """A smooth teacher function of 8 inputs."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, 8, generator=g)
    y = torch.sin(x @ torch.randn(8, 1, generator=g)) + 0.3 * torch.cos(3 * x[:, :1])
    return TensorDataset(x, y)


def main() -> None:
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # One batch holds the whole training set: plain (full-batch) gradient descent.
    train_loader = DataLoader(make_data(1), batch_size=N, shuffle=True)
    model = nn.Sequential(
        nn.Linear(8, 64), nn.Tanh(),
        nn.Linear(64, 64), nn.Tanh(),
        nn.Linear(64, 1),
    ).to(device)
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        model.train()
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        if epoch % 20 == 0:
            print(f"step {epoch}: loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
