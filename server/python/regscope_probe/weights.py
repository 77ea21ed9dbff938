"""Weight-matrix spectra: heavy-tailed power-law exponents, stable rank, spectral norm, and
per-layer update/weight ratios.

Following "Implicit Self-Regularization in Deep Neural Networks" and "Predicting trends in the
quality of state-of-the-art neural networks without access to training or testing data"
(Martin & Mahoney): the empirical spectral density (ESD) of a trained layer's correlation
matrix WᵀW/N develops a heavy power-law tail as training imposes structure; the tail exponent
α summarises how strongly. Well-trained layers typically show α ≈ 2–6; α < 2 suggests a layer
over-fit to a few directions, α > 6 one that has learned little beyond its random init.

The tail fit is the continuous power-law maximum-likelihood estimator with x_min chosen to
minimise the Kolmogorov–Smirnov distance (Clauset, Shalizi & Newman, "Power-law distributions
in empirical data"), with the same conventions as the `powerlaw` package that WeightWatcher
uses, so numbers can be compared with it. Costs no forward pass: one SVD per layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Sequence, Tuple

import torch

from .paramspace import Block, layer_name

__all__ = [
    "PowerLawFit",
    "fit_power_law",
    "layer_spectrum",
    "weight_spectra",
    "update_ratios",
    "MIN_TAIL",
    "MIN_DIM",
    "MAX_PANEL_EIGS",
]

MIN_TAIL = 10
"""Fewest tail points a candidate x_min may leave: below that the MLE's standard error
(α−1)/√n and the KS statistic are too noisy, and KS would favour tiny tails at the very top."""

MIN_DIM = 16
"""Matrices whose smaller side is below this are skipped: they have fewer eigenvalues than a
meaningful tail fit needs (the reason is returned, not raised)."""

MAX_PANEL_EIGS = 512
"""At most this many eigenvalues are shipped to the panel (log-spaced in rank, see below)."""

_KS_CHUNK_ELEMS = 1 << 22  # candidate×point elements per vectorised KS chunk (~32 MiB float64)


@dataclass
class PowerLawFit:
    """A continuous power-law tail p(x) ∝ x^(−α) for x ≥ xmin.

    alpha: MLE exponent; xmin: KS-optimal lower cut-off; ks: the KS distance at that cut-off;
    n_tail: points ≥ xmin; n: positive points offered; sigma: the MLE's asymptotic standard
    error (α−1)/√n_tail (it ignores the uncertainty of choosing xmin, so it is a lower bound);
    candidates: how many x_min values were tried.
    """

    alpha: float
    xmin: float
    ks: float
    n_tail: int
    n: int = 0
    sigma: float = float("nan")
    candidates: int = 0


def fit_power_law(eigs: torch.Tensor, min_tail: int = MIN_TAIL) -> PowerLawFit:
    """Fit a power-law tail to positive values (eigenvalues), choosing x_min by KS.

    For every candidate x_min — the sorted unique values that leave at least `min_tail`
    points in the tail x ≥ x_min —:
      α(x_min) = 1 + n_tail / Σ_{x_i ≥ x_min} ln(x_i / x_min)                 (continuous MLE)
      D(x_min) = max over the tail's unique values x of |C_emp(x) − (1 − (x/x_min)^(1−α))|
    where C_emp(x) = #{tail points < x} / n_tail (the left-continuous empirical CDF, the
    `powerlaw` package's convention). The x_min with the smallest D wins (first on ties).
    Non-positive and non-finite values are dropped first. Raises ValueError if fewer than
    `min_tail` positive values remain.

    Cost: O(n · candidates) elementwise work in float64, chunked; ~0.1 s for n = 4096.
    """
    x = eigs.detach().reshape(-1).to(device="cpu", dtype=torch.float64)
    x = x[torch.isfinite(x) & (x > 0)]
    n_all = int(x.numel())
    min_tail = max(2, int(min_tail))
    if n_all < min_tail:
        raise ValueError(f"need at least {min_tail} positive values, got {n_all}")
    x, _ = torch.sort(x)
    n = n_all
    logx = torch.log(x)
    # first index of each value (ties share the index of their first occurrence)
    left = torch.searchsorted(x, x, right=False)
    # candidates: first occurrences of unique values with a tail of ≥ min_tail points
    is_first = torch.ones(n, dtype=torch.bool)
    is_first[1:] = x[1:] != x[:-1]
    cand = torch.nonzero(is_first & (torch.arange(n) <= n - min_tail)).reshape(-1)
    if cand.numel() == 0:
        raise ValueError("no x_min candidate leaves enough tail points")
    # suffix sums of log x: S[i] = Σ_{j ≥ i} log x_j
    suffix = torch.flip(torch.cumsum(torch.flip(logx, [0]), 0), [0])
    n_tail = (n - cand).to(torch.float64)
    denom = suffix[cand] - n_tail * logx[cand]
    with torch.no_grad():
        alpha = torch.where(denom > 0, 1.0 + n_tail / denom,
                            torch.full_like(denom, float("inf")))
    ks = torch.full((cand.numel(),), float("inf"), dtype=torch.float64)
    jidx = torch.arange(n)
    left_f = left.to(torch.float64)
    chunk = max(1, _KS_CHUNK_ELEMS // max(n, 1))
    for s in range(0, cand.numel(), chunk):
        ci = cand[s:s + chunk]                         # [c]
        a = alpha[s:s + chunk]
        nt = n_tail[s:s + chunk]
        finite = torch.isfinite(a)
        # theoretical CDF at every point j: 1 - exp((1-α)(log x_j - log x_min))
        expo = (1.0 - a)[:, None] * (logx[None, :] - logx[ci][:, None])
        theo = 1.0 - torch.exp(expo)
        emp = (left_f[None, :] - ci.to(torch.float64)[:, None]) / nt[:, None]
        diff = (theo - emp).abs()
        diff = torch.where(jidx[None, :] >= ci[:, None], diff, torch.zeros_like(diff))
        d = diff.max(dim=1).values
        ks[s:s + chunk] = torch.where(finite, d, torch.full_like(d, float("inf")))
    best = int(torch.argmin(ks))  # first minimum on ties
    a_best = float(alpha[best])
    nt_best = int(n_tail[best])
    return PowerLawFit(alpha=a_best, xmin=float(x[cand[best]]), ks=float(ks[best]),
                       n_tail=nt_best, n=n_all,
                       sigma=(a_best - 1.0) / math.sqrt(nt_best) if math.isfinite(a_best) else float("nan"),
                       candidates=int(cand.numel()))


def _as_matrix(weight: torch.Tensor) -> torch.Tensor:
    """2-D as is; conv (and any ≥3-D) weights as out × (in·kh·kw…), one row per filter."""
    w = weight.detach()
    return w if w.dim() == 2 else w.reshape(w.shape[0] if w.dim() else 1, -1)


def _panel_sample(eigs_asc: torch.Tensor, limit: int = MAX_PANEL_EIGS) -> Tuple[List[float], List[float]]:
    """≤ `limit` eigenvalues (ascending) with their CCDF (share of eigenvalues ≥ the value).

    Kept ranks are log-spaced counted from the top (rank 1 = largest), so the tail the power
    law is fitted on stays dense and the bulk is thinned; with the CCDF the panel can draw the
    usual log-log tail plot exactly, whatever was dropped.
    """
    n = int(eigs_asc.numel())
    if n <= limit:
        ranks = list(range(1, n + 1))
    else:
        ranks_set = set()
        for k in range(limit):
            ranks_set.add(int(round(math.exp(math.log(n) * k / (limit - 1)))))
        ranks = sorted(r for r in ranks_set if 1 <= r <= n)
    # rank r (1 = largest) ↔ ascending index n − r; CCDF at it = r / n (ties ignored)
    vals = [float(eigs_asc[n - r]) for r in reversed(ranks)]
    ccdf = [r / n for r in reversed(ranks)]
    return vals, ccdf


def layer_spectrum(weight: torch.Tensor, min_dim: int = MIN_DIM,
                   min_tail: int = MIN_TAIL) -> Dict[str, Any]:
    """Spectrum of one weight matrix, keys as in the `weights.alpha` event's per-layer data.

    Matrix: 2-D as is, conv weights out × (in·kh·kw). ESD: the eigenvalues of WᵀW/N, i.e. the
    squared singular values divided by N = the larger dimension (Martin & Mahoney's
    normalisation; α, xmin's rank and the KS distance do not depend on it). Only the
    min(rows, cols) non-trivial eigenvalues are used. Also: stableRank = ‖W‖_F² / ‖W‖₂²
    (a smooth count of the directions that carry the weight), spectralNorm = ‖W‖₂.

    Returns {shape, matrixShape, skipped: None | reason, alpha, xmin, ks, nTail, sigma,
    stableRank, spectralNorm, eigenvalues (≤512, ascending), eigenvalueCcdf, numEigenvalues,
    passes: 0}. The SVD runs on the weight's device in float32 (float64 for float64 weights;
    MPS falls back to CPU).
    """
    w = _as_matrix(weight)
    rows, cols = int(w.shape[0]), int(w.shape[1])
    out: Dict[str, Any] = {"shape": list(weight.shape), "matrixShape": [rows, cols],
                           "skipped": None, "passes": 0}
    if min(rows, cols) < min_dim:
        out["skipped"] = f"min dimension {min(rows, cols)} < {min_dim}"
        return out
    dtype = torch.float64 if w.dtype == torch.float64 else torch.float32
    if w.device.type == "mps":
        w = w.cpu()
    wm = w.to(dtype)
    if not bool(torch.isfinite(wm).all()):
        out["skipped"] = "non-finite weights"
        return out
    sv = torch.linalg.svdvals(wm).to(device="cpu", dtype=torch.float64)
    s1 = float(sv.max())
    fro2 = float((sv * sv).sum())
    out["spectralNorm"] = s1
    out["stableRank"] = fro2 / (s1 * s1) if s1 > 0 else 0.0
    N = max(rows, cols)
    eigs, _ = torch.sort(sv * sv / N)
    out["numEigenvalues"] = int(eigs.numel())
    vals, ccdf = _panel_sample(eigs)
    out["eigenvalues"] = vals
    out["eigenvalueCcdf"] = ccdf
    try:
        fit = fit_power_law(eigs, min_tail=min_tail)
    except ValueError as e:
        out["skipped"] = f"power-law fit: {e}"
        return out
    out.update({"alpha": fit.alpha, "xmin": fit.xmin, "ks": fit.ks, "nTail": fit.n_tail,
                "sigma": fit.sigma})
    return out


def weight_spectra(named_params: Iterable[Tuple[str, torch.Tensor]],
                   min_dim: int = MIN_DIM) -> List[Dict[str, Any]]:
    """`layer_spectrum` for every trained (requires_grad) parameter with ≥ 2 dims, in order,
    each with `name` (the parameter) and `layer` (its module path, as in ParamSpace blocks).
    Skipped matrices are listed too, with `skipped` set, so the panel can say why."""
    out: List[Dict[str, Any]] = []
    for name, p in named_params:
        if not p.requires_grad or p.dim() < 2:
            continue
        entry: Dict[str, Any] = {"name": name, "layer": layer_name(name)}
        entry.update(layer_spectrum(p, min_dim=min_dim))
        out.append(entry)
    return out


def update_ratios(before: torch.Tensor, after: torch.Tensor,
                  blocks: Sequence[Block]) -> List[Tuple[str, float]]:
    """‖θ_after,b − θ_before,b‖ / ‖θ_before,b‖ for each block, then ("*", the whole model).

    Float64. A block whose weights were exactly zero gets inf if it moved and 0.0 if not
    (the harness must map inf for JSON). Costs nothing: two flat vectors the harness already
    holds around one optimizer step.
    """
    b = before.detach().double()
    a = after.detach().double().to(b.device)
    delta = a - b

    def ratio(dn: float, wn: float) -> float:
        if wn > 0:
            return dn / wn
        return 0.0 if dn == 0 else float("inf")

    out: List[Tuple[str, float]] = []
    for blk in blocks:
        out.append((blk.name, ratio(float(delta[blk.start:blk.end].norm()),
                                    float(b[blk.start:blk.end].norm()))))
    out.append(("*", ratio(float(delta.norm()), float(b.norm()))))
    return out
