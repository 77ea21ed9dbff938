/**
 * The surrogate network in TensorFlow.js, as a function of one flat parameter vector (so a
 * gradient is one vector, and an HVP a difference of two), with PyTorch's layouts and default
 * initialization. Float32 on every backend; the engine keeps θ in float64 between steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from './rng';
import type { LayerSpec, SurrogateSpec } from './surrogateSpec';

export interface Segment {
  /** PyTorch's parameter name (`0.weight`) and its module (`0`). */
  readonly name: string;
  readonly layer: string;
  readonly role: 'weight' | 'bias' | 'gain' | 'shift';
  readonly start: number;
  readonly shape: readonly number[];
  readonly size: number;
}

export class SurrogateModel {
  readonly segments: Segment[] = [];
  readonly n: number;
  /** Per convolution: its padded input size and its output size. */
  private readonly convPlans = new Map<string, { readonly hp: number; readonly wp: number; readonly ho: number; readonly wo: number }>();

  constructor(readonly spec: SurrogateSpec) {
    let at = 0;
    const add = (layer: string, role: Segment['role'], shape: number[]): void => {
      const size = shape.reduce((a, b) => a * b, 1);
      this.segments.push({ name: `${layer}.${role === 'gain' ? 'weight' : role === 'shift' ? 'bias' : role}`, layer, role, start: at, shape, size });
      at += size;
    };
    for (const l of spec.layers) {
      if (l.kind === 'linear') {
        add(l.name, 'weight', [l.outFeatures, l.inFeatures]);
        if (l.bias) add(l.name, 'bias', [l.outFeatures]);
      } else if (l.kind === 'conv2d') {
        add(l.name, 'weight', [l.outChannels, l.inChannels, l.kernel, l.kernel]);
        if (l.bias) add(l.name, 'bias', [l.outChannels]);
      } else if (l.kind === 'conv1d') {
        add(l.name, 'weight', [l.outChannels, l.inChannels, l.kernel]);
        if (l.bias) add(l.name, 'bias', [l.outChannels]);
      } else if (l.kind === 'embedding') {
        add(l.name, 'weight', [l.vocab, l.dim]);
      } else if (l.kind === 'layernorm' || l.kind === 'batchnorm') {
        add(l.name, 'gain', [l.features]);
        add(l.name, 'shift', [l.features]);
      }
    }
    this.n = at;
    // Spatial sizes through the stack, for the convolutions' gather indices.
    let side = spec.inputShape ? [spec.inputShape[0], spec.inputShape[1]] : undefined;
    let length = spec.inputSeq?.[0] ?? (spec.tokens ? spec.inputDim : undefined);
    for (const l of spec.layers) {
      if (length !== undefined) {
        if (l.kind === 'conv1d') {
          const hp = length + 2 * l.padding;
          const ho = Math.floor((hp - l.kernel) / l.stride) + 1;
          this.convPlans.set(l.name, { hp, wp: 1, ho, wo: 1 });
          length = ho;
        } else if (l.kind === 'pool1d') length = Math.floor((length - l.kernel) / l.stride) + 1;
        else if (l.kind === 'flatten' || l.kind === 'globalpool') length = undefined;
      }
      if (!side) continue;
      if (l.kind === 'conv2d') {
        const [h, w] = side as [number, number];
        const hp = h + 2 * l.padding, wp = w + 2 * l.padding;
        const ho = Math.floor((hp - l.kernel) / l.stride) + 1, wo = Math.floor((wp - l.kernel) / l.stride) + 1;
        this.convPlans.set(l.name, { hp, wp, ho, wo });
        side = [ho, wo];
      } else if (l.kind === 'pool2d') {
        side = [Math.floor((side[0]! - l.kernel) / l.stride) + 1, Math.floor((side[1]! - l.kernel) / l.stride) + 1];
      } else if (l.kind === 'flatten' || l.kind === 'globalpool') side = undefined;
    }
  }

