/**
 * Exact Hessian-vector products of the surrogate by Pearlmutter's R-operator (forward-over-
 * reverse, written out for the layers the surrogate has): one forward pass carrying R{·} of
 * every activation, one backward pass carrying R{·} of every gradient. No finite differences,
 * so ReLU's kinks cost nothing (its second derivative is zero where it is defined). Layers
 * without an R-rule here (LayerNorm, GELU, SiLU) make `exactHvpSupported` false and the engine
 * falls back to finite differences.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SurrogateModel } from './surrogateModel';
import type { Activation } from './surrogateSpec';

const SMOOTH: readonly Activation[] = ['relu', 'tanh', 'sigmoid', 'identity', 'leaky_relu', 'softplus', 'elu'];

export function exactHvpSupported(model: SurrogateModel): boolean {
  return model.spec.layers.every((l) => l.kind === 'linear' || l.kind === 'dropout' || l.kind === 'flatten' || (l.kind === 'activation' && SMOOTH.includes(l.fn)));
}

/** σ'(z) and σ''(z). */
function derivatives(fn: Activation, z: tf.Tensor2D, slope: number): [tf.Tensor2D, tf.Tensor2D] {
  const zero = tf.zerosLike(z);
  switch (fn) {
    case 'relu': return [tf.cast(tf.greater(z, 0), 'float32') as tf.Tensor2D, zero];
    case 'leaky_relu': return [tf.where(tf.greater(z, 0), tf.onesLike(z), tf.fill(z.shape, slope)) as tf.Tensor2D, zero];
    case 'identity': return [tf.onesLike(z), zero];
    case 'tanh': {
      const t = tf.tanh(z);
      const d1 = tf.sub(1, tf.square(t)) as tf.Tensor2D;
      return [d1, tf.mul(tf.mul(-2, t), d1) as tf.Tensor2D];
    }
    case 'sigmoid': {
      const s = tf.sigmoid(z);
      const d1 = tf.mul(s, tf.sub(1, s)) as tf.Tensor2D;
      return [d1, tf.mul(d1, tf.sub(1, tf.mul(2, s))) as tf.Tensor2D];
    }
    case 'softplus': {
      const s = tf.sigmoid(z);
      return [s as tf.Tensor2D, tf.mul(s, tf.sub(1, s)) as tf.Tensor2D];
    }
    case 'elu': {
      const e = tf.exp(tf.minimum(z, 0));
      const pos = tf.greater(z, 0);
      return [tf.where(pos, tf.onesLike(z), e) as tf.Tensor2D, tf.where(pos, zero, e) as tf.Tensor2D];
    }
    default: throw new Error(`no R-rule for ${fn}`);
  }
}

/**
 * H·v at θ on a batch (no dropout: measurements are of the deterministic loss). θ and v are flat
 * in the model's segment layout; the result is float64.
 */
