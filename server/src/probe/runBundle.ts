/**
 * A run as the panels and the HTML report draw it: record, plan, events and where the script
 * sets what was measured (from the script as it is now, so a link still lands on the right line
 * after edits). The same bundle feeds a live panel, a restored panel and a report file.
 */
import * as fs from 'node:fs';
import type { PythonParser } from '../analysis/syntax/pythonParser';
import type { ProbeEvent, ProbePlan, RunAnchors, RunBundle, ScriptRef } from '../protocol';
import { layerAnchor, type ProbeAnchors } from './probeAnchors';
import { anchorsFor } from './pythonEngine';
import { readPlan, readRun, storeRootOf } from './runStore';

export async function loadRunBundle(parser: PythonParser, dir: string): Promise<RunBundle> {
  const stored = await readRun(dir);
  const plan = await readPlan(dir);
  const problems: string[] = [];
  if (stored.problem) problems.push(stored.problem);
  if (stored.malformed.length) problems.push(`${stored.malformed.length} line(s) of events.jsonl did not decode and are left out`);
  let anchors: RunAnchors | null = null;
  if (fs.existsSync(stored.record.script)) {
    try {
      anchors = toRunAnchors(anchorsFor(parser, stored.record.script, storeRootOf(dir)), layerNames(stored.events));
    } catch (e) {
      problems.push(`the script could not be analyzed for line links: ${(e as Error).message}`);
    }
  } else {
    problems.push(`${stored.record.script} is gone: no links to its lines`);
  }
  return {
    runDir: dir,
    record: stored.record,
    plan: plan?.v === 1 && plan.budget ? (plan as ProbePlan) : null,
    events: stored.events,
    anchors,
    problems,
  };
}

/** Every module path a run reports per-layer numbers for. */
function layerNames(events: readonly ProbeEvent[]): Set<string> {
  const names = new Set<string>();
  for (const e of events) {
    if (e.type !== 'metric') continue;
    for (const l of e.layers ?? []) names.add(l.name);
    const data = e.data?.['layers'];
    if (Array.isArray(data)) for (const l of data) if (typeof (l as { layer?: unknown }).layer === 'string') names.add((l as { layer: string }).layer);
  }
  return names;
}

/** The script's anchors by name, plus each reported layer resolved the way findings resolve it. */
export function toRunAnchors(a: ProbeAnchors, reported: Iterable<string> = []): RunAnchors {
  const ref = (x: { line: number; column: number; detail?: string } | undefined): ScriptRef | undefined =>
    x ? { line: x.line, column: x.column, ...(x.detail ? { detail: x.detail } : {}) } : undefined;
  const hparams: Record<string, ScriptRef> = {};
  for (const key of ['lr', 'batchSize', 'optimizer', 'loss', 'weightDecay'] as const) {
    const r = ref(a[key]);
    if (r) hparams[key] = r;
  }
  const layers: Record<string, ScriptRef> = {};
  for (const [name, anchor] of a.layers) layers[name] = ref(anchor)!;
  for (const name of reported) {
    const r = ref(layerAnchor(a, name));
    if (r) layers[name] = r;
  }
  return { hparams, layers };
}
