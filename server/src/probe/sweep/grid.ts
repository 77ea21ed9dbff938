/**
 * A sweep's grid and how each of its values reaches the script (pure).
 *
 * A grid key names a hyperparameter (`lr`, `weight_decay`, `batch_size`, or any argparse dest).
 * Each value reaches the script at the place the analysis found the setting:
 * - set from a command-line flag (an argparse default): the flag is passed, `--lr 0.001`;
 * - an optimizer setting written as a literal, a constant or a config value: the harness sets it
 *   on every param group as the optimizer is built (before a scheduler reads it), so the
 *   script's file and its config files are never edited;
 * - anything else (a literal batch size, say) cannot be swept without editing the script, and the
 *   sweep refuses with where it is set and what to do.
 */
import type { AnalysisResult } from '../../analysis/analyze';
import type { ParsedDocument } from '../../analysis/document';

export interface GridAxis {
  readonly key: string;
  readonly values: readonly number[];
}

export interface GridPoint {
  readonly index: number;
  readonly values: Readonly<Record<string, number>>;
}

export type AxisRoute =
  | { readonly key: string; readonly via: 'flag'; readonly flag: string }
  | { readonly key: string; readonly via: 'optimizer'; readonly name: string; readonly where: string };

const OPTIMIZER_SETTINGS: Readonly<Record<string, string>> = { lr: 'lr', learning_rate: 'lr', weight_decay: 'weight_decay', momentum: 'momentum', eps: 'eps', dampening: 'dampening' };

/** `lr=1e-4,3e-4,1e-3` → an axis; the error says what is wrong with the flag. */
export function parseGridFlag(flag: string): GridAxis {
  const m = /^([A-Za-z_][\w.-]*)=(.+)$/.exec(flag.trim());
  if (!m) throw new Error(`--grid ${flag}: expected NAME=V1,V2,… (for example lr=1e-4,3e-4,1e-3)`);
  const values = m[2]!.split(',').map((v) => v.trim());
  const numbers = values.map(Number);
  const bad = values.find((v, i) => v === '' || !Number.isFinite(numbers[i]!));
  if (bad !== undefined) throw new Error(`--grid ${flag}: "${bad}" is not a number`);
  if (new Set(numbers).size !== numbers.length) throw new Error(`--grid ${flag}: a value is repeated`);
  return { key: m[1]!, values: numbers };
}

/** Every combination, the first axis varying slowest. */
export function gridPoints(axes: readonly GridAxis[]): GridPoint[] {
  let points: Record<string, number>[] = [{}];
  for (const axis of axes) points = points.flatMap((p) => axis.values.map((v) => ({ ...p, [axis.key]: v })));
  return points.map((values, index) => ({ index, values }));
}

/** How each axis reaches the script, or an error naming the setting's place. */
export function routeAxes(doc: ParsedDocument, analysis: AnalysisResult, axes: readonly GridAxis[]): AxisRoute[] {
  const dup = axes.find((a, i) => axes.findIndex((b) => b.key === a.key) !== i);
  if (dup) throw new Error(`--grid ${dup.key} is given twice`);
  const flags = argparseFlags(doc, analysis);
  return axes.map((axis): AxisRoute => {
    const optimizerName = OPTIMIZER_SETTINGS[axis.key];
    const hyper = analysis.model.hyperparameters.filter((h) => h.name === axis.key || (optimizerName && h.name === optimizerName && analysis.model.optimizers.some((o) => o.hyper.get(h.name) === h)));
    // A setting that comes from a flag: pass the flag.
    for (const h of hyper) {
      if (h.resolved.source !== 'argparse') continue;
      const flag = /^(-{1,2}[\w-]+)/.exec(h.resolved.detail)?.[1];
      if (flag) return { key: axis.key, via: 'flag', flag };
    }
    // A flag of the same name (`--batch-size` for batch_size).
    const direct = flags.get(axis.key) ?? flags.get(axis.key.replace(/_/g, '-'));
    if (direct) return { key: axis.key, via: 'flag', flag: direct };
    if (optimizerName) {
      const opt = analysis.model.optimizers[0];
      if (!opt) throw new Error(`--grid ${axis.key}: the script builds no optimizer the analysis found`);
      const h = opt.hyper.get(optimizerName) ?? opt.hyper.get(opt.api.lrKey === optimizerName ? opt.api.lrKey : optimizerName);
      const line = doc.lines.positionAt((h?.anchor ?? opt.call.node).start).line + 1;
      return { key: axis.key, via: 'optimizer', name: optimizerName, where: `${opt.api.className} ${h?.resolved.detail ?? 'default'} (line ${line})` };
    }
    const at = hyper[0];
    const where = at ? ` It is set by ${at.resolved.detail} at line ${doc.lines.positionAt(at.anchor.start).line + 1}.` : '';
    throw new Error(`--grid ${axis.key}: a sweep sets a value through a command-line flag or an optimizer setting, and ${axis.key} is neither.${where} Add an argparse flag for it (or sweep one the script has: ${[...flags.keys()].join(', ') || 'none'}).`);
  });
}

/** argparse dests → their first option string (`batch_size` → `--batch-size`). */
function argparseFlags(doc: ParsedDocument, analysis: AnalysisResult): Map<string, string> {
  const out = new Map<string, string>();
  for (const call of analysis.facts.callsByName.get('add_argument') ?? []) {
    const strings = call.args.map((a) => doc.text.slice(a.start, a.end)).filter((t) => /^['"]-/.test(t)).map((t) => t.slice(1, -1));
    const long = strings.find((s) => s.startsWith('--')) ?? strings[0];
    if (!long) continue;
    const destNode = call.keywords.get('dest');
    const dest = destNode ? doc.text.slice(destNode.start + 1, destNode.end - 1) : long.replace(/^-+/, '').replace(/-/g, '_');
    out.set(dest, long);
  }
  return out;
}

/** The script arguments and plan overrides of one point. */
export function pointInputs(routes: readonly AxisRoute[], point: GridPoint, baseArgs: readonly string[]): { args: string[]; overrides: Record<string, number> } {
  const args = [...baseArgs];
  const overrides: Record<string, number> = {};
  for (const r of routes) {
    const v = point.values[r.key]!;
    if (r.via === 'flag') args.push(r.flag, String(v));
    else overrides[r.name] = v;
  }
  return { args, overrides };
}

/** `lr=0.001, weight_decay=0.01`. */
export const describePoint = (p: GridPoint): string => Object.entries(p.values).map(([k, v]) => `${k}=${v}`).join(', ');