  /** PyTorch's defaults: Linear and convolution weight and bias U(−1/√fan_in, 1/√fan_in); Embedding N(0, 1); norms 1 and 0. */
  init(rng: Rng): Float64Array {
    const theta = new Float64Array(this.n);
    for (const s of this.segments) {
      const layer = this.spec.layers.find((l) => l.name === s.layer)!;
      for (let i = 0; i < s.size; i++) {
        if (layer.kind === 'linear') theta[s.start + i] = (2 * rng.uniform() - 1) / Math.sqrt(layer.inFeatures);
        else if (layer.kind === 'conv2d') theta[s.start + i] = (2 * rng.uniform() - 1) / Math.sqrt(layer.inChannels * layer.kernel * layer.kernel);
        else if (layer.kind === 'conv1d') theta[s.start + i] = (2 * rng.uniform() - 1) / Math.sqrt(layer.inChannels * layer.kernel);
        else if (layer.kind === 'embedding') theta[s.start + i] = rng.normal();
        else theta[s.start + i] = s.role === 'gain' ? 1 : 0;
      }
    }
    return theta;
  }

  /**
   * Outputs for a batch of flat inputs (reshaped to [N, H, W, C] for an image model). With a
   * `dropoutSeed`, Dropout layers drop (training); without, they pass through (measurements).
   */
  forward(theta: tf.Tensor1D, x: tf.Tensor2D, dropoutSeed?: number): tf.Tensor2D {
    const shape = this.spec.inputShape ?? this.spec.inputSeq;
    let h: tf.Tensor = shape ? tf.reshape(x, [x.shape[0], ...shape]) : x;
    const seg = (layer: string, role: Segment['role']): tf.Tensor => {
      const s = this.segments.find((q) => q.layer === layer && q.role === role)!;
      return tf.reshape(tf.slice(theta, s.start, s.size), [...s.shape]);
    };
    this.spec.layers.forEach((l, i) => { h = this.apply(l, h, seg, dropoutSeed === undefined ? undefined : dropoutSeed + i); });
    return h as tf.Tensor2D;
  }

  /** One activation layer's output (shared with the exact HVP's forward pass). */
  forwardActivation(l: Extract<LayerSpec, { kind: 'activation' }>, h: tf.Tensor2D): tf.Tensor2D {
    return this.apply(l, h, () => { throw new Error('an activation has no parameters'); }) as tf.Tensor2D;
  }

