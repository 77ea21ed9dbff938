"""The measurements at a probe step, turned into `metric` events.

Two moments per probe step:
- `curvature` runs inside the hook on `backward`, before the user's backward, and reuses the
  loss graph for every Hessian-vector product (HVP);
- `after_backward` runs right after the user's backward, before the optimizer step: the graph is
  freed and the parameters are still θ_t, so the landscape can move them (and put them back),
  and the closure can be re-evaluated on micro-batches.

Intermediate probe steps get the cheap numbers (top eigenvalues, trace, stability, collapse); the
last probe step gets everything. Each measurement is isolated: one that fails becomes a
`warning` event and the others still run. The measurement modules are imported where they are
used for the same reason: one that cannot load costs its own numbers only.
"""
from __future__ import annotations

import math
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from . import distributed
from .closure import LossClosure
from .events import EventSink
from .hparams import group_values
from .paramspace import ParamSpace
from .plan import Plan
from .preserve import preserved_buffers, preserved_rng


# λ₁ converges first in Lanczos: 15 steps give it to well under 1 % on the models tested, which is
# enough for the curve over probe steps and for the preconditioned (Adam) sharpness.
INTERMEDIATE_LANCZOS_STEPS = 15


class Measurements:
    def __init__(self, plan: Plan, sink: EventSink):
        self.plan = plan
        self.sink = sink
        self.hvps = 0
        self.passes = 0
        self.top_vectors: Optional[torch.Tensor] = None
        self.top: Dict[int, float] = {}
        self.previous_logit_norm: Optional[float] = None
        self.hvp_method = "double-backward"
        self.hvp_seconds: List[float] = []

    def _generator(self, salt: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.plan.seed * 1_000_003 + salt)

    def _metric(self, name: str, step: int, started: float, hvps: int = 0, passes: int = 0, **fields: Any) -> None:
        self.hvps += hvps
        self.passes += passes
        self.sink.emit("metric", name=name, step=step,
                       cost={"hvps": hvps, "passes": passes, "seconds": round(time.monotonic() - started, 4)},
                       **fields)

    def _isolated(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as e:  # one measurement failing must not end the others or the run
            self.sink.emit("warning", code="measure-failed",
                           message=f"{what} failed: {type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}")

    def _progress(self, phase: str, done: int, total: int, message: str = "") -> None:
        self.sink.emit("progress", phase=phase, done=done, total=total, message=message)

    # -- curvature (inside backward) --------------------------------------------------------

    def curvature(self, loss: torch.Tensor, space: ParamSpace, optimizer: Optional[torch.optim.Optimizer],
                  step: int, last: bool) -> None:
        if not self.plan.wants("hessian"):
            return
        cfg = self.plan.hessian
        started = time.monotonic()
        self._progress("hessian", 0, 4 if last else 1, f"step {step}: building the Hessian operator")
        try:
            from .hvp import HessianOperator

            op = HessianOperator.from_loss(loss, space)
        except Exception as e:
            self.sink.emit("warning", code="measure-failed", message=f"Hessian operator failed: {type(e).__name__}: {e}")
            return
        self.hvp_method = op.method
        try:
            result_box: Dict[str, Any] = {}
            self._isolated("top eigenvalues", lambda: self._top(op, space, step, last, cfg, result_box))
            if last:
                self._isolated("trace", lambda: self._trace(op, space, step, cfg, result_box))
                self._isolated("spectral density", lambda: self._density(op, step, cfg, result_box))
            self._isolated("stability", lambda: self._stability(op, space, optimizer, step, result_box))
        finally:
            op.release()
        self._progress("hessian", 1, 1, f"step {step}: curvature done in {time.monotonic() - started:.1f} s")

    def _top(self, op: Any, space: ParamSpace, step: int, last: bool, cfg: Dict[str, Any],
             box: Dict[str, Any]) -> None:
        from . import lanczos, noise

        started = time.monotonic()
        steps = int(cfg["lanczosSteps"]) if last else min(INTERMEDIATE_LANCZOS_STEPS, int(cfg["lanczosSteps"]))
        before = op.hvps
        result = lanczos.lanczos(op, steps=min(steps, space.numel), k=min(int(cfg["topK"]), space.numel),
                                 generator=self._generator(step), keep_vectors=last)
        box["lanczos"] = result
        if last:
            self.top_vectors = result.vectors
        self.top[step] = result.eigenvalues[0]
        if result.hvps:
            self.hvp_seconds.append((time.monotonic() - started) / result.hvps)
        self._metric("hessian.top", step, started, hvps=op.hvps - before, value=result.eigenvalues[0],
                     uncertainty={"kind": "residual", "halfWidth": result.residuals[0]},
                     data={"eigenvalues": result.eigenvalues, "residuals": result.residuals,
                           "lanczosSteps": result.steps})
        if last:
            g = op.gradient
            share = noise.gradient_alignment(g, result.vectors) if result.vectors is not None else None
            if share is not None:
                self._metric("noise.alignment", step, started, value=share, data={"k": len(result.eigenvalues)})

    def _trace(self, op: Any, space: ParamSpace, step: int, cfg: Dict[str, Any], box: Dict[str, Any]) -> None:
        from . import hutchinson

        started = time.monotonic()
        before = op.hvps
        top = box.get("lanczos")
        deflate = top.vectors if top is not None else None
        # The k products that make the top eigenspace's share exact come out of the probe budget.
        probes = int(cfg["traceMaxProbes"]) - (deflate.shape[0] if deflate is not None else 0)
        result = hutchinson.hutchinson_trace(op, space.blocks, max_probes=max(5, probes), deflate=deflate,
                                             rel_tol=float(cfg["traceRelTol"]), generator=self._generator(step + 17))
        box["trace"] = result
        self._metric("hessian.trace", step, started, hvps=op.hvps - before, value=result.trace,
                     uncertainty={"kind": "ci95", "halfWidth": result.half_width,
                                  "low": result.trace - result.half_width, "high": result.trace + result.half_width},
                     layers=[{"name": name, "value": value, "uncertainty": {"kind": "ci95", "halfWidth": hw}}
                             for name, value, hw in result.per_block],
                     data={"probes": result.probes, "estimates": result.estimates, "converged": result.converged})

    def _density(self, op: Any, step: int, cfg: Dict[str, Any], box: Dict[str, Any]) -> None:
        from . import density

        started = time.monotonic()
        before = op.hvps
        result = density.slq_density(op, probes=max(3, int(cfg["densityProbes"])), steps=int(cfg["densitySteps"]),
                                     generator=self._generator(step + 29), outliers=box.get("lanczos"))
        self._metric("hessian.density", step, started, hvps=op.hvps - before, value=result.implied_trace,
                     uncertainty={"kind": "stderr", "halfWidth": result.implied_trace_stderr},
                     data={"grid": _floats(result.grid), "density": _floats(result.density),
                           "outliers": _floats(result.outliers), "nodes": [_floats(n) for n in result.nodes],
                           "weights": [_floats(w) for w in result.weights], "sigma": result.sigma})

    def _stability(self, op: Any, space: ParamSpace, optimizer: Optional[torch.optim.Optimizer],
                   step: int, box: Dict[str, Any]) -> None:
        from . import lanczos, stability
        from .hvp import PreconditionedOperator, adam_preconditioner

        if optimizer is None or "lanczos" not in box:
            return
        started = time.monotonic()
        before = op.hvps
        group = optimizer.param_groups[0]
        preconditioned_top = None
        d = adam_preconditioner(optimizer, space) if "betas" in group else None
        if d is not None:
            pre = PreconditionedOperator(op, d)
            result = lanczos.lanczos(pre, steps=min(INTERMEDIATE_LANCZOS_STEPS, space.numel), k=1,
                                     generator=self._generator(step + 41))
            preconditioned_top = result.eigenvalues[0]
        trace = box["trace"].trace if "trace" in box else None
        lr = group_values(group)["lr"]
        for ratio in stability.stability_ratios(type(optimizer).__name__, group, box["lanczos"].eigenvalues[0],
                                                trace, preconditioned_top):
            name = "stability.sgd_trace" if ratio["rule"] == "sgd_trace" else "stability.sharpness"
            self._metric(name, step, started, hvps=op.hvps - before, value=ratio["ratio"],
                         data={**ratio, "lr": lr})
            before = op.hvps

    # -- after the user's backward ---------------------------------------------------------

    def after_backward(self, closure: Optional[LossClosure], space: ParamSpace, model: Optional[torch.nn.Module],
                       optimizer: Optional[torch.optim.Optimizer], step: int, last: bool,
                       trajectory: List[Tuple[int, torch.Tensor, Optional[float]]], loss_value: float) -> None:
        modules = [model] if model is not None else []
        with preserved_rng(), preserved_buffers(modules):
            if self.plan.wants("collapse") and closure is not None and model is not None:
                self._isolated("softmax collapse", lambda: self._collapse(closure, space, model, step))
            if not last:
                return
            if self.plan.wants("weights"):
                self._isolated("weight spectra", lambda: self._weights(space, step))
            if closure is None:
                if self.plan.wants("landscape") or self.plan.wants("noise"):
                    self.sink.emit("warning", code="no-closure",
                                   message="no loss expression to re-evaluate: landscape and gradient noise were skipped"
                                   if self.plan.closure is None else
                                   "the loss expression could not be evaluated: landscape and gradient noise were skipped")
                return
            if self.plan.wants("hessian"):
                self._isolated("timing", lambda: self._timing(closure, space, step))
            if self.plan.wants("noise"):
                self._isolated("gradient noise", lambda: self._noise(closure, space, step))
            if self.plan.wants("landscape"):
                self._isolated("landscape", lambda: self._landscape(closure, space, modules, step, trajectory, loss_value))

    def _timing(self, closure: LossClosure, space: ParamSpace, step: int) -> None:
        """One forward+backward on the probe batch, timed, beside the mean time of one HVP: the cost
        ratio probes.md targets (≤ 3×)."""
        if not self.hvp_seconds:
            return
        started = time.monotonic()
        runs = []
        for _ in range(3):
            _sync(space.device)
            t0 = time.perf_counter()
            torch.autograd.grad(closure(), space.params, allow_unused=True)
            _sync(space.device)
            runs.append(time.perf_counter() - t0)
        fb = sorted(runs)[1]
        hvp = sum(self.hvp_seconds) / len(self.hvp_seconds)
        self._metric("cost.hvp_ratio", step, started, passes=3, value=hvp / fb if fb > 0 else None,
                     data={"forwardBackwardSeconds": fb, "hvpSeconds": hvp, "method": self.hvp_method})

    def _collapse(self, closure: LossClosure, space: ParamSpace, model: torch.nn.Module, step: int) -> None:
        from . import collapse

        started = time.monotonic()
        outputs: List[torch.Tensor] = []
        handle = model.register_forward_hook(lambda _m, _i, out: outputs.append(out) if isinstance(out, torch.Tensor) else None)
        try:
            torch.manual_seed(self.plan.seed)
            with torch.no_grad():
                closure()
        finally:
            handle.remove()
        if not outputs:
            return
        logits = outputs[-1]
        # The class dimension as PyTorch's losses read it: last for (N, C) and (N, T, C) outputs
        # (classifiers, language models), 1 for (N, C, H, W…) dense outputs (segmentation).
        class_dim = -1 if logits.dim() <= 3 else 1
        if logits.dim() < 2 or logits.shape[class_dim] < 2 or not logits.is_floating_point():
            return  # a regression head or a non-logit output: softmax collapse does not apply
        result = collapse.softmax_collapse(logits, self.previous_logit_norm, space.grads(), space.values(),
                                           class_dim=class_dim)
        level, reasons = collapse.collapse_risk(result)
        result = {**result, "risk": level, "reasons": reasons}
        self.previous_logit_norm = result.get("logitNorm")
        self._metric("collapse.softmax", step, started, passes=1, value=result.get("saturated"), data=result)

    def _weights(self, space: ParamSpace, step: int) -> None:
        from . import weights

        started = time.monotonic()
        layers = weights.weight_spectra(list(zip(space.names, space.params)))
        alphas = [l["alpha"] for l in layers if l.get("alpha") is not None]
        self._metric("weights.alpha", step, started, value=_median(alphas),
                     layers=[{"name": l["layer"], "value": l.get("alpha")} for l in layers],
                     data={"layers": layers})

    def update_ratios(self, before: torch.Tensor, after: torch.Tensor, space: ParamSpace, step: int) -> None:
        if not self.plan.wants("weights"):
            return
        started = time.monotonic()

        def run() -> None:
            from . import weights

            ratios = weights.update_ratios(before, after, space.blocks)
            overall = next((r for name, r in ratios if name == "*"), None)
            self._metric("weights.update_ratio", step, started, value=overall,
                         layers=[{"name": name, "value": ratio} for name, ratio in ratios if name != "*"])

        self._isolated("update ratios", run)

    def _noise(self, closure: LossClosure, space: ParamSpace, step: int) -> None:
        from . import noise, tail_index

        started = time.monotonic()
        batch = closure.batch_size
        if batch is None or batch < 2:
            self.sink.emit("warning", code="noise-batch", message="gradient noise needs a batch of at least 2 examples")
            return
        # Under torchrun each rank splits its shard and the ranks' micro-batches are gathered:
        # asking each for 1/world of them keeps the global count (and size) of a single process.
        m = noise.choose_micro_batches(batch, max(2, int(self.plan.noise["microBatches"]) // distributed.world_size()))
        self._progress("noise", 0, m, f"{m} micro-batches of {batch // m}")
        grads = noise.micro_batch_gradients(lambda i: closure(i, m), m, space)
        micro = batch // m
        scale = noise.gradient_noise_scale(grads, micro, generator=self._generator(step + 53))
        self._metric("noise.scale", step, started, passes=m, value=scale.b_simple,
                     uncertainty={"kind": "interval90", "low": scale.low, "high": scale.high},
                     data={"batchSize": scale.batch_size, "microBatch": scale.micro_batch,
                           "trSigma": scale.tr_sigma, "gradNormSq": scale.grad_norm_sq, "reason": scale.reason})
        started = time.monotonic()
        spectrum = noise.noise_spectrum(grads, space.blocks, micro)
        self._metric("noise.spectrum", step, started, value=spectrum["spike"],
                     layers=[{"name": l["name"], "value": l["spike"]} for l in spectrum["layers"]],
                     data=spectrum)
        started = time.monotonic()
        g = noise.gsnr(grads, space.blocks, micro)
        self._metric("noise.gsnr", step, started, value=g["overall"],
                     layers=[{"name": l["name"], "value": l["gsnr"]} for l in g["layers"]],
                     data={"microBatch": micro})
        started = time.monotonic()
        tail = tail_index.gradient_tail_index(grads)
        self._metric("noise.tail_index", step, started, value=tail.alpha,
                     data={"k1": tail.k1, "samples": tail.samples})

    def _landscape(self, closure: LossClosure, space: ParamSpace, modules: List[torch.nn.Module], step: int,
                   trajectory: List[Tuple[int, torch.Tensor, Optional[float]]], loss_value: float) -> None:
        from . import landscape

        cfg = self.plan.landscape
        started = time.monotonic()
        center = space.values()
        points = [(s, theta.to(center.device), loss) for s, theta, loss in trajectory]
        if not points or points[-1][0] != step - 1:
            points.append((step - 1, center, loss_value))  # the trajectory ends at the plot's centre
        kind = cfg["directions"]
        if kind == "eigen" and self.top_vectors is not None and self.top_vectors.shape[0] >= 2:
            d1, d2 = landscape.eigen_directions(self.top_vectors)
        elif kind == "pca" and len(points) >= 3:
            d1, d2, _ = landscape.trajectory_pca_directions(points[:-1], center)
            d1, d2 = d1.to(center.dtype), d2.to(center.dtype)
        else:
            if kind != "random":
                self.sink.emit("warning", code="landscape-directions",
                               message=f"{kind} directions need {'the top Hessian eigenvectors (measure hessian too)' if kind == 'eigen' else 'at least 3 trajectory points'}; using random filter-normalized directions")
            d1 = landscape.filter_normalized_direction(space, self._generator(step + 61))
            d2 = landscape.filter_normalized_direction(space, self._generator(step + 67))
            kind = "random"
        probe = landscape.LossProbe(lambda: closure(), space, modules, seed=self.plan.seed)
        path = landscape.project_trajectory(points, center, d1, d2) if points else []
        last_emit = [0.0]

        def emit(result: Dict[str, Any], final: bool) -> None:
            now = time.monotonic()
            if not final and now - last_emit[0] < 0.25 and result.get("complete") is False and last_emit[0] > 0:
                return
            last_emit[0] = now
            self._metric("landscape.2d", step, started, passes=0 if not final else probe.passes,
                         value=result.get("center_loss"),
                         data={"xs": result["xs"], "ys": result["ys"], "loss": result["loss"], "directions": kind,
                               "complete": bool(result.get("complete")), "trajectory": path,
                               "trainingLoss": loss_value})

        with probe:
            result = landscape.landscape_2d(probe, center, d1, d2, grid=int(cfg["grid"]), preview=int(cfg["preview"]),
                                            span=float(cfg["span"]), refine=bool(cfg["refine"]),
                                            on_update=lambda partial: emit(partial, False))
            emit(result, True)
            if not cfg["refine"]:
                return  # the default probe draws the 2D preview; the 1D slice comes with the full grid
            started = time.monotonic()
            before = probe.passes
            line = landscape.landscape_1d(probe, center, d1, points=21, span=float(cfg["span"]))
            self._metric("landscape.1d", step, started, passes=probe.passes - before, value=line.get("center_loss"),
                         data={"xs": line["xs"], "loss": line["loss"], "direction": kind})


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _floats(values: Any) -> List[float]:
    if isinstance(values, torch.Tensor):
        return [float(v) for v in values.detach().reshape(-1).cpu()]
    return [float(v) for v in values]


def _median(values: List[float]) -> Optional[float]:
    finite = sorted(v for v in values if v is not None and math.isfinite(v))
    if not finite:
        return None
    mid = len(finite) // 2
    return finite[mid] if len(finite) % 2 else 0.5 * (finite[mid - 1] + finite[mid])