export function exactHvp(model: SurrogateModel, theta: Float64Array, v: Float64Array, x: tf.Tensor2D, y: tf.Tensor): Float64Array {
  let out = new Float64Array(0);
  tf.tidy(() => {
    const th = tf.tensor1d(Float32Array.from(theta));
    const vv = tf.tensor1d(Float32Array.from(v));
    const part = (src: tf.Tensor1D, layer: string, role: 'weight' | 'bias'): tf.Tensor | undefined => {
      const s = model.segments.find((q) => q.layer === layer && q.role === role);
      return s ? tf.reshape(tf.slice(src, s.start, s.size), [...s.shape]) : undefined;
    };
    // Forward, keeping what the backward pass needs.
    type Saved = { kind: 'linear'; name: string; input: tf.Tensor2D; rInput: tf.Tensor2D; w: tf.Tensor2D; vw: tf.Tensor2D } | { kind: 'activation'; d1: tf.Tensor2D; d2: tf.Tensor2D; rz: tf.Tensor2D };
    const saved: Saved[] = [];
    let a: tf.Tensor2D = x;
    let ra: tf.Tensor2D = tf.zerosLike(x);
    for (const l of model.spec.layers) {
      if (l.kind === 'linear') {
        const w = part(th, l.name, 'weight') as tf.Tensor2D;
        const vw = part(vv, l.name, 'weight') as tf.Tensor2D;
        saved.push({ kind: 'linear', name: l.name, input: a, rInput: ra, w, vw });
        let z = tf.matMul(a, w, false, true) as tf.Tensor2D;
        let rz = tf.add(tf.matMul(ra, w, false, true), tf.matMul(a, vw, false, true)) as tf.Tensor2D;
        if (l.bias) {
          z = tf.add(z, part(th, l.name, 'bias')!) as tf.Tensor2D;
          rz = tf.add(rz, part(vv, l.name, 'bias')!) as tf.Tensor2D;
        }
        a = z;
        ra = rz;
      } else if (l.kind === 'activation') {
        const [d1, d2] = derivatives(l.fn, a, l.slope ?? 0.01);
        saved.push({ kind: 'activation', d1, d2, rz: ra });
        const next = model.forwardActivation(l, a);
        ra = tf.mul(d1, ra) as tf.Tensor2D;
        a = next;
      }
    }
    // Loss gradient and its R-derivative at the output.
    const n = a.shape[0];
    let delta: tf.Tensor2D;
    let rDelta: tf.Tensor2D;
    if (model.spec.loss.kind === 'mse') {
      const k = a.shape[1];
      delta = tf.mul(tf.sub(a, y), 2 / (n * k)) as tf.Tensor2D;
      rDelta = tf.mul(ra, 2 / (n * k)) as tf.Tensor2D;
    } else {
      const classes = model.spec.outputDim;
      const ls = model.spec.loss.labelSmoothing;
      const target = tf.add(tf.mul(tf.oneHot(y as tf.Tensor1D, classes), 1 - ls), ls / classes);
      const p = tf.softmax(a);
      delta = tf.div(tf.sub(p, target), n) as tf.Tensor2D;
      // (diag(p) − ppᵀ)·R{out}, row by row.
      rDelta = tf.div(tf.sub(tf.mul(p, ra), tf.mul(p, tf.sum(tf.mul(p, ra), 1, true))), n) as tf.Tensor2D;
    }
    // Backward with R.
    const grads = new Map<string, tf.Tensor>();
    for (let i = saved.length - 1; i >= 0; i--) {
      const s = saved[i]!;
      if (s.kind === 'activation') {
        // δ_z = δ_a ⊙ σ'(z); R{δ_z} = R{δ_a} ⊙ σ'(z) + δ_a ⊙ σ''(z) ⊙ R{z}
        const nextR = tf.add(tf.mul(rDelta, s.d1), tf.mul(tf.mul(delta, s.d2), s.rz)) as tf.Tensor2D;
        delta = tf.mul(delta, s.d1) as tf.Tensor2D;
        rDelta = nextR;
      } else {
        // gW = δᵀa; R{gW} = R{δ}ᵀa + δᵀR{a}; R{gb} = Σ R{δ}; δ_in = δW; R{δ_in} = R{δ}W + δ·VW
        grads.set(`${s.name}.weight`, tf.add(tf.matMul(rDelta, s.input, true, false), tf.matMul(delta, s.rInput, true, false)));
        grads.set(`${s.name}.bias`, tf.sum(rDelta, 0));
        const nextR = tf.add(tf.matMul(rDelta, s.w), tf.matMul(delta, s.vw)) as tf.Tensor2D;
        delta = tf.matMul(delta, s.w) as tf.Tensor2D;
        rDelta = nextR;
      }
    }
    const result = new Float64Array(model.n);
    for (const seg of model.segments) {
      const g = grads.get(seg.name);
      if (g) result.set(g.dataSync(), seg.start);
    }
    out = result;
  });
  return out;
}
