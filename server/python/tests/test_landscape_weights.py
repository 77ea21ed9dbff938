"""Exact-answer tests for landscape.py, weights.py and collapse.py.

Run: cd server/python && /usr/bin/python3 -m unittest tests.test_landscape_weights -v
Standard library + torch only; a few seconds on 2 CPU cores.
"""
from __future__ import annotations

import bisect
import copy
import math
import random
import unittest

import torch
import torch.nn as nn
import torch.nn.functional as F

from regscope_probe.collapse import collapse_risk, softmax_collapse
from regscope_probe.landscape import (LossProbe, eigen_directions, filter_normalized_direction,
                                      grid_coordinates, landscape_1d, landscape_2d,
                                      preview_indices, project_trajectory,
                                      trajectory_pca_directions)
from regscope_probe.paramspace import Block, ParamSpace
from regscope_probe.weights import fit_power_law, layer_spectrum, update_ratios, weight_spectra


class SmallNet(nn.Module):
    """Conv + BatchNorm + Dropout + Linear: every kind of state a landscape must not disturb."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(F.relu(self.bn(self.conv(x))))
        return self.fc(h.flatten(1))


def make_net(seed: int = 0):
    torch.manual_seed(seed)
    model = SmallNet().train()
    x = torch.randn(8, 3, 8, 8)
    y = torch.randint(0, 5, (8,))
    return model, x, y


def state_copy(model: nn.Module):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_state_equal(tc: unittest.TestCase, a, b) -> None:
    tc.assertEqual(set(a), set(b))
    for k in a:
        tc.assertTrue(torch.equal(a[k], b[k]), f"state entry {k} changed")


# ---------------------------------------------------------------------------------------------
# landscape
# ---------------------------------------------------------------------------------------------

class FilterNormalizationTest(unittest.TestCase):
    def test_filter_norms_match_weights_and_1d_zero(self) -> None:
        model, _, _ = make_net()
        space = ParamSpace.from_module(model)
        d = filter_normalized_direction(space, torch.Generator().manual_seed(3))
        self.assertEqual(d.shape, (space.numel,))
        for p, dp in zip(space.params, space.unflatten(d)):
            if p.dim() >= 2:
                wn = p.detach().reshape(p.shape[0], -1).norm(dim=1)
                dn = dp.reshape(p.shape[0], -1).norm(dim=1)
                torch.testing.assert_close(dn, wn, rtol=1e-5, atol=1e-7)
            else:
                self.assertTrue(torch.equal(dp, torch.zeros_like(dp)))
        # deterministic for a given generator seed
        d_again = filter_normalized_direction(space, torch.Generator().manual_seed(3))
        self.assertTrue(torch.equal(d, d_again))

    def test_perturb_1d_normalises_whole_parameter(self) -> None:
        model, _, _ = make_net()
        space = ParamSpace.from_module(model)
        d = filter_normalized_direction(space, torch.Generator().manual_seed(4), perturb_1d=True)
        for p, dp in zip(space.params, space.unflatten(d)):
            if p.dim() < 2:
                self.assertAlmostEqual(float(dp.norm()), float(p.detach().norm()), places=5)
                if float(p.detach().norm()) > 0:  # zero-initialised biases stay zero
                    self.assertGreater(float(dp.abs().sum()), 0.0)

    def test_eigen_directions_scaled_and_orthogonal(self) -> None:
        g = torch.Generator().manual_seed(0)
        q, _ = torch.linalg.qr(torch.randn(40, 3, generator=g, dtype=torch.float64))
        center = torch.randn(40, generator=g, dtype=torch.float64)
        d1, d2 = eigen_directions(q.T, center)
        self.assertAlmostEqual(float(d1.norm()), float(center.norm()), places=10)
        self.assertAlmostEqual(float(d2.norm()), float(center.norm()), places=10)
        self.assertAlmostEqual(float(d1 @ d2), 0.0, places=10)
        # spans the same lines as the eigenvectors (up to sign)
        self.assertAlmostEqual(abs(float(d1 @ q[:, 0])), float(center.norm()), places=10)


class LossProbeTest(unittest.TestCase):
    SEED = 1234

    def test_centre_equals_loss_at_current_parameters_exactly(self) -> None:
        model, x, y = make_net()
        ref = copy.deepcopy(model)
        torch.manual_seed(self.SEED)
        expected = float(F.cross_entropy(ref(x), y))
        torch.manual_seed(self.SEED + 1)
        other_mask = float(F.cross_entropy(copy.deepcopy(model)(x), y))
        self.assertNotEqual(expected, other_mask)  # dropout matters: CRN is what makes it exact

        space = ParamSpace.from_module(model)
        d1 = filter_normalized_direction(space, torch.Generator().manual_seed(1))
        d2 = filter_normalized_direction(space, torch.Generator().manual_seed(2))
        with LossProbe(lambda: F.cross_entropy(model(x), y), space, [model], self.SEED) as probe:
            res = landscape_2d(probe, probe.center, d1, d2, grid=7, preview=3)
            self.assertEqual(probe.loss_at(probe.center), expected)
        self.assertEqual(res["center_loss"], expected)
        self.assertEqual(res["loss"][3][3], expected)
        self.assertTrue(res["complete"])
        self.assertEqual(res["passes"], 49)

    def test_state_and_rng_identical_after_landscape(self) -> None:
        model, x, y = make_net()
        torch.manual_seed(99)
        random.seed(7)
        cpu_state, py_state = torch.get_rng_state(), random.getstate()
        next_torch, next_py = torch.rand(5), random.random()
        torch.set_rng_state(cpu_state)
        random.setstate(py_state)
        before = state_copy(model)
        ptrs = [p.data_ptr() for p in model.parameters()]
        space = ParamSpace.from_module(model)
        d1 = filter_normalized_direction(space, torch.Generator().manual_seed(1))
        d2 = filter_normalized_direction(space, torch.Generator().manual_seed(2))
        with LossProbe(lambda: F.cross_entropy(model(x), y), space, [model], 5) as probe:
            landscape_2d(probe, probe.center, d1, d2, grid=5, preview=3)
            landscape_1d(probe, probe.center, d1, points=5)
        assert_state_equal(self, before, state_copy(model))
        self.assertEqual(ptrs, [p.data_ptr() for p in model.parameters()])
        self.assertTrue(torch.equal(torch.get_rng_state(), cpu_state))
        self.assertTrue(torch.equal(torch.rand(5), next_torch))
        self.assertEqual(random.random(), next_py)

    def test_restored_on_exception(self) -> None:
        model, x, y = make_net()
        before = state_copy(model)
        calls = {"n": 0}

        def closure() -> torch.Tensor:
            calls["n"] += 1
            if calls["n"] == 4:
                raise RuntimeError("boom")
            return F.cross_entropy(model(x), y)

        space = ParamSpace.from_module(model)
        d = filter_normalized_direction(space, torch.Generator().manual_seed(1))
        with self.assertRaises(RuntimeError):
            with LossProbe(closure, space, [model], 0) as probe:
                landscape_1d(probe, probe.center, d, points=9)
        assert_state_equal(self, before, state_copy(model))

    def test_nonfinite_losses_are_returned_not_raised(self) -> None:
        w = nn.Parameter(torch.tensor([[1.0, 2.0]]))
        holder = nn.Module()
        holder.w = w
        space = ParamSpace.from_module(holder)

        def closure() -> torch.Tensor:
            s = w.sum()
            return torch.where(s > 3.5, torch.tensor(float("nan")),
                               torch.where(s < 2.5, torch.tensor(float("inf")), s))

        d = torch.tensor([1.0, 1.0])
        with LossProbe(closure, space, [holder], 0) as probe:
            self.assertTrue(math.isnan(probe.loss_at(torch.tensor([5.0, 5.0]))))
            self.assertEqual(probe.loss_at(torch.tensor([0.0, 0.0])), float("inf"))
            res = landscape_1d(probe, probe.center, d, points=5, span=1.0)
        self.assertEqual(res["loss"], [None, None, 3.0, None, None])
        self.assertEqual(res["nonfinite"], 4)
        self.assertEqual(res["center_loss"], 3.0)


class PreviewTest(unittest.TestCase):
    def test_preview_points_lie_on_full_grid(self) -> None:
        xs = grid_coordinates(21, 1.0)
        idx = preview_indices(21, 5)
        self.assertEqual(idx, [0, 5, 10, 15, 20])
        self.assertEqual([xs[i] for i in idx], [-1.0, -0.5, 0.0, 0.5, 1.0])
        self.assertEqual(xs[10], 0.0)
        for grid, prev in [(21, 4), (20, 5), (11, 3), (9, 9)]:
            p = preview_indices(grid, prev)
            self.assertTrue(all(0 <= i < grid for i in p))
            self.assertEqual(len(p), len(set(p)))

    def test_preview_values_equal_full_grid_values(self) -> None:
        model, x, y = make_net(1)
        space = ParamSpace.from_module(model)
        d1 = filter_normalized_direction(space, torch.Generator().manual_seed(11))
        d2 = filter_normalized_direction(space, torch.Generator().manual_seed(12))
        closure = lambda: F.cross_entropy(model(x), y)  # noqa: E731
        updates = []
        with LossProbe(closure, space, [model], 3) as probe:
            full = landscape_2d(probe, probe.center, d1, d2, on_update=updates.append)
        with LossProbe(closure, space, [model], 3) as probe:
            prev = landscape_2d(probe, probe.center, d1, d2, refine=False)
        idx = full["preview_idx"]
        self.assertEqual(full["passes"], 21 * 21)
        self.assertTrue(full["complete"])
        self.assertEqual(prev["passes"], 25)
        self.assertFalse(prev["complete"])
        first = updates[0]
        self.assertFalse(first["complete"])
        self.assertTrue(updates[-1]["complete"])
        self.assertEqual(len(updates), 1 + 21)  # preview, then one per refined row
        evaluated = [(i, j) for i in range(21) for j in range(21) if first["loss"][i][j] is not None]
        self.assertEqual(evaluated, [(i, j) for i in idx for j in idx])
        for i in range(21):
            for j in range(21):
                if i in idx and j in idx:
                    self.assertEqual(prev["loss"][i][j], full["loss"][i][j])
                    self.assertEqual(first["loss"][i][j], full["loss"][i][j])
                else:
                    self.assertIsNone(prev["loss"][i][j])
        # and each preview value is a fresh evaluation at that point (not a cached artefact)
        with LossProbe(closure, space, [model], 3) as probe:
            for i, j in [(0, 0), (5, 15), (20, 10)]:
                v = probe.at(probe.center, full["xs"][j], d1, full["ys"][i], d2)
                self.assertEqual(v, full["loss"][i][j])


class QuadraticLandscapeTest(unittest.TestCase):
    def test_matches_analytic_quadratic(self) -> None:
        g = torch.Generator().manual_seed(5)
        holder = nn.Module()
        holder.theta = nn.Parameter(torch.randn(3, 4, generator=g, dtype=torch.float64))
        P = 12
        M = torch.randn(P, P, generator=g, dtype=torch.float64)
        A = M @ M.T + torch.eye(P, dtype=torch.float64)
        space = ParamSpace.from_module(holder)
        closure = lambda: 0.5 * holder.theta.reshape(-1) @ A @ holder.theta.reshape(-1)  # noqa
        d1 = filter_normalized_direction(space, torch.Generator().manual_seed(1))
        d2 = filter_normalized_direction(space, torch.Generator().manual_seed(2))
        c = space.values()

        def analytic(xv: float, yv: float) -> float:
            t = c + xv * d1 + yv * d2
            return float(0.5 * t @ A @ t)

        with LossProbe(closure, space, [holder], 0) as probe:
            res = landscape_2d(probe, c, d1, d2, grid=11, preview=3, span=2.0)
            res1 = landscape_1d(probe, c, d2, points=9, span=0.5)
        for i, yv in enumerate(res["ys"]):
            for j, xv in enumerate(res["xs"]):
                self.assertAlmostEqual(res["loss"][i][j], analytic(xv, yv), delta=1e-12 * analytic(xv, yv))
        self.assertEqual(res["center_loss"], analytic(0.0, 0.0))
        for xv, v in zip(res1["xs"], res1["loss"]):
            self.assertAlmostEqual(v, analytic(0.0, xv), delta=1e-12 * abs(v))
        self.assertTrue(torch.equal(holder.theta.detach().reshape(-1), c))


class TrajectoryTest(unittest.TestCase):
    def test_recovers_planted_coordinates_and_residual(self) -> None:
        g = torch.Generator().manual_seed(8)
        P = 50
        center = torch.randn(P, generator=g, dtype=torch.float64)
        d1 = torch.randn(P, generator=g, dtype=torch.float64)
        d2 = 0.6 * d1 + torch.randn(P, generator=g, dtype=torch.float64)  # not orthogonal
        Q, _ = torch.linalg.qr(torch.stack([d1, d2], 1))
        e = torch.randn(P, generator=g, dtype=torch.float64)
        e = e - Q @ (Q.T @ e)  # orthogonal to the plane
        planted = [(0, -0.7, 0.2, 0.0), (1, 0.1, 0.9, 0.5), (2, 1.3, -0.4, 0.0), (3, 0.0, 0.0, 1.0)]
        snaps = [(s, center + a * d1 + b * d2 + k * e, 1.0 + s) for s, a, b, k in planted]
        snaps.append((4, center.clone(), 0.5))
        out = project_trajectory(snaps, center, d1, d2)
        for r, (s, a, b, k) in zip(out, planted):
            self.assertEqual(r["step"], s)
            self.assertAlmostEqual(r["x"], a, places=10)
            self.assertAlmostEqual(r["y"], b, places=10)
            delta = a * d1 + b * d2 + k * e
            self.assertAlmostEqual(r["residual"], float((k * e).norm() / delta.norm()), places=10)
        self.assertEqual(out[-1]["residual"], 0.0)
        self.assertEqual(out[2]["loss"], 3.0)

    def test_pca_directions_span_planar_trajectory(self) -> None:
        g = torch.Generator().manual_seed(9)
        P = 30
        center = torch.randn(P, generator=g, dtype=torch.float64)
        u = torch.randn(P, generator=g, dtype=torch.float64)
        v = torch.randn(P, generator=g, dtype=torch.float64)
        snaps = [(t, center + math.cos(t) * u + 0.3 * t * v, 0.0) for t in range(6)]
        p1, p2, shares = trajectory_pca_directions(snaps, center)
        self.assertAlmostEqual(sum(shares), 1.0, places=10)
        for r in project_trajectory(snaps, center, p1, p2):
            self.assertLess(r["residual"], 1e-8)


# ---------------------------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------------------------

def brute_force_power_law(values, min_tail: int = 10):
    """Reference: the same MLE + KS-x_min procedure, written independently in plain Python.

    Every unique value leaving ≥ min_tail tail points is tried; KS compares the fitted CDF with
    the left-continuous empirical CDF (#tail points < x)/n_tail at each unique tail value.
    """
    xs = sorted(v for v in values if v > 0 and math.isfinite(v))
    n = len(xs)
    best = None
    for xmin in sorted(set(xs)):
        start = bisect.bisect_left(xs, xmin)
        tail = xs[start:]
        nt = len(tail)
        if nt < min_tail:
            break
        s = sum(math.log(t / xmin) for t in tail)
        if s <= 0:
            continue
        alpha = 1.0 + nt / s
        d = 0.0
        for t in sorted(set(tail)):
            emp = bisect.bisect_left(tail, t) / nt
            theo = 1.0 - (t / xmin) ** (1.0 - alpha)
            d = max(d, abs(emp - theo))
        if best is None or d < best[2]:
            best = (alpha, xmin, d, nt)
    return best


def pareto(n: int, alpha: float, xmin: float, g: torch.Generator) -> torch.Tensor:
    """Samples with density ∝ x^(−α), x ≥ xmin (inverse CDF)."""
    u = torch.rand(n, generator=g, dtype=torch.float64)
    return xmin * (1.0 - u).pow(-1.0 / (alpha - 1.0))


class PowerLawTest(unittest.TestCase):
    def test_alpha_recovered_on_pareto_samples(self) -> None:
        """Tolerance: the MLE's standard error is (α−1)/√n_tail and choosing x_min by KS adds
        a little more; with n = 10 000 (20 000 for α = 5) the tolerance 0.05 / 0.1 / 0.1 is
        ≥ 3 such standard errors (0.015, 0.025, 0.028), and the seed is fixed, so the test is
        deterministic with a wide margin. Measured errors are printed by -v runs in the report."""
        cases = [(2.5, 10_000, 0.05), (3.5, 10_000, 0.1), (5.0, 20_000, 0.1)]
        for alpha, n, tol in cases:
            with self.subTest(alpha=alpha):
                fit = fit_power_law(pareto(n, alpha, 1.0, torch.Generator().manual_seed(int(alpha * 10))))
                self.assertLess(abs(fit.alpha - alpha), tol, fit)
                self.assertLess(abs(fit.alpha - alpha), 3.5 * fit.sigma + 0.01, fit)
                self.assertGreaterEqual(fit.n_tail, 10)

    def test_ks_finds_planted_xmin(self) -> None:
        """A uniform body on [0.1, 1) below a Pareto tail from x_min = 1: KS must put x_min at
        the junction (within a few percent), and α must come out right on the tail alone."""
        g = torch.Generator().manual_seed(21)
        for alpha in (2.5, 4.0):
            with self.subTest(alpha=alpha):
                body = 0.1 + 0.9 * torch.rand(3000, generator=g, dtype=torch.float64)
                x = torch.cat([body, pareto(5000, alpha, 1.0, g)])
                fit = fit_power_law(x[torch.randperm(x.numel(), generator=g)])
                self.assertGreater(fit.xmin, 0.95)
                self.assertLess(fit.xmin, 1.1)
                self.assertLess(abs(fit.alpha - alpha), 0.1)

    def test_matches_brute_force_reference_on_matrices(self) -> None:
        g = torch.Generator().manual_seed(2)
        t = torch.distributions.StudentT(torch.tensor(2.5, dtype=torch.float64))
        torch.manual_seed(17)
        mats = [
            t.sample((120, 200)),                                    # heavy-tailed entries
            torch.randn(150, 90, generator=g, dtype=torch.float64),  # Marchenko–Pastur bulk
            t.sample((16, 8, 3, 3)),                                 # conv: 16 × 72
        ]
        for W in mats:
            with self.subTest(shape=tuple(W.shape)):
                spec = layer_spectrum(W)
                self.assertIsNone(spec["skipped"])
                Wm = W.reshape(W.shape[0], -1)
                N = max(Wm.shape)
                # independent eigenvalues: eigvalsh of the smaller Gram matrix, / N
                G = Wm @ Wm.T if Wm.shape[0] <= Wm.shape[1] else Wm.T @ Wm
                eigs = (torch.linalg.eigvalsh(G) / N).tolist()
                ref_alpha, ref_xmin, ref_ks, ref_nt = brute_force_power_law(eigs)
                self.assertAlmostEqual(spec["alpha"], ref_alpha, delta=1e-6)
                self.assertAlmostEqual(spec["xmin"], ref_xmin, delta=1e-9 * ref_xmin)
                self.assertAlmostEqual(spec["ks"], ref_ks, delta=1e-6)
                self.assertEqual(spec["nTail"], ref_nt)

    def test_ties_and_too_few_points(self) -> None:
        with self.assertRaises(ValueError):
            fit_power_law(torch.tensor([1.0, 2.0, 3.0]))
        vals = [1.0] * 5 + [2.0] * 5 + [float(k) for k in range(3, 40)] + [0.0, -1.0, float("nan")]
        fit = fit_power_law(torch.tensor(vals, dtype=torch.float64))
        ref = brute_force_power_law(vals)
        self.assertAlmostEqual(fit.alpha, ref[0], places=10)
        self.assertEqual(fit.xmin, ref[1])
        self.assertEqual(fit.n, 47)


class SpectrumTest(unittest.TestCase):
    def test_stable_rank_and_spectral_norm_match_svdvals(self) -> None:
        g = torch.Generator().manual_seed(4)
        for W in [torch.randn(40, 70, generator=g), torch.randn(8, 6, 3, 3, generator=g),
                  torch.randn(90, 30, generator=g, dtype=torch.float64)]:
            with self.subTest(shape=tuple(W.shape)):
                spec = layer_spectrum(W, min_dim=4)
                Wm = W.reshape(W.shape[0], -1).double()
                sv = torch.linalg.svdvals(Wm)
                self.assertAlmostEqual(spec["spectralNorm"], float(sv[0]), delta=1e-5 * float(sv[0]))
                self.assertAlmostEqual(spec["spectralNorm"],
                                       float(torch.linalg.matrix_norm(Wm, ord=2)),
                                       delta=1e-5 * float(sv[0]))
                sr = float(Wm.pow(2).sum() / sv[0] ** 2)
                self.assertAlmostEqual(spec["stableRank"], sr, delta=1e-5 * sr)
                self.assertEqual(spec["matrixShape"], list(Wm.shape))
                self.assertEqual(spec["shape"], list(W.shape))
                ref = sorted((sv ** 2 / max(Wm.shape)).tolist())
                self.assertEqual(spec["numEigenvalues"], min(Wm.shape))
                for a, b in zip(spec["eigenvalues"], ref):
                    self.assertAlmostEqual(a, b, delta=1e-5 * ref[-1])

    def test_small_matrices_skipped_with_reason(self) -> None:
        spec = layer_spectrum(torch.randn(5, 10))
        self.assertIn("min dimension 5", spec["skipped"])
        self.assertNotIn("alpha", spec)

    def test_panel_subsample(self) -> None:
        W = torch.randn(900, 700, generator=torch.Generator().manual_seed(1))
        spec = layer_spectrum(W)
        ev, cc = spec["eigenvalues"], spec["eigenvalueCcdf"]
        self.assertLessEqual(len(ev), 512)
        self.assertEqual(len(ev), len(cc))
        self.assertEqual(ev, sorted(ev))
        sv = torch.linalg.svdvals(W.double())
        self.assertAlmostEqual(ev[-1], float(sv[0] ** 2 / 900), delta=1e-4 * ev[-1])
        self.assertAlmostEqual(ev[0], float(sv[-1] ** 2 / 900), delta=1e-3 * ev[-1])
        self.assertEqual(cc[-1], 1 / 700)
        self.assertEqual(cc[0], 1.0)

    def test_weight_spectra_covers_trained_matrices(self) -> None:
        model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 24), nn.BatchNorm1d(24),
                              nn.Linear(24, 3))
        model[0].weight.requires_grad_(False)
        out = weight_spectra(model.named_parameters())
        self.assertEqual([e["name"] for e in out], ["2.weight", "4.weight"])
        self.assertEqual([e["layer"] for e in out], ["2", "4"])
        self.assertIsNone(out[0]["skipped"])
        self.assertIn("alpha", out[0])
        self.assertIsNotNone(out[1]["skipped"])  # 3 × 24

    def test_update_ratios_exact(self) -> None:
        before = torch.tensor([3.0, 4.0, 5.0, 12.0, 0.0, 0.0, 0.0])
        after = torch.tensor([9.0, 12.0, 5.0, 12.0, 1.0, 0.0, 0.0])
        blocks = [Block("a", 0, 2), Block("b", 2, 4), Block("c", 4, 5), Block("d", 5, 7)]
        out = update_ratios(before, after, blocks)
        self.assertEqual(out[:4], [("a", 2.0), ("b", 0.0), ("c", float("inf")), ("d", 0.0)])
        self.assertEqual(out[4][0], "*")
        self.assertAlmostEqual(out[4][1], math.sqrt(101.0) / math.sqrt(194.0), places=15)


# ---------------------------------------------------------------------------------------------
# collapse
# ---------------------------------------------------------------------------------------------

class CollapseTest(unittest.TestCase):
    LOGITS = [[0.0, 0.0, 0.0, 0.0],      # uniform: nothing saturated
              [200.0, 0.0, 0.0, 0.0],    # exp(-200) underflows: outputs 1, 0, 0, 0
              [30.0, 0.0, 0.0, 0.0],     # top rounds to 1.0, the others stay ≈ 9e-14
              [0.0, 0.0, 0.0, -120.0]]   # last underflows to 0.0, the rest are 1/3

    def test_saturation_shares_exact(self) -> None:
        z = torch.tensor(self.LOGITS, dtype=torch.float64)  # float32 softmax even for float64
        params = torch.tensor([1.0, -2.0, 3.0])
        s = softmax_collapse(z, 70.0, -2.0 * params, params)
        self.assertEqual(s["ones"], 2 / 16)
        self.assertEqual(s["zeros"], 4 / 16)
        self.assertEqual(s["saturated"], 6 / 16)
        self.assertEqual(s["rowsCollapsed"], 0.5)
        self.assertEqual(s["logitNorm"], (0 + 200 + 30 + 120) / 4)
        self.assertEqual(s["logitNormGrowth"], 87.5 / 70.0 - 1.0)
        self.assertAlmostEqual(s["gradWeightCosine"], -1.0, places=12)
        self.assertEqual((s["examples"], s["classes"], s["passes"]), (4, 4, 0))
        self.assertEqual(collapse_risk(s)[0], "high")

    def test_class_dim_and_bits(self) -> None:
        z = torch.tensor(self.LOGITS)                       # [4 examples, 4 classes]
        z4 = z.T.reshape(1, 4, 2, 2)                        # classes along dim 1
        a = softmax_collapse(z, None, None, None)
        b = softmax_collapse(z4, None, None, None, class_dim=1)
        for k in ("ones", "zeros", "saturated", "rowsCollapsed", "logitNorm"):
            self.assertEqual(a[k], b[k])
        self.assertIsNone(a["logitNormGrowth"])
        self.assertIsNone(a["gradWeightCosine"])
        one = softmax_collapse(torch.tensor([[30.0, 0.0, 0.0, 0.0]]), None, None, None)
        self.assertAlmostEqual(one["saturationBits"], (30.0 - math.log(3.0)) / math.log(2.0), places=9)

    def test_risk_levels(self) -> None:
        params = torch.ones(4)
        calm = softmax_collapse(torch.tensor([[1.0, 0.0, -1.0]]), 1.0, params.clone(), params)
        self.assertEqual(collapse_risk(calm), ("low", []))
        # no saturation yet, but the gradient points along −θ while the logits grow
        grad = -params + 0.5 * torch.tensor([1.0, -1.0, 1.0, -1.0])
        nlm = softmax_collapse(torch.tensor([[2.0, 0.0, -1.0]]), 2.0, grad, params)
        self.assertLess(nlm["gradWeightCosine"], -0.5)
        level, reasons = collapse_risk(nlm)
        self.assertEqual(level, "rising")
        self.assertTrue(any("naive loss minimisation" in r for r in reasons))


if __name__ == "__main__":
    unittest.main()
