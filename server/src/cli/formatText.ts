import type { FindingRecord } from './findingRecord';

const COLORS = { error: '\x1b[31m', warning: '\x1b[33m', information: '\x1b[36m', hint: '\x1b[2m', reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m' };

/** `path:line:col: ID severity message`, one per line, as compilers and ruff print them. */
export function formatText(records: readonly FindingRecord[], notices: readonly string[], filesChecked: number, color: boolean): string {
  const c = (k: keyof typeof COLORS, s: string) => (color ? COLORS[k] + s + COLORS.reset : s);
  const out: string[] = [];
  for (const r of records) {
    const fix = r.fixes.some((f) => f.safe) ? c('dim', ' [*]') : '';
    out.push(`${c('bold', `${r.file}:${r.line}:${r.column}:`)} ${c(r.severity, `${r.rule} ${r.severity}`)} ${r.message}${fix}`);
  }
  for (const n of notices) out.push(c('dim', `note: ${n}`));
  const bySeverity = (s: string) => records.filter((r) => r.severity === s).length;
  const fixable = records.filter((r) => r.fixes.some((f) => f.safe)).length;
  const counts = ['error', 'warning', 'information', 'hint'].map((s) => [s, bySeverity(s)] as const).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}${n === 1 ? '' : s === 'information' ? '' : 's'}`);
  out.push(records.length === 0
    ? `No problems found in ${filesChecked} file${filesChecked === 1 ? '' : 's'}.`
    : `Found ${records.length} problem${records.length === 1 ? '' : 's'} (${counts.join(', ')}) in ${filesChecked} file${filesChecked === 1 ? '' : 's'}.${fixable ? ` ${fixable} fixable with \`regscope fix\` ([*]).` : ''}`);
  return out.join('\n') + '\n';
}
