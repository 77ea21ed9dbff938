import { CodeActionKind, type CodeAction, type Diagnostic, type TextEdit } from 'vscode-languageserver';
import { applyFixes } from '../analysis/applyFixes';
import type { Finding } from '../analysis/findings';
import type { LineIndex } from '../analysis/positions';
import type { DiagnosticData } from '../protocol';

export const FIX_ALL_KIND = `${CodeActionKind.SourceFixAll}.regscope`;

function dataOf(d: Diagnostic): DiagnosticData | undefined {
  const data = d.data as DiagnosticData | undefined;
  return d.source === 'regscope' && data && Array.isArray(data.fixes) ? data : undefined;
}

/**
 * Quick fixes for the diagnostics in the request: the safe fix as the preferred action, unsafe
 * ones separately (their titles say they change training dynamics), and "ignore on this line".
 */
export function quickFixes(uri: string, diagnostics: readonly Diagnostic[], lines: LineIndex): CodeAction[] {
  const out: CodeAction[] = [];
  for (const d of diagnostics) {
    const data = dataOf(d);
    if (!data) continue;
    for (const fix of data.fixes) {
      out.push({
        title: fix.safe ? `Fix ${data.rule}: ${fix.title}` : `${data.rule}: ${fix.title}`,
        kind: CodeActionKind.QuickFix,
        diagnostics: [d],
        isPreferred: fix.safe && fix === data.fixes.find((x) => x.safe),
        edit: { changes: { [uri]: fix.edits.map((e) => ({ range: e.range, newText: e.newText })) } },
      });
    }
    out.push({
      title: `Ignore ${data.rule} on this line`,
      kind: CodeActionKind.QuickFix,
      diagnostics: [d],
      edit: { changes: { [uri]: [suppressionEdit(data.rule, d.range.start.line, lines)] } },
    });
  }
  return out;
}

/** Appends `# regscope: ignore[ID]` to the line, or adds the id to an existing directive. */
export function suppressionEdit(rule: string, line: number, lines: LineIndex): TextEdit {
  const text = lines.lineText(line);
  const existing = /#\s*regscope:\s*ignore\[([^\]]*)\]/.exec(text);
  const start = lines.lineStart(line);
  if (existing) {
    const close = existing.index + existing[0].length - 1;
    const pos = lines.positionAt(start + close);
    return { range: { start: pos, end: pos }, newText: `, ${rule}` };
  }
  const end = lines.positionAt(lines.lineEnd(line));
  return { range: { start: end, end }, newText: `  # regscope: ignore[${rule}]` };
}

/** `source.fixAll.regscope`: every safe fix of the file that does not overlap another. */
export function fixAllAction(uri: string, text: string, findings: readonly Finding[]): CodeAction | undefined {
  const safe = findings.map((f) => f.fixes.find((x) => x.safe)).filter((x): x is NonNullable<typeof x> => !!x);
  if (safe.length === 0) return undefined;
  const { applied } = applyFixes(text, safe);
  return {
    title: `Fix all safe RegScope problems (${applied.length})`,
    kind: FIX_ALL_KIND,
    edit: { changes: { [uri]: applied.flatMap((f) => f.edits.map((e) => ({ range: e.range, newText: e.newText }))) } },
  };
}
