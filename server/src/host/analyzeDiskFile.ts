import * as fs from 'node:fs';
import { analyze, type AnalysisResult } from '../analysis/analyze';
import { ParsedDocument } from '../analysis/document';
import type { PythonParser } from '../analysis/syntax/pythonParser';
import type { AnalysisSettings } from '../analysis/settings';
import { decodeSource } from './decodeSource';
import { fileSystemReader } from './fileSystemReader';

export interface DiskAnalysis extends AnalysisResult {
  readonly file: string;
  readonly document: ParsedDocument;
  readonly encoding: string;
  /** Config files the analysis read (for watching). */
  readonly configFiles: readonly string[];
}

/** Reads, decodes and analyses one file; I/O errors surface as a thrown Error with the path. */
export function analyzeDiskFile(parser: PythonParser, file: string, settings: AnalysisSettings, roots: readonly string[]): DiskAnalysis {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const { text, encoding } = decodeSource(bytes);
  const document = ParsedDocument.parse(parser, text);
  const files = fileSystemReader(file, roots);
  const result = analyze({ document, settings, files });
  const notices = binaryLooking(text) ? ['This file does not look like Python source (binary content).', ...result.notices] : result.notices;
  return { ...result, notices, file, document, encoding, configFiles: files.loaded };
}

function binaryLooking(text: string): boolean {
  return text.slice(0, 8000).includes('\u0000');
}
