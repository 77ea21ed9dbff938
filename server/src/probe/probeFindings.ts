/**
 * Probe findings (PRB rules, table in probes.md): measured numbers turned into diagnostics on the
 * line that set the hyperparameter they judge. Pure. Every message gives the measured number,
 * the threshold, the hyperparameter's value and where it came from, and names the run.
 */
import type { ProbeFinding } from '../protocol';
import { layerAnchor, type Anchor, type ProbeAnchors } from './probeAnchors';
import { numberIn, type RunSummary } from './runSummary';

/** Thresholds, in one place, each with the reason for its value. */
export const PRB_THRESHOLDS = {
  /** Sharpness at 90 % of its stability limit: the edge-of-stability regime has begun. */
  edgeOfStability: 0.9,
  /** tr(H) below 5 % of 2/η: SGD's step-size regularization barely constrains the solution. */
  weakImplicitRegularization: 0.05,
  /** Batch size more than 10× away from the noise scale, with the whole interval beyond it. */
  noiseScaleFactor: 10,
  /** λ₁/λ₂ of the micro-batch noise covariance: one direction dominates the noise. */
  spectralSpike: 10,
  /** Weight ESD power-law α outside [2, 6] (heavy-tailed self-regularization). */
  alphaLow: 2,
  alphaHigh: 6,
  /** α above the band only means under-trained once a run has trained for a while. */
  alphaHighMinSteps: 200,
  /** A power-law tail fitted to fewer eigenvalues than this (a matrix side under 64) is too noisy to judge. */
  alphaMinEigenvalues: 64,
  /** Share of float32 softmax outputs exactly 0 or 1 (the harness's collapse_risk decides the level). */
  softmaxSaturation: 0.01,
  /** Loss growth within the probe that counts as divergence. */
  divergenceFactor: 10,
} as const;

const fmt = (x: number): string => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : Number(x.toPrecision(3)).toString());

