"""Hessian-vector products on the loss graph the script built.

`HessianOperator.from_loss` takes the first-order gradient with `create_graph=True` once; every
product H·v then differentiates ⟨∇L, v⟩ through that graph (Pearlmutter's trick as double
backward), so a probe step pays for the forward pass once, however many HVPs it needs.
"""
from __future__ import annotations

from typing import List, Optional

import torch

from . import distributed
from .paramspace import ParamSpace


class HessianOperator:
    """v ↦ H·v at the parameters and batch of the captured loss; counts its products."""

    method = "double-backward"

    def __init__(self, space: ParamSpace, grads: List[Optional[torch.Tensor]]):
        self.space = space
        self.dim = space.numel
        self.hvps = 0
        self._grads = grads
        # Under torchrun: the global gradient and HVPs, the mean of the ranks' (distributed.py).
        self.gradient = distributed.mean(space.flatten([None if g is None else g.detach() for g in grads]))

    @staticmethod
    def from_loss(loss: torch.Tensor, space: ParamSpace) -> "HessianOperator":
        grads = torch.autograd.grad(loss, space.params, create_graph=True, allow_unused=True)
        return HessianOperator(space, list(grads))

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        pairs = [(g, p, vv) for g, p, vv in zip(self._grads, self.space.params, self.space.unflatten(v))
                 if g is not None and g.requires_grad]
        self.hvps += 1
        if not pairs:
            return torch.zeros_like(v)
        gs, ps, vs = zip(*pairs)
        hv = torch.autograd.grad(gs, ps, grad_outputs=vs, retain_graph=True, allow_unused=True)
        lookup = {id(p): h for p, h in zip(ps, hv)}
        return distributed.mean(self.space.flatten([lookup.get(id(p)) for p in self.space.params]).detach())

    def release(self) -> None:
        """Drop the graph of the first-order gradient (the user's own graph stays for their backward)."""
        self._grads = []


class PreconditionedOperator:
    """v ↦ D·H·D·v with D diagonal: the Hessian as a preconditioned optimizer sees it."""

    def __init__(self, op: HessianOperator, d: torch.Tensor):
        self.op = op
        self.d = d
        self.dim = op.dim

    @property
    def hvps(self) -> int:
        return self.op.hvps

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        return self.d * self.op.matvec(self.d * v)


def adam_preconditioner(optimizer: torch.optim.Optimizer, space: ParamSpace) -> Optional[torch.Tensor]:
    """D = P^{-1/2} with P = √v̂ + ε from the optimizer's own second-moment state (Adam, AdamW and
    anything keeping `exp_avg_sq`). None before the first step, when the state is missing."""
    eps_of, beta2_of, amsgrad_of = {}, {}, {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            eps_of[id(p)] = float(group.get("eps", 1e-8))
            betas = group.get("betas", (0.9, 0.999))
            beta2_of[id(p)] = float(betas[1])
            amsgrad_of[id(p)] = bool(group.get("amsgrad", False))
    parts = []
    for p in space.params:
        state = optimizer.state.get(p)
        if not state or "exp_avg_sq" not in state or id(p) not in eps_of:
            return None
        step = state.get("step", 0)
        step = float(step.item() if isinstance(step, torch.Tensor) else step)
        if step <= 0:
            return None
        v = state["max_exp_avg_sq"] if amsgrad_of[id(p)] and "max_exp_avg_sq" in state else state["exp_avg_sq"]
        v_hat = v.detach() / (1.0 - beta2_of[id(p)] ** step)
        parts.append((v_hat.sqrt() + eps_of[id(p)]).reshape(-1).to(space.dtype))
    return torch.cat(parts).rsqrt()
