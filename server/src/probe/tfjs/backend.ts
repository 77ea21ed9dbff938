/**
 * Which TensorFlow.js backend runs the surrogate: `@tensorflow/tfjs-node` when it is installed
 * (an optional dependency: its install downloads libtensorflow, which fails offline), else the
 * WebAssembly backend (SIMD, threads where the runtime allows), else the plain JavaScript cpu
 * backend. The run reports which one it used and why.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendChoice = 'auto' | BackendName;

export interface BackendInfo {
  readonly name: BackendName;
  /** Why not a faster one (empty when this was the first choice). */
  readonly reason: string;
}

/**
 * Where the wasm binaries are: `REGSCOPE_TFJS_WASM_DIR` (tests, custom installs), beside the
 * bundle (dist/tfjs/), or in node_modules beside dist/ in a source checkout.
 */
export function wasmDir(): string | undefined {
  const env = process.env['REGSCOPE_TFJS_WASM_DIR'];
  const candidates = [...(env ? [env] : []), path.join(__dirname, 'tfjs'), path.resolve(__dirname, '../node_modules/@tensorflow/tfjs-backend-wasm/dist')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'tfjs-backend-wasm.wasm')));
}

export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  const tried: string[] = [];
  if (choice === 'auto' || choice === 'tensorflow') {
    try {
      // Not bundled (esbuild marks it external): present only where its native install worked.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-node');
      if (await tf.setBackend('tensorflow')) return { name: 'tensorflow', reason: '' };
      tried.push('tfjs-node is installed but did not initialize');
    } catch {
      tried.push('tfjs-node is not installed (optional: its install downloads libtensorflow)');
    }
    if (choice === 'tensorflow') throw new Error(tried.join('; '));
  }
  if (choice === 'auto' || choice === 'wasm') {
    const dir = wasmDir();
    if (dir) {
      try {
        setWasmPaths(`${dir}${path.sep}`);
        setThreadsCount(1);
        if (await tf.setBackend('wasm')) return { name: 'wasm', reason: tried.join('; ') };
        tried.push('the wasm backend did not initialize');
      } catch (e) {
        tried.push(`the wasm backend failed: ${(e as Error).message}`);
      }
    } else tried.push('the wasm binaries are missing');
    if (choice === 'wasm') throw new Error(tried.join('; '));
  }
  await tf.setBackend('cpu');
  return { name: 'cpu', reason: tried.join('; ') };
}
