"""Re-evaluating the user's loss at other parameters or on part of the batch.

The static analyzer names the loss expression and the batch variables (`criterion(model(x), y)`,
batch `x`, `y`). At a probe step the harness finds the frame of the user's script that is
calling `backward`, keeps its globals and a snapshot of its locals (so the batch tensors stay
alive), and evaluates the expression there. Micro-batches substitute slices of the batch
variables; nothing else in the user's namespace changes.
"""
from __future__ import annotations

import os
import types
from typing import Any, Dict, List, Optional, Tuple

import torch

from .plan import Closure

_HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))


def _is_library_frame(frame: types.FrameType) -> bool:
    filename = os.path.abspath(frame.f_code.co_filename)
    return filename.startswith(_HARNESS_DIR) or filename.startswith(_TORCH_DIR)


def find_user_frames(start: Optional[types.FrameType]) -> List[types.FrameType]:
    """Frames on the stack outside torch and the harness, innermost first."""
    frames, frame = [], start
    while frame is not None:
        if not _is_library_frame(frame):
            frames.append(frame)
        frame = frame.f_back
    return frames


class LossClosure:
    """`loss()` on the full captured batch, `loss(micro=i, of=m)` on micro-batch i of m."""

    def __init__(self, spec: Closure, globals_: Dict[str, Any], locals_: Dict[str, Any]):
        self.spec = spec
        self.code = compile(spec.loss, f"<regscope closure line {spec.line}>", "eval")
        self.globals = globals_
        self.locals = locals_
        self.batch_size = self._batch_size()

    @staticmethod
    def capture(spec: Closure, frames: List[types.FrameType]) -> Tuple[Optional["LossClosure"], str]:
        """Pick the innermost user frame that holds every batch variable (and the model)."""
        needed = list(spec.batch) + ([spec.model] if spec.model and "." not in spec.model else [])
        for frame in frames:
            names = {**frame.f_globals, **frame.f_locals}
            if all(n in names for n in needed):
                closure = LossClosure(spec, frame.f_globals, dict(frame.f_locals))
                return closure, ""
        return None, f"no frame on the stack holds {', '.join(needed) or 'the loss variables'}"

    def _batch_size(self) -> Optional[int]:
        for name in self.spec.batch:
            value = self._lookup(name)
            tensor = _first_tensor(value)
            if tensor is not None and tensor.dim() > 0:
                return int(tensor.shape[0])
        return None

    def _lookup(self, name: str) -> Any:
        if name in self.locals:
            return self.locals[name]
        return self.globals.get(name)

    def __call__(self, micro: Optional[int] = None, of: int = 1) -> torch.Tensor:
        scope = dict(self.locals)
        if micro is not None:
            for name in self.spec.batch:
                scope[name] = _slice(self._lookup(name), micro, of, self.batch_size)
        value = eval(self.code, self.globals, scope)  # noqa: S307 - the user's own code, in its own frame
        if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
            value = value[0]  # `loss, logits = compute(...)`
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"the loss expression `{self.spec.loss}` gave {type(value).__name__}, not a tensor")
        if value.numel() != 1:
            value = value.mean()
        return value.reshape(())


def _first_tensor(value: Any) -> Optional[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        for v in value.values():
            if isinstance(v, torch.Tensor):
                return v
    if isinstance(value, (list, tuple)):
        for v in value:
            if isinstance(v, torch.Tensor):
                return v
    return None


def _slice(value: Any, i: int, of: int, batch_size: Optional[int]) -> Any:
    """Micro-batch i of `of` of a batch variable: tensors (and dicts/tuples of them) whose first
    dimension is the batch size are sliced; anything else passes through unchanged."""
    if batch_size is None:
        return value
    size = batch_size // of
    lo, hi = i * size, (i + 1) * size
    if isinstance(value, torch.Tensor):
        return value[lo:hi] if value.dim() > 0 and value.shape[0] == batch_size else value
    if isinstance(value, dict):
        return {k: _slice(v, i, of, batch_size) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_slice(v, i, of, batch_size) for v in value)
    if isinstance(value, list):
        return [_slice(v, i, of, batch_size) for v in value]
    return value

