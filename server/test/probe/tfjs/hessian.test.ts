import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lanczos } from '../../../src/probe/tfjs/curvature';
import { symmetricEigen } from '../../../src/probe/tfjs/linalg';
import { Rng } from '../../../src/probe/tfjs/rng';
import type { LayerSpec, SurrogateSpec } from '../../../src/probe/tfjs/surrogateSpec';
import { tfjsModules } from '../../support/tfjsBundle';

/**
 * The embedded engine's HVPs on small models, on the wasm and cpu backends, against an
 * independent answer: the Hessian from central differences of the gradient in float64 steps.
 */
function spec(fn: 'tanh' | 'relu', loss: 'ce' | 'mse'): SurrogateSpec {
  const layers: LayerSpec[] = [
    { kind: 'linear', name: '0', line: 1, inFeatures: 4, outFeatures: 6, bias: true },
    { kind: 'activation', name: '1', line: 1, fn },
    { kind: 'linear', name: '2', line: 1, inFeatures: 6, outFeatures: 3, bias: true },
  ];
  return {
    layers, inputDim: 4, outputDim: 3, loss: loss === 'ce' ? { kind: 'cross_entropy', labelSmoothing: 0.1 } : { kind: 'mse' },
    optimizer: { kind: 'sgd', className: 'SGD', lr: 0.1, momentum: 0, dampening: 0, nesterov: false, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, alpha: 0.99 },
    batchSize: 32, clipNorm: null, assumptions: [],
  };
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`exact Hessian-vector products (${backend} backend)`, () => {
    for (const [fn, loss] of [['tanh', 'ce'], ['tanh', 'mse'], ['relu', 'ce']] as const) {
      it(`${fn} MLP, ${loss}: H·v by the R-operator equals the finite-difference Hessian; Lanczos finds its top eigenvalue`, async () => {
        const { tf, selectBackend, SurrogateModel, exactHvp, exactHvpSupported, teacherData } = tfjsModules();
        const info = await selectBackend(backend);
        assert.equal(info.name, backend);
        const s = spec(fn, loss);
        const model = new SurrogateModel(s);
        assert.ok(exactHvpSupported(model));
        const rng = new Rng(7);
        const theta = model.init(rng);
        const data = teacherData(s, 32, rng);
        const x = tf.tensor2d(data.x, [32, 4]);
        const y = data.classification ? tf.tensor1d(Int32Array.from(data.y), 'int32') : tf.tensor2d(data.y, [32, 3]);
        const n = model.n;
        const grad = (th: Float64Array): Float64Array => {
          let g = new Float64Array(0);
          tf.tidy(() => { g = Float64Array.from(tf.grad((p: import('@tensorflow/tfjs-core').Tensor) => model.loss(p as never, x, y))(tf.tensor1d(Float32Array.from(th))).dataSync()); });
          return g;
        };
        // Dense Hessians: columns H·eᵢ exactly, and by central differences of the gradient.
        const exact: number[][] = [];
        const fd: number[][] = [];
        // A ReLU net's gradient jumps at kinks: a small step rarely crosses one (float32 still resolves it).
        const h = fn === 'relu' ? 1e-4 : 1e-2;
        for (let i = 0; i < n; i++) {
          const e = new Float64Array(n); e[i] = 1;
          exact.push([...exactHvp(model, theta, e, x, y)]);
          const p = Float64Array.from(theta); p[i]! += h;
          const m = Float64Array.from(theta); m[i]! -= h;
          const gp = grad(p), gm = grad(m);
          fd.push(Array.from(gp, (v, k) => (v - gm[k]!) / (2 * h)));
        }
        // Symmetric (to float32), and equal to the finite-difference Hessian up to its own error.
        const scale = Math.max(...exact.flat().map(Math.abs));
        let asym = 0, diff = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
          asym = Math.max(asym, Math.abs(exact[i]![j]! - exact[j]![i]!));
          diff = Math.max(diff, Math.abs(exact[i]![j]! - fd[i]![j]!));
        }
        assert.ok(asym < 1e-5 * scale, `asymmetry ${asym} of ${scale}`);
        assert.ok(diff < 2e-3 * scale, `max |H − H_fd| = ${diff} of ${scale}`);
        const sym = exact.map((row, i) => row.map((v, j) => (v + exact[j]![i]!) / 2));
        const top = symmetricEigen(sym).values.at(-1)!;
        const hvp = (v: Float64Array): Float64Array => exactHvp(model, theta, v, x, y);
        const l = lanczos(hvp, n, 30, 3, new Rng(3));
        assert.ok(Math.abs(l.eigenvalues[0]! - top) <= 1e-3 * Math.abs(top) + l.residuals[0]!, `λ₁ ${l.eigenvalues[0]} vs exact ${top}`);
        tf.dispose([x, y]);
      });
    }
  });
}

