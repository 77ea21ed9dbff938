"""Loss-landscape slices: 1-D and 2-D cuts of the loss around the current parameters.

Method after "Visualizing the Loss Landscape of Neural Nets" (Li et al.): a random Gaussian
direction is rescaled filter by filter to the norms of the weights it perturbs, so that a step of
1 along it changes every filter by about its own size and plots of differently scaled networks
(or layers) become comparable; biases and normalisation parameters are left alone by default
because rescaling them that way is meaningless (a 1-D parameter is a single "filter").
Alternatively the plane of the top-2 Hessian eigenvectors is used.

Every loss evaluation goes through `LossProbe`, which fixes the randomness (dropout masks,
random augmentation inside the closure) with the same seed at every point, so the differences
between grid points are differences of the loss surface and not of the noise ("common random
numbers"), and which puts the model back exactly as it found it: parameters, buffers
(BatchNorm running statistics) and the caller's random number streams.

Cost: one forward pass of the closure per evaluated point, counted in `LossProbe.passes`.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from . import distributed
from .paramspace import ParamSpace

__all__ = [
    "filter_normalized_direction",
    "eigen_directions",
    "LossProbe",
    "grid_coordinates",
    "preview_indices",
    "landscape_2d",
    "landscape_1d",
    "project_trajectory",
    "trajectory_pca_directions",
]


# --------------------------------------------------------------------------------------------
# Directions
# --------------------------------------------------------------------------------------------

def filter_normalized_direction(space: ParamSpace, generator: torch.Generator,
                                perturb_1d: bool = False) -> torch.Tensor:
    """A Gaussian direction, filter-normalised to the current weights (flat, on the params' device).

    For a parameter with ≥ 2 dims, each filter (slice along dim 0: an output channel of a conv,
    a row of a linear layer) of the Gaussian draw is rescaled to the norm of the same filter of
    the weights. 1-D (and 0-D) parameters — biases, norm scales — get zeros unless
    `perturb_1d`, in which case the whole parameter is rescaled to the parameter's norm.

    The draw uses `generator` on the CPU in float32 (so the same seed gives the same direction
    on every device) and is then moved to the parameters' device and dtype; the rescaling is
    done there in at least float32.
    """
    parts: List[torch.Tensor] = []
    for p in space.params:
        w = p.detach()
        if w.dim() < 2 and not perturb_1d:
            parts.append(torch.zeros(w.numel(), device=w.device, dtype=w.dtype))
            continue
        d = torch.randn(tuple(w.shape), generator=generator, dtype=torch.float32)
        work_dtype = torch.float64 if w.dtype == torch.float64 else torch.float32
        d = d.to(device=w.device, dtype=work_dtype)
        wf = w.to(work_dtype)
        if w.dim() >= 2:
            d2 = d.reshape(d.shape[0], -1)
            w2 = wf.reshape(wf.shape[0], -1)
            scale = w2.norm(dim=1) / (d2.norm(dim=1) + 1e-10)
            d = (d2 * scale[:, None]).reshape(w.shape)
        else:
            d = d * (wf.norm() / (d.norm() + 1e-10))
        parts.append(d.to(w.dtype).reshape(-1))
    return torch.cat(parts)


def eigen_directions(vectors: torch.Tensor,
                     center: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Plot directions from the top-2 Hessian eigenvectors (rows of `vectors`, [k, P], k ≥ 2).

    The second vector is re-orthogonalised against the first (Lanczos vectors are orthonormal
    only to working precision), each gets a deterministic sign (largest-magnitude entry
    positive) so repeated probes draw the same picture, and both are scaled to ‖center‖ — the
    norm of the current parameters — so that the axis unit means the same as for a
    filter-normalised random direction (whose norm is about ‖θ‖). Without `center` they are
    returned with unit norm. Note: along the sharpest direction a step of ‖θ‖ is usually far
    outside the quadratic region; the harness may want a smaller `span` for this mode.
    """
    if vectors.dim() != 2 or vectors.shape[0] < 2:
        raise ValueError("eigen_directions needs a [k, P] tensor with k >= 2")
    v1 = vectors[0].detach().double()
    v2 = vectors[1].detach().double()
    v1 = v1 / v1.norm()
    v2 = v2 - (v2 @ v1) * v1
    n2 = v2.norm()
    if not torch.isfinite(n2) or n2 <= 1e-12:
        raise ValueError("the two eigenvectors are (nearly) parallel")
    v2 = v2 / n2
    out = []
    scale = 1.0 if center is None else float(center.detach().double().norm())
    for v in (v1, v2):
        if v[v.abs().argmax()] < 0:
            v = -v
        out.append((v * scale).to(device=vectors.device, dtype=vectors.dtype))
    return out[0], out[1]


# --------------------------------------------------------------------------------------------
# Evaluating the loss at other parameters
# --------------------------------------------------------------------------------------------

@dataclass
class _BufferSlot:
    module: torch.nn.Module
    name: str
    tensor: torch.Tensor
    saved: torch.Tensor


class LossProbe:
    """Evaluates a loss closure at arbitrary flat parameter vectors and puts everything back.

    - Parameters: written in place (`ParamSpace.assign`, tensor identity kept); the values at
      construction are the centre, restored by `restore()` and by leaving the `with` block,
      also on an exception.
    - Randomness: before every evaluation the CPU, CUDA (all devices, when initialised), MPS
      and Python `random` generators are seeded with `seed` — for torch the same as
      `torch.manual_seed(seed)` — (common random numbers: the same dropout masks at every
      point). The caller's generator states are saved at construction and restored by
      `restore()`, so the training script's own random stream continues as if no probe ran.
    - Buffers: every buffer of `modules` (BatchNorm running mean/var, num_batches_tracked, ...)
      is put back after each evaluation, so train-mode BatchNorm does not drift over the grid.
    - Modules are evaluated in whatever mode (train/eval) the script left them in.

    `passes` counts closure evaluations (one forward each).
    """

    def __init__(self, closure: Callable[[], torch.Tensor], space: ParamSpace,
                 modules: Sequence[torch.nn.Module], seed: int):
        self.closure = closure
        self.space = space
        self.seed = int(seed)
        self.passes = 0
        self.center = space.values()
        self._buffers = self._snapshot_buffers(modules)
        self._rng = _save_rng()
        self._restored = False

    # -- state ---------------------------------------------------------------------------
    @staticmethod
    def _snapshot_buffers(modules: Sequence[torch.nn.Module]) -> List[_BufferSlot]:
        slots: List[_BufferSlot] = []
        seen = set()
        for root in modules:
            for mod in root.modules():
                for name, buf in mod._buffers.items():
                    if buf is None or (id(mod), name) in seen:
                        continue
                    seen.add((id(mod), name))
                    slots.append(_BufferSlot(mod, name, buf, buf.detach().clone()))
        return slots

    @torch.no_grad()
    def _restore_buffers(self) -> None:
        for s in self._buffers:
            # A module may have rebound the attribute to a new tensor: put the original back.
            if s.module._buffers.get(s.name) is not s.tensor:
                s.module._buffers[s.name] = s.tensor
            s.tensor.copy_(s.saved)

    def _seed(self) -> None:
        # CPU generator directly (torch.manual_seed would also queue a lazy CUDA seed that
        # would hit a CUDA context the script creates later, outside our save/restore);
        # CUDA and MPS only when they hold state we saved.
        torch.random.default_generator.manual_seed(self.seed)
        if "cuda" in self._rng:
            torch.cuda.manual_seed_all(self.seed)
        if "mps" in self._rng:
            torch.mps.manual_seed(self.seed)
        random.seed(self.seed)

    # -- evaluation ----------------------------------------------------------------------
    @torch.no_grad()
    def loss_at(self, theta: torch.Tensor) -> float:
        """The closure's loss (mean if not scalar) at flat parameters `theta`; nan/inf as floats."""
        self.space.assign(theta)
        self._seed()
        try:
            out = self.closure()
        finally:
            self._restore_buffers()
            self.passes += 1
        # Under torchrun every rank evaluates its shard; the loss is their mean.
        return distributed.mean_float(_as_float(out))

    def at(self, center: torch.Tensor, x: float = 0.0, dx: Optional[torch.Tensor] = None,
           y: float = 0.0, dy: Optional[torch.Tensor] = None) -> float:
        """Loss at center + x·dx + y·dy (zero coefficients add nothing: the centre is exact)."""
        theta = center.clone()
        if x != 0.0 and dx is not None:
            theta.add_(dx, alpha=x)
        if y != 0.0 and dy is not None:
            theta.add_(dy, alpha=y)
        return self.loss_at(theta)

    # -- restore -------------------------------------------------------------------------
    def restore(self) -> None:
        """Put back the parameters, buffers and the caller's RNG states (idempotent)."""
        with torch.no_grad():
            self.space.assign(self.center)
        self._restore_buffers()
        _load_rng(self._rng)
        self._restored = True

    def __enter__(self) -> "LossProbe":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.restore()


def _as_float(out: Any) -> float:
    if isinstance(out, torch.Tensor):
        t = out.detach()
        if t.numel() != 1:
            t = t.float().mean()
        v = float(t.item())
    else:
        v = float(out)
    return v  # nan and ±inf pass through as floats


def _save_rng() -> Dict[str, Any]:
    state: Dict[str, Any] = {"cpu": torch.get_rng_state(), "py": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    mps = getattr(torch, "mps", None)
    if mps is not None and hasattr(mps, "get_rng_state"):
        try:
            if torch.backends.mps.is_available():
                state["mps"] = mps.get_rng_state()
        except Exception:  # noqa: BLE001 - MPS state is best effort
            pass
    return state


def _load_rng(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    random.setstate(state["py"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state:
        torch.mps.set_rng_state(state["mps"])


# --------------------------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------------------------

def grid_coordinates(n: int, span: float) -> List[float]:
    """n points over [-span, span], computed so the middle point is exactly 0.0 for odd n and a
    coarser grid's points (see `preview_indices`) are bit-identical to the fine grid's."""
    if n < 2:
        return [0.0]
    return [span * (2 * i - (n - 1)) / (n - 1) for i in range(n)]


def preview_indices(grid: int, preview: int) -> List[int]:
    """Indices of the preview points inside the full grid: evenly spread, always on the grid.

    With (grid-1) divisible by (preview-1) — 21 and 5, the defaults — the preview is exactly
    the coarser uniform grid (indices 0, 5, 10, 15, 20); otherwise the nearest grid indices.
    """
    preview = max(1, min(preview, grid))
    if preview == 1:
        return [grid // 2]
    idx = sorted({int(round(j * (grid - 1) / (preview - 1))) for j in range(preview)})
    return idx


def _finite_or_none(v: float) -> Optional[float]:
    return v if math.isfinite(v) else None


def landscape_2d(probe: LossProbe, center: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor,
                 grid: int = 21, preview: int = 5, span: float = 1.0, refine: bool = True,
                 on_update: Optional[Callable[[Dict[str, Any]], None]] = None) -> Dict[str, Any]:
    """Loss on a grid×grid plane center + x·d1 + y·d2, x, y ∈ [-span, span]; coarse view first.

    Order: the centre, then the preview×preview points (a subset of the full grid, see
    `preview_indices`), `on_update(result)` once, then — if `refine` — the remaining points
    row by row with `on_update` after each row (the last call has complete=True).

    Result: xs, ys (the full grid's coordinates), loss[row=ys][col=xs] (None where not yet
    evaluated or non-finite), complete, passes (closure evaluations spent by this call),
    center_loss (may be nan/inf), nonfinite (evaluated points whose loss was nan/inf),
    preview_idx (indices into xs/ys of the preview points). `on_update` receives a fresh copy.
    """
    xs = grid_coordinates(grid, span)
    ys = list(xs)
    loss: List[List[Optional[float]]] = [[None] * grid for _ in range(grid)]
    done = [[False] * grid for _ in range(grid)]
    start = probe.passes
    stats = {"nonfinite": 0}
    pidx = preview_indices(grid, preview)

    def eval_point(i: int, j: int) -> float:  # i indexes ys (row), j indexes xs (col)
        v = probe.at(center, xs[j], d1, ys[i], d2)
        done[i][j] = True
        if not math.isfinite(v):
            stats["nonfinite"] += 1
        loss[i][j] = _finite_or_none(v)
        return v

    def snapshot(complete: bool) -> Dict[str, Any]:
        return {
            "xs": list(xs), "ys": list(ys), "loss": [list(r) for r in loss],
            "complete": complete, "passes": probe.passes - start, "center_loss": center_loss,
            "nonfinite": stats["nonfinite"], "preview_idx": list(pidx),
        }

    mid = grid // 2 if grid % 2 == 1 else None
    if mid is not None:
        center_loss = eval_point(mid, mid)
    else:
        center_loss = probe.at(center)  # even grid: the centre is not a grid point
    for i in pidx:
        for j in pidx:
            if not done[i][j]:
                eval_point(i, j)
    total = grid * grid
    evaluated = sum(sum(r) for r in done)
    if on_update is not None:
        on_update(snapshot(evaluated == total))
    if refine:
        for i in range(grid):
            row_new = False
            for j in range(grid):
                if not done[i][j]:
                    eval_point(i, j)
                    row_new = True
            if row_new:
                evaluated = sum(sum(r) for r in done)
                if on_update is not None:
                    on_update(snapshot(evaluated == total))
    evaluated = sum(sum(r) for r in done)
    return snapshot(evaluated == total)


def landscape_1d(probe: LossProbe, center: torch.Tensor, d: torch.Tensor, points: int = 21,
                 span: float = 1.0) -> Dict[str, Any]:
    """Loss along center + x·d for `points` values of x in [-span, span] (one pass each).

    Result: xs, loss (None for non-finite), complete, passes, center_loss, nonfinite.
    """
    xs = grid_coordinates(points, span)
    start = probe.passes
    loss: List[Optional[float]] = []
    nonfinite = 0
    center_loss: Optional[float] = None
    for x in xs:
        v = probe.at(center, x, d)
        if x == 0.0:
            center_loss = v
        if not math.isfinite(v):
            nonfinite += 1
        loss.append(_finite_or_none(v))
    if center_loss is None:
        center_loss = probe.at(center)
    return {"xs": xs, "loss": loss, "complete": True, "passes": probe.passes - start,
            "center_loss": center_loss, "nonfinite": nonfinite}


# --------------------------------------------------------------------------------------------
# Trajectory
# --------------------------------------------------------------------------------------------

def project_trajectory(snapshots: Sequence[Tuple[int, torch.Tensor, float]], center: torch.Tensor,
                       d1: torch.Tensor, d2: torch.Tensor) -> List[Dict[str, Any]]:
    """Least-squares coordinates of parameter snapshots in the plot's plane (costs no pass).

    For δ = θ − center solves the 2×2 normal equations G [x, y]ᵀ = [d1·δ, d2·δ]ᵀ with
    G the Gram matrix of (d1, d2), so the directions need not be orthogonal (filter-normalised
    random directions are only nearly so). residual = ‖δ − x·d1 − y·d2‖ / ‖δ‖: the fraction of
    the displacement's norm that the plane cannot show (0 for δ = 0). Float64 throughout.
    """
    c = center.detach().double()
    a = d1.detach().double().to(c.device)
    b = d2.detach().double().to(c.device)
    g11, g12, g22 = float(a @ a), float(a @ b), float(b @ b)
    det = g11 * g22 - g12 * g12
    if not (det > 1e-12 * max(g11 * g22, 1e-300)):
        raise ValueError("plot directions are (nearly) parallel or zero")
    out: List[Dict[str, Any]] = []
    for step, theta, loss in snapshots:
        delta = theta.detach().double().to(c.device) - c
        r1, r2 = float(a @ delta), float(b @ delta)
        x = (g22 * r1 - g12 * r2) / det
        y = (g11 * r2 - g12 * r1) / det
        dn = float(delta.norm())
        resid = float((delta - x * a - y * b).norm()) / dn if dn > 0 else 0.0
        out.append({"step": int(step), "x": x, "y": y,
                    "loss": None if loss is None else float(loss), "residual": resid})
    return out


def trajectory_pca_directions(snapshots: Sequence[Tuple[int, torch.Tensor, float]],
                              center: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, List[float]]:
    """The two principal directions of the displacements θ_t − center (the plane that shows
    the most of the trajectory), scaled to ‖center‖, with the explained-variance shares.

    Uses the n×n Gram matrix of the displacements (n = number of snapshots ≥ 2), never a P×P
    one. Costs no pass.
    """
    if len(snapshots) < 2:
        raise ValueError("need at least two snapshots")
    c = center.detach().double()
    D = torch.stack([t.detach().double().to(c.device) - c for _, t, _ in snapshots])  # [n, P]
    D = D - D.mean(dim=0, keepdim=True)
    evals, evecs = torch.linalg.eigh(D @ D.T)
    order = torch.argsort(evals, descending=True)
    total = float(evals.clamp_min(0).sum())
    dirs: List[torch.Tensor] = []
    shares: List[float] = []
    for k in order[:2].tolist():
        lam = float(evals[k])
        if lam <= 0:
            raise ValueError("trajectory does not span two dimensions")
        v = D.T @ evecs[:, k]
        v = v / v.norm()
        if v[v.abs().argmax()] < 0:
            v = -v
        dirs.append((v * float(c.norm())).to(center.dtype))
        shares.append(lam / total)
    return dirs[0], dirs[1], shares
