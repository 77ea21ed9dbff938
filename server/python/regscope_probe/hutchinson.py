"""Hutchinson's trace estimator with a confidence-interval stopping rule, and per-layer traces
from the same probes.

For Rademacher z, E[zᵀHz] = tr(H), and the variance is 2(‖H‖_F² − Σᵢ H_ii²): smaller than with
Gaussian probes. Restricted to a layer's block b, E[z_bᵀ(Hz)_b] = tr(H_bb), so every probe gives
every layer's trace at no extra product, and the layer estimates of a probe sum exactly to its
whole-model estimate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import torch

from .paramspace import Block

# Two-sided 95 % Student t quantiles; between table entries the quantile is interpolated in 1/df,
# which is accurate to about 1e-3 here.
_T95 = [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (6, 2.447), (7, 2.365), (8, 2.306),
        (9, 2.262), (10, 2.228), (12, 2.179), (15, 2.131), (20, 2.086), (25, 2.060), (30, 2.042),
        (40, 2.021), (60, 2.000), (120, 1.980)]


# Two-sided 90 % quantiles, for intervals reported at 90 %.
_T90 = [(1, 6.314), (2, 2.920), (3, 2.353), (4, 2.132), (5, 2.015), (6, 1.943), (7, 1.895), (8, 1.860),
        (9, 1.833), (10, 1.812), (12, 1.782), (15, 1.753), (20, 1.725), (25, 1.708), (30, 1.697),
        (40, 1.684), (60, 1.671), (120, 1.658)]


def _quantile(df: int, table: List[Tuple[int, float]], limit: float) -> float:
    if df <= 0:
        return math.inf
    for (d0, q0), (d1, q1) in zip(table, table[1:]):
        if df == d0:
            return q0
        if d0 < df < d1:
            w = (1 / df - 1 / d1) / (1 / d0 - 1 / d1)
            return q1 + w * (q0 - q1)
    last_df, last_q = table[-1]
    if df == last_df:
        return last_q
    return limit + (1 / df) / (1 / last_df) * (last_q - limit)


def t95(df: int) -> float:
    return _quantile(df, _T95, 1.960)


def t90(df: int) -> float:
    return _quantile(df, _T90, 1.645)


def _mean_half_width(xs: Sequence[float]) -> Tuple[float, float, float]:
    n = len(xs)
    mean = sum(xs) / n
    if n < 2:
        return mean, math.inf, math.inf
    var = sum((x - mean) ** 2 for x in xs) / (n - 1)
    stderr = math.sqrt(var / n)
    return mean, t95(n - 1) * stderr, stderr


@dataclass
class TraceResult:
    trace: float
    half_width: float                       # 95 % confidence half-width
    stderr: float
    probes: int
    estimates: List[float]
    per_block: List[Tuple[str, float, float]]  # (layer, trace, 95 % half-width)
    hvps: int
    converged: bool


def _exact_part(op: Any, q: torch.Tensor, blocks: Sequence[Block]) -> List[float]:
    """Per-block traces of H − P⊥HP⊥ = QQᵀH + HQQᵀ − QQᵀHQQᵀ (P⊥ = I − QQᵀ), exactly, from HQ."""
    hq = torch.stack([op.matvec(q[:, j]) for j in range(q.shape[1])], dim=1)
    m = q.t().mm(hq)
    diag = (2 * (q * hq).sum(dim=1) - (q.mm(m) * q).sum(dim=1)).detach().cpu().double()
    return [float(diag[b.start:b.end].sum()) for b in blocks]


def hutchinson_trace(op: Any, blocks: Sequence[Block], max_probes: int = 30, rel_tol: float = 0.02,
                     min_probes: int = 5, generator: Optional[torch.Generator] = None,
                     deflate: Optional[torch.Tensor] = None) -> TraceResult:
    """`deflate` (k × P, e.g. the top Ritz vectors): the trace over their span is computed exactly
    with k products and only the rest, P⊥HP⊥, is estimated by probes. The large eigenvalues carry
    most of ‖H‖_F², hence most of the estimator's variance (the idea of Hutch++: Optimal Stochastic
    Trace Estimation)."""
    space = getattr(op, "space", None)
    device = space.device if space is not None else torch.device("cpu")
    dtype = space.dtype if space is not None else torch.float64
    blocks = list(blocks) or [Block("*", 0, op.dim)]
    before = int(op.hvps)
    q = None
    exact = [0.0] * len(blocks)
    if deflate is not None and deflate.shape[0] > 0:
        q, _ = torch.linalg.qr(deflate.t().to(device=device, dtype=dtype))
        exact = _exact_part(op, q, blocks)

    def project(v: torch.Tensor) -> torch.Tensor:
        return v if q is None else v - q.mv(q.t().mv(v))

    estimates: List[float] = []
    per_block: List[List[float]] = [[] for _ in blocks]
    converged = False
    for i in range(max(1, max_probes)):
        z = (torch.randint(0, 2, (op.dim,), generator=generator, dtype=torch.int64) * 2 - 1).to(device=device, dtype=dtype)
        # Sums in float64 on the CPU: exact enough for per-layer shares, and MPS has no float64.
        zhz = (z * project(op.matvec(project(z)))).detach().cpu().double()
        parts = [e + float(zhz[b.start:b.end].sum()) for e, b in zip(exact, blocks)]
        for j, value in enumerate(parts):
            per_block[j].append(value)
        estimates.append(sum(parts))
        if len(estimates) >= min_probes:
            mean, half, _ = _mean_half_width(estimates)
            if half < rel_tol * abs(mean):
                converged = True
                break
    mean, half, stderr = _mean_half_width(estimates)
    layers = []
    for b, values in zip(blocks, per_block):
        m, h, _ = _mean_half_width(values)
        layers.append((b.name, m, h))
    return TraceResult(trace=mean, half_width=half, stderr=stderr, probes=len(estimates), estimates=estimates,
                       per_block=layers, hvps=int(op.hvps) - before, converged=converged)
