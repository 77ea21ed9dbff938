"""Curvature numerics against exact Hessians (torch.autograd.functional.hessian) on small models."""
from __future__ import annotations

import math
import unittest

import torch
import torch.nn as nn

from regscope_probe.density import slq_density
from regscope_probe.hutchinson import hutchinson_trace, t95
from regscope_probe.hvp import HessianOperator, PreconditionedOperator, adam_preconditioner
from regscope_probe.lanczos import lanczos
from regscope_probe.paramspace import ParamSpace
from regscope_probe.stability import stability_ratios


class Problem:
    """A float64 tanh MLP on fixed data, its loss, and the exact Hessian of that loss."""

    def __init__(self, seed: int = 0, sizes=(10, 12, 3), n: int = 64, train_steps: int = 0):
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        layers = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b), nn.Tanh()]
        self.model = nn.Sequential(*layers[:-1]).double()
        self.x = torch.randn(n, sizes[0], generator=g, dtype=torch.float64)
        self.y = torch.randint(0, sizes[-1], (n,), generator=g)
        self.space = ParamSpace.from_module(self.model)
        if train_steps:
            # Trained a little, as at a probe step: the Hessian is then dominated by its positive
            # (Gauss–Newton) part; at random initialisation a tiny model's Hessian is strongly
            # indefinite and its trace a small difference of large numbers.
            opt = torch.optim.Adam(self.model.parameters(), lr=1e-2)
            for _ in range(train_steps):
                opt.zero_grad()
                self.loss().backward()
                opt.step()
        self.hessian = self._exact()
        self.eigs = torch.linalg.eigvalsh(self.hessian).flip(0)

    def loss(self) -> torch.Tensor:
        return nn.functional.cross_entropy(self.model(self.x), self.y)

    def _exact(self) -> torch.Tensor:
        theta0 = self.space.values()
        shapes = [p.shape for p in self.space.params]
        names = self.space.names

        def f(theta: torch.Tensor) -> torch.Tensor:
            params, offset = {}, 0
            for name, shape in zip(names, shapes):
                size = int(torch.tensor(shape).prod())
                params[name] = theta[offset:offset + size].view(shape)
                offset += size
            out = self.x
            for i, module in enumerate(self.model):
                if isinstance(module, nn.Linear):
                    out = out @ params[f"{i}.weight"].t() + params[f"{i}.bias"]
                else:
                    out = torch.tanh(out)
            return nn.functional.cross_entropy(out, self.y)

        return torch.autograd.functional.hessian(f, theta0)

    def operator(self) -> HessianOperator:
        return HessianOperator.from_loss(self.loss(), self.space)


