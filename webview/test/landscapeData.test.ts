import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { centreSlices, completeLattice, contourLevels, gridMinimum, toGrid, type Grid } from '../src/landscapeData';

const axis = (n: number): number[] => Array.from({ length: n }, (_, i) => -1 + (2 * i) / (n - 1));
const bowl = (n: number, known: (i: number, j: number) => boolean = () => true): Grid => {
  const xs = axis(n);
  return { xs, ys: xs, loss: xs.map((y, j) => xs.map((x, i) => (known(i, j) ? 1 + (x - 0.3) ** 2 + 2 * (y + 0.2) ** 2 : null))) };
};

describe('landscape grids', () => {
  it('a 5×5 preview inside a 21×21 grid is drawn as a stride-5 lattice', () => {
    const g = bowl(21, (i, j) => i % 5 === 0 && j % 5 === 0);
    const l = completeLattice(g)!;
    assert.equal(l.stride, 5);
    assert.deepEqual(l.xs, [-1, -0.5, 0, 0.5, 1]);
    assert.equal(l.values.length, 25);
    assert.equal(l.known, 25);
    assert.equal(l.total, 441);
  });

  it('a grid being refined keeps the coarse lattice until the finer one is complete', () => {
    // Every other point computed in the first rows only: stride 2 is incomplete, so stride 5 stays.
    const g = bowl(21, (i, j) => (i % 5 === 0 && j % 5 === 0) || (j < 6 && i % 2 === 0 && j % 2 === 0));
    assert.equal(completeLattice(g)!.stride, 5);
    assert.equal(completeLattice(bowl(21))!.stride, 1);
  });

  it('no lattice until the corners and a full coarse grid are there', () => {
    assert.equal(completeLattice(bowl(21, (i, j) => i < 20 || j < 20)), undefined);
  });

  it('the minimum is the smallest computed value (against a brute-force scan)', () => {
    fc.assert(fc.property(fc.array(fc.array(fc.option(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { nil: null }), { minLength: 3, maxLength: 3 }), { minLength: 3, maxLength: 3 }), (loss) => {
      const g: Grid = { xs: [-1, 0, 1], ys: [-1, 0, 1], loss };
      const flat = loss.flat().filter((v): v is number => v !== null);
      const m = gridMinimum(g);
      if (!flat.length) return m === undefined;
      return m !== undefined && m.loss === Math.min(...flat) && loss[m.j]![m.i] === m.loss && m.x === g.xs[m.i] && m.y === g.ys[m.j];
    }));
    const m = gridMinimum(bowl(21))!;
    assert.ok(Math.abs(m.x - 0.3) < 1e-12 && Math.abs(m.y + 0.2) < 1e-12);
  });

  it('contour levels: the asked number, increasing, strictly inside the range; log spacing is denser near the minimum', () => {
    const values = bowl(21).loss.flat() as number[];
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    for (const log of [true, false]) {
      const levels = contourLevels(values, 14, log);
      assert.equal(levels.length, 14);
      levels.forEach((v, i) => { assert.ok(v > lo && v < hi); if (i) assert.ok(v > levels[i - 1]!); });
    }
    const log = contourLevels(values, 14, true);
    const lin = contourLevels(values, 14, false);
    assert.ok(log[1]! - log[0]! < lin[1]! - lin[0]!, 'first gap smaller on the log scale');
    assert.ok(log.at(-1)! - log.at(-2)! > lin.at(-1)! - lin.at(-2)!, 'last gap larger');
    assert.deepEqual(contourLevels([2, 2, 2], 14, true), [], 'a flat grid has no contours');
  });

  it('slices pass through the centre', () => {
    const s = centreSlices(bowl(21));
    assert.equal(s.x.loss.length, 21);
    assert.equal(s.x.loss[10], s.y.loss[10]);
    assert.equal(s.x.loss[10], 1 + 0.09 + 2 * 0.04);
  });

  it('event data is validated: ragged or non-numeric grids are refused, NaN becomes a gap', () => {
    assert.equal(toGrid({ xs: [0, 1], ys: [0, 1], loss: [[1, 2], [3]] }), undefined);
    assert.equal(toGrid({ xs: 'x', ys: [0], loss: [[1]] }), undefined);
    assert.deepEqual(toGrid({ xs: [0, 1], ys: [0], loss: [[1, 'NaN']] })!.loss, [[1, null]]);
  });
});
