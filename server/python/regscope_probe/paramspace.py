"""The trained parameters seen as one flat vector, split into per-layer blocks.

Every measurement works on flat vectors (one tensor of length P on the parameters' device):
Lanczos and Hutchinson need dot products and norms over the whole model, and per-layer
quantities are slices `v[block.start:block.end]` of the same vectors, so a per-layer number
costs nothing extra.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List, Sequence, Tuple

import torch


@dataclass
class Block:
    """One layer: the parameters that share a module path, as a slice of the flat vector."""

    name: str
    start: int
    end: int
    param_names: List[str] = field(default_factory=list)

    @property
    def numel(self) -> int:
        return self.end - self.start


def layer_name(param_name: str) -> str:
    """`features.0.weight` → `features.0`; a top-level parameter keeps its own name."""
    head, sep, _ = param_name.rpartition(".")
    return head if sep else param_name


class ParamSpace:
    """Parameters (those that require grad), their names, and their per-layer blocks."""

    def __init__(self, named: Sequence[Tuple[str, torch.Tensor]]):
        named = [(n, p) for n, p in named if p.requires_grad]
        if not named:
            raise ValueError("no trainable parameters")
        self.names: List[str] = [n for n, _ in named]
        self.params: List[torch.Tensor] = [p for _, p in named]
        self.blocks: List[Block] = []
        offset = 0
        for name, p in named:
            layer = layer_name(name)
            n = p.numel()
            last = self.blocks[-1] if self.blocks else None
            if last is not None and last.name == layer and last.end == offset:
                last.end += n
                last.param_names.append(name)
            else:
                self.blocks.append(Block(layer, offset, offset + n, [name]))
            offset += n
        self.numel = offset
        self.device = self.params[0].device
        self.dtype = self.params[0].dtype

    @staticmethod
    def from_module(module: torch.nn.Module) -> "ParamSpace":
        return ParamSpace(list(module.named_parameters()))

    def flatten(self, tensors: Iterable[torch.Tensor | None]) -> torch.Tensor:
        """Concatenate per-parameter tensors (None → zeros) into one flat vector."""
        parts = []
        for t, p in zip(tensors, self.params):
            parts.append(torch.zeros_like(p).reshape(-1) if t is None else t.reshape(-1))
        return torch.cat(parts)

    def unflatten(self, vec: torch.Tensor) -> List[torch.Tensor]:
        """Split a flat vector into views shaped like each parameter."""
        out, offset = [], 0
        for p in self.params:
            n = p.numel()
            out.append(vec[offset:offset + n].view_as(p))
            offset += n
        return out

    def values(self) -> torch.Tensor:
        """The current parameter values as a flat vector (a copy, detached)."""
        return torch.cat([p.detach().reshape(-1) for p in self.params]).clone()

    @torch.no_grad()
    def assign(self, vec: torch.Tensor) -> None:
        """Write a flat vector into the parameters in place (keeps tensor identity)."""
        for p, v in zip(self.params, self.unflatten(vec)):
            p.copy_(v)

    def grads(self) -> torch.Tensor:
        """The parameters' `.grad` as a flat vector (zeros where None)."""
        return self.flatten([p.grad for p in self.params])
