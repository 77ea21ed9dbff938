"""Hooks that watch the user's script: optimizer steps, the loss passed to backward, AMP's loss
scale. They count steps, emit `step`/`hparams` events, trigger the measurements at the probe
steps, and stop the script after the budget by raising `StopProbe`.

Why these hooks and not torch's global optimizer hooks: those exist only from torch 2.0, and the
runtime must work on 1.13. Wrapping each optimizer instance's `step` from a patched
`Optimizer.__init__` works on every version, for every subclass, and under LR schedulers and
GradScaler (they wrap or call whatever `step` the instance has).
"""
from __future__ import annotations

import math
import sys
import time
import types
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from . import distributed
from . import hparams
from .closure import LossClosure, find_user_frames
from .events import EventSink
from .measure import Measurements
from .paramspace import ParamSpace
from .plan import Plan

# Copying the parameters every step (trajectory, update ratios) is cheap for the models a probe
# is usually run on and wasteful beyond; above this many parameters both are skipped, with a warning.
SNAPSHOT_LIMIT = 20_000_000


class StopProbe(BaseException):
    """Raised from a hook to end the user's script once the budget is spent. A BaseException so
    that the script's own `except Exception:` blocks let it through."""


class ProbeSession:
    def __init__(self, plan: Plan, sink: EventSink):
        self.plan = plan
        self.sink = sink
        self.measure = Measurements(plan, sink)
        self.optimizers: List[torch.optim.Optimizer] = []
        self.primary: Optional[torch.optim.Optimizer] = None
        self.step = 0
        self.stopping = False
        self.completed = False
        self.stop_reason: Optional[Tuple[str, str]] = None  # (kind, message) when stopped by an error
        self.last_loss: Optional[float] = None
        self.losses: List[float] = []
        self.space: Optional[ParamSpace] = None
        self.model: Optional[torch.nn.Module] = None
        self.snapshots: List[Tuple[int, torch.Tensor, Optional[float]]] = []
        self._before_step: Optional[torch.Tensor] = None
        self._scales: "weakref.WeakKeyDictionary[torch.Tensor, float]" = weakref.WeakKeyDictionary()
        self._curvature_done: set = set()
        self._last_step_end = time.monotonic()
        self._measure_seconds = 0.0
        self._originals: Dict[str, Any] = {}
        self._in_hook = False
        self._snapshot_warned = False

    # -- installation ---------------------------------------------------------------------

    def install(self) -> None:
        session = self
        original_init = torch.optim.Optimizer.__init__
        original_backward = torch.autograd.backward
        self._originals = {"init": original_init, "backward": original_backward}

        def init(opt: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> None:
            original_init(opt, *args, **kwargs)
            session._adopt(opt)

        def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            return session._on_backward(original_backward, tensors, args, kwargs)

        torch.optim.Optimizer.__init__ = init  # type: ignore[method-assign]
        torch.autograd.backward = backward  # type: ignore[assignment]
        scaler_cls = _grad_scaler_class()
        if scaler_cls is not None:
            original_scale = scaler_cls.scale
            self._originals["scale"] = (scaler_cls, original_scale)

            def scale(scaler: Any, outputs: Any) -> Any:
                scaled = original_scale(scaler, outputs)
                if isinstance(scaled, torch.Tensor) and scaler.is_enabled():
                    try:
                        session._scales[scaled] = float(scaler.get_scale())
                    except Exception:
                        pass
                return scaled

            scaler_cls.scale = scale

    def uninstall(self) -> None:
        if "init" in self._originals:
            torch.optim.Optimizer.__init__ = self._originals["init"]  # type: ignore[method-assign]
            torch.autograd.backward = self._originals["backward"]  # type: ignore[assignment]
        if "scale" in self._originals:
            cls, original = self._originals["scale"]
            cls.scale = original
        self._originals = {}

    def _adopt(self, opt: torch.optim.Optimizer) -> None:
        if any(o is opt for o in self.optimizers):
            return
        self.optimizers.append(opt)
        if self.plan.overrides:
            self._override(opt)
        original_step = opt.step
        session = self

        def step(_self: Any, *args: Any, **kwargs: Any) -> Any:
            return session._on_step(opt, original_step, args, kwargs)

        step._regscope = True  # type: ignore[attr-defined]
        # A bound method, not a plain function: LR schedulers (torch < 2) re-wrap `optimizer.step`
        # and read its `__self__` and `__func__`.
        opt.step = types.MethodType(step, opt)  # type: ignore[method-assign]

    def _override(self, opt: torch.optim.Optimizer) -> None:
        """A sweep's values, on every param group, as the optimizer is built: a scheduler made
        after it (the usual order) takes them as its base learning rates."""
        for name, value in self.plan.overrides.items():
            groups = [g for g in opt.param_groups if name in g]
            if not groups:
                self.sink.emit("warning", code="override",
                               message=f"the sweep sets {name} but {type(opt).__name__} has no such setting; ignored")
                continue
            before = sorted({float(g[name]) for g in groups if isinstance(g[name], (int, float))})
            for g in groups:
                g[name] = value
                if name == "lr" and "initial_lr" in g:
                    g["initial_lr"] = value
            was = ", ".join(f"{b:g}" for b in before)
            self.sink.emit("warning", code="override",
                           message=f"sweep: {type(opt).__name__} {name} = {value:g} on {len(groups)} param group(s) (the script had {was})")

    # -- backward: the loss ---------------------------------------------------------------

    def _on_backward(self, original: Callable[..., Any], tensors: Any, args: tuple, kwargs: dict) -> Any:
        if self.stopping:
            raise StopProbe()
        if self._in_hook or not isinstance(tensors, torch.Tensor) or tensors.numel() != 1 or not tensors.requires_grad:
            return original(tensors, *args, **kwargs)
        scale = self._scales.get(tensors, 1.0)
        loss_value = float(tensors.detach().reshape(())) / scale
        self.last_loss = loss_value
        if self.space is None and self.optimizers:
            # Once, at the first backward: which module the optimizer trains, and its parameter
            # order, so that snapshots taken from now on line up with every later measurement.
            frames = find_user_frames(sys._getframe(1))
            if self.model is None:
                self.model = _find_model(frames, self._primary_or_first())
            del frames
            self._param_space()
        probe_step = self.step + 1
        measuring = (probe_step in self.plan.probe_steps and probe_step not in self._curvature_done
                     and math.isfinite(loss_value))
        closure: Optional[LossClosure] = None
        if measuring:
            self._curvature_done.add(probe_step)
            started = time.monotonic()
            self._in_hook = True
            try:
                frames = find_user_frames(sys._getframe(1))
                closure = self._capture(frames)
                del frames
                space = self._param_space()
                if space is not None:
                    loss = tensors / scale if scale != 1.0 else tensors
                    self.measure.curvature(loss, space, self._primary_or_first(), probe_step,
                                           last=probe_step == self.plan.last_step)
            finally:
                self._in_hook = False
                self._measure_seconds += time.monotonic() - started
        result = original(tensors, *args, **kwargs)
        if measuring and self.space is not None:
            # After the user's backward the graph is freed, so moving the parameters for the
            # landscape cannot break it; they are still θ_t because the step has not run yet.
            started = time.monotonic()
            self._in_hook = True
            try:
                self.measure.after_backward(closure, self.space, self.model, self._primary_or_first(),
                                            probe_step, last=probe_step == self.plan.last_step,
                                            trajectory=self.snapshots, loss_value=loss_value)
            finally:
                self._in_hook = False
                self._measure_seconds += time.monotonic() - started
        return result

    def _capture(self, frames: list) -> Optional[LossClosure]:
        spec = self.plan.closure
        if spec is None:
            return None
        closure, why = LossClosure.capture(spec, frames)
        if closure is None:
            self.sink.emit("warning", code="no-closure",
                           message=f"could not re-evaluate `{spec.loss}`: {why}; landscape and noise need it")
            return None
        return closure

    def _param_space(self) -> Optional[ParamSpace]:
        if self.space is not None:
            return self.space
        opt = self._primary_or_first()
        if opt is None:
            return None
        names = {id(p): n for n, p in self.model.named_parameters()} if self.model is not None else {}
        named = []
        for g, group in enumerate(opt.param_groups):
            for i, p in enumerate(group["params"]):
                named.append((names.get(id(p), f"group{g}.param{i}"), p))
        if names:
            order = {n: k for k, n in enumerate(names.values())}
            named.sort(key=lambda item: order.get(item[0], len(order)))
        try:
            self.space = ParamSpace(named)
        except ValueError as e:
            self.sink.emit("warning", code="no-params", message=str(e))
            return None
        return self.space

    def _primary_or_first(self) -> Optional[torch.optim.Optimizer]:
        return self.primary or (self.optimizers[0] if self.optimizers else None)

    # -- step: counting, events, stopping -------------------------------------------------

    def _on_step(self, opt: torch.optim.Optimizer, original: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if self.stopping:
            raise StopProbe()
        if self.primary is None:
            self.primary = opt
        if opt is not self.primary:
            return original(*args, **kwargs)
        step_no = self.step + 1
        grad_norm = _grad_norm(opt)
        space = self.space
        before = None
        if space is not None and space.numel > SNAPSHOT_LIMIT and not self._snapshot_warned:
            self._snapshot_warned = True
            self.sink.emit("warning", code="no-trajectory",
                           message=f"{space.numel:,} parameters: the trajectory and update ratios are skipped "
                                   f"(they copy the parameters every step; the limit is {SNAPSHOT_LIMIT:,})")
        if space is not None and space.numel <= SNAPSHOT_LIMIT:
            before = space.values()
            self.snapshots.append((step_no - 1, before.cpu(), self.last_loss))
        result = original(*args, **kwargs)
        self.step = step_no
        now = time.monotonic()
        seconds = now - self._last_step_end - self._measure_seconds
        self._last_step_end, self._measure_seconds = now, 0.0
        update_ratio = None
        if before is not None and space is not None:
            after = space.values()
            norm = float(before.norm())
            update_ratio = float((after - before).norm()) / norm if norm > 0 else None
            if step_no in self.plan.probe_steps:
                self.measure.update_ratios(before, after, space, step_no)
        # Under torchrun, the global batch's loss: the mean of the ranks' (every rank steps alike).
        loss = None if self.last_loss is None else distributed.mean_float(self.last_loss)
        if loss is not None:
            self.losses.append(loss)
        self.sink.emit("step", step=step_no, loss=loss, lr=hparams.primary_lr(opt), gradNorm=grad_norm,
                       seconds=round(max(seconds, 0.0), 6), updateRatio=update_ratio)
        if step_no == 1 or step_no in self.plan.probe_steps:
            self.sink.emit("hparams", step=step_no, optimizers=hparams.optimizers_record(self.optimizers),
                           device=str(_device_of(opt)))
        if loss is not None and not math.isfinite(loss):
            self.stop_reason = ("nan", f"the loss is {loss} at step {step_no}")
            self.stopping = True
            raise StopProbe()
        if step_no >= self.plan.last_step:
            self.completed = True
            self.stopping = True
            raise StopProbe()
        return result


def _grad_scaler_class() -> Any:
    for path in ("torch.amp.grad_scaler", "torch.cuda.amp.grad_scaler"):
        module = sys.modules.get(path)
        if module is None:
            try:
                __import__(path)
                module = sys.modules[path]
            except Exception:
                continue
        cls = getattr(module, "GradScaler", None)
        if cls is not None:
            return cls
    return None


def _grad_norm(opt: torch.optim.Optimizer) -> Optional[float]:
    grads = [p.grad.detach().reshape(-1) for g in opt.param_groups for p in g["params"] if p.grad is not None]
    if not grads:
        return None
    total = float(torch.cat(grads).float().norm())
    return total if math.isfinite(total) else None


def _device_of(opt: torch.optim.Optimizer) -> torch.device:
    for group in opt.param_groups:
        for p in group["params"]:
            return p.device
    return torch.device("cpu")


def _find_model(frames: list, opt: Optional[torch.optim.Optimizer]) -> Optional[torch.nn.Module]:
    """The nn.Module in the user's frames that owns the most of the optimizer's parameters."""
    if opt is None:
        return None
    wanted = {id(p) for g in opt.param_groups for p in g["params"]}
    best, best_score = None, 0
    seen: set = set()
    for frame in frames:
        for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
            if not isinstance(value, torch.nn.Module) or id(value) in seen:
                continue
            seen.add(id(value))
            ids = {id(p) for p in value.parameters()}
            score = len(ids & wanted)
            if score > best_score or (score == best_score and best is not None and len(ids) < len(list(best.parameters()))):
                best, best_score = value, score
    return best
