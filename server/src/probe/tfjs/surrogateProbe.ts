/**
 * The embedded engine's probe: trains the surrogate with the script's optimizer, learning rate
 * and batch size on synthetic data, and at the plan's probe steps takes the same measurements
 * as the Python harness, emitting the same events (docs/design/probe-events.md), so the run
 * store, the PRB findings and the panels work unchanged.
 *
 * HVPs are exact (Pearlmutter's R-operator, exactHvp.ts) for Linear stacks with ReLU, tanh,
 * sigmoid, softplus, ELU and leaky ReLU. Otherwise they are central differences of gradients with one Richardson step,
 * Hv ≈ (4·D(ε/2) − D(ε))/3, D(ε) = (∇L(θ+εv̂) − ∇L(θ−εv̂))/(2ε)·‖v‖ (truncation O(ε⁴)), because
 * TensorFlow.js's second-order gradients are not reliable (its gradients of gradients drop
 * terms for several ops; checked against finite differences). The size of the Richardson
 * correction is each HVP's error estimate, reported with the run.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MetricEvent, ProbeEvent, ProbePlan } from '../../protocol';
import { selectBackend, type BackendChoice } from './backend';
import { hutchinson, lanczos, slqDensity, type Hvp } from './curvature';
import { exactHvp, exactHvpSupported } from './exactHvp';
import { collapseRisk, gradientAlignment, gradientTailIndex, gsnr, noiseSpectrum, softmaxCollapse } from './noiseStats';
import { axpy, dot, norm, scaled, symmetricEigen } from './linalg';
import { Optimizer, stabilityThreshold } from './optimizers';
import { Rng } from './rng';
import { describeSchedule, scheduledLr } from './schedule';
import { SurrogateModel } from './surrogateModel';
import { parameterCount, type SurrogateSpec } from './surrogateSpec';
import { DataFileError, readDataFile, type DataWant } from './dataFile';
import { datasetSize, teacherData, type Dataset } from './teacherData';

export const HVP_FINITE_DIFFERENCE = 'finite-difference (central, Richardson)';
export const HVP_EXACT = 'exact (Pearlmutter R-operator, float32)';

export interface SurrogateProbeOptions {
  readonly spec: SurrogateSpec;
  readonly plan: ProbePlan;
  readonly backend?: BackendChoice;
  readonly labelNoise?: number;
  /** The user's data (.csv, .npy, .npz) instead of synthetic teacher data. */
  readonly dataFile?: string;
  emit(event: ProbeEvent): void;
}

class Stop extends Error {}

