import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Hover } from 'vscode-languageserver';
import type { AnalysisResult } from '../analysis/analyze';
import { RULES_BY_ID, docsUrl } from '../analysis/catalogue';
import type { Hyperparameter, OptimizerModel } from '../analysis/model/trainingScript';
import { usualRanges } from '../analysis/model/usualRanges';
import type { LineIndex, Position } from '../analysis/positions';
import { formatValue } from '../analysis/values/pyValue';
import type { HparamsEvent, ParamGroupLive } from '../protocol';

const SOURCE_LABEL = {
  literal: 'written here', constant: 'a constant in this file', argparse: 'a command-line default', config: 'a config',
  parameter: 'a function parameter', default: 'the library default',
} as const;

/** The hyperparameter whose argument (or, for defaults, whose call) contains the position. */
export function hyperparameterAt(result: AnalysisResult, lines: LineIndex, pos: Position): Hyperparameter | undefined {
  const offset = lines.offsetAt(pos);
  let best: Hyperparameter | undefined;
  for (const h of result.model.hyperparameters) {
    const n = h.argument ?? h.node;
    if (!n || offset < n.start || offset > n.end) continue;
    if (!best || n.end - n.start < (best.argument ?? best.node)!.end - (best.argument ?? best.node)!.start) best = h;
  }
  return best;
}

function optimizerOf(result: AnalysisResult, h: Hyperparameter): OptimizerModel | undefined {
  return result.model.optimizers.find((o) => [...o.hyper.values()].includes(h) || o.paramGroups?.some((g) => [...g.hyper.values()].includes(h)));
}

/** Hyperparameters as the optimizers held them during the script's latest probe run. */
export interface LiveHparams {
  readonly runId: string;
  readonly event: HparamsEvent;
}

const LIVE_FIELD: Readonly<Record<string, keyof ParamGroupLive>> = {
  lr: 'lr', learning_rate: 'lr', momentum: 'momentum', betas: 'betas', weight_decay: 'weightDecay', eps: 'eps', nesterov: 'nesterov',
};

/** `Measured in probe run … at step 10: 0.4` for an optimizer hyperparameter, from its param group(s). */
function liveLine(result: AnalysisResult, h: Hyperparameter, live: LiveHparams | undefined): string | undefined {
  const field = LIVE_FIELD[h.name];
  const opt = optimizerOf(result, h);
  if (!live || !field || !opt) return undefined;
  const index = result.model.optimizers.indexOf(opt);
  const groups = live.event.optimizers[index]?.groups ?? [];
  const groupIndex = opt.paramGroups?.findIndex((g) => [...g.hyper.values()].includes(h)) ?? -1;
  const chosen = groupIndex >= 0 ? groups.filter((g) => g.index === groupIndex) : groups;
  const shown = chosen.map((g) => g[field]).filter((v) => v !== undefined);
  if (shown.length === 0) return undefined;
  const text = (v: unknown): string => (Array.isArray(v) ? `(${v.join(', ')})` : String(v));
  const distinct = [...new Set(shown.map(text))];
  const value = distinct.length === 1 ? distinct[0] : chosen.map((g) => `group ${g.index}: ${text(g[field])}`).join(', ');
  return `Measured in probe run \`${live.runId}\` at step ${live.event.step}: **\`${value}\`** (${live.event.optimizers[index]?.class ?? 'optimizer'}'s param group${chosen.length === 1 ? '' : 's'})`;
}

/** Value, where it came from (a link), the usual range for this optimizer family, and findings on it. */
export function hoverFor(result: AnalysisResult, lines: LineIndex, pos: Position, scriptPath: string | undefined, live?: LiveHparams): Hover | undefined {
  const h = hyperparameterAt(result, lines, pos);
  if (!h) return undefined;
  const r = h.resolved;
  const parts: string[] = [];
  parts.push(`**${h.owner}** · \`${h.name}\` = **${r.value === undefined ? 'unknown' : `\`${formatValue(r.value)}\``}**`);
  const where = originLink(r.origin, scriptPath);
  if (r.value === undefined) parts.push(`Not known before the script runs: ${r.detail}. Rules do not guess it.`);
  else if (r.source === 'literal') parts.push('Written here.');
  else parts.push(`From ${SOURCE_LABEL[r.source]}: ${r.detail}${where ? ` — ${where}` : ''}`);
  const measured = liveLine(result, h, live);
  if (measured) parts.push(measured);
  const opt = optimizerOf(result, h);
  const ranges = usualRanges(h.name, opt?.api.family);
  if (ranges.length > 0) parts.push(`Usual values:\n${ranges.map((u) => `- ${u.setting}: ${u.range} _(${u.source})_`).join('\n')}`);
  const anchor = h.anchor;
  const findings = result.findings.filter((f) => {
    const s = lines.offsetAt(f.range.start);
    return s >= anchor.start && s <= anchor.end;
  });
  for (const f of findings) {
    const spec = RULES_BY_ID.get(f.rule);
    parts.push(`**${f.rule}** ${spec?.title ?? ''} — [docs](${docsUrl(f.rule)})${spec ? `\n\nReference: ${spec.reference}` : ''}`);
  }
  const n = h.argument ?? h.node ?? h.anchor;
  return { contents: { kind: 'markdown', value: parts.join('\n\n') }, range: lines.rangeOf(n.start, n.end) };
}

function originLink(origin: { file: string | undefined; line: number }, scriptPath: string | undefined): string | undefined {
  if (!scriptPath) return `line ${origin.line + 1}`;
  const file = origin.file ? path.resolve(path.dirname(scriptPath), origin.file) : scriptPath;
  const label = `${origin.file ?? path.basename(scriptPath)}:${origin.line + 1}`;
  return `[${label}](${pathToFileURL(file).href}#L${origin.line + 1})`;
}
