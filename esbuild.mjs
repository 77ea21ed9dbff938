// Bundles the extension client, the language server, the CLI and the webview (panels and
// report) into dist/. The two wasm files web-tree-sitter needs and the Python
// probe runtime are copied beside the bundles.
import * as esbuild from 'esbuild';
import { copyFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const production = process.argv.includes('--production');
mkdirSync('dist', { recursive: true });
copyFileSync(require.resolve('web-tree-sitter/tree-sitter.wasm'), 'dist/tree-sitter.wasm');
copyFileSync(require.resolve('tree-sitter-python/tree-sitter-python.wasm'), 'dist/tree-sitter-python.wasm');
// The Python probe runtime ships as source beside the bundles (dist/python/regscope_probe).
rmSync('dist/python', { recursive: true, force: true });
cpSync('server/python/regscope_probe', 'dist/python/regscope_probe', {
  recursive: true,
  filter: (src) => !src.includes('__pycache__') && !src.endsWith('.pyc'),
});

const node = {
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
};

// The extension host bundle: `vscode` is provided by the editor at run time.
await esbuild.build({ ...node, entryPoints: { extension: 'client/src/extension.ts' }, external: ['vscode'] });

await esbuild.build({
  ...node,
  entryPoints: { cli: 'server/src/cli/main.ts', server: 'server/src/lsp/main.ts' },
  external: ['@tensorflow/tfjs-node'],
  // The ESM build of web-tree-sitter reads import.meta.url, which a CommonJS bundle lacks.
  alias: { 'web-tree-sitter': require.resolve('web-tree-sitter').replace(/tree-sitter\.js$/, 'tree-sitter.cjs') },
  banner: { js: '#!/usr/bin/env node' },
});

// The embedded probe engine's worker thread: TensorFlow.js from its ES module builds (their
// gradient registrations only exist there), tfjs-node left external (optional, native), and the
// wasm backend's binaries beside it.
await esbuild.build({
  ...node,
  entryPoints: { tfjsWorker: 'server/src/probe/tfjs/tfjsWorker.ts' },
  mainFields: ['module', 'main'],
  external: ['@tensorflow/tfjs-node'],
});
rmSync('dist/tfjs', { recursive: true, force: true });
mkdirSync('dist/tfjs', { recursive: true });
for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
  copyFileSync(require.resolve(`@tensorflow/tfjs-backend-wasm/dist/${f}`), `dist/tfjs/${f}`);
}

// The result panels and the HTML report: one browser bundle (no eval, no inline styles, so it
// runs under the panels' strict CSP) and its stylesheet. Always minified: the report inlines it.
rmSync('dist/webview', { recursive: true, force: true });
mkdirSync('dist/webview', { recursive: true });
await esbuild.build({
  entryPoints: { webview: 'webview/src/main.ts' },
  outdir: 'dist/webview',
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'chrome114',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync('webview/src/panel.css', 'dist/webview/webview.css');
