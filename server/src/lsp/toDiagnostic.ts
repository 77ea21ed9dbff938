import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver';
import { docsUrl } from '../analysis/catalogue';
import type { Finding, Severity } from '../analysis/findings';
import type { DiagnosticData } from '../protocol';

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
