import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
(async () => {
  setWasmPaths('/work/main/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
  await tf.setBackend('wasm');
  const N = 64, H = 16, C = 16, K = 3, O = 32;
  // im2col indices for a padded input [N, H+2, W+2, C] flattened per example.
  const Hp = H + 2;
  const idx: number[] = [];
  for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) for (let di = 0; di < K; di++) for (let dj = 0; dj < K; dj++) idx.push((i + di) * Hp + (j + dj));
  const index = tf.tensor1d(idx, 'int32');
  const conv = (x: tf.Tensor4D, w: tf.Tensor2D): tf.Tensor => {
    const p = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
    const flat = tf.reshape(p, [N, Hp * Hp, C]);
    const patches = tf.gather(flat, index, 1); // [N, H*W*K*K, C]
    const cols = tf.reshape(patches, [N * H * H, K * K * C]);
    return tf.reshape(tf.matMul(cols, w), [N, H, H, O]);
  };
  const pool = (x: tf.Tensor): tf.Tensor => tf.max(tf.reshape(x, [N, H / 2, 2, H / 2, 2, O]), [2, 4]);
  const x = tf.randomNormal([N, H, H, C]) as tf.Tensor4D;
  const w = tf.randomNormal([K * K * C, O]) as tf.Tensor2D;
  const f = (ww: tf.Tensor) => tf.sum(tf.square(pool(tf.relu(conv(x, ww as tf.Tensor2D))))) as tf.Scalar;
  const g = tf.grad(f);
  g(w).dataSync();
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) g(w).dataSync();
  console.log('wasm im2col conv+pool grad ms', (performance.now() - t0) / 5);
  await tf.setBackend('cpu');
  const t1 = performance.now();
  for (let i = 0; i < 2; i++) tf.grad((ww: tf.Tensor) => tf.sum(tf.square(tf.maxPool(tf.relu(tf.conv2d(x, tf.reshape(ww, [K, K, C, O]) as tf.Tensor4D, 1, 'same')), 2, 2, 'valid'))))(w).dataSync();
  console.log('cpu conv2d grad ms', (performance.now() - t1) / 2);
})().catch((e) => console.log('fail', e.message));
