"""Lanczos with full reorthogonalization: the top Hessian eigenvalues, with an error bound each.

Power iteration (as in PyHessian) converges at the rate λ₂/λ₁ and stops at a tolerance that says
nothing about the error; Lanczos builds a Krylov basis, so after m products its Ritz values are
the best the m-dimensional subspace allows, and |β_m · s_{m,i}| bounds each Ritz value's distance
to a true eigenvalue. Full reorthogonalization (twice, as Kahan's rule asks) keeps the basis
orthogonal in floating point, so converged eigenvalues do not reappear as ghost copies.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

import torch


@dataclass
class LanczosResult:
    eigenvalues: List[float]          # top-k Ritz values, descending
    residuals: List[float]            # |β_m · last component of each Ritz vector|: error bounds
    ritz_values: List[float]          # all Ritz values, ascending
    weights: List[float]              # squared first components τ_j²: Gauss quadrature weights
    steps: int
    hvps: int
    vectors: Optional[torch.Tensor] = None  # k × P Ritz vectors (descending order) when kept
    basis_norm_error: float = 0.0     # max |QᵀQ − I|: how orthogonal the basis stayed
    extra: dict = field(default_factory=dict)


def _project_out(w: torch.Tensor, basis: Optional[torch.Tensor]) -> torch.Tensor:
    if basis is None or basis.shape[0] == 0:
        return w
    return w - basis.t().mv(basis.mv(w))


def lanczos(op: Any, steps: int = 30, k: int = 5, generator: Optional[torch.Generator] = None,
            start: Optional[torch.Tensor] = None, keep_vectors: bool = False,
            deflate: Optional[torch.Tensor] = None) -> LanczosResult:
    """`op` has `dim`, `matvec(v)` and `hvps`. `deflate` (j × P, orthonormal rows) restricts the run
    to the orthogonal complement of those vectors, for the bulk of a spectrum whose outliers are known."""
    n = int(op.dim)
    free = n - (deflate.shape[0] if deflate is not None else 0)
    m = max(1, min(int(steps), free))
    space = getattr(op, "space", None) or getattr(getattr(op, "op", None), "space", None)
    device = space.device if space is not None else torch.device("cpu")
    dtype = space.dtype if space is not None else torch.float64
    if start is None:
        start = torch.randn(n, generator=generator, dtype=torch.float64)
    v = start.to(device=device, dtype=dtype)
    v = _project_out(v, deflate)
    v = v / v.norm()
    basis = torch.zeros(m, n, device=device, dtype=dtype)
    alphas: List[float] = []
    betas: List[float] = []
    hvps_before = int(op.hvps)
    beta_last = 0.0
    for j in range(m):
        basis[j] = v
        w = _project_out(op.matvec(v), deflate)
        alpha = float(torch.dot(w, v))
        alphas.append(alpha)
        w = w - alpha * v
        if j > 0:
            w = w - betas[-1] * basis[j - 1]
        for _ in range(2):
            w = w - basis[: j + 1].t().mv(basis[: j + 1].mv(w))
            w = _project_out(w, deflate)
        beta = float(w.norm())
        scale = max(1.0, max(abs(a) for a in alphas))
        if j == m - 1 or beta <= 1e-10 * scale:
            beta_last = beta
            break
        betas.append(beta)
        v = w / beta
    size = len(alphas)
    t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if size > 1:
        off = torch.tensor(betas[: size - 1], dtype=torch.float64)
        t = t + torch.diag(off, 1) + torch.diag(off, -1)
    evals, evecs = torch.linalg.eigh(t)
    order = torch.argsort(evals, descending=True)[: max(1, min(k, size))]
    residuals = [abs(beta_last * float(evecs[-1, i])) for i in order]
    vectors = None
    q = basis[:size]
    if keep_vectors:
        vectors = evecs[:, order].t().to(device=device, dtype=dtype).mm(q)
    gram = q.mm(q.t())
    ortho = float((gram - torch.eye(size, device=device, dtype=dtype)).abs().max()) if size else 0.0
    return LanczosResult(
        eigenvalues=[float(evals[i]) for i in order],
        residuals=residuals,
        ritz_values=[float(x) for x in evals],
        weights=[float(x) ** 2 for x in evecs[0, :]],
        steps=size,
        hvps=int(op.hvps) - hvps_before,
        vectors=vectors,
        basis_norm_error=ortho,
    )
