import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hutchinson, lanczos, slqDensity } from '../../../src/probe/tfjs/curvature';
import { symmetricEigen } from '../../../src/probe/tfjs/linalg';
import { Rng } from '../../../src/probe/tfjs/rng';

/** A random symmetric matrix with a known spectrum: Q diag(λ) Qᵀ. */
function matrixWithSpectrum(values: readonly number[], seed: number): number[][] {
  const n = values.length;
  const rng = new Rng(seed);
  const a = Array.from({ length: n }, () => Array.from({ length: n }, () => rng.normal()));
  const q: number[][] = [];
  for (let j = 0; j < n; j++) {
    const v = a.map((row) => row[j]!);
    for (const u of q) { const d = v.reduce((s, x, i) => s + x * u[i]!, 0); v.forEach((_, i) => { v[i]! -= d * u[i]!; }); }
    const nv = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    q.push(v.map((x) => x / nv));
  }
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => values.reduce((s, l, k) => s + l * q[k]![i]! * q[k]![j]!, 0)));
}

const matvec = (m: number[][]) => (v: Float64Array): Float64Array => Float64Array.from(m, (row) => row.reduce((s, x, j) => s + x * v[j]!, 0));

describe('embedded-engine curvature numerics (against exact spectra)', () => {
  const spectrum = [9, 7.5, 6, 4, 3, ...Array.from({ length: 55 }, (_, i) => Math.sin(i) * 0.8)];
  const m = matrixWithSpectrum(spectrum, 1);

  it('Jacobi eigen-decomposition recovers the spectrum', () => {
    const { values } = symmetricEigen(m);
    const sorted = [...spectrum].sort((a, b) => a - b);
    values.forEach((v, i) => assert.ok(Math.abs(v - sorted[i]!) < 1e-9));
  });

  it('Lanczos: the top 5 within 0.1 % and each within its Ritz residual bound', () => {
    const r = lanczos(matvec(m), m.length, 30, 5, new Rng(2));
    [9, 7.5, 6, 4, 3].forEach((exact, i) => {
      assert.ok(Math.abs(r.eigenvalues[i]! - exact) / exact < 1e-3, `λ${i + 1} = ${r.eigenvalues[i]}`);
      assert.ok(Math.abs(r.eigenvalues[i]! - exact) <= r.residuals[i]! + 1e-9);
    });
  });

  it('Hutchinson with the top eigenspace deflated: the 95 % interval covers the trace; segments add up', () => {
    const exact = spectrum.reduce((a, b) => a + b, 0);
    let covered = 0;
    for (let seed = 0; seed < 20; seed++) {
      const top = lanczos(matvec(m), m.length, 30, 5, new Rng(100 + seed));
      const r = hutchinson(matvec(m), m.length, top.vectors, 25, 0.02, [[0, 30], [30, 60]], new Rng(seed));
      if (Math.abs(r.trace - exact) <= r.halfWidth) covered++;
      assert.ok(Math.abs(r.segments[0]!.value + r.segments[1]!.value - r.trace) < 1e-9);
    }
    assert.ok(covered >= 16, `covered ${covered}/20`);
  });

  it('SLQ density: the bulk integrates to its share, the implied trace is within 3 standard errors of the exact one', () => {
    const exact = spectrum.reduce((a, b) => a + b, 0);
    const top = lanczos(matvec(m), m.length, 30, 5, new Rng(5));
    const d = slqDensity(matvec(m), m.length, 3, 20, top, new Rng(6));
    const dx = d.grid[1]! - d.grid[0]!;
    const mass = d.density.reduce((a, b) => a + b, 0) * dx;
    assert.ok(Math.abs(mass - 55 / 60) < 0.01, `bulk mass ${mass}`);
    assert.ok(Math.abs(d.impliedTrace - exact) <= 3 * d.impliedTraceStderr + 1e-9, `${d.impliedTrace} vs ${exact} ± ${d.impliedTraceStderr}`);
    assert.deepEqual(d.outliers.map((x) => Number(x.toFixed(6))), [9, 7.5, 6, 4, 3]);
    // The bulk lies inside the bulk's spectrum [−0.8, 0.8] (the outliers were deflated away).
    assert.ok(d.nodes.flat().every((x) => x > -0.81 && x < 0.81));
  });
});
