import * as fs from 'node:fs';
import { analyze, type AnalysisResult } from '../../src/analysis/analyze';
import { ParsedDocument } from '../../src/analysis/document';
import { DEFAULT_SETTINGS, type AnalysisSettings } from '../../src/analysis/settings';
import { analyzeDiskFile, type DiskAnalysis } from '../../src/host/analyzeDiskFile';
import { fileSystemReader } from '../../src/host/fileSystemReader';
import { loadPythonParser } from '../../src/host/parserLoader';

export async function analyzeText(text: string, settings?: AnalysisSettings, scriptPath = '/nonexistent/script.py'): Promise<AnalysisResult & { document: ParsedDocument }> {
  const parser = await loadPythonParser();
  const document = ParsedDocument.parse(parser, text);
  return { ...analyze({ document, settings, files: fileSystemReader(scriptPath, []) }), document };
}

/** A file from disk, exactly as the CLI reads it (decoding, config files beside it). */
export async function analyzePath(file: string, settings: AnalysisSettings = DEFAULT_SETTINGS): Promise<DiskAnalysis> {
  return analyzeDiskFile(await loadPythonParser(), file, settings, []);
}

/** `# expect: WD001, WD002` annotations: line (0-based) → rule ids. */
export function expectations(text: string): { line: number; rule: string }[] {
  const out: { line: number; rule: string }[] = [];
  text.split(/\r\n|\r|\n/).forEach((l, i) => {
    const m = /#\s*expect:\s*([A-Z0-9_, ]+)\s*$/.exec(l);
    if (m) for (const id of m[1]!.split(',').map((s) => s.trim()).filter(Boolean)) out.push({ line: i, rule: id });
  });
  return out;
}

export function listFixtures(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) visit(p);
      else if (e.name.endsWith('.py')) out.push(p);
    }
  };
  visit(dir);
  return out;
}
