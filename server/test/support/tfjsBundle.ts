/**
 * TensorFlow.js registers its gradients only in its ES module build, which Node cannot load
 * unbundled; production bundles it with esbuild (esbuild.mjs), and so do these tests: the
 * engine's modules, built the same way into a temporary file and required.
 */
import { buildSync } from 'esbuild';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './runFixtures';

type Entry = typeof import('./tfjsEntry');
let cached: Entry | undefined;

export function tfjsModules(): Entry {
  if (cached) return cached;
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-tfjs-')), 'tfjsEntry.js');
  buildSync({
    entryPoints: [path.join(ROOT, 'server', 'test', 'support', 'tfjsEntry.ts')], outfile: out, bundle: true, platform: 'node', format: 'cjs',
    target: 'node20', mainFields: ['module', 'main'], external: ['@tensorflow/tfjs-node'], logLevel: 'warning',
  });
  process.env['REGSCOPE_TFJS_WASM_DIR'] = path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cached = require(out) as Entry;
  return cached;
}
