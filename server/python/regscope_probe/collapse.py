"""Softmax-collapse risk, after "Grokking at the Edge of Numerical Stability" (Prieto et al.).

Once a classifier fits its training set, the cheapest way to lower cross-entropy further is to
scale the logits up — in a homogeneous network, to scale the weights along their current
direction (the paper's "naive loss minimisation" direction). Predictions do not change, but the
logits grow until float32 softmax rounds the top probability to exactly 1.0 (and the others to
exactly 0.0): the per-example gradient p − onehot is then exactly zero and learning stops
("Softmax Collapse"). Weight decay counteracts the growth; its absence is what the PRB006
finding points at.

We measure the three symptoms on the probe batch, at no extra pass (the harness passes the
logits it already has and the gradient it already took):
- the logit norm and its growth between probes;
- the share of float32 softmax outputs that are exactly 0.0 or 1.0, and of examples with a
  1.0 (their gradient is exactly zero if that class is the label);
- the cosine between the gradient and the weights: near −1 the descent step −ηg mostly
  scales the weights up.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .paramspace import Block

__all__ = ["softmax_collapse", "collapse_risk", "FLOAT32_COLLAPSE_BITS", "RISK_THRESHOLDS"]

FLOAT32_COLLAPSE_BITS = 24.0
"""float32 has a 24-bit significand: when the probability mass outside the top class is below
about 2^-24 of the total, the top probability rounds to exactly 1.0."""

RISK_THRESHOLDS: Dict[str, float] = {
    # 'high': a tenth of the batch already gets exactly-zero gradients (collapse under way)
    "rows_high": 0.10,
    # 'high' also when some rows collapsed and the gradient is almost pure weight scaling
    "cos_high": -0.9,
    # 'rising': gradient mostly along −θ (naive loss minimisation) while the logits grow
    "cos_rising": -0.5,
    "growth_rising": 0.01,  # relative logit-norm growth since the previous probe (1 %)
    # 'rising': the median example is within 8 bits of float32 saturation
    # (mass outside the top class below 2^-16 ≈ 1.5e-5)
    "bits_rising": 16.0,
}


def _cosine(a: torch.Tensor, b: torch.Tensor) -> Optional[float]:
    a = a.detach().reshape(-1).double()
    b = b.detach().reshape(-1).double().to(a.device)
    na, nb = float(a.norm()), float(b.norm())
    if not (na > 0 and nb > 0) or not (math.isfinite(na) and math.isfinite(nb)):
        return None
    return max(-1.0, min(1.0, float(a @ b) / (na * nb)))


def softmax_collapse(logits: torch.Tensor, previous_logit_norm: Optional[float],
                     grad: Optional[torch.Tensor], params: Optional[torch.Tensor],
                     class_dim: int = -1,
                     blocks: Optional[Sequence[Block]] = None) -> Dict[str, Any]:
    """Collapse symptoms for one batch of logits (any shape; classes along `class_dim`).

    Returns (keys as in the `collapse.softmax` event's data, plus extras):
      logitNorm        mean over examples of ‖z‖₂ over the class dim (float64)
      logitNormGrowth  logitNorm / previous − 1 (None without a previous value)
      saturated        share of float32 softmax outputs exactly 0.0 or 1.0
      zeros, ones      the two parts of `saturated`, as shares of all outputs
      rowsCollapsed    share of examples with an output exactly 1.0 in float32
      saturationBits   median over examples of −log2(1 − p_max), computed exactly in float64
                       from log-sum-exps; float32 collapses at ≈ 24 bits
      gradWeightCosine cos(g, θ) over the flat vectors (None if either is zero or missing)
      layers           [(block name, cos(g_b, θ_b))] when `blocks` is given
      examples, classes, passes (0: no forward pass is spent)
    Softmax is taken in float32, as F.cross_entropy does for float32 logits (and under autocast).
    """
    z = logits.detach()
    z = torch.movedim(z, class_dim, -1)
    C = int(z.shape[-1])
    z = z.reshape(-1, C)
    B = int(z.shape[0])
    p = torch.softmax(z.float(), dim=-1)
    zeros = (p == 0.0)
    ones = (p == 1.0)
    total = max(1, B * C)
    n_zero = int(zeros.sum())
    n_one = int(ones.sum())
    rows = int(ones.any(dim=-1).sum())
    zd = z.double()
    norm = float(zd.norm(dim=-1).mean()) if B > 0 else float("nan")
    bits: Optional[float] = None
    if C >= 2 and B > 0:
        top = zd.argmax(dim=-1, keepdim=True)
        others = zd.scatter(-1, top, float("-inf"))
        log_rest = torch.logsumexp(others, dim=-1) - torch.logsumexp(zd, dim=-1)  # ln(1 - p_max)
        bits = float((-log_rest / math.log(2.0)).median())
    growth: Optional[float] = None
    if previous_logit_norm is not None and previous_logit_norm > 0 and math.isfinite(norm):
        growth = norm / float(previous_logit_norm) - 1.0
    cos = _cosine(grad, params) if grad is not None and params is not None else None
    out: Dict[str, Any] = {
        "logitNorm": norm,
        "logitNormGrowth": growth,
        "saturated": (n_zero + n_one) / total,
        "zeros": n_zero / total,
        "ones": n_one / total,
        "rowsCollapsed": rows / max(1, B),
        "saturationBits": bits,
        "gradWeightCosine": cos,
        "examples": B,
        "classes": C,
        "passes": 0,
    }
    if blocks is not None and grad is not None and params is not None:
        out["layers"] = [(b.name, _cosine(grad[b.start:b.end], params[b.start:b.end]))
                         for b in blocks]
    return out


def collapse_risk(stats: Dict[str, Any],
                  thresholds: Optional[Dict[str, float]] = None) -> Tuple[str, List[str]]:
    """'low' | 'rising' | 'high' with human-readable reasons, from `softmax_collapse` output.

    high   : rowsCollapsed ≥ 10 %, or rows collapsed at all while cos(g, θ) ≤ −0.9
    rising : any example collapsed or any output exactly 0.0; or median saturationBits ≥ 16;
             or cos(g, θ) ≤ −0.5 while the logit norm grew ≥ 1 % since the previous probe
    low    : otherwise
    (See RISK_THRESHOLDS; pass `thresholds` to override single entries.)
    """
    t = dict(RISK_THRESHOLDS)
    if thresholds:
        t.update(thresholds)
    rows = float(stats.get("rowsCollapsed") or 0.0)
    zeros = float(stats.get("zeros") or 0.0)
    cos = stats.get("gradWeightCosine")
    growth = stats.get("logitNormGrowth")
    bits = stats.get("saturationBits")
    high: List[str] = []
    rising: List[str] = []
    if rows >= t["rows_high"]:
        high.append(f"{rows:.1%} of examples have a float32 softmax output of exactly 1.0 "
                    f"(zero gradient); threshold {t['rows_high']:.0%}")
    if rows > 0 and cos is not None and cos <= t["cos_high"]:
        high.append(f"collapsed examples present and cos(grad, weights) = {cos:.3f} "
                    f"≤ {t['cos_high']}: the step mostly scales the weights up")
    if rows > 0 and not high:
        rising.append(f"{rows:.1%} of examples already have a float32 softmax output of 1.0")
    if zeros > 0:
        rising.append(f"{zeros:.2%} of softmax outputs underflow to exactly 0.0 in float32")
    if bits is not None and bits >= t["bits_rising"]:
        rising.append(f"median example is {bits:.1f} bits into saturation "
                      f"(float32 collapses near {FLOAT32_COLLAPSE_BITS:.0f}); "
                      f"threshold {t['bits_rising']:.0f}")
    if cos is not None and cos <= t["cos_rising"] and growth is not None \
            and growth >= t["growth_rising"]:
        rising.append(f"cos(grad, weights) = {cos:.3f} ≤ {t['cos_rising']} while the logit "
                      f"norm grew {growth:+.1%}: naive loss minimisation")
    if high:
        return "high", high + rising
    if rising:
        return "rising", rising
    return "low", []