  private apply(l: LayerSpec, h: tf.Tensor, seg: (layer: string, role: Segment['role']) => tf.Tensor, seed?: number): tf.Tensor {
    switch (l.kind) {
      case 'linear': {
        // On a sequence (N, T, C), over the channels of every position.
        const flat = h.rank === 3 ? tf.reshape(h, [-1, h.shape[2]!]) : h;
        let out: tf.Tensor = tf.matMul(flat as tf.Tensor2D, seg(l.name, 'weight') as tf.Tensor2D, false, true);
        if (l.bias) out = tf.add(out, seg(l.name, 'bias'));
        return h.rank === 3 ? tf.reshape(out, [h.shape[0]!, h.shape[1]!, l.outFeatures]) : out;
      }
      case 'embedding': {
        // A one-hot product rather than a gather: its gradient is a matMul's, which every backend has
        // (wasm has no UnsortedSegmentSum, the gather's gradient).
        const [n, t] = h.shape as [number, number];
        const onehot = tf.oneHot(tf.reshape(tf.cast(h, 'int32'), [n * t]) as tf.Tensor1D, l.vocab);
        return tf.reshape(tf.matMul(onehot, seg(l.name, 'weight') as tf.Tensor2D), [n, t, l.dim]);
      }
      case 'conv1d': {
        // im2col by slices over time, as for conv2d below; the surrogate keeps (N, T, C).
        const plan = this.convPlans.get(l.name)!;
        const [n, , c] = h.shape as [number, number, number];
        const s = l.stride;
        const need = (plan.ho - 1) * s + l.kernel + s - 1;
        const padded = tf.pad(h as tf.Tensor3D, [[0, 0], [l.padding, Math.max(l.padding, need - plan.hp + l.padding)], [0, 0]]);
        const taps: tf.Tensor[] = [];
        for (let d = 0; d < l.kernel; d++) {
          let view = tf.slice(padded, [0, d, 0], [n, plan.ho * s, c]);
          if (s > 1) view = tf.reshape(tf.slice(tf.reshape(view, [n, plan.ho, s, c]), [0, 0, 0, 0], [n, plan.ho, 1, c]), [n, plan.ho, c]);
          taps.push(view);
        }
        const cols = tf.reshape(tf.concat(taps, 2), [n * plan.ho, l.kernel * c]);
        // PyTorch's [out, in, k] → rows ordered (k, in), as the taps are.
        const filter = tf.reshape(tf.transpose(seg(l.name, 'weight'), [2, 1, 0]), [l.kernel * c, l.outChannels]);
        const out = tf.reshape(tf.matMul(cols, filter), [n, plan.ho, l.outChannels]);
        return l.bias ? tf.add(out, seg(l.name, 'bias')) : out;
      }
      case 'pool1d': {
        const [n, t, c] = h.shape as [number, number, number];
        if (l.kernel !== l.stride) throw new Error(`pooling at line ${l.line} has overlapping windows (kernel ${l.kernel}, stride ${l.stride}), which the embedded engine does not differentiate`);
        const kept = Math.floor(t / l.kernel);
        const windows = tf.reshape(tf.slice(h, [0, 0, 0], [n, kept * l.kernel, c]), [n, kept, l.kernel, c]);
        return l.mode === 'max' ? tf.max(windows, 2) : tf.mean(windows, 2);
      }
      case 'globalpool': {
        const axes = h.rank === 4 ? [1, 2] : [1];
        return l.mode === 'max' ? tf.max(h, axes) : tf.mean(h, axes);
      }
      case 'transpose':
        return h;
      case 'conv2d': {
        // im2col by slicing: one shifted (strided) view of the padded NHWC input per kernel tap,
        // stacked on the channel axis, then one matrix product with the filters. Its gradient is
        // slices', concat's and matMul's, which every backend has (wasm has no
        // Conv2DBackpropFilter nor UnsortedSegmentSum, and the cpu backend's conv gradient is slow).
        const plan = this.convPlans.get(l.name)!;
        const [n, , , c] = h.shape as [number, number, number, number];
        const s = l.stride;
        // Pad (and round up to a multiple of the stride) so every tap's view is a plain slice.
        const needH = (plan.ho - 1) * s + l.kernel + s - 1;
        const needW = (plan.wo - 1) * s + l.kernel + s - 1;
        const padded = tf.pad(h as tf.Tensor4D, [[0, 0], [l.padding, Math.max(l.padding, needH - plan.hp + l.padding)], [l.padding, Math.max(l.padding, needW - plan.wp + l.padding)], [0, 0]]);
        const taps: tf.Tensor[] = [];
        for (let di = 0; di < l.kernel; di++) {
          for (let dj = 0; dj < l.kernel; dj++) {
            let view = tf.slice(padded, [0, di, dj, 0], [n, plan.ho * s, plan.wo * s, c]);
            if (s > 1) view = tf.reshape(tf.slice(tf.reshape(view, [n, plan.ho, s, plan.wo, s, c]), [0, 0, 0, 0, 0, 0], [n, plan.ho, 1, plan.wo, 1, c]), [n, plan.ho, plan.wo, c]);
            taps.push(view);
          }
        }
        const cols = tf.reshape(tf.concat(taps, 3), [n * plan.ho * plan.wo, l.kernel * l.kernel * c]);
        // PyTorch's [out, in, kh, kw] → rows ordered (kh, kw, in), as the taps are.
        const filter = tf.reshape(tf.transpose(seg(l.name, 'weight'), [2, 3, 1, 0]), [l.kernel * l.kernel * c, l.outChannels]);
        const out = tf.reshape(tf.matMul(cols, filter), [n, plan.ho, plan.wo, l.outChannels]);
        return l.bias ? tf.add(out, seg(l.name, 'bias')) : out;
      }
      case 'pool2d': {
        const [n, hh, ww, c] = h.shape as [number, number, number, number];
        if (l.kernel === l.stride) {
          // Non-overlapping windows as a reshape and a reduction (differentiable on every backend);
          // the rows and columns past the last whole window are dropped, as PyTorch does.
          const kh = Math.floor(hh / l.kernel), kw = Math.floor(ww / l.kernel);
          const windows = tf.reshape(tf.slice(h, [0, 0, 0, 0], [n, kh * l.kernel, kw * l.kernel, c]), [n, kh, l.kernel, kw, l.kernel, c]);
          return l.mode === 'max' ? tf.max(windows, [2, 4]) : tf.mean(windows, [2, 4]);
        }
        return l.mode === 'max' ? tf.maxPool(h as tf.Tensor4D, l.kernel, l.stride, 'valid') : tf.avgPool(h as tf.Tensor4D, l.kernel, l.stride, 'valid');
      }
      case 'batchnorm': {
        // Training mode, as the Python engine measures: batch statistics over every axis but the features.
        const axes = h.rank === 4 ? [0, 1, 2] : h.rank === 3 ? [0, 1] : [0];
        const { mean, variance } = tf.moments(h, axes, true);
        return tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, l.eps))), seg(l.name, 'gain')), seg(l.name, 'shift'));
      }
      case 'activation':
        switch (l.fn) {
          case 'relu': return tf.relu(h);
          case 'tanh': return tf.tanh(h);
          case 'sigmoid': return tf.sigmoid(h);
          case 'elu': return tf.elu(h);
          case 'leaky_relu': return tf.leakyRelu(h, l.slope ?? 0.01);
          case 'softplus': return tf.softplus(h);
          case 'silu': return tf.mul(h, tf.sigmoid(h));
          case 'gelu': return tf.mul(tf.mul(h, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(h, tf.mul(0.044715, tf.pow(h, 3))))))) as tf.Tensor2D;
          case 'identity': return h;
        }
        return h;
      case 'dropout': {
        if (seed === undefined || l.p <= 0) return h;
        const keep = tf.cast(tf.greaterEqual(tf.randomUniform(h.shape, 0, 1, 'float32', seed), l.p), 'float32');
        return tf.mul(h, tf.div(keep, 1 - l.p));
      }
      case 'layernorm': {
        const { mean, variance } = tf.moments(h, h.rank - 1, true);
        const normed = tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, l.eps)));
        return tf.add(tf.mul(normed, seg(l.name, 'gain')), seg(l.name, 'shift'));
      }
      case 'flatten':
        return h.rank > 2 ? tf.reshape(h, [h.shape[0]!, -1]) : h;
    }
  }

  /** The script's loss on a batch: mean cross-entropy (with label smoothing) over class indices, or mean squared error. */
  loss(theta: tf.Tensor1D, x: tf.Tensor2D, y: tf.Tensor, dropoutSeed?: number): tf.Scalar {
    const out = this.forward(theta, x, dropoutSeed);
    if (this.spec.loss.kind === 'mse') return tf.mean(tf.square(tf.sub(out, y)));
    const onehot = tf.oneHot(y as tf.Tensor1D, this.spec.outputDim);
    return tf.losses.softmaxCrossEntropy(onehot, out, undefined, this.spec.loss.labelSmoothing) as tf.Scalar;
  }
}
