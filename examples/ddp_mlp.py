"""Data-parallel training of a small MLP: run it with torchrun, or on its own.

    torchrun --nproc_per_node 2 examples/ddp_mlp.py      # two CPU processes (gloo)
    python examples/ddp_mlp.py                           # one process, the same global batch

Each of the N ranks takes 1/N of every global batch (DistributedSampler, no shuffling), and
DistributedDataParallel averages the gradients, so N processes follow the same trajectory as
one process on the whole batch. RegScope probes it with `--nproc-per-node N`.
"""
import argparse
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--batch-size", type=int, default=64, help="the global batch, over all ranks")
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

distributed = "RANK" in os.environ
if distributed:
    dist.init_process_group("gloo")
world = dist.get_world_size() if distributed else 1

torch.manual_seed(0)
X = torch.randn(2048, 20)
Y = (X[:, :5].sum(dim=1) + 0.5 * X[:, 5] > 0).long()
dataset = TensorDataset(X, Y)
sampler = DistributedSampler(dataset, shuffle=False) if distributed else None
loader = DataLoader(dataset, batch_size=args.batch_size // world, sampler=sampler, shuffle=False)

model = nn.Sequential(nn.Linear(20, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))
if distributed:
    model = DistributedDataParallel(model)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)

for epoch in range(args.epochs):
    if sampler is not None:
        sampler.set_epoch(epoch)
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()

if distributed:
    dist.destroy_process_group()
