/** What the embedded-engine tests use from TensorFlow.js, bundled as production bundles it (see tfjsBundle.ts). */
export * as tf from '@tensorflow/tfjs-core';
export { selectBackend } from '../../src/probe/tfjs/backend';
export { exactHvp, exactHvpSupported } from '../../src/probe/tfjs/exactHvp';
export { Rng } from '../../src/probe/tfjs/rng';
export { SurrogateModel } from '../../src/probe/tfjs/surrogateModel';
export { teacherData } from '../../src/probe/tfjs/teacherData';