export async function runSurrogateProbe(o: SurrogateProbeOptions): Promise<'ok' | 'error'> {
  const started = performance.now();
  const t = (): number => Number(((performance.now() - started) / 1000).toFixed(4));
  let hvps = 0;
  let passes = 0;
  const emit = (e: ProbeEvent): void => o.emit(e);
  const backend = await selectBackend(o.backend ?? 'auto');
  const spec = o.spec;
  const plan = o.plan;
  const rng = new Rng(plan.seed + 1);
  const model = new SurrogateModel(spec);
  const exact = exactHvpSupported(model);
  const kinked = spec.layers.some((l) => (l.kind === 'activation' && (l.fn === 'relu' || l.fn === 'leaky_relu')) || ((l.kind === 'pool2d' || l.kind === 'pool1d' || l.kind === 'globalpool') && l.mode === 'max'));
  const hvpMethod = exact ? HVP_EXACT : HVP_FINITE_DIFFERENCE;
  emit({
    v: 1, type: 'hello', t: t(), harness: 'regscope-tfjs 0.1.0', python: '', torch: '', interpreter: `tfjs-${backend.name}`, pid: process.pid,
    device: { type: 'cpu', name: `TensorFlow.js ${backend.name}`, count: 1 }, rank: 0, worldSize: 1, hvpMethod,
    runtime: `TensorFlow.js ${tf.version_core}, ${backend.name} backend${backend.reason ? ` (${backend.reason})` : ''}`,
  });
  const dataIsUsers = o.dataFile !== undefined;
  let data: Dataset;
  try {
    data = o.dataFile ? readDataFile(o.dataFile, dataWant(spec)) : teacherData(spec, datasetSize(spec.batchSize), rng, o.labelNoise ?? 0);
    if (spec.tokens) checkTokens(data, spec.tokens.vocab);
  } catch (e) {
    if (!(e instanceof DataFileError)) throw e;
    emit({ v: 1, type: 'error', t: t(), kind: 'script', message: e.message });
    emit({ v: 1, type: 'done', t: t(), status: 'error', steps: 0, seconds: t(), cost: { hvps, passes } });
    return 'error';
  }
  emit({
    v: 1, type: 'warning', t: t(), code: 'surrogate',
    message: `This run trains a surrogate rebuilt from the script (${describeLayers(spec)}, ${parameterCount(spec).toLocaleString('en-US')} parameters, ${spec.optimizer.className} lr ${spec.optimizer.lr}, batch ${spec.batchSize}) on ${data.description}, not your script's own code${dataIsUsers ? '' : ' or data'}${spec.keras ? ' (the Python engine probes PyTorch scripts only)' : '; use the Python engine for that'}.${spec.assumptions.length ? ` Assumed: ${spec.assumptions.join('; ')}.` : ''}`,
  });

  let theta = model.init(rng);
  // Param groups split by shape: matrices and filters get one decay, vectors (biases, norms) another.
  const byShape = spec.optimizer.decayByShape;
  const decay = byShape ? new Float64Array(model.n) : undefined;
  if (decay && byShape) for (const s of model.segments) decay.fill(s.shape.length > 1 ? byShape.matrices : byShape.vectors, s.start, s.start + s.size);
  const opt = new Optimizer(spec.optimizer, model.n, spec.optimizer.lr, decay);
  const steps = Math.max(...plan.budget.probeSteps);
  const last = steps;
  // The script's schedule: per optimizer step, or per epoch of the data the surrogate trains on
  // (a user's data file has real epochs; synthetic data stays in its first epoch).
  const schedule = spec.schedule;
  const stepsPerEpoch = dataIsUsers ? Math.ceil(data.n / spec.batchSize) : undefined;
  const lrAt = (step: number): number => {
    if (!schedule) return spec.optimizer.lr;
    const k = schedule.per === 'step' ? step - 1 : stepsPerEpoch ? Math.floor((step - 1) / stepsPerEpoch) : 0;
    return scheduledLr(schedule.shape, spec.optimizer.lr, k);
  };
  if (schedule) emit({ v: 1, type: 'warning', t: t(), code: 'schedule', message: describeSchedule(schedule, spec.optimizer.lr, steps, stepsPerEpoch) });
  const order: number[] = [];
  let cursor = 0;
  const nextBatch = (): number[] => {
    if (cursor + spec.batchSize > order.length) { order.splice(0, order.length, ...rng.permutation(data.n)); cursor = 0; }
    const idx = order.slice(cursor, cursor + Math.min(spec.batchSize, data.n));
    cursor += idx.length;
    return idx;
  };
  const history: Float64Array[] = [];
  let previous: Float64Array | undefined;

  // --- tensors and gradients -------------------------------------------------------------------
  const batchTensors = (idx: readonly number[]): { x: tf.Tensor2D; y: tf.Tensor } => {
    const d = data.inputDim;
    const x = new Float32Array(idx.length * d);
    idx.forEach((r, i) => x.set(data.x.subarray(r * d, (r + 1) * d), i * d));
    if (data.classification) return { x: tf.tensor2d(x, [idx.length, d]), y: tf.tensor1d(Int32Array.from(idx.map((r) => data.y[r]!)), 'int32') };
    const k = spec.outputDim;
    const y = new Float32Array(idx.length * k);
    idx.forEach((r, i) => y.set(data.y.subarray(r * k, (r + 1) * k), i * k));
    return { x: tf.tensor2d(x, [idx.length, d]), y: tf.tensor2d(y, [idx.length, k]) };
  };
  const gradient = (th: Float64Array, batch: { x: tf.Tensor2D; y: tf.Tensor }, dropoutSeed?: number): { loss: number; grad: Float64Array } => {
    passes++;
    let out = { loss: Number.NaN, grad: new Float64Array(0) };
    tf.tidy(() => {
      const p = tf.tensor1d(Float32Array.from(th));
      const { value, grad } = tf.valueAndGrad((q: tf.Tensor) => model.loss(q as tf.Tensor1D, batch.x, batch.y, dropoutSeed))(p);
      out = { loss: value.dataSync()[0]!, grad: Float64Array.from(grad.dataSync()) };
    });
    return out;
  };
  const lossAt = (th: Float64Array, batch: { x: tf.Tensor2D; y: tf.Tensor }): number => {
    passes++;
    let v = Number.NaN;
    tf.tidy(() => { v = model.loss(tf.tensor1d(Float32Array.from(th)), batch.x, batch.y).dataSync()[0]!; });
    return v;
  };
  /** HVP at θ on a batch (no dropout), with its error estimate. */
  const hvpAt = (th: Float64Array, batch: { x: tf.Tensor2D; y: tf.Tensor }): { hvp: Hvp; errors: number[] } => {
    const errors: number[] = [];
    const scale = Math.max(1, norm(th) / Math.sqrt(th.length));
    // ReLU and max-pooling make the gradient jump at kinks; a smaller step crosses fewer of them.
    const eps = (kinked ? 1e-3 : 1e-2) * scale;
    const diff = (dir: Float64Array, e: number): Float64Array => {
      const plus = Float64Array.from(th); axpy(plus, e, dir);
      const minus = Float64Array.from(th); axpy(minus, -e, dir);
      const gp = gradient(plus, batch).grad;
      const gm = gradient(minus, batch).grad;
      passes -= 2;
      const out = new Float64Array(th.length);
      for (let i = 0; i < out.length; i++) out[i] = (gp[i]! - gm[i]!) / (2 * e);
      return out;
    };
    if (exact) return { hvp: (v) => { hvps++; return exactHvp(model, th, v, batch.x, batch.y); }, errors };
    const hvp: Hvp = (v) => {
      hvps++;
      const nv = norm(v);
      if (nv === 0) return new Float64Array(v.length);
      const dir = scaled(v, 1 / nv);
      const coarse = diff(dir, eps);
      const fine = diff(dir, eps / 2);
      const out = new Float64Array(v.length);
      for (let i = 0; i < out.length; i++) out[i] = ((4 * fine[i]! - coarse[i]!) / 3) * nv;
      const correction = norm(Float64Array.from(out, (x, i) => x - fine[i]! * nv));
      errors.push(correction / Math.max(norm(out), 1e-30));
      return out;
    };
    return { hvp, errors };
  };
  const layerSegments = (): { name: string; range: [number, number] }[] => {
    const out: { name: string; range: [number, number] }[] = [];
    for (const s of model.segments) {
      const prev = out.at(-1);
      if (prev && prev.name === s.layer) prev.range[1] = s.start + s.size;
      else out.push({ name: s.layer, range: [s.start, s.start + s.size] });
    }
    return out;
  };
  const metric = (name: string, step: number, cost: { hvps: number; passes: number; seconds: number }, rest: Partial<MetricEvent>): void => {
    emit({ v: 1, type: 'metric', t: t(), name, step, cost: { hvps: cost.hvps, passes: cost.passes, seconds: Number(cost.seconds.toFixed(4)) }, ...rest });
  };
  const costSince = (h0: number, p0: number, s0: number): { hvps: number; passes: number; seconds: number } => ({ hvps: hvps - h0, passes: passes - p0, seconds: (performance.now() - s0) / 1000 });
  const hparams = (step: number): void => {
    const s = spec.optimizer;
    const extra = s.kind === 'sgd' ? { momentum: s.momentum, nesterov: s.nesterov } : s.kind === 'rmsprop' ? { eps: s.eps } : { betas: [s.beta1, s.beta2], eps: s.eps };
    const matrices = model.segments.filter((q) => q.shape.length > 1).reduce((a, q) => a + q.size, 0);
    const groups = s.decayByShape
      ? [{ index: 0, lr: opt.lr, numel: matrices, weightDecay: s.decayByShape.matrices, ...extra }, { index: 1, lr: opt.lr, numel: model.n - matrices, weightDecay: s.decayByShape.vectors, ...extra }]
      : [{ index: 0, lr: opt.lr, numel: model.n, weightDecay: s.weightDecay, ...extra }];
    emit({ v: 1, type: 'hparams', t: t(), step, optimizers: [{ index: 0, class: s.className, groups }] });
  };

  // --- measurements at a probe step (θ before that step's update, on that step's batch) --------
  const measure = (step: number, batch: { x: tf.Tensor2D; y: tf.Tensor }, idx: readonly number[]): void => {
    const final = step === last;
    const metrics = new Set(plan.metrics);
    const { hvp, errors } = hvpAt(theta, batch);
    // The batch gradient at θ, taken once for the alignment and the collapse statistics.
    let batchGrad: Float64Array | undefined;
    const gradHere = (): Float64Array => (batchGrad ??= gradient(theta, batch).grad);
    if (metrics.has('hessian')) {
      emit({ v: 1, type: 'progress', t: t(), phase: 'hessian', done: 0, total: 1, message: `step ${step}: Lanczos on the surrogate` });
      let h0 = hvps, p0 = passes, s0 = performance.now();
      const steps = final ? plan.hessian.lanczosSteps : Math.ceil(plan.hessian.lanczosSteps / 2);
      const top = lanczos(hvp, model.n, steps, plan.hessian.topK, rng);
      // With finite-difference HVPs the Ritz bound is not the whole error: each product is off by
      // about its Richardson correction, so λ₁'s half-width is at least that share of λ₁.
      const hvpError = errors.length ? median(errors) : 0;
      metric('hessian.top', step, costSince(h0, p0, s0), {
        value: top.eigenvalues[0]!, uncertainty: { kind: 'residual', halfWidth: Math.max(top.residuals[0]!, hvpError * Math.abs(top.eigenvalues[0]!)) },
        data: { eigenvalues: top.eigenvalues, residuals: top.residuals, steps: top.steps, hvpMethod, ...(errors.length ? { hvpRelError: median(errors) } : {}) },
      });
      if (final) {
        // Share of the batch gradient in the top eigenspace (Gur-Ari et al.: it concentrates there).
        const fresh = batchGrad === undefined;
        const share = gradientAlignment(gradHere(), top.vectors);
        if (share !== null) metric('noise.alignment', step, { hvps: 0, passes: fresh ? 1 : 0, seconds: 0 }, { value: share, data: { k: top.eigenvalues.length } });
      }
      const rule = stabilityThreshold(spec.optimizer, opt.lr);
      let sharpness = top.eigenvalues[0]!;
      h0 = hvps; p0 = passes; s0 = performance.now();
      const pre = opt.preconditioner();
      if (rule.rule === 'adam' && pre) {
        const root = pre.map(Math.sqrt);
        const preHvp: Hvp = (v) => { const w = hvp(v.map((x, i) => x * root[i]!)); return w.map((x, i) => x * root[i]!); };
        sharpness = lanczos(preHvp, model.n, Math.ceil(plan.hessian.lanczosSteps / 2), 1, rng).eigenvalues[0]!;
      }
      metric('stability.sharpness', step, costSince(h0, p0, s0), {
        value: sharpness / rule.threshold,
        data: { rule: rule.rule, sharpness, threshold: rule.threshold, ratio: sharpness / rule.threshold, lr: opt.lr, ...(rule.beta !== undefined ? { beta: rule.beta } : {}) },
      });
      if (final) {
        h0 = hvps; p0 = passes; s0 = performance.now();
        const segments = layerSegments();
        const tr = hutchinson(hvp, model.n, top.vectors, plan.hessian.traceMaxProbes - top.vectors.length, plan.hessian.traceRelTol, segments.map((s) => s.range), rng);
        const half = Math.max(tr.halfWidth, (errors.length ? median(errors) : 0) * Math.abs(tr.trace));
        metric('hessian.trace', step, costSince(h0, p0, s0), {
          value: tr.trace, uncertainty: { kind: 'ci95', halfWidth: half, low: tr.trace - half, high: tr.trace + half },
          layers: segments.map((s, i) => ({ name: s.name, value: tr.segments[i]!.value, uncertainty: { kind: 'ci95' as const, halfWidth: tr.segments[i]!.halfWidth } })),
          data: { probes: tr.probes, estimates: tr.estimates, converged: tr.halfWidth <= plan.hessian.traceRelTol * Math.abs(tr.trace) },
        });
        h0 = hvps; p0 = passes; s0 = performance.now();
        const d = slqDensity(hvp, model.n, plan.hessian.densityProbes, plan.hessian.densitySteps, top, rng);
        metric('hessian.density', step, costSince(h0, p0, s0), {
          value: d.impliedTrace, uncertainty: { kind: 'stderr', halfWidth: d.impliedTraceStderr },
          data: { grid: d.grid, density: d.density, outliers: d.outliers, nodes: d.nodes, weights: d.weights, sigma: d.sigma },
        });
        if (spec.optimizer.kind === 'sgd') {
          const threshold = 2 / opt.lr;
          metric('stability.sgd_trace', step, { hvps: 0, passes: 0, seconds: 0 }, {
            value: tr.trace / threshold, data: { rule: 'sgd_trace', sharpness: tr.trace, trace: tr.trace, threshold, ratio: tr.trace / threshold, lr: opt.lr },
          });
        }
      }
      emit({ v: 1, type: 'progress', t: t(), phase: 'hessian', done: 1, total: 1, message: `step ${step}: curvature done` });
    }
    if (metrics.has('collapse') && spec.loss.kind === 'cross_entropy') collapse(step, batch, gradHere);
    if (!final) return;
    if (metrics.has('weights')) weights(step);
    {
      // One HVP against one forward+backward, on this batch.
      const s0 = performance.now();
      gradient(theta, batch);
      const fb = (performance.now() - s0) / 1000;
      const s1 = performance.now();
      const v = new Float64Array(model.n).map(() => rng.normal());
      hvpAt(theta, batch).hvp(v);
      const hv = (performance.now() - s1) / 1000;
      metric('cost.hvp_ratio', step, { hvps: 1, passes: 1, seconds: fb + hv }, { value: hv / fb, data: { hvpSeconds: hv, forwardBackwardSeconds: fb, method: hvpMethod } });
    }
    if (metrics.has('noise')) noise(step, idx);
    if (metrics.has('landscape')) landscape(step, batch);
  };

  const weights = (step: number): void => {
    const s0 = performance.now();
    const layers: Record<string, unknown>[] = [];
    for (const s of model.segments.filter((q) => q.role === 'weight')) {
      // A convolution's [out, in, kh, kw] as an out × (in·kh·kw) matrix, as the Python engine reads it.
      const rows = s.shape[0]!;
      const cols = s.size / rows;
      const w = theta.subarray(s.start, s.start + s.size);
      // Eigenvalues of WᵀW/N through the smaller Gram matrix (same non-zero spectrum).
      const small = Math.min(rows, cols);
      const gram = Array.from({ length: small }, () => new Array<number>(small).fill(0));
      for (let i = 0; i < small; i++) for (let j = i; j < small; j++) {
        let x = 0;
        if (rows <= cols) for (let c = 0; c < cols; c++) x += w[i * cols + c]! * w[j * cols + c]!;
        else for (let r = 0; r < rows; r++) x += w[r * cols + i]! * w[r * cols + j]!;
        gram[i]![j] = x; gram[j]![i] = x;
      }
      const eig = symmetricEigen(gram).values.map((x) => Math.max(0, x) / Math.max(rows, cols)).sort((a, b) => a - b);
      const fit = powerLaw(eig);
      const s1 = Math.sqrt(eig.at(-1)! * Math.max(rows, cols));
      const fro2 = eig.reduce((a, b) => a + b, 0) * Math.max(rows, cols);
      layers.push({
        name: s.name, layer: s.layer, shape: [...s.shape], matrixShape: [rows, cols], skipped: fit ? null : 'too few eigenvalues for a power-law fit', passes: 0,
        spectralNorm: s1, stableRank: s1 > 0 ? fro2 / (s1 * s1) : 0, numEigenvalues: eig.length,
        eigenvalues: eig, eigenvalueCcdf: eig.map((_, i) => (eig.length - i) / eig.length),
        alpha: fit?.alpha ?? null, xmin: fit?.xmin ?? null, ks: fit?.ks ?? null, nTail: fit?.nTail ?? null,
      });
    }
    const alphas = layers.map((l) => l['alpha']).filter((a): a is number => typeof a === 'number');
    metric('weights.alpha', step, { hvps: 0, passes: 0, seconds: (performance.now() - s0) / 1000 }, {
      value: alphas.length ? median(alphas) : null,
      layers: layers.map((l) => ({ name: l['layer'] as string, value: (l['alpha'] as number | null) ?? null })),
      data: { layers },
    });
  };

  let previousLogitNorm: number | null = null;
  const collapse = (step: number, batch: { x: tf.Tensor2D; y: tf.Tensor }, grad: () => Float64Array): void => {
    const s0 = performance.now();
    const p0 = passes;
    let logits: ArrayLike<number> = [];
    tf.tidy(() => { logits = model.forward(tf.tensor1d(Float32Array.from(theta)), batch.x).dataSync() as Float32Array; });
    passes++;
    const stats = softmaxCollapse(logits, spec.outputDim, previousLogitNorm, grad(), theta);
    const { level, reasons } = collapseRisk(stats);
    previousLogitNorm = stats.logitNorm;
    metric('collapse.softmax', step, { hvps: 0, passes: passes - p0, seconds: (performance.now() - s0) / 1000 }, { value: stats.saturated, data: { ...stats, risk: level, reasons } });
  };

  const noise = (step: number, idx: readonly number[]): void => {
    const m = Math.min(plan.noise.microBatches, idx.length);
    if (m < 2) return;
    const h0 = hvps, p0 = passes, s0 = performance.now();
    const b = Math.floor(idx.length / m);
    const grads: Float64Array[] = [];
    for (let i = 0; i < m; i++) {
      const mb = batchTensors(idx.slice(i * b, (i + 1) * b));
      grads.push(gradient(theta, mb).grad);
      tf.dispose([mb.x, mb.y]);
    }
    const big = b * m;
    // McCandlish et al.'s unbiased estimators from micro-batch (size b) and full-batch (size B) gradient norms.
    const estimate = (gs: readonly Float64Array[]): { trSigma: number; g2: number; bSimple: number | null } => {
      const mean = new Float64Array(model.n);
      for (const g of gs) axpy(mean, 1 / gs.length, g);
      const bigB = b * gs.length;
      const small = gs.reduce((s, g) => s + dot(g, g), 0) / gs.length;
      const large = dot(mean, mean);
      const g2 = (bigB * large - b * small) / (bigB - b);
      const trSigma = (small - large) / (1 / b - 1 / bigB);
      return { trSigma, g2, bSimple: g2 > 0 ? trSigma / g2 : null };
    };
    const all = estimate(grads);
    // Jackknife over micro-batches for a 90 % interval.
    const loo = grads.map((_, i) => estimate(grads.filter((__, j) => j !== i)).bSimple).filter((x): x is number => x !== null);
    let uncertainty: MetricEvent['uncertainty'];
    if (all.bSimple !== null && loo.length === m) {
      const meanLoo = loo.reduce((s, x) => s + x, 0) / m;
      const se = Math.sqrt(((m - 1) / m) * loo.reduce((s, x) => s + (x - meanLoo) ** 2, 0));
      uncertainty = { kind: 'interval90', low: Math.max(0, all.bSimple - 1.645 * se), high: all.bSimple + 1.645 * se };
    }
    metric('noise.scale', step, costSince(h0, p0, s0), {
      value: all.bSimple, ...(uncertainty ? { uncertainty } : {}),
      data: { batchSize: spec.batchSize, microBatch: b, trSigma: all.trSigma, gradNormSq: all.g2, reason: all.bSimple === null ? 'the gradient is not measurably above its noise' : `${m} micro-batches of ${b} (of ${big})` },
    });
    const segments = layerSegments();
    let s1 = performance.now();
    const spec2 = noiseSpectrum(grads, segments, b);
    metric('noise.spectrum', step, { hvps: 0, passes: 0, seconds: (performance.now() - s1) / 1000 }, {
      value: spec2.spike, layers: spec2.layers.map((l) => ({ name: l.name, value: l.spike })), data: { ...spec2 },
    });
    s1 = performance.now();
    const snr = gsnr(grads, segments);
    metric('noise.gsnr', step, { hvps: 0, passes: 0, seconds: (performance.now() - s1) / 1000 }, { value: snr.overall, layers: snr.layers, data: { microBatches: m, microBatch: b } });
    s1 = performance.now();
    try {
      const tail = gradientTailIndex(grads, rng);
      metric('noise.tail_index', step, { hvps: 0, passes: 0, seconds: (performance.now() - s1) / 1000 }, { value: tail.alpha, data: { k1: tail.k1, samples: tail.samples } });
    } catch (e) {
      emit({ v: 1, type: 'warning', t: t(), code: 'tail-index', message: (e as Error).message });
    }
  };

  const landscape = (step: number, batch: { x: tf.Tensor2D; y: tf.Tensor }): void => {
    const h0 = hvps, p0 = passes, s0 = performance.now();
    // Filter-normalized random directions: each weight row (a unit's filter) scaled to the norm of
    // that row of θ; biases and LayerNorm parameters left out (as in Li et al.).
    const direction = (): Float64Array => {
      const d = new Float64Array(model.n);
      for (const s of model.segments) {
        if (s.role !== 'weight') continue;
        const rows = s.shape[0]!;
        const cols = s.size / rows;
        for (let r = 0; r < rows; r++) {
          let wn = 0, dn = 0;
          const base = s.start + r * cols;
          for (let c = 0; c < cols; c++) { d[base + c] = rng.normal(); wn += theta[base + c]! ** 2; dn += d[base + c]! ** 2; }
          const f = Math.sqrt(wn) / Math.max(Math.sqrt(dn), 1e-30);
          for (let c = 0; c < cols; c++) d[base + c]! *= f;
        }
      }
      return d;
    };
    const d1 = direction();
    const d2 = direction();
    const grid = plan.landscape.grid;
    const span = plan.landscape.span;
    const xs = Array.from({ length: grid }, (_, i) => Number((-span + (2 * span * i) / (grid - 1)).toFixed(6)));
    const loss: (number | null)[][] = xs.map(() => xs.map(() => null));
    // Trajectory: each earlier θ − θ_now projected on (d1, d2) by least squares.
    const a11 = dot(d1, d1), a12 = dot(d1, d2), a22 = dot(d2, d2), det = a11 * a22 - a12 * a12;
    const trajectory = [...history, theta].map((th, i) => {
      const delta = Float64Array.from(th, (x, k) => x - theta[k]!);
      const b1 = dot(delta, d1), b2 = dot(delta, d2);
      const x = (a22 * b1 - a12 * b2) / det, y = (a11 * b2 - a12 * b1) / det;
      const rest = Float64Array.from(delta); axpy(rest, -x, d1); axpy(rest, -y, d2);
      return { step: i, x, y, loss: null as number | null, residual: norm(delta) > 0 ? norm(rest) / norm(delta) : 0 };
    });
    const fill = (stride: number): void => {
      for (let j = 0; j < grid; j += stride) for (let i = 0; i < grid; i += stride) {
        if (loss[j]![i] !== null) continue;
        const th = Float64Array.from(theta); axpy(th, xs[i]!, d1); axpy(th, xs[j]!, d2);
        const v = lossAt(th, batch);
        loss[j]![i] = Number.isFinite(v) ? v : null;
      }
    };
    const stride = Math.max(1, Math.round((grid - 1) / (plan.landscape.preview - 1)));
    const send = (complete: boolean): void => metric('landscape.2d', step, costSince(h0, p0, s0), {
      value: loss[(grid - 1) / 2]![(grid - 1) / 2] ?? null,
      data: { xs, ys: xs, loss: loss.map((r) => [...r]), directions: 'random', complete, trajectory, trainingLoss: loss[(grid - 1) / 2]![(grid - 1) / 2] },
    });
    fill(stride);
    send(stride === 1);
    if (plan.landscape.refine && stride > 1) {
      fill(1);
      send(true);
    }
  };

  // --- the training loop -------------------------------------------------------------------------
  try {
    for (let step = 1; step <= steps; step++) {
      const s0 = performance.now();
      opt.lr = lrAt(step);
      const idx = nextBatch();
      const batch = batchTensors(idx);
      if (plan.budget.probeSteps.includes(step)) {
        measure(step, batch, idx);
        if (plan.metrics.includes('weights') && previous) {
          const segs = layerSegments();
          const ratios = segs.map((s) => {
            const a = theta.subarray(s.range[0], s.range[1]), b = previous!.subarray(s.range[0], s.range[1]);
            const dlt = Float64Array.from(a, (x, i) => x - b[i]!);
            return { name: s.name, value: norm(dlt) / Math.max(norm(Float64Array.from(b)), 1e-30) };
          });
          metric('weights.update_ratio', step, { hvps: 0, passes: 0, seconds: 0 }, { value: median(ratios.map((r) => r.value)), layers: ratios });
        }
      }
      const { loss, grad } = gradient(theta, batch, rng.int(2 ** 30));
      tf.dispose([batch.x, batch.y]);
      if (!Number.isFinite(loss)) {
        emit({ v: 1, type: 'error', t: t(), kind: 'nan', message: `the loss became ${loss} at step ${step}: the surrogate diverged with lr ${opt.lr}`, step });
        emit({ v: 1, type: 'done', t: t(), status: 'error', steps: step - 1, seconds: t(), cost: { hvps, passes } });
        return 'error';
      }
      if (spec.clipNorm !== null) { const gn = norm(grad); if (gn > spec.clipNorm) for (let i = 0; i < grad.length; i++) grad[i]! *= spec.clipNorm / gn; }
      history.push(Float64Array.from(theta));
      previous = Float64Array.from(theta);
      opt.apply(theta, grad);
      const update = Float64Array.from(theta, (x, i) => x - previous![i]!);
      emit({ v: 1, type: 'step', t: t(), step, loss, lr: opt.lr, gradNorm: norm(grad), seconds: (performance.now() - s0) / 1000, updateRatio: norm(update) / Math.max(norm(previous), 1e-30) });
      if (step === 1 || plan.budget.probeSteps.includes(step)) hparams(step);
    }
  } catch (e) {
    if (e instanceof Stop) throw e;
    emit({ v: 1, type: 'error', t: t(), kind: 'harness', message: `the embedded engine failed: ${(e as Error).message}` });
    emit({ v: 1, type: 'done', t: t(), status: 'error', steps: opt.steps, seconds: t(), cost: { hvps, passes } });
    return 'error';
  }
  emit({ v: 1, type: 'done', t: t(), status: 'ok', steps, seconds: t(), cost: { hvps, passes } });
  return 'ok';
}

