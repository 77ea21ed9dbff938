import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
(async () => {
await tf.setBackend('cpu');
const x = tf.randomNormal([32, 4]); const y = tf.oneHot(tf.randomUniform([32], 0, 3, 'int32') as tf.Tensor1D, 3);
const f = (theta: tf.Tensor) => {
  const W1 = tf.reshape(tf.slice(theta, 0, 32), [4, 8]), b1 = tf.slice(theta, 32, 8), W2 = tf.reshape(tf.slice(theta, 40, 24), [8, 3]), b2 = tf.slice(theta, 64, 3);
  const h = tf.tanh(tf.add(tf.matMul(x, W1), b1));
  return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(h, W2), b2)) as tf.Scalar;
};
const theta = tf.randomNormal([67], 0, 0.5);
const g = tf.grad(f);
const v = tf.randomNormal([67]);
const hvp = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(g(t), v)))(theta);
const eps = 2e-3 / Math.sqrt(67);
const fd = tf.div(tf.sub(g(tf.add(theta, tf.mul(v, eps))), g(tf.sub(theta, tf.mul(v, eps)))), 2 * eps);
console.log(tf.slice(hvp, 0, 4).arraySync(), tf.slice(fd, 0, 4).arraySync());
const f2 = (t: tf.Tensor) => { const k = tf.reshape(t, [3, 3, 1, 2]) as tf.Tensor4D; const im = tf.ones([1, 5, 5, 1]) as tf.Tensor4D; return tf.sum(tf.square(tf.relu(tf.conv2d(tf.mul(im, tf.slice(t, 0, 1)) as tf.Tensor4D, k, 1, 'same')))) as tf.Scalar; };
try { tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.grad(f2)(t), tf.onesLike(t))))(tf.randomNormal([18])); console.log('conv nested ok'); } catch (e) { console.log('conv nested fails', (e as Error).message); }
const f3 = (t: tf.Tensor) => tf.sum(tf.square(tf.maxPool(tf.reshape(t, [1, 4, 4, 1]) as tf.Tensor4D, 2, 2, 'valid'))) as tf.Scalar;
try { tf.grad((t: tf.Tensor) => tf.sum(tf.grad(f3)(t)))(tf.randomNormal([16])); console.log('maxpool nested ok'); } catch (e) { console.log('maxpool nested fails', (e as Error).message); }
const f4 = (t: tf.Tensor) => { const m = tf.moments(tf.reshape(t, [4, 4]), 0); return tf.sum(tf.square(tf.div(tf.sub(tf.reshape(t, [4,4]), m.mean), tf.sqrt(tf.add(m.variance, 1e-5))))) as tf.Scalar; };
try { tf.grad((t: tf.Tensor) => tf.sum(tf.grad(f4)(t)))(tf.randomNormal([16])); console.log('batchnorm-like nested ok'); } catch (e) { console.log('bn nested fails', (e as Error).message); }
// wasm backend
const wasm = await import('@tensorflow/tfjs-backend-wasm');
wasm.setWasmPaths('/work/main/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
try { await tf.setBackend('wasm'); console.log('backend', tf.getBackend()); const h2 = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(g(t), v)))(theta); console.log('wasm hvp', tf.slice(h2,0,4).arraySync()); } catch (e) { console.log('wasm fails', (e as Error).message); }
})();
(async () => {
  await new Promise((r) => setTimeout(r, 2000));
  await tf.setBackend('cpu');
  const x = tf.randomNormal([32, 4], 0, 1, 'float32', 1); const y = tf.oneHot(tf.randomUniform([32], 0, 3, 'int32', 2) as tf.Tensor1D, 3);
  const f = (theta: tf.Tensor) => {
    const W1 = tf.reshape(tf.slice(theta, 0, 32), [4, 8]), b1 = tf.slice(theta, 32, 8), W2 = tf.reshape(tf.slice(theta, 40, 24), [8, 3]), b2 = tf.slice(theta, 64, 3);
    const h = tf.tanh(tf.add(tf.matMul(x, W1), b1));
    const z = tf.add(tf.matMul(h, W2), b2); const m = tf.tensor(tf.max(z, 1, true).arraySync() as number[][]); const lse = tf.add(m, tf.log(tf.sum(tf.exp(tf.sub(z, m)), 1, true))); return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.sub(z, lse)), 1))) as tf.Scalar;
  };
  const theta = tf.randomNormal([67], 0, 0.5, 'float32', 3);
  const g = tf.grad(f);
  const hv = (v: tf.Tensor) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(g(t), v)))(theta);
  const u = tf.randomNormal([67], 0, 1, 'float32', 4); const v = tf.randomNormal([67], 0, 1, 'float32', 5);
  const dot = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(a, b)).arraySync() as number;
  console.log('\nsym', dot(u, hv(v)), dot(v, hv(u)));
  for (const eps of [1e-1, 3e-2, 1e-2]) {
    const fp = f(tf.add(theta, tf.mul(v, eps))).arraySync() as number, f0 = f(theta).arraySync() as number, fm = f(tf.sub(theta, tf.mul(v, eps))).arraySync() as number;
    console.log('eps', eps, 'vHv fd', (fp - 2 * f0 + fm) / eps ** 2, 'nested', dot(v, hv(v)));
  }
})();
