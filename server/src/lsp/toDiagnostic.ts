import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver';
import { docsUrl } from '../analysis/catalogue';
import type { Finding, Severity } from '../analysis/findings';
import type { DiagnosticData, ProbeFinding } from '../protocol';

const SEVERITY: Readonly<Record<Severity, DiagnosticSeverity>> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** A finding as the editor shows it; its fixes travel in `data` so code actions need no re-analysis. */
export function toDiagnostic(uri: string, f: Finding): Diagnostic {
  const data: DiagnosticData = { rule: f.rule, fixes: f.fixes.map((x) => ({ title: x.title, safe: x.safe, edits: x.edits })) };
  return {
    range: f.range,
    severity: SEVERITY[f.severity],
    code: f.rule,
    codeDescription: { href: docsUrl(f.rule) },
    source: 'regscope',
    message: f.message,
    relatedInformation: f.related.map((r) => ({ location: { uri, range: r.range }, message: r.message })),
    data,
  };
}

const PROBE_SEVERITY: Readonly<Record<ProbeFinding['severity'], DiagnosticSeverity>> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
};

/** A probe finding on its line; the related location opens the run's record. */
export function toProbeDiagnostic(f: ProbeFinding, runRecordUri: string): Diagnostic {
  const line = Math.max(0, (f.line ?? 1) - 1);
  const data: DiagnosticData = { rule: f.rule, fixes: [] };
  return {
    range: { start: { line, character: f.column ?? 0 }, end: { line, character: f.endColumn ?? f.column ?? 0 } },
    severity: PROBE_SEVERITY[f.severity],
    code: f.rule,
    codeDescription: { href: docsUrl(f.rule) },
    source: 'regscope probe',
    message: f.message,
    relatedInformation: [{ location: { uri: runRecordUri, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }, message: 'the probe run' }],
    data,
  };
}
