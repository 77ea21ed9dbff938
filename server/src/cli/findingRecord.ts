import type { Finding, Severity } from '../analysis/findings';
import type { Range } from '../analysis/positions';

/** The JSON shape of one finding, as `regscope check --format json` prints it (1-based). */
export interface FindingRecord {
  readonly file: string;
  readonly rule: string;
  readonly severity: Severity;
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  readonly fixes: readonly {
    readonly title: string;
    readonly safe: boolean;
    readonly edits: readonly { line: number; column: number; endLine: number; endColumn: number; newText: string }[];
  }[];
}

export function oneBased(r: Range): { line: number; column: number; endLine: number; endColumn: number } {
  return { line: r.start.line + 1, column: r.start.character + 1, endLine: r.end.line + 1, endColumn: r.end.character + 1 };
}

export function toRecord(file: string, f: Finding): FindingRecord {
  return {
    file, rule: f.rule, severity: f.severity, message: f.message, ...oneBased(f.range),
    fixes: f.fixes.map((x) => ({ title: x.title, safe: x.safe, edits: x.edits.map((e) => ({ ...oneBased(e.range), newText: e.newText })) })),
  };
}
