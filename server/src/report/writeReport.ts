/** Writes the standalone HTML report of one or more stored runs (`regscope report`, `probe --html`). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PythonParser } from '../analysis/syntax/pythonParser';
import type { RunBundle } from '../protocol';
import { loadRunBundle } from '../probe/runBundle';
import { writeFileAtomic } from '../probe/runStore';
import { reportHtml } from './panelHtml';

/** `dist/webview/` beside the CLI bundle, or the built one in the source tree (tests run from source). */
export function webviewDir(): string {
  const candidates = [path.join(__dirname, 'webview'), path.resolve(__dirname, '../../../dist/webview')];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'webview.js')));
  if (!found) throw new Error(`the report renderer (webview.js) is missing from this installation; looked in ${candidates.join(', ')}. Run \`npm run build\`.`);
  return found;
}

export async function writeReport(parser: PythonParser, runDirs: readonly string[], out: string, generator: string): Promise<{ file: string; bytes: number; bundles: RunBundle[] }> {
  const bundles: RunBundle[] = [];
  for (const dir of runDirs) bundles.push(await loadRunBundle(parser, path.resolve(dir)));
  const dir = webviewDir();
  const html = reportHtml({
    script: fs.readFileSync(path.join(dir, 'webview.js'), 'utf8'),
    css: fs.readFileSync(path.join(dir, 'webview.css'), 'utf8'),
    bundles,
    generator,
    generatedAt: new Date().toISOString(),
  });
  const file = path.resolve(out);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, html);
  return { file, bytes: Buffer.byteLength(html), bundles };
}
