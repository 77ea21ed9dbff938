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
      } else if (l.kind === 'layernorm') {
        add(l.name, 'gain', [l.features]);
        add(l.name, 'shift', [l.features]);
      }
    }
    this.n = at;
  }

  /** PyTorch's defaults: Linear weight and bias U(−1/√in, 1/√in); LayerNorm 1 and 0. */
  init(rng: Rng): Float64Array {
    const theta = new Float64Array(this.n);
    for (const s of this.segments) {
      const layer = this.spec.layers.find((l) => l.name === s.layer)!;
      for (let i = 0; i < s.size; i++) {
        if (layer.kind === 'linear') theta[s.start + i] = (2 * rng.uniform() - 1) / Math.sqrt(layer.inFeatures);
        else theta[s.start + i] = s.role === 'gain' ? 1 : 0;
      }
    }
    return theta;
  }

  /** Outputs for a batch. `dropout` holds one keep-mask (already divided by 1−p) per Dropout layer; none at measurement. */
  forward(theta: tf.Tensor1D, x: tf.Tensor2D, dropout?: ReadonlyMap<string, tf.Tensor2D>): tf.Tensor2D {
    let h: tf.Tensor2D = x;
    const seg = (layer: string, role: Segment['role']): tf.Tensor => {
      const s = this.segments.find((q) => q.layer === layer && q.role === role)!;
      return tf.reshape(tf.slice(theta, s.start, s.size), [...s.shape]);
    };
    for (const l of this.spec.layers) h = this.apply(l, h, seg, dropout);
    return h;
  }

  /** One activation layer's output (shared with the exact HVP's forward pass). */
  forwardActivation(l: Extract<LayerSpec, { kind: 'activation' }>, h: tf.Tensor2D): tf.Tensor2D {
    return this.apply(l, h, () => { throw new Error('an activation has no parameters'); });
  }

  private apply(l: LayerSpec, h: tf.Tensor2D, seg: (layer: string, role: Segment['role']) => tf.Tensor, dropout?: ReadonlyMap<string, tf.Tensor2D>): tf.Tensor2D {
    switch (l.kind) {
      case 'linear': {
        const out = tf.matMul(h, seg(l.name, 'weight') as tf.Tensor2D, false, true) as tf.Tensor2D;
        return l.bias ? (tf.add(out, seg(l.name, 'bias')) as tf.Tensor2D) : out;
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
        const mask = dropout?.get(l.name);
        return mask ? tf.mul(h, mask) : h;
      }
      case 'layernorm': {
        const { mean, variance } = tf.moments(h, 1, true);
        const normed = tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, l.eps)));
        return tf.add(tf.mul(normed, seg(l.name, 'gain')), seg(l.name, 'shift'));
      }
      case 'flatten':
        return h;
    }
  }

  /** The script's loss on a batch: mean cross-entropy (with label smoothing) over class indices, or mean squared error. */
  loss(theta: tf.Tensor1D, x: tf.Tensor2D, y: tf.Tensor, dropout?: ReadonlyMap<string, tf.Tensor2D>): tf.Scalar {
    const out = this.forward(theta, x, dropout);
    if (this.spec.loss.kind === 'mse') return tf.mean(tf.square(tf.sub(out, y)));
    const onehot = tf.oneHot(y as tf.Tensor1D, this.spec.outputDim);
    return tf.losses.softmaxCrossEntropy(onehot, out, undefined, this.spec.loss.labelSmoothing) as tf.Scalar;
  }
}