describe('convolutions of the surrogate (against TensorFlow.js’s own conv2d and maxPool)', () => {
  it('im2col-by-slices convolution and reshape pooling equal tf.conv2d and tf.maxPool, for stride 1 and 2', async () => {
    const { tf, selectBackend, SurrogateModel } = tfjsModules();
    await selectBackend('cpu');
    for (const stride of [1, 2]) {
      const spec: SurrogateSpec = {
        layers: [
          { kind: 'conv2d', name: 'c', line: 1, inChannels: 3, outChannels: 4, kernel: 3, stride, padding: 1, bias: true },
          { kind: 'pool2d', name: 'p', line: 1, mode: 'max', kernel: 2, stride: 2 },
          { kind: 'flatten', name: 'f', line: 1 },
        ],
        inputDim: 8 * 8 * 3, inputShape: [8, 8, 3], outputDim: stride === 1 ? 64 : 16, loss: { kind: 'mse' },
        optimizer: { kind: 'sgd', className: 'SGD', lr: 0.1, momentum: 0, dampening: 0, nesterov: false, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, alpha: 0.99 },
        batchSize: 2, clipNorm: null, assumptions: [],
      };
      const model = new SurrogateModel(spec);
      const theta = model.init(new Rng(1));
      const x = tf.randomNormal([2, 8 * 8 * 3], 0, 1, 'float32', 3) as import('@tensorflow/tfjs-core').Tensor2D;
      const ours = model.forward(tf.tensor1d(Float32Array.from(theta)), x).arraySync() as number[][];
      const w = model.segments.find((q) => q.role === 'weight')!;
      const b = model.segments.find((q) => q.role === 'bias')!;
      const filter = tf.transpose(tf.reshape(tf.tensor1d(Float32Array.from(theta.subarray(w.start, w.start + w.size))), [4, 3, 3, 3]), [2, 3, 1, 0]) as import('@tensorflow/tfjs-core').Tensor4D;
      const img = tf.reshape(x, [2, 8, 8, 3]) as import('@tensorflow/tfjs-core').Tensor4D;
      const conv = tf.add(tf.conv2d(tf.pad(img, [[0, 0], [1, 1], [1, 1], [0, 0]]), filter, stride, 'valid'), tf.tensor1d(Float32Array.from(theta.subarray(b.start, b.start + b.size))));
      const reference = tf.reshape(tf.maxPool(conv as import('@tensorflow/tfjs-core').Tensor4D, 2, 2, 'valid'), [2, -1]).arraySync() as number[][];
      assert.equal(ours[0]!.length, reference[0]!.length);
      ours.flat().forEach((v, i) => assert.ok(Math.abs(v - reference.flat()[i]!) < 1e-5, `stride ${stride}: ${v} vs ${reference.flat()[i]}`));
    }
  });

  it('Conv1d by slices, the one-hot Embedding and reshape pooling over time equal tf.conv1d, tf.gather and tf.max; their gradients on wasm match cpu', async () => {
    const { tf, selectBackend, SurrogateModel } = tfjsModules();
    type T3 = import('@tensorflow/tfjs-core').Tensor3D;
    const opt: SurrogateSpec['optimizer'] = { kind: 'sgd', className: 'SGD', lr: 0.1, momentum: 0, dampening: 0, nesterov: false, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, alpha: 0.99 };
    const grads: number[][] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await selectBackend(backend);
      for (const stride of [1, 2]) {
        // 11 tokens → embedding 6 → (N, C, T) → conv 5 channels, kernel 3, pad 1 → max over pairs (the odd last step dropped) → flatten.
        const tOut = Math.floor((11 + 2 - 3) / stride) + 1;
        const spec: SurrogateSpec = {
          layers: [
            { kind: 'embedding', name: 'e', line: 1, vocab: 13, dim: 6 },
            { kind: 'transpose', name: 't', line: 1 },
            { kind: 'conv1d', name: 'c', line: 1, inChannels: 6, outChannels: 5, kernel: 3, stride, padding: 1, bias: true },
            { kind: 'pool1d', name: 'p', line: 1, mode: 'max', kernel: 2, stride: 2 },
            { kind: 'flatten', name: 'f', line: 1 },
          ],
          inputDim: 11, tokens: { vocab: 13 }, outputDim: Math.floor(tOut / 2) * 5, loss: { kind: 'mse' }, optimizer: opt, batchSize: 2, clipNorm: null, assumptions: [],
        };
        const model = new SurrogateModel(spec);
        const theta = model.init(new Rng(2));
        const ids = tf.tensor2d([[0, 3, 12, 5, 5, 1, 7, 9, 2, 11, 4], [6, 6, 0, 8, 10, 12, 3, 1, 2, 4, 9]], [2, 11]);
        const p = tf.tensor1d(Float32Array.from(theta));
        const ours = model.forward(p, ids).arraySync() as number[][];
        const seg = (layer: string, role: string) => model.segments.find((q) => q.layer === layer && q.role === role)!;
        const part = (q: { start: number; size: number }) => tf.tensor1d(Float32Array.from(theta.subarray(q.start, q.start + q.size)));
        const table = tf.reshape(part(seg('e', 'weight')), [13, 6]);
        const embedded = tf.gather(table, tf.cast(ids, 'int32')) as T3;
        const filter = tf.transpose(tf.reshape(part(seg('c', 'weight')), [5, 6, 3]), [2, 1, 0]) as T3;
        const conv = tf.add(tf.conv1d(tf.pad(embedded, [[0, 0], [1, 1], [0, 0]]), filter, stride, 'valid'), part(seg('c', 'bias')));
        const kept = Math.floor(tOut / 2) * 2;
        const pooled = tf.max(tf.reshape(tf.slice(conv, [0, 0, 0], [2, kept, 5]), [2, kept / 2, 2, 5]), 2);
        const reference = tf.reshape(pooled, [2, -1]).arraySync() as number[][];
        assert.equal(ours[0]!.length, reference[0]!.length);
        ours.flat().forEach((v, i) => assert.ok(Math.abs(v - reference.flat()[i]!) < 1e-5, `${backend}, stride ${stride}: ${v} vs ${reference.flat()[i]}`));
        if (stride === 2) {
          const y = tf.zeros([2, spec.outputDim]);
          grads.push([...(tf.grad((q: import('@tensorflow/tfjs-core').Tensor) => model.loss(q as import('@tensorflow/tfjs-core').Tensor1D, ids, y))(p).dataSync())]);
        }
      }
    }
    assert.ok(grads[0]!.some((g) => g !== 0), 'the gradient reaches the parameters');
    grads[0]!.forEach((g, i) => assert.ok(Math.abs(g - grads[1]![i]!) < 1e-5 * Math.max(1, Math.abs(g)), `gradient ${i}: cpu ${g} vs wasm ${grads[1]![i]}`));
  });
});
