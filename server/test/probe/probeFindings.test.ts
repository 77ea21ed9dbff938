import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SETTINGS } from '../../src/analysis/settings';
import type { MetricEvent, ProbeFinding, StepEvent } from '../../src/protocol';
import { filterProbeFindings } from '../../src/probe/probeFindingFilter';
import { probeFindings } from '../../src/probe/probeFindings';
import type { ProbeAnchors } from '../../src/probe/probeAnchors';
import { summarizeEvents } from '../../src/probe/runSummary';

const anchors: ProbeAnchors = {
  lr: { line: 7, column: 40, endColumn: 47, detail: '0.4 (--lr default)' },
  batchSize: { line: 5, column: 10, endColumn: 24, detail: '512 (literal)' },
  optimizer: { line: 7, column: 16, endColumn: 60 },
  layers: new Map([['fc1', { line: 3, column: 14, endColumn: 30 }]]),
};
const metric = (name: string, step: number, value: number, extra: Partial<MetricEvent> = {}): MetricEvent =>
  ({ v: 1, t: 0, type: 'metric', name, step, value, cost: { hvps: 0, passes: 0, seconds: 0 }, ...extra });
const step = (n: number, loss: number): StepEvent => ({ v: 1, t: 0, type: 'step', step: n, loss, lr: 0.4, gradNorm: 1, seconds: 0.01 });

describe('PRB findings from measurements', () => {
  it('PRB001 at the sharpest probe step, on the lr, quoting value, limit and source', () => {
    const s = summarizeEvents([
      metric('stability.sharpness', 5, 0.95, { data: { rule: 'gd', sharpness: 4.75, threshold: 5, lr: 0.4 } }),
      metric('stability.sharpness', 10, 0.7, { data: { rule: 'gd', sharpness: 3.5, threshold: 5, lr: 0.4 } }),
    ]);
    const [f, ...rest] = probeFindings(s, anchors, 'run-1');
    assert.equal(rest.length, 0);
    assert.equal(f?.rule, 'PRB001');
    assert.equal(f?.line, 7);
    assert.match(f?.message ?? '', /Sharpness λ₁ 4\.75 at step 5 is 0\.95× the stability limit 2\/η = 5 for lr = 0\.4 \(--lr default\)/);
  });

  it('below the thresholds nothing fires', () => {
    const s = summarizeEvents([
      metric('stability.sharpness', 10, 0.5, { data: { rule: 'gd', sharpness: 2.5, threshold: 5 } }),
      metric('noise.scale', 10, 600, { uncertainty: { kind: 'interval90', low: 400, high: 800 }, data: { batchSize: 512 } }),
      step(1, 1.0), step(2, 0.9),
    ]);
    assert.deepEqual(probeFindings(s, anchors, 'r'), []);
  });

  it('PRB003 needs the whole interval beyond 10×; PRB007 on 10× loss growth', () => {
    const s = summarizeEvents([
      metric('noise.scale', 10, 20, { uncertainty: { kind: 'interval90', low: 10, high: 40 }, data: { batchSize: 512 } }),
      step(1, 1.0), step(2, 30),
    ]);
    assert.deepEqual(probeFindings(s, anchors, 'r').map((f) => [f.rule, f.line]), [['PRB003', 5], ['PRB007', 7]]);
    const wide = summarizeEvents([metric('noise.scale', 10, 20, { uncertainty: { kind: 'interval90', low: 10, high: 60 }, data: { batchSize: 512 } })]);
    assert.deepEqual(probeFindings(wide, anchors, 'r'), []);
  });

  it('PRB005 only for matrices with enough eigenvalues, on the layer definition', () => {
    const s = summarizeEvents([metric('weights.alpha', 10, 3, {
      layers: [{ name: 'fc1', value: 1.5 }, { name: 'fc2', value: 1.2 }],
      data: { layers: [{ layer: 'fc1', numEigenvalues: 128 }, { layer: 'fc2', numEigenvalues: 24 }] },
    })]);
    assert.deepEqual(probeFindings(s, anchors, 'r').map((f) => [f.rule, f.line]), [['PRB005', 3]]);
  });

  it('select/ignore/severity and suppression comments apply to probe findings', () => {
    const f: ProbeFinding = { rule: 'PRB001', severity: 'warning', message: 'm', line: 2, measured: 1, threshold: 1, metric: 'x' };
    const text = 'a = 1\nb = 2\n';
    assert.equal(filterProbeFindings([f], text, DEFAULT_SETTINGS).length, 1);
    assert.equal(filterProbeFindings([f], 'a = 1\nb = 2  # regscope: ignore[PRB001]\n', DEFAULT_SETTINGS).length, 0);
    assert.equal(filterProbeFindings([f], '# regscope: ignore-file[PRB]\n', DEFAULT_SETTINGS).length, 1, 'ignore-file names ids, not prefixes');
    assert.equal(filterProbeFindings([f], text, { ...DEFAULT_SETTINGS, ignore: ['PRB'] }).length, 0);
    assert.equal(filterProbeFindings([f], text, { ...DEFAULT_SETTINGS, select: ['WD'] }).length, 0);
    assert.equal(filterProbeFindings([f], text, { ...DEFAULT_SETTINGS, severity: { PRB001: 'information' } })[0]?.severity, 'info');
  });
});
