/**
 * Synthetic data shaped like the script's: inputs x ~ N(0, I) of the model's input width and
 * targets from a random teacher network (d → 32 tanh → outputs), so there is something to learn;
 * class labels are the teacher's argmax, a share of them flipped when label noise is asked for.
 * Pure and seeded.
 */
import type { Rng } from './rng';
import type { SurrogateSpec } from './surrogateSpec';

export interface Dataset {
  readonly n: number;
  readonly inputDim: number;
  /** Row-major n × inputDim. */
  readonly x: Float32Array;
  /** Class indices (classification) or row-major n × outputs (regression). */
  readonly y: Float32Array;
  readonly classification: boolean;
  readonly description: string;
}

export function datasetSize(batchSize: number): number {
  return Math.min(8192, Math.max(1024, 16 * batchSize));
}

export function teacherData(spec: SurrogateSpec, n: number, rng: Rng, labelNoise = 0): Dataset {
  if (spec.tokens) return tokenData(spec, n, rng, labelNoise);
  const d = spec.inputDim;
  return teach(spec, d, n, rng, labelNoise, `x ~ N(0, I) in ${d} dimensions`, () => {
    const x = new Float32Array(n * d);
    for (let i = 0; i < x.length; i++) x[i] = rng.normal();
    return { features: x, x };
  });
}

/**
 * Token ids uniform over the vocabulary; the teacher reads each position through a fixed random
 * 4-dimensional code per token, so the labels depend on which tokens appear where.
 */
function tokenData(spec: SurrogateSpec, n: number, rng: Rng, labelNoise: number): Dataset {
  const vocab = spec.tokens!.vocab;
  const t = spec.inputDim;
  const width = 4;
  const taught = teach(spec, t * width, n, rng, labelNoise, `sequences of ${t} token ids uniform over ${vocab}`, () => {
    const code = Array.from({ length: vocab * width }, () => rng.normal());
    const ids = new Float32Array(n * t);
    const features = new Float32Array(n * t * width);
    for (let r = 0; r < n; r++) {
      for (let p = 0; p < t; p++) {
        const id = rng.int(vocab);
        ids[r * t + p] = id;
        for (let j = 0; j < width; j++) features[(r * t + p) * width + j] = code[id * width + j]! / Math.sqrt(t);
      }
    }
    return { features, x: ids };
  });
  return { ...taught, inputDim: t };
}

/** Targets from a random tanh teacher network (d → 32 → outputs) on the features `make` draws. */
function teach(spec: SurrogateSpec, d: number, n: number, rng: Rng, labelNoise: number, inputs: string, make: () => { features: Float32Array; x: Float32Array }): Dataset {
  const k = spec.outputDim;
  const hidden = 32;
  const w1 = Array.from({ length: hidden * d }, () => rng.normal() / Math.sqrt(d));
  const w2 = Array.from({ length: k * hidden }, () => (rng.normal() * 3) / Math.sqrt(hidden));
  const { features, x: inputsX } = make();
  const x = features;
  const classification = spec.loss.kind === 'cross_entropy';
  const y = new Float32Array(classification ? n : n * k);
  const h = new Float64Array(hidden);
  const out = new Float64Array(k);
  let flipped = 0;
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < hidden; j++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += w1[j * d + i]! * x[r * d + i]!;
      h[j] = Math.tanh(s);
    }
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < hidden; j++) s += w2[c * hidden + j]! * h[j]!;
      out[c] = s;
    }
    if (classification) {
      let best = 0;
      for (let c = 1; c < k; c++) if (out[c]! > out[best]!) best = c;
      if (labelNoise > 0 && rng.uniform() < labelNoise) { const drawn = rng.int(k); if (drawn !== best) flipped++; best = drawn; }
      y[r] = best;
    } else {
      for (let c = 0; c < k; c++) y[r * k + c] = out[c]!;
    }
  }
  if (!classification) {
    // Standardized targets (unit variance per output, as a careful script would have them), plus 10 % noise.
    for (let c = 0; c < k; c++) {
      let mean = 0, sq = 0;
      for (let r = 0; r < n; r++) { mean += y[r * k + c]!; sq += y[r * k + c]! ** 2; }
      mean /= n;
      const sd = Math.sqrt(Math.max(sq / n - mean * mean, 1e-12));
      for (let r = 0; r < n; r++) y[r * k + c] = (y[r * k + c]! - mean) / sd + 0.1 * rng.normal();
    }
  }
  const what = classification ? `${k}-class labels from a random teacher network${labelNoise > 0 ? `, ${flipped} flipped` : ''}` : `${k} standardized regression target(s) from a random teacher network plus 10 % noise`;
  return { n, inputDim: d, x: inputsX, y, classification, description: `${n} synthetic examples: ${inputs}, ${what}` };
}
