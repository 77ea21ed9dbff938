"""Leave the user's training exactly as it was: RNG streams and module buffers are saved before a
measurement that runs the model and restored after it."""
from __future__ import annotations

import contextlib
from typing import Iterator, List, Optional

import torch


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


@contextlib.contextmanager
def preserved_buffers(modules: List[Optional[torch.nn.Module]]) -> Iterator[None]:
    """BatchNorm running statistics (and every other buffer) as they were before."""
    saved = []
    for module in modules:
        if module is None:
            continue
        for buffer in module.buffers():
            saved.append((buffer, buffer.detach().clone()))
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)
