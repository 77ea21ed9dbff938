import { InlayHintKind, type InlayHint, type Range } from 'vscode-languageserver';
import type { AnalysisResult } from '../analysis/analyze';
import type { LineIndex } from '../analysis/positions';
import { formatValue } from '../analysis/values/pyValue';

/** `lr=args.lr ▸ 0.1 (--lr default)`: resolved values where the code only names them. */
export function inlayHints(result: AnalysisResult, lines: LineIndex, range: Range): InlayHint[] {
  const from = lines.offsetAt(range.start);
  const to = lines.offsetAt(range.end);
  const out: InlayHint[] = [];
  for (const h of result.model.hyperparameters) {
    const n = h.node;
    if (!n || n.end < from || n.start > to) continue;
    const r = h.resolved;
    if (r.value === undefined || r.source === 'literal' || r.value.kind === 'mapping') continue;
    if (n.type === 'integer' || n.type === 'float' || n.type === 'true' || n.type === 'false' || n.type === 'string') continue;
    out.push({
      position: lines.positionAt(n.end),
      label: `▸ ${formatValue(r.value)} (${r.detail})`,
      kind: InlayHintKind.Parameter,
      paddingLeft: true,
      tooltip: `${h.owner}.${h.name}: ${r.source}`,
    });
  }
  return out;
}
