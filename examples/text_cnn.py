"""A 1-D convolutional text classifier on token ids: Embedding, Conv1d, global max pooling.

Synthetic data: sequences of 48 token ids over a 500-word vocabulary, 4 classes.
"""
import argparse

import torch
from torch import nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()
torch.manual_seed(0)


class TextCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(500, 32)
        self.conv = nn.Conv1d(32, 64, kernel_size=5, padding=2)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(64, 4)

    def forward(self, x):
        x = self.embed(x).transpose(1, 2)
        x = F.relu(self.conv(x))
        x = x.amax(dim=2)
        return self.head(self.drop(x))


tokens = torch.randint(0, 500, (2048, 48))
labels = (tokens[:, :8] % 4).mode(dim=1).values
dataset = torch.utils.data.TensorDataset(tokens, labels)
loader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True)

model = TextCNN()
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.epochs * len(loader))
criterion = nn.CrossEntropyLoss(label_smoothing=0.1)

for epoch in range(args.epochs):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
    print(f"epoch {epoch}: loss {loss.item():.3f}")
