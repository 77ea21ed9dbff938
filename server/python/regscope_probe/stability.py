"""Sharpness against the learning rate's stability threshold.

Gradient descent on a quadratic diverges along an eigendirection once η·λ > 2, so λ₁ < 2/η is
where full-batch training can stay (Gradient Descent on Neural Networks Typically Occurs at the
Edge of Stability). Heavy-ball momentum β moves the limit to (2 + 2β)/η. Adam's effective step is
preconditioned, so the quantity is λ₁(P^{-1/2} H P^{-1/2}) with P = √v̂ + ε from its own state,
against (2 + 2β₁)/((1 − β₁)η), 38/η at β₁ = 0.9 (Adaptive Gradient Methods at the Edge of
Stability). For SGD, linear stability of the noisy dynamics bounds the trace: tr(H) ≲ 2/η (The
Implicit Regularization of Dynamical Stability in Stochastic Gradient Descent).

Nesterov momentum uses the heavy-ball limit here; its exact limit is (2 + 2β)/((1 + 2β)η), lower,
so the reported ratio understates how close a Nesterov run is (noted on the result).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional


def _float(x: Any, default: float = 0.0) -> float:
    try:
        return float(x.item() if hasattr(x, "item") else x)
    except (TypeError, ValueError):
        return default


def stability_ratios(optimizer_class: str, group: Dict[str, Any], top_eigenvalue: float, trace: Optional[float],
                     preconditioned_top: Optional[float]) -> List[Dict[str, Any]]:
    lr = _float(group.get("lr"))
    if lr <= 0:
        return []
    name = optimizer_class.lower()
    out: List[Dict[str, Any]] = []
    if "betas" in group and preconditioned_top is not None:
        beta1 = _float(group["betas"][0], 0.9)
        threshold = (2 + 2 * beta1) / ((1 - beta1) * lr) if beta1 < 1 else float("inf")
        out.append({"rule": "adam", "sharpness": preconditioned_top, "threshold": threshold,
                    "ratio": preconditioned_top / threshold, "lr": lr, "beta": beta1})
    elif name in ("sgd",) or "momentum" in group and "betas" not in group and name not in ("rmsprop",):
        beta = _float(group.get("momentum"), 0.0)
        if beta > 0:
            threshold = (2 + 2 * beta) / lr
            entry = {"rule": "momentum", "sharpness": top_eigenvalue, "threshold": threshold,
                     "ratio": top_eigenvalue / threshold, "lr": lr, "beta": beta}
            if group.get("nesterov"):
                entry["note"] = "Nesterov: the heavy-ball limit is used; the exact limit is lower"
            out.append(entry)
        else:
            threshold = 2 / lr
            out.append({"rule": "gd", "sharpness": top_eigenvalue, "threshold": threshold,
                        "ratio": top_eigenvalue / threshold, "lr": lr})
    else:
        threshold = 2 / lr
        out.append({"rule": "gd", "sharpness": top_eigenvalue, "threshold": threshold,
                    "ratio": top_eigenvalue / threshold, "lr": lr,
                    "note": f"{optimizer_class}: compared with the gradient-descent limit 2/η"})
    if name == "sgd" and trace is not None:
        threshold = 2 / lr
        out.append({"rule": "sgd_trace", "sharpness": trace, "trace": trace, "threshold": threshold,
                    "ratio": trace / threshold, "lr": lr})
    return out
