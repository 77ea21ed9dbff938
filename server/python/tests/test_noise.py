"""Gradient-noise numerics against exact answers."""
from __future__ import annotations

import math
import unittest

import torch
import torch.nn as nn

from regscope_probe.noise import (choose_micro_batches, gradient_alignment, gradient_noise_scale, gsnr,
                                  micro_batch_gradients, noise_spectrum)
from regscope_probe.paramspace import Block, ParamSpace
from regscope_probe.tail_index import sample_symmetric_stable, tail_index


def linear_regression(seed: int, d: int, n: int, r_norm_sq: float, sigma: float):
    """y = xᵀw* + ε with x ~ N(0, I_d), ε ~ N(0, σ²), and a model at w = w* + r.
    Per example g = x(xᵀr − ε): G = r and E‖g‖² = (d+2)‖r‖² + dσ², so tr Σ = (d+1)‖r‖² + dσ²."""
    g = torch.Generator().manual_seed(seed)
    w_star = torch.randn(d, generator=g, dtype=torch.float64)
    r = torch.randn(d, generator=g, dtype=torch.float64)
    r = r / r.norm() * math.sqrt(r_norm_sq)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = x.mv(w_star) + sigma * torch.randn(n, generator=g, dtype=torch.float64)
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_((w_star + r).unsqueeze(0))
    analytic = ((d + 1) * r_norm_sq + d * sigma ** 2) / r_norm_sq
    return model, x, y, analytic


class GradientNoiseScale(unittest.TestCase):
    def test_within_10_percent_of_the_analytic_value_on_linear_regression(self) -> None:
        inside = 0
        for seed in range(5):
            model, x, y, analytic = linear_regression(seed, d=100, n=8192, r_norm_sq=0.25, sigma=1.0)
            space = ParamSpace.from_module(model)
            m = choose_micro_batches(x.shape[0], 32)
            b = x.shape[0] // m

            def loss_of(i: int) -> torch.Tensor:
                xb, yb = x[i * b:(i + 1) * b], y[i * b:(i + 1) * b]
                return 0.5 * (model(xb).squeeze(1) - yb).pow(2).mean()

            grads = micro_batch_gradients(loss_of, m, space)
            result = gradient_noise_scale(grads, b, generator=torch.Generator().manual_seed(seed))
            self.assertEqual((result.batch_size, result.micro_batch, result.passes), (8192, 256, 32))
            self.assertLess(abs(result.b_simple - analytic) / analytic, 0.10, (seed, result.b_simple, analytic))
            inside += result.low <= analytic <= result.high
        self.assertGreaterEqual(inside, 4, "the 90 % jackknife interval should contain the analytic value")

    def test_noise_dominated_gradient_reports_no_scale(self) -> None:
        grads = torch.randn(16, 50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        result = gradient_noise_scale(grads - grads.mean(0), 4)
        self.assertIsNone(result.b_simple)
        self.assertTrue(result.reason)

    def test_micro_batch_choice(self) -> None:
        self.assertEqual(choose_micro_batches(256, 16), 16)
        self.assertEqual(choose_micro_batches(5, 16), 5)
        self.assertEqual(choose_micro_batches(1000, 64), 32)
        self.assertEqual(choose_micro_batches(1, 16), 2)


class NoiseSpectrum(unittest.TestCase):
    def test_gram_eigenvalues_equal_the_covariance_eigenvalues(self) -> None:
        grads = torch.randn(12, 40, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        s = noise_spectrum(grads, [Block("a", 0, 40)], micro_batch_size=4)
        centred = grads - grads.mean(0)
        cov = centred.t().mm(centred) / 11 * 4
        exact = torch.linalg.eigvalsh(cov).flip(0)[:11]
        self.assertTrue(torch.allclose(torch.tensor(s["eigenvalues"], dtype=torch.float64), exact, rtol=1e-8, atol=1e-10))

    def test_a_planted_spike_stands_out_and_isotropic_noise_does_not(self) -> None:
        g = torch.Generator().manual_seed(2)
        iso = torch.randn(32, 2000, generator=g, dtype=torch.float64)
        direction = torch.randn(2000, generator=g, dtype=torch.float64)
        spiked = iso + 5.0 * torch.randn(32, 1, generator=g, dtype=torch.float64) * direction
        flat = noise_spectrum(iso, [Block("w", 0, 1000), Block("v", 1000, 2000)])
        spike = noise_spectrum(spiked, [Block("w", 0, 1000), Block("v", 1000, 2000)])
        self.assertLess(flat["ratio12"], 1.5)
        self.assertLess(flat["spike"], 1.5)
        self.assertGreater(spike["ratio12"], 10)
        self.assertEqual([l["name"] for l in spike["layers"]], ["w", "v"])

    def test_gsnr_is_mean_squared_over_variance_per_layer(self) -> None:
        g = torch.Generator().manual_seed(3)
        grads = torch.randn(10, 6, generator=g, dtype=torch.float64) + torch.tensor([3.0, 0, 0, 1.0, 1.0, 0], dtype=torch.float64)
        r = gsnr(grads, [Block("a", 0, 3), Block("b", 3, 6)], micro_batch_size=2)
        direct = grads.mean(0).pow(2) / grads.var(0, unbiased=True)
        self.assertAlmostEqual(r["layers"][0]["gsnr"], float(direct[:3].mean()), places=10)
        self.assertAlmostEqual(r["overall"], float(direct.mean()), places=10)
        self.assertAlmostEqual(r["perExample"], r["overall"] / 2, places=10)

    def test_gradient_alignment(self) -> None:
        v = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
        self.assertAlmostEqual(gradient_alignment(torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64), v), 0.5)
        self.assertAlmostEqual(gradient_alignment(torch.tensor([0.0, 0.0, 2.0, 0.0], dtype=torch.float64), v), 0.0)


class TailIndex(unittest.TestCase):
    def test_within_0_1_of_alpha_on_synthetic_alpha_stable_data(self) -> None:
        for alpha in (1.2, 1.5, 1.8):
            for seed in range(3):
                x = sample_symmetric_stable(alpha, 1_000_000, torch.Generator().manual_seed(seed))
                result = tail_index(x)
                self.assertLess(abs(result.alpha - alpha), 0.1, (alpha, seed, result.alpha))

    def test_gaussian_noise_reads_as_alpha_2(self) -> None:
        x = torch.randn(1_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        self.assertGreater(tail_index(x).alpha, 1.9)


if __name__ == "__main__":
    unittest.main()
