/**
 * Probe findings obey the same switches as the static rules: `select`/`ignore`/`severity` from
 * `[tool.regscope]` and the editor, and `# regscope: ignore[PRB001]` on the finding's line (or
 * `ignore-file` anywhere). Pure.
 */
import { isRuleEnabled, type AnalysisSettings } from '../analysis/settings';
import { isSuppressed, parseSuppressions } from '../analysis/suppression';
import type { ProbeFinding } from '../protocol';

const SEVERITY: Readonly<Record<string, ProbeFinding['severity']>> = { error: 'error', warning: 'warning', information: 'info', hint: 'info' };

export function filterProbeFindings(findings: readonly ProbeFinding[], text: string, settings: AnalysisSettings): ProbeFinding[] {
  const suppressions = parseSuppressions(text);
  return findings
    .filter((f) => isRuleEnabled(f.rule, settings))
    .filter((f) => !isSuppressed(f.rule, f.line === null ? -1 : f.line - 1, suppressions))
    .map((f) => {
      const override = settings.severity[f.rule];
      return override && override !== 'off' ? { ...f, severity: SEVERITY[override] ?? f.severity } : f;
    });
}
