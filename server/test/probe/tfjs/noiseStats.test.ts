import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { collapseRisk, gradientAlignment, gsnr, noiseSpectrum, softmaxCollapse, tailIndex } from '../../../src/probe/tfjs/noiseStats';
import { Rng } from '../../../src/probe/tfjs/rng';
import { haveTorch, ROOT } from '../probeScripts';

/** Chambers–Mallows–Stuck: symmetric α-stable samples (the test's exact answer is α). */
function stable(alpha: number, n: number, rng: Rng): Float64Array {
  return Float64Array.from({ length: n }, () => {
    const u = (rng.uniform() - 0.5) * Math.PI;
    const w = -Math.log(Math.max(rng.uniform(), 1e-300));
    return (Math.sin(alpha * u) / Math.cos(u) ** (1 / alpha)) * (Math.cos(u - alpha * u) / w) ** ((1 - alpha) / alpha);
  });
}

/** The Python harness's own functions on the same inputs (its statistics are the reference). */
function python(code: string): unknown {
  const r = spawnSync('/usr/bin/python3', ['-c', `import sys, json, torch\nsys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'server', 'python'))})\n${code}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('noise and collapse statistics of the embedded engine', () => {
  it('tail index: within 0.1 of α for α-stable samples at 1.2, 1.5 and 1.8; Gaussian noise reads 2', () => {
    const rng = new Rng(7);
    for (const alpha of [1.2, 1.5, 1.8]) {
      const got = tailIndex(stable(alpha, 200_000, rng)).alpha;
      assert.ok(Math.abs(got - alpha) < 0.1, `α ${alpha}: ${got}`);
    }
    assert.ok(tailIndex(Float64Array.from({ length: 100_000 }, () => rng.normal())).alpha > 1.9);
    assert.throws(() => tailIndex(new Float64Array(10).fill(1)), /at least 16 nonzero samples/);
  });

  it('noise spectrum: one noisy direction is a spike; alignment is 1 inside the span and 0 orthogonal to it', () => {
    const rng = new Rng(3);
    const spike = Float64Array.from({ length: 40 }, (_, i) => (i < 20 ? 1 : 0));
    // Each micro-batch's noise: a large multiple of one direction (inside layer a) plus a little isotropic noise.
    const grads = Array.from({ length: 16 }, () => { const a = 5 * rng.normal(); return Float64Array.from({ length: 40 }, (_, i) => 0.01 * rng.normal() + a * spike[i]! + 1); });
    const s = noiseSpectrum(grads, [{ name: 'a', range: [0, 20] }, { name: 'b', range: [20, 40] }], 4);
    assert.equal(s.eigenvalues.length, 15);
    assert.ok(s.spike! > 1000, `spike ${s.spike}`);
    assert.ok(s.layers[0]!.spike! > 1000 && s.layers[1]!.spike! < 20, JSON.stringify(s.layers.map((l) => l.spike)));
    const e1 = Float64Array.from({ length: 4 }, (_, i) => (i === 0 ? 1 : 0));
    const e2 = Float64Array.from({ length: 4 }, (_, i) => (i === 1 ? 2 : 0));
    assert.ok(Math.abs(gradientAlignment(Float64Array.of(3, -4, 0, 0), [e1, e2])! - 1) < 1e-12);
    assert.equal(gradientAlignment(Float64Array.of(0, 0, 1, 1), [e1, e2]), 0);
    assert.ok(Math.abs(gradientAlignment(Float64Array.of(1, 0, 1, 0), [e1])! - 0.5) < 1e-12);
  });

  it('spectrum, GSNR and softmax collapse equal the Python harness’s on the same numbers', { skip: haveTorch() ? false : 'no torch' }, () => {
    const rng = new Rng(11);
    const grads = Array.from({ length: 8 }, () => Float64Array.from({ length: 24 }, (_, i) => rng.normal() * (1 + i / 3) + (i % 4)));
    const blocks = [{ name: 'w', range: [0, 14] as const }, { name: 'b', range: [14, 24] as const }];
    const logits = Float32Array.from({ length: 6 * 5 }, (_, i) => (i % 5 === 0 ? 40 + i : rng.normal() * 3) * (i < 15 ? 1 : 0.1));
    const theta = Float64Array.from({ length: 24 }, () => rng.normal());
    const ref = python(`from regscope_probe import noise, collapse
from regscope_probe.paramspace import Block
g = torch.tensor(${JSON.stringify(grads.map((x) => [...x]))}, dtype=torch.float64)
blocks = [Block('w', 0, 14), Block('b', 14, 24)]
z = torch.tensor(${JSON.stringify([...logits])}, dtype=torch.float32).reshape(6, 5)
c = collapse.softmax_collapse(z, 2.0, torch.tensor(${JSON.stringify([...grads[0]!])}, dtype=torch.float64), torch.tensor(${JSON.stringify([...theta])}, dtype=torch.float64))
print(json.dumps({"spectrum": noise.noise_spectrum(g, blocks, 4), "gsnr": noise.gsnr(g, blocks, 4), "collapse": c, "risk": collapse.collapse_risk(c)}))`) as {
      spectrum: { eigenvalues: number[]; spike: number; layers: { spike: number }[] }; gsnr: { overall: number; layers: { gsnr: number }[] };
      collapse: Record<string, number | null>; risk: [string, string[]];
    };
    const close = (a: number | null, b: number | null, what: string): void => {
      if (a === null || b === null) { assert.equal(a, b, what); return; }
      assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
    };
    const s = noiseSpectrum(grads, blocks, 4);
    s.eigenvalues.forEach((v, i) => close(v, ref.spectrum.eigenvalues[i]!, `eigenvalue ${i}`));
    close(s.spike, ref.spectrum.spike, 'spike');
    s.layers.forEach((l, i) => close(l.spike, ref.spectrum.layers[i]!.spike, `layer ${i} spike`));
    const q = gsnr(grads, blocks);
    close(q.overall, ref.gsnr.overall, 'gsnr');
    q.layers.forEach((l, i) => close(l.value, ref.gsnr.layers[i]!.gsnr, `layer ${i} gsnr`));
    const c = softmaxCollapse(logits, 5, 2.0, grads[0]!, theta);
    for (const k of ['logitNorm', 'logitNormGrowth', 'saturated', 'zeros', 'ones', 'rowsCollapsed', 'saturationBits', 'gradWeightCosine'] as const) close(c[k], ref.collapse[k] as number | null, k);
    assert.ok(c.rowsCollapsed > 0.4, 'the three rows with logits ≈ 40 apart collapse in float32');
    const risk = collapseRisk(c);
    assert.equal(risk.level, ref.risk[0]);
    assert.equal(risk.reasons.length, ref.risk[1].length);
  });
});