export function probeFindings(summary: RunSummary, anchors: ProbeAnchors, runId: string): ProbeFinding[] {
  const out: ProbeFinding[] = [];
  const tail = ` (probe run ${runId})`;
  const place = (a: Anchor | undefined) => (a ? { line: a.line, column: a.column, endColumn: a.endColumn } : { line: null });
  const lrText = anchors.lr?.detail ? `lr = ${anchors.lr.detail}` : 'the learning rate';

  // Edge of stability is a state the run passes through (λ₁ hovers at the limit, then may drop
  // after a catapult), so the sharpest probe step is the one judged, not only the last.
  const sharpest = summary.history
    .filter((h) => h.name === 'stability.sharpness' && typeof h.value === 'number')
    .sort((a, b) => (b.value as number) - (a.value as number))[0];
  for (const m of [...[...summary.metrics.values()].filter((x) => x.name !== 'stability.sharpness'), ...(sharpest ? [sharpest] : [])]) {
    if (m.name === 'stability.sharpness' && m === sharpest && typeof m.value === 'number') {
      const sharpness = numberIn(m.data, 'sharpness');
      const threshold = numberIn(m.data, 'threshold');
      const rule = String(m.data?.['rule'] ?? 'gd');
      if (sharpness !== undefined && threshold !== undefined && m.value >= PRB_THRESHOLDS.edgeOfStability) {
        const what = rule === 'adam' ? 'Preconditioned sharpness' : 'Sharpness λ₁';
        const limit = rule === 'adam' ? '(2+2β₁)/((1−β₁)η)' : rule === 'momentum' ? '(2+2β)/η' : '2/η';
        out.push({
          rule: 'PRB001', severity: 'warning', metric: m.name, measured: sharpness, threshold,
          message: `${what} ${fmt(sharpness)} at step ${m.step} is ${fmt(m.value)}× the stability limit ${limit} = ${fmt(threshold)} for ${lrText}: training is at the edge of stability (expect oscillation and loss spikes); a smaller learning rate or warm-up moves it back${tail}.`,
          ...place(anchors.lr),
        });
      }
    }
    if (m.name === 'stability.sgd_trace' && typeof m.value === 'number') {
      const trace = numberIn(m.data, 'trace');
      const threshold = numberIn(m.data, 'threshold');
      if (trace !== undefined && threshold !== undefined && m.value < PRB_THRESHOLDS.weakImplicitRegularization) {
        out.push({
          rule: 'PRB002', severity: 'info', metric: m.name, measured: trace, threshold,
          message: `tr(H) = ${fmt(trace)} is ${fmt(m.value)}× SGD's stability bound 2/η = ${fmt(threshold)} for ${lrText}: the step size's implicit regularization is weak here; a larger learning rate or a smaller batch would regularize more${tail}.`,
          ...place(anchors.lr ?? anchors.batchSize),
        });
      }
    }
    if (m.name === 'noise.scale' && typeof m.value === 'number') {
      const batch = numberIn(m.data, 'batchSize');
      const low = m.uncertainty?.low;
      const high = m.uncertainty?.high;
      const f = PRB_THRESHOLDS.noiseScaleFactor;
      if (batch !== undefined && typeof low === 'number' && typeof high === 'number') {
        const bs = anchors.batchSize?.detail ? `batch size ${anchors.batchSize.detail}` : `batch size ${batch}`;
        if (high * f < batch) {
          out.push({
            rule: 'PRB003', severity: 'info', metric: m.name, measured: m.value, threshold: batch / f,
            message: `Gradient noise scale B_noise ≈ ${fmt(m.value)} (90 % interval ${fmt(low)}–${fmt(high)}) is far below the ${bs}: beyond B_noise a larger batch buys little per step, so most of each batch's compute is wasted${tail}.`,
            ...place(anchors.batchSize),
          });
        } else if (low > batch * f) {
          out.push({
            rule: 'PRB003', severity: 'info', metric: m.name, measured: m.value, threshold: batch * f,
            message: `Gradient noise scale B_noise ≈ ${fmt(m.value)} (90 % interval ${fmt(low)}–${fmt(high)}) is far above the ${bs}: steps are noise-dominated; a larger batch (with a matching learning rate) would take fewer steps${tail}.`,
            ...place(anchors.batchSize),
          });
        }
      }
    }
    if (m.name === 'noise.spectrum') {
      const ratio = numberIn(m.data, 'ratio12');
      const layerRatios = Array.isArray(m.data?.['layers']) ? (m.data['layers'] as { name?: unknown; ratio12?: unknown }[]) : [];
      const worst = layerRatios
        .filter((l): l is { name: string; ratio12: number } => typeof l.name === 'string' && typeof l.ratio12 === 'number')
        .sort((a, b) => b.ratio12 - a.ratio12)[0];
      const measured = Math.max(ratio ?? 0, worst?.ratio12 ?? 0);
      if (measured >= PRB_THRESHOLDS.spectralSpike) {
        const where = worst && worst.ratio12 >= (ratio ?? 0) ? `layer ${worst.name}` : 'the model';
        out.push({
          rule: 'PRB004', severity: 'warning', metric: m.name, measured, threshold: PRB_THRESHOLDS.spectralSpike,
          message: `The gradient noise of ${where} has a spectral spike: λ₁/λ₂ = ${fmt(measured)} (≥ ${PRB_THRESHOLDS.spectralSpike}) across micro-batches. One direction dominates the noise; gradient clipping (or spectral clipping) keeps such spikes from driving the updates${tail}.`,
          ...place(anchors.optimizer),
        });
      }
    }
    if (m.name === 'weights.alpha') {
      const steps = summary.steps.length;
      const sizes = new Map<string, number>();
      for (const l of Array.isArray(m.data?.['layers']) ? (m.data['layers'] as { layer?: unknown; numEigenvalues?: unknown }[]) : []) {
        if (typeof l.layer === 'string' && typeof l.numEigenvalues === 'number') sizes.set(l.layer, l.numEigenvalues);
      }
      for (const layer of m.layers ?? []) {
        if (typeof layer.value !== 'number') continue;
        if ((sizes.get(layer.name) ?? 0) < PRB_THRESHOLDS.alphaMinEigenvalues) continue;
        const low = layer.value < PRB_THRESHOLDS.alphaLow;
        const high = layer.value > PRB_THRESHOLDS.alphaHigh && steps >= PRB_THRESHOLDS.alphaHighMinSteps;
        if (!low && !high) continue;
        out.push({
          rule: 'PRB005', severity: low ? 'warning' : 'info', metric: m.name, measured: layer.value,
          threshold: low ? PRB_THRESHOLDS.alphaLow : PRB_THRESHOLDS.alphaHigh,
          message: low
            ? `Layer ${layer.name}: weight-spectrum power-law α = ${fmt(layer.value)} < ${PRB_THRESHOLDS.alphaLow}: very heavy-tailed, a sign the layer is over-fit (more weight decay or dropout here)${tail}.`
            : `Layer ${layer.name}: weight-spectrum power-law α = ${fmt(layer.value)} > ${PRB_THRESHOLDS.alphaHigh}: the layer looks under-trained (close to random)${tail}.`,
          ...place(layerAnchor(anchors, layer.name) ?? anchors.optimizer),
        });
      }
    }
    if (m.name === 'collapse.softmax') {
      const saturated = numberIn(m.data, 'saturated') ?? 0;
      const risk = m.data?.['risk'];
      const reasons = Array.isArray(m.data?.['reasons']) ? (m.data['reasons'] as unknown[]).filter((r): r is string => typeof r === 'string') : [];
      if (risk === 'rising' || risk === 'high') {
        out.push({
          rule: 'PRB006', severity: risk === 'high' ? 'warning' : 'info', metric: m.name, measured: saturated,
          threshold: PRB_THRESHOLDS.softmaxSaturation,
          message: `Softmax collapse risk is ${risk} at step ${m.step}: ${reasons.join('; ') || `${fmt(saturated * 100)} % of the float32 softmax outputs are exactly 0 or 1`}. Saturated outputs give zero gradient; weight decay on the output layer or label smoothing keeps the logits bounded${tail}.`,
          ...place(anchors.weightDecay ?? anchors.loss),
        });
      }
    }
  }

  const losses = summary.steps.map((s) => s.loss).filter((l): l is number => typeof l === 'number');
  const first = losses[0];
  const last = losses.at(-1);
  if (summary.error?.kind === 'nan') {
    out.push({
      rule: 'PRB007', severity: 'error', metric: 'step.loss', measured: Number.NaN, threshold: Number.POSITIVE_INFINITY,
      message: `The loss became NaN or infinite at step ${summary.error.step ?? '?'} for ${lrText}: the run diverged; lower the learning rate, add warm-up or clip gradients${tail}.`,
      ...place(anchors.lr),
    });
  } else if (first !== undefined && last !== undefined && first > 0 && last > PRB_THRESHOLDS.divergenceFactor * first) {
    out.push({
      rule: 'PRB007', severity: 'error', metric: 'step.loss', measured: last / first, threshold: PRB_THRESHOLDS.divergenceFactor,
      message: `The loss grew ${fmt(last / first)}× within ${losses.length} steps (${fmt(first)} → ${fmt(last)}) for ${lrText}: the run is diverging; lower the learning rate or add warm-up${tail}.`,
      ...place(anchors.lr),
    });
  }
  return out;
}
