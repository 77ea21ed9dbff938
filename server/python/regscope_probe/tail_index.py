"""Tail index α of gradient noise (A Tail-Index Analysis of Stochastic Gradient Noise in Deep
Neural Networks, which uses the estimator of Mohammadi et al., 2015).

For K = K₁·K₂ i.i.d. symmetric α-stable samples X, block sums Y_i of K₁ samples are α-stable with
scale K₁^{1/α}, so mean log|Y| − mean log|X| = (1/α)·log K₁ and
1/α̂ = (mean log|Y_i| − mean log|X_j|)/log K₁. α = 2 is Gaussian noise; smaller is heavier-tailed.
K₁ defaults to ⌊√K⌋, the usual balance between the two averages' variances.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch


@dataclass
class TailIndexResult:
    alpha: float
    inv_alpha: float
    k1: int
    k2: int
    samples: int


def tail_index(x: torch.Tensor, k1: Optional[int] = None) -> TailIndexResult:
    x = x.reshape(-1).double()
    x = x[x != 0]
    n = x.numel()
    if n < 16:
        raise ValueError(f"the tail index needs at least 16 nonzero samples, got {n}")
    k1 = k1 or max(2, int(math.isqrt(n)))
    k2 = n // k1
    x = x[: k1 * k2]
    y = x.reshape(k2, k1).sum(dim=1)
    y = y[y != 0]
    inv = (float(y.abs().log().mean()) - float(x.abs().log().mean())) / math.log(k1)
    alpha = 2.0 if inv <= 0.5 else min(2.0, 1.0 / inv)
    return TailIndexResult(alpha=alpha, inv_alpha=inv, k1=k1, k2=k2, samples=k1 * k2)


def gradient_tail_index(grads: torch.Tensor, max_samples: int = 1_000_000, seed: int = 0) -> TailIndexResult:
    """On the centred micro-batch gradient coordinates (the noise), subsampled to at most `max_samples`."""
    noise = (grads - grads.mean(dim=0, keepdim=True)).reshape(-1)
    if noise.numel() > max_samples:
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(noise.numel(), generator=g)[:max_samples].to(noise.device)
        noise = noise[idx]
    # Shuffle so that block sums mix coordinates from different micro-batches and layers.
    g = torch.Generator().manual_seed(seed + 1)
    noise = noise[torch.randperm(noise.numel(), generator=g).to(noise.device)]
    return tail_index(noise.cpu())


def sample_symmetric_stable(alpha: float, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Chambers–Mallows–Stuck sampler for symmetric α-stable variables (validation and tests)."""
    u = (torch.rand(n, generator=generator, dtype=torch.float64) - 0.5) * math.pi
    w = -torch.log(torch.rand(n, generator=generator, dtype=torch.float64).clamp(min=1e-300))
    if abs(alpha - 1.0) < 1e-12:
        return torch.tan(u)
    return (torch.sin(alpha * u) / torch.cos(u) ** (1 / alpha)) * (torch.cos(u - alpha * u) / w) ** ((1 - alpha) / alpha)
