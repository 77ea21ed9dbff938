"""The probe plan the engine writes (docs/design/probe-events.md), with defaults filled in."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

ALL_METRICS = ("hessian", "landscape", "noise", "weights", "collapse")


@dataclass
class Closure:
    loss: str
    batch: List[str]
    model: Optional[str]
    line: int


@dataclass
class Plan:
    script: str
    args: List[str]
    cwd: Optional[str] = None
    seed: int = 0
    warmup_steps: int = 5
    probe_steps: List[int] = field(default_factory=lambda: [5, 10])
    timeout_seconds: float = 600.0
    metrics: List[str] = field(default_factory=lambda: list(ALL_METRICS))
    closure: Optional[Closure] = None
    hessian: Dict[str, Any] = field(default_factory=dict)
    landscape: Dict[str, Any] = field(default_factory=dict)
    noise: Dict[str, Any] = field(default_factory=dict)
    hparam_sources: List[Dict[str, Any]] = field(default_factory=list)
    # Optimizer hyperparameters a sweep sets (lr, weight_decay, momentum, eps, dampening):
    # applied to every param group when the optimizer is constructed, before any scheduler reads them.
    overrides: Dict[str, float] = field(default_factory=dict)

    @property
    def last_step(self) -> int:
        return max(self.probe_steps)

    def wants(self, metric: str) -> bool:
        return metric in self.metrics


HESSIAN_DEFAULTS = {"topK": 5, "lanczosSteps": 30, "traceMaxProbes": 30, "traceRelTol": 0.02,
                    "densityProbes": 3, "densitySteps": 20}
LANDSCAPE_DEFAULTS = {"preview": 5, "grid": 21, "span": 1.0, "refine": False, "directions": "random"}
NOISE_DEFAULTS = {"microBatches": 16}


def _steps(raw: Any) -> List[int]:
    steps = sorted({int(s) for s in raw if int(s) >= 1}) if isinstance(raw, list) else []
    if not steps:
        raise ValueError("budget.probeSteps must list at least one step ≥ 1")
    return steps


def load_plan(path: str, script: str, args: List[str]) -> Plan:
    """Read plan.json; the command line's script and args win over the plan's (they are the same
    when the engine wrote both, and the command line is what a person edits by hand)."""
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if raw.get("v") != 1:
        raise ValueError(f"unsupported plan version {raw.get('v')!r}")
    budget = raw.get("budget") or {}
    closure_raw = raw.get("closure")
    closure = None
    if isinstance(closure_raw, dict) and isinstance(closure_raw.get("loss"), str):
        closure = Closure(
            loss=closure_raw["loss"],
            batch=[str(b) for b in closure_raw.get("batch") or []],
            model=closure_raw.get("model"),
            line=int(closure_raw.get("line") or 0),
        )
    requested = raw.get("metrics")
    metrics = [m for m in (requested if isinstance(requested, list) else ALL_METRICS) if m in ALL_METRICS]
    return Plan(
        script=script,
        args=list(args),
        cwd=raw.get("cwd"),
        seed=int(raw.get("seed") or 0),
        warmup_steps=int(budget.get("warmupSteps", 5)),
        probe_steps=_steps(budget.get("probeSteps", [5, 10])),
        timeout_seconds=float(budget.get("timeoutSeconds", 600)),
        metrics=metrics,
        closure=closure,
        hessian={**HESSIAN_DEFAULTS, **(raw.get("hessian") or {})},
        landscape={**LANDSCAPE_DEFAULTS, **(raw.get("landscape") or {})},
        noise={**NOISE_DEFAULTS, **(raw.get("noise") or {})},
        hparam_sources=list(raw.get("hparamSources") or []),
        overrides={str(k): float(v) for k, v in (raw.get("overrides") or {}).items() if isinstance(v, (int, float))},
    )
