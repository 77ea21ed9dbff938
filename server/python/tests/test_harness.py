"""The harness end to end on real scripts: `python -m regscope_probe` in a subprocess, events read
back from its stdout. Misbehaving scripts must end as a clear `error` event and a `done` event."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest
from typing import Any, Dict, List, Optional

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TRAIN = """
import sys
import torch, torch.nn as nn
torch.manual_seed(0)
X = torch.randn(256, 10); Y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
model = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Dropout(0.1), nn.Linear(16, 2))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
print("the script prints to stdout", flush=True)
step = 0
for epoch in range(100):
    for i in range(0, 256, 64):
        x, y = X[i:i + 64], Y[i:i + 64]
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        HOOK
        loss.backward()
        optimizer.step()
        step += 1
"""

CLOSURE = {"loss": "criterion(model(x), y)", "batch": ["x", "y"], "model": "model", "line": 15}


def run_harness(script: str, plan_extra: Optional[Dict[str, Any]] = None, timeout: float = 120,
                env_extra: Optional[Dict[str, str]] = None) -> tuple:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.py")
        with open(path, "w") as f:
            f.write(script)
        plan = {"v": 1, "script": path, "args": [], "cwd": tmp, "seed": 0,
                "budget": {"warmupSteps": 2, "probeSteps": [3, 6], "timeoutSeconds": 60},
                "metrics": ["hessian", "landscape", "noise", "weights", "collapse"], "closure": CLOSURE,
                "hessian": {"lanczosSteps": 20, "densitySteps": 20, "traceMaxProbes": 10},
                "landscape": {"preview": 5, "refine": False}}
        plan.update(plan_extra or {})
        plan_path = os.path.join(tmp, "plan.json")
        with open(plan_path, "w") as f:
            json.dump(plan, f)
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR, **(env_extra or {}))
        proc = subprocess.run([sys.executable, "-m", "regscope_probe", "--plan", plan_path, "--", path],
                              cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, events, proc.stderr


def of_type(events: List[Dict[str, Any]], type_: str) -> List[Dict[str, Any]]:
    return [e for e in events if e["type"] == type_]


def metric(events: List[Dict[str, Any]], name: str) -> Dict[str, Any]:
    found = [e for e in events if e["type"] == "metric" and e["name"] == name]
    if not found:
        raise AssertionError(f"no {name} metric; events: {[e.get('name', e['type']) for e in events]}")
    return found[-1]


class HarnessOnAScript(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.code, cls.events, cls.stderr = run_harness(TRAIN.replace("LR", "0.1").replace("HOOK", "pass"))

    def test_completes_and_stdout_carries_only_events(self) -> None:
        self.assertEqual(self.code, 0, self.stderr)
        self.assertEqual(self.events[0]["type"], "hello")
        self.assertEqual(self.events[-1]["type"], "done")
        self.assertEqual(self.events[-1]["status"], "ok")
        self.assertEqual(self.events[-1]["steps"], 6)
        self.assertIn("the script prints to stdout", self.stderr)
        for e in self.events:
            self.assertEqual(e["v"], 1)

    def test_steps_and_live_hyperparameters(self) -> None:
        steps = of_type(self.events, "step")
        self.assertEqual([s["step"] for s in steps], [1, 2, 3, 4, 5, 6])
        self.assertTrue(all(s["lr"] == 0.1 for s in steps))
        hp = of_type(self.events, "hparams")[0]
        group = hp["optimizers"][0]["groups"][0]
        self.assertEqual((hp["optimizers"][0]["class"], group["lr"], group["momentum"]), ("SGD", 0.1, 0.9))

    def test_measurements_at_the_probe_steps(self) -> None:
        tops = [e for e in self.events if e["type"] == "metric" and e["name"] == "hessian.top"]
        self.assertEqual([e["step"] for e in tops], [3, 6])
        for name in ("hessian.trace", "hessian.density", "stability.sharpness", "stability.sgd_trace",
                     "landscape.2d", "noise.scale", "noise.spectrum", "noise.gsnr",
                     "noise.tail_index", "weights.alpha", "collapse.softmax"):
            e = metric(self.events, name)
            self.assertIn("cost", e)
        warnings = [w["message"] for w in of_type(self.events, "warning")]
        self.assertEqual(warnings, [])

    def test_per_layer_traces_sum_to_the_trace(self) -> None:
        trace = metric(self.events, "hessian.trace")
        self.assertEqual([l["name"] for l in trace["layers"]], ["0", "3"])
        self.assertAlmostEqual(sum(l["value"] for l in trace["layers"]), trace["value"], places=4)

    def test_landscape_centre_is_the_loss_at_the_probe_parameters(self) -> None:
        land = metric(self.events, "landscape.2d")["data"]
        mid = len(land["xs"]) // 2
        self.assertEqual(land["xs"][mid], 0.0)
        self.assertIsNotNone(land["loss"][mid][mid])

    def test_full_landscape_refines_the_preview_in_place(self) -> None:
        _, events, err = run_harness(TRAIN.replace("LR", "0.1").replace("HOOK", "pass"),
                                     {"metrics": ["landscape"], "landscape": {"preview": 5, "grid": 11, "refine": True}})
        grids = [e["data"] for e in events if e["type"] == "metric" and e["name"] == "landscape.2d"]
        self.assertGreater(len(grids), 1, err)
        self.assertFalse(grids[0]["complete"])
        self.assertEqual(sum(v is not None for row in grids[0]["loss"] for v in row), 25)
        final = grids[-1]
        self.assertTrue(final["complete"])
        self.assertEqual(sum(v is not None for row in final["loss"] for v in row), 121)
        # The preview's points are the same evaluations as the full grid's.
        for i in range(0, 11, 5):
            for j in range(0, 11, 5):
                self.assertEqual(grids[0]["loss"][i][j], final["loss"][i][j])
        self.assertEqual(len(metric(events, "landscape.1d")["data"]["loss"]), 21)
        self.assertEqual([p["step"] for p in final["trajectory"]], [0, 1, 2, 3, 4, 5])

    def test_eigenvector_and_trajectory_directions(self) -> None:
        for kind in ("eigen", "pca"):
            _, events, err = run_harness(TRAIN.replace("LR", "0.1").replace("HOOK", "pass"),
                                         {"landscape": {"preview": 5, "refine": False, "directions": kind}})
            land = metric(events, "landscape.2d")["data"]
            self.assertEqual(land["directions"], kind, err)
            self.assertFalse([w for w in of_type(events, "warning")])
            if kind == "pca":
                # The trajectory lies (almost) in the plane of its own principal directions.
                self.assertLess(max(p["residual"] for p in land["trajectory"]), 0.35)

    def test_only_rank_0_reports(self) -> None:
        code, events, _ = run_harness(TRAIN.replace("LR", "0.1").replace("HOOK", "pass"), env_extra={"RANK": "1", "WORLD_SIZE": "2"})
        self.assertEqual(code, 0)
        self.assertEqual(events, [])

    def test_the_training_continues_unchanged_between_probe_steps(self) -> None:
        # Same script without measurements: the losses must be identical step for step, so the
        # probe did not disturb parameters, buffers, gradients or the random stream.
        _, plain, err = run_harness(TRAIN.replace("LR", "0.1").replace("HOOK", "pass"), {"metrics": []})
        self.assertEqual([s["loss"] for s in of_type(plain, "step")], [s["loss"] for s in of_type(self.events, "step")], err)


class HarnessOnMisbehavingScripts(unittest.TestCase):
    def test_crash_is_an_error_event_with_the_traceback(self) -> None:
        code, events, _ = run_harness(TRAIN.replace("LR", "0.1").replace("HOOK", "if step == 2: raise ValueError('boom')"))
        self.assertEqual(code, 1)
        error = of_type(events, "error")[0]
        self.assertEqual(error["kind"], "script")
        self.assertIn("ValueError: boom", error["message"])
        self.assertIn("train.py", error["traceback"])
        self.assertNotIn("regscope_probe", error["traceback"])
        self.assertEqual(events[-1]["status"], "error")

    def test_nan_loss_stops_the_run(self) -> None:
        code, events, _ = run_harness(TRAIN.replace("LR", "0.1").replace("HOOK", "loss = loss * float('nan') if step == 1 else loss"))
        self.assertEqual(code, 1)
        error = of_type(events, "error")[0]
        self.assertEqual((error["kind"], error["step"]), ("nan", 2))

    def test_sys_exit_mid_run(self) -> None:
        code, events, _ = run_harness(TRAIN.replace("LR", "0.1").replace("HOOK", "if step == 2: sys.exit(3)"))
        self.assertEqual(code, 1)
        error = of_type(events, "error")[0]
        self.assertEqual(error["kind"], "exit")
        self.assertIn("sys.exit(3)", error["message"])

    def test_script_that_never_steps(self) -> None:
        code, events, _ = run_harness("print('no training here')\n")
        self.assertEqual(code, 1)
        self.assertEqual(of_type(events, "error")[0]["kind"], "no-steps")

    def test_script_that_swallows_the_stop(self) -> None:
        # `except BaseException: pass` around step() swallows the first stop; the next hook stops again.
        script = TRAIN.replace("LR", "0.1").replace("HOOK", "pass").replace(
            "        optimizer.step()\n", "        try:\n            optimizer.step()\n        except BaseException:\n            pass\n")
        code, events, _ = run_harness(script)
        self.assertEqual(code, 0)
        self.assertEqual(events[-1]["steps"], 6)

    def test_broken_script_is_a_syntax_error_event(self) -> None:
        code, events, _ = run_harness("def broken(:\n")
        self.assertEqual(code, 1)
        error = of_type(events, "error")[0]
        self.assertEqual(error["kind"], "script")
        self.assertIn("SyntaxError", error["message"])

    def test_no_closure_still_measures_curvature(self) -> None:
        code, events, _ = run_harness(TRAIN.replace("LR", "0.1").replace("HOOK", "pass"), {"closure": None})
        self.assertEqual(code, 0)
        metric(events, "hessian.top")
        self.assertTrue(any(w["code"] == "no-closure" for w in of_type(events, "warning")))


if __name__ == "__main__":
    unittest.main()
