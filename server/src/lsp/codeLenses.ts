import type { CodeLens } from 'vscode-languageserver';
import type { AnalysisResult } from '../analysis/analyze';
import type { LineIndex } from '../analysis/positions';
import { Commands, type ProbeCommandArgs } from '../protocol';

/** "Probe", "Probe landscape", "Probe noise" above each optimizer and each training loop. */
export function codeLenses(uri: string, result: AnalysisResult, lines: LineIndex): CodeLens[] {
  const anchors: { line: number; target: ProbeCommandArgs['target'] }[] = [];
  for (const o of result.model.optimizers) anchors.push({ line: lines.positionAt(o.call.node.start).line, target: 'optimizer' });
  for (const l of result.model.trainingLoops) {
    // One lens per loop nest: the outermost loop that trains.
    if (l.loop.parent && result.model.trainingLoops.some((o) => o.loop === l.loop.parent)) continue;
    anchors.push({ line: lines.positionAt(l.loop.node.start).line, target: 'loop' });
  }
  const seen = new Set<number>();
  const out: CodeLens[] = [];
  for (const a of anchors) {
    if (seen.has(a.line)) continue;
    seen.add(a.line);
    const range = { start: { line: a.line, character: 0 }, end: { line: a.line, character: 0 } };
    const lens = (title: string, command: string, metrics: ProbeCommandArgs['metrics']): CodeLens => {
      const args: ProbeCommandArgs = { uri, line: a.line, target: a.target, metrics };
      return { range, command: { title, command, arguments: [args] } };
    };
    out.push(
      lens('$(beaker) Probe', Commands.probe, ['hessian', 'landscape', 'noise', 'weights', 'collapse']),
      lens('Probe landscape', Commands.probeLandscape, ['landscape']),
      lens('Probe noise', Commands.probeNoise, ['noise']),
    );
  }
  return out;
}
