import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { ProbeEvent, ProbePlan, RunBundle, RunRecord } from '../../server/src/protocol';
import { num, toCsv, withUncertainty } from '../src/format';
import { dataArray, deriveRun, latest, thresholdLabel } from '../src/runView';
import { logHistogram, weightLayers } from '../src/weightsData';

const FIXTURES = path.resolve(__dirname, '..', '..', 'server', 'test', 'fixtures', 'runs');

function fixture(name: string): RunBundle {
  const dir = path.join(FIXTURES, name);
  const events = fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeEvent);
  const record = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
  const plan = JSON.parse(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8')) as ProbePlan;
  return { runDir: dir, record, plan, events, anchors: null, problems: [] };
}

describe('run view (what the panels read)', () => {
  it('derives steps, metrics by name, status and the planned steps from a recorded run', () => {
    const b = fixture('edge_of_stability');
    const v = deriveRun(b);
    assert.equal(v.status, 'ok');
    assert.deepEqual(v.steps.map((s) => s.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(v.plannedSteps, 10);
    assert.deepEqual(v.metrics.get('hessian.top')!.map((m) => m.step), [5, 10]);
    assert.equal(latest(v, 'hessian.top', 5)!.step, 5);
    assert.equal(dataArray(latest(v, 'hessian.top'), 'eigenvalues').length, 5);
    assert.equal(v.scriptName, 'edge_of_stability.py');
    assert.match(v.device ?? '', /^cpu/);
  });

  it('a run still streaming is running until its done event arrives', () => {
    const b = fixture('mlp_sgd');
    const running = { ...b, record: { ...b.record, status: 'running' as const } };
    const half = deriveRun(running, b.events.slice(0, 12));
    assert.equal(half.status, 'running');
    assert.equal(half.done, null);
    assert.equal(deriveRun(running, b.events).status, 'ok');
  });

  it('threshold labels name the formula of each rule', () => {
    assert.equal(thresholdLabel('gd'), '2/η');
    assert.equal(thresholdLabel('momentum'), '(2+2β)/η');
    assert.match(thresholdLabel('adam'), /β₁/);
  });
});

describe('formatting', () => {
  it('numbers: 4 significant digits, exponents outside [1e-3, 1e5), dashes for missing', () => {
    assert.equal(num(0.89639177), '0.8964');
    assert.equal(num(123456), '1.235e+5');
    assert.equal(num(0.00012), '1.2e-4');
    assert.equal(num(null), '–');
    assert.equal(num(Number.NaN), '–');
    assert.equal(num(-Infinity), '−∞');
  });

  it('uncertainty is printed with its kind', () => {
    assert.equal(withUncertainty(2.765, { kind: 'ci95', halfWidth: 3.77 }), '2.765 ± 3.8 (95 %)');
    assert.equal(withUncertainty(108.3, { kind: 'interval90', low: 0, high: 280.2 }), '108.3 [0, 280.2] (90 %)');
  });

  it('CSV follows RFC 4180 (quotes, CRLF, empty cells for missing values)', () => {
    assert.equal(toCsv(['a', 'b'], [['x,y', 1], ['say "hi"', null], ['line\nbreak', Number.NaN]]), 'a,b\r\n"x,y",1\r\n"say ""hi""",\r\n"line\nbreak",\r\n');
  });
});

describe('weight spectra', () => {
  it('a log-binned histogram is a density: it integrates to 1', () => {
    const values = Array.from({ length: 1000 }, (_, i) => Math.exp(Math.sin(i) * 3));
    const bins = logHistogram(values, 20);
    assert.equal(bins.length, 20);
    const lo = Math.log10(Math.min(...values));
    const w = (Math.log10(Math.max(...values)) - lo) / 20;
    const mass = bins.reduce((s, b, i) => s + b.density * (10 ** (lo + (i + 1) * w) - 10 ** (lo + i * w)), 0);
    assert.ok(Math.abs(mass - 1) < 1e-9, `mass ${mass}`);
  });

  it('layers are read from the weights.alpha event of a real run', () => {
    const v = deriveRun(fixture('mlp_sgd'));
    const layers = weightLayers(latest(v, 'weights.alpha')!.data);
    assert.ok(layers.length >= 2);
    const first = layers[0]!;
    assert.equal(first.eigenvalues.length, first.ccdf.length);
    assert.ok(first.alpha! > 1 && first.xmin! > 0);
    // The survival function starts at 1 and falls.
    assert.equal(first.ccdf[0], 1);
    assert.ok(first.ccdf.every((c, i) => i === 0 || c <= first.ccdf[i - 1]!));
  });
});
