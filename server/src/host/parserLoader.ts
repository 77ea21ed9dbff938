import * as fs from 'node:fs';
import * as path from 'node:path';
import { Language, Parser } from 'web-tree-sitter';
import type { PythonParser } from '../analysis/syntax/pythonParser';

/**
 * Finds the two wasm files: beside the bundle in `dist/` (packaged extension, CLI), else in
 * node_modules (tests run from source).
 */
function wasmPath(file: string, pkg: string): string {
  const candidates = [
    path.join(__dirname, file),
    path.join(__dirname, '..', file),
    path.join(__dirname, '..', '..', '..', 'dist', file),
  ];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  return require.resolve(`${pkg}/${file}`);
}

let loading: Promise<PythonParser> | undefined;

/** One parser per process, created on first use (loading the grammar takes ~20 ms). */
export function loadPythonParser(): Promise<PythonParser> {
  loading ??= (async () => {
    const runtime = wasmPath('tree-sitter.wasm', 'web-tree-sitter');
    await Parser.init({ locateFile: () => runtime });
    const language = await Language.load(fs.readFileSync(wasmPath('tree-sitter-python.wasm', 'tree-sitter-python')));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return loading;
}