/** `2 Conv2d, 2 BatchNorm, 1 Linear layers` */
function describeLayers(spec: SurrogateSpec): string {
  const names: Record<string, string> = { embedding: 'Embedding', linear: 'Linear', conv1d: 'Conv1d', conv2d: 'Conv2d', batchnorm: 'BatchNorm', layernorm: 'LayerNorm', pool1d: 'pooling', pool2d: 'pooling', globalpool: 'global pooling', dropout: 'Dropout' };
  const counts = new Map<string, number>();
  for (const l of spec.layers) if (names[l.kind]) counts.set(names[l.kind]!, (counts.get(names[l.kind]!) ?? 0) + 1);
  return `${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')} layers`;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : Number.NaN;
}

/**
 * Power law p(λ) ∝ λ^−α above x_min fitted by maximum likelihood, x_min chosen to minimize the
 * Kolmogorov–Smirnov distance (Clauset, Shalizi & Newman), over the upper half of the spectrum.
 */
export function powerLaw(sorted: readonly number[]): { alpha: number; xmin: number; ks: number; nTail: number } | undefined {
  const xs = sorted.filter((x) => x > 0);
  if (xs.length < 10) return undefined;
  let best: { alpha: number; xmin: number; ks: number; nTail: number } | undefined;
  for (let k = Math.floor(xs.length / 2); k < xs.length - 4; k++) {
    const xmin = xs[k]!;
    const tail = xs.slice(k);
    const s = tail.reduce((acc, x) => acc + Math.log(x / xmin), 0);
    if (s <= 0) continue;
    const alpha = 1 + tail.length / s;
    let ks = 0;
    tail.forEach((x, i) => {
      const empirical = i / tail.length;
      const model = 1 - (x / xmin) ** (1 - alpha);
      ks = Math.max(ks, Math.abs(empirical - model));
    });
    if (!best || ks < best.ks) best = { alpha, xmin, ks, nTail: tail.length };
  }
  return best;
}

/** What a data file must hold for this surrogate (a signal's (C, T) rows are read as a 1×T image). */
function dataWant(spec: SurrogateSpec): DataWant {
  const shape = spec.inputShape ?? (spec.inputSeq ? ([1, spec.inputSeq[0], spec.inputSeq[1]] as const) : undefined);
  return { inputDim: spec.inputDim, ...(shape ? { inputShape: shape } : {}), outputDim: spec.outputDim, classification: spec.loss.kind === 'cross_entropy' };
}

/** Token ids must be whole numbers below the Embedding's vocabulary. */
function checkTokens(data: Dataset, vocab: number): void {
  for (let i = 0; i < data.x.length; i++) {
    const v = data.x[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= vocab) {
      throw new DataFileError(`row ${Math.floor(i / data.inputDim) + 1} holds token id ${v}; the Embedding takes whole numbers from 0 to ${vocab - 1}`);
    }
  }
}