class HessianVectorProducts(unittest.TestCase):
    def test_hvp_equals_the_exact_hessian_times_v(self) -> None:
        p = Problem()
        op = p.operator()
        for seed in range(3):
            v = torch.randn(op.dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
            exact = p.hessian.mv(v)
            self.assertLess(float((op.matvec(v) - exact).norm() / exact.norm()), 1e-10)
        self.assertEqual(op.hvps, 3)

    def test_unused_parameter_has_zero_curvature(self) -> None:
        model = nn.Sequential(nn.Linear(4, 2), nn.Linear(2, 2)).double()
        x = torch.randn(8, 4, dtype=torch.float64)
        loss = model[0](x).pow(2).mean()  # model[1] is never used
        op = HessianOperator.from_loss(loss, ParamSpace.from_module(model))
        hv = op.matvec(torch.ones(op.dim, dtype=torch.float64))
        self.assertTrue(bool((hv[10:] == 0).all()))

    def test_preconditioned_operator_is_d_h_d(self) -> None:
        p = Problem()
        op = p.operator()
        d = torch.rand(op.dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64) + 0.5
        v = torch.randn(op.dim, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        expected = torch.diag(d) @ p.hessian @ torch.diag(d) @ v
        self.assertLess(float((PreconditionedOperator(op, d).matvec(v) - expected).norm() / expected.norm()), 1e-10)

    def test_adam_preconditioner_matches_its_state(self) -> None:
        p = Problem()
        opt = torch.optim.Adam(p.model.parameters(), lr=1e-2, betas=(0.8, 0.95), eps=1e-6)
        self.assertIsNone(adam_preconditioner(opt, p.space))
        for _ in range(3):
            opt.zero_grad()
            p.loss().backward()
            opt.step()
        d = adam_preconditioner(opt, p.space)
        parts = []
        for param in p.space.params:
            v_hat = opt.state[param]["exp_avg_sq"] / (1 - 0.95 ** 3)
            parts.append((1.0 / (v_hat.sqrt() + 1e-6).sqrt()).reshape(-1))
        self.assertTrue(torch.allclose(d, torch.cat(parts), rtol=1e-12))


class TopEigenvalues(unittest.TestCase):
    def test_lanczos_top_eigenvalues_against_the_exact_spectrum(self) -> None:
        for seed in range(5):
            p = Problem(seed)
            r = lanczos(p.operator(), steps=30, k=5, generator=torch.Generator().manual_seed(seed))
            exact = [float(x) for x in p.eigs[:5]]
            self.assertLess(abs(r.eigenvalues[0] - exact[0]) / abs(exact[0]), 1e-3, (seed, r.eigenvalues, exact))
            for got, want in zip(r.eigenvalues, exact):
                self.assertLess(abs(got - want) / abs(want), 1e-2, (seed, r.eigenvalues, exact))
            # The residual bound holds: each Ritz value lies within its bound of a true eigenvalue.
            for got, bound in zip(r.eigenvalues, r.residuals):
                self.assertLessEqual(float((p.eigs - got).abs().min()), bound + 1e-9)
            self.assertEqual(r.hvps, 30)
            self.assertLess(r.basis_norm_error, 1e-8)

    def test_ritz_vectors_are_eigenvectors(self) -> None:
        p = Problem()
        r = lanczos(p.operator(), steps=40, k=2, keep_vectors=True, generator=torch.Generator().manual_seed(0))
        v = r.vectors[0]
        self.assertLess(float((p.hessian.mv(v) - r.eigenvalues[0] * v).norm()), 1e-6)

    def test_deflation_removes_the_top_eigenvalues(self) -> None:
        p = Problem()
        top = lanczos(p.operator(), steps=60, k=3, keep_vectors=True, generator=torch.Generator().manual_seed(0))
        q, _ = torch.linalg.qr(top.vectors.t())
        rest = lanczos(p.operator(), steps=40, k=1, deflate=q.t().contiguous(), generator=torch.Generator().manual_seed(1))
        self.assertLess(abs(rest.eigenvalues[0] - float(p.eigs[3])) / float(p.eigs[3]), 1e-2)


class Traces(unittest.TestCase):
    def test_hutchinson_p90_error_within_5_percent_over_seeds(self) -> None:
        # As the harness runs it: the top-5 Ritz vectors from the λ₁ run deflate, ≤ 25 probes, so ≤ 30 HVPs.
        errors = []
        covered = 0
        for model_seed in range(3):
            p = Problem(model_seed, n=256, train_steps=300)
            exact = float(torch.trace(p.hessian))
            top = lanczos(p.operator(), steps=30, k=5, keep_vectors=True, generator=torch.Generator().manual_seed(model_seed))
            for seed in range(10):
                r = hutchinson_trace(p.operator(), p.space.blocks, max_probes=25, deflate=top.vectors,
                                     generator=torch.Generator().manual_seed(seed))
                errors.append(abs(r.trace - exact) / abs(exact))
                covered += abs(r.trace - exact) <= r.half_width
                self.assertLessEqual(r.hvps, 30)
                self.assertEqual(r.probes, len(r.estimates))
        errors.sort()
        p90 = errors[int(0.9 * (len(errors) - 1))]
        self.assertLessEqual(p90, 0.05, errors)
        self.assertGreaterEqual(covered / len(errors), 0.8, "the 95 % interval must be honest")

    def test_the_interval_stays_honest_on_an_indefinite_hessian(self) -> None:
        # At random initialisation the estimate is poor (the trace nearly cancels) but its interval says so.
        p = Problem(0)
        exact = float(torch.trace(p.hessian))
        covered = sum(abs(r.trace - exact) <= r.half_width for r in (
            hutchinson_trace(p.operator(), p.space.blocks, generator=torch.Generator().manual_seed(s)) for s in range(20)))
        self.assertGreaterEqual(covered, 16)

    def test_per_layer_traces_sum_to_the_trace_and_estimate_each_block(self) -> None:
        p = Problem()
        r = hutchinson_trace(p.operator(), p.space.blocks, max_probes=30, rel_tol=0.0, generator=torch.Generator().manual_seed(3))
        self.assertAlmostEqual(sum(t for _, t, _ in r.per_block), r.trace, places=9)
        for (name, value, half), block in zip(r.per_block, p.space.blocks):
            exact = float(torch.trace(p.hessian[block.start:block.end, block.start:block.end]))
            self.assertLess(abs(value - exact), 3 * half + 1e-9, (name, value, exact, half))

    def test_student_t_quantiles(self) -> None:
        self.assertAlmostEqual(t95(1), 12.706, places=3)
        self.assertAlmostEqual(t95(10), 2.228, places=3)
        self.assertAlmostEqual(t95(11), 2.201, delta=2e-3)
        self.assertAlmostEqual(t95(29), 2.045, delta=2e-3)
        self.assertAlmostEqual(t95(10_000), 1.960, delta=1e-3)


class SpectralDensity(unittest.TestCase):
    def test_density_implied_trace_within_5_percent(self) -> None:
        # 3 probes × 20 steps (the default) on a 2,309-parameter model. The error left is the probes' randomness,
        # which shrinks with the model's size: on a 171-parameter model the same p90 is about 10 %.
        p = Problem(0, sizes=(30, 64, 5), n=512, train_steps=300)
        exact = float(torch.trace(p.hessian))
        op = p.operator()
        top = lanczos(op, steps=30, k=5, keep_vectors=True, generator=torch.Generator().manual_seed(0))
        errors, honest = [], 0
        for seed in range(10):
            d = slq_density(op, probes=3, steps=20, outliers=top, generator=torch.Generator().manual_seed(100 + seed))
            errors.append(abs(d.implied_trace - exact) / abs(exact))
            honest += abs(d.implied_trace - exact) <= 3 * d.implied_trace_stderr
            self.assertEqual(len(d.nodes), 3)
            self.assertEqual(len(d.outliers), 5)
            self.assertEqual(d.hvps, 60)
            # The smoothed bulk carries the bulk's share of the spectrum.
            step = d.grid[1] - d.grid[0]
            self.assertAlmostEqual(sum(d.density) * step, (op.dim - 5) / op.dim, delta=0.02)
        errors.sort()
        self.assertLessEqual(errors[8], 0.05, errors)
        self.assertGreaterEqual(honest, 9)

    def test_a_single_plain_probe_is_much_worse_than_deflated_slq(self) -> None:
        # Why the outliers are taken out: without deflation the spread of the implied trace is far larger.
        p = Problem(1, n=256, train_steps=300)
        exact = float(torch.trace(p.hessian))
        op = p.operator()
        plain = [slq_density(op, probes=3, steps=25, generator=torch.Generator().manual_seed(s)).implied_trace for s in range(5)]
        top = lanczos(op, steps=30, k=5, keep_vectors=True, generator=torch.Generator().manual_seed(0))
        deflated = [slq_density(op, probes=3, steps=25, outliers=top, generator=torch.Generator().manual_seed(s)).implied_trace for s in range(5)]
        spread = lambda xs: max(abs(x - exact) for x in xs) / abs(exact)
        self.assertLess(spread(deflated), spread(plain))


class Stability(unittest.TestCase):
    def test_thresholds(self) -> None:
        gd = stability_ratios("SGD", {"lr": 0.1, "momentum": 0.0}, 10.0, 50.0, None)
        self.assertEqual(gd[0]["rule"], "gd")
        self.assertAlmostEqual(gd[0]["threshold"], 20.0)
        self.assertAlmostEqual(gd[0]["ratio"], 0.5)
        self.assertEqual(gd[1]["rule"], "sgd_trace")
        self.assertAlmostEqual(gd[1]["ratio"], 50.0 / 20.0)
        mom = stability_ratios("SGD", {"lr": 0.1, "momentum": 0.9}, 10.0, None, None)
        self.assertAlmostEqual(mom[0]["threshold"], 38.0)
        adam = stability_ratios("AdamW", {"lr": 1e-3, "betas": (0.9, 0.999)}, 1e5, None, 19000.0)
        self.assertEqual(adam[0]["rule"], "adam")
        self.assertAlmostEqual(adam[0]["threshold"], 38.0 / 1e-3)
        self.assertAlmostEqual(adam[0]["ratio"], 0.5)
        self.assertEqual(stability_ratios("SGD", {"lr": 0.0}, 1.0, 1.0, None), [])


if __name__ == "__main__":
    unittest.main()
