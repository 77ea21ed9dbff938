"""Live hyperparameters read from the optimizers' param groups: the ground truth the editor shows
beside what the static analysis resolved."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch


def _number(value: Any) -> Optional[float]:
    if isinstance(value, torch.Tensor):
        return float(value.detach().reshape(-1)[0]) if value.numel() else None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def group_values(group: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"lr": _number(group.get("lr")) or 0.0,
                           "numel": sum(p.numel() for p in group.get("params", []))}
    momentum = _number(group.get("momentum"))
    if momentum is not None:
        out["momentum"] = momentum
    betas = group.get("betas")
    if isinstance(betas, (tuple, list)) and len(betas) == 2:
        values = [_number(b) for b in betas]
        if all(v is not None for v in values):
            out["betas"] = values
    eps = _number(group.get("eps"))
    if eps is not None:
        out["eps"] = eps
    wd = _number(group.get("weight_decay"))
    if wd is not None:
        out["weightDecay"] = wd
    if isinstance(group.get("nesterov"), bool):
        out["nesterov"] = group["nesterov"]
    return out


def optimizer_record(index: int, optimizer: torch.optim.Optimizer) -> Dict[str, Any]:
    return {
        "index": index,
        "class": type(optimizer).__name__,
        "groups": [{"index": i, **group_values(g)} for i, g in enumerate(optimizer.param_groups)],
    }


def primary_lr(optimizer: torch.optim.Optimizer) -> float:
    return _number(optimizer.param_groups[0].get("lr")) or 0.0


def optimizers_record(optimizers: List[torch.optim.Optimizer]) -> List[Dict[str, Any]]:
    return [optimizer_record(i, o) for i, o in enumerate(optimizers)]
