/**
 * One probe run on the Python engine, start to finish: analyse the script and build its plan,
 * find an interpreter with torch, start the harness (no shell), store every event as it arrives,
 * and end with a run record and its PRB findings, whatever happened to the process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PythonParser } from '../analysis/syntax/pythonParser';
import { DEFAULT_SETTINGS } from '../analysis/settings';
import { analyzeDiskFile, type DiskAnalysis } from '../host/analyzeDiskFile';
import type { AnalysisSettings } from '../analysis/settings';
import { ProjectSettingsFinder } from '../host/projectSettings';
import type { EngineKind, LandscapeDirections, MalformedLine, ProbeEvent, ProbeFinding, ProbeMetric, ProbePlan, RunRecord } from '../protocol';
import { defaultCandidates, findTorchInterpreter, type InterpreterCandidate, type InterpreterInfo } from './interpreter';
import { buildProbePlan } from './plan';
import { probeAnchors, type ProbeAnchors } from './probeAnchors';
import { startHarness, type HarnessHandle } from './pythonProcess';
import { RunSink } from './runSink';
import { newRunId } from './runStore';
import type { RunSummary } from './runSummary';

export interface ProbeRequest {
  readonly script: string;
  readonly args: readonly string[];
  /** Where `.regscope/runs/` lives: the workspace folder (or the current directory for the CLI). */
  readonly storeRoot: string;
  readonly cwd?: string;
  readonly steps?: number;
  readonly metrics?: readonly ProbeMetric[];
  readonly fullLandscape?: boolean;
  readonly directions?: LandscapeDirections;
  readonly seed?: number;
  readonly timeoutSeconds?: number;
  /** Interpreters to try in order; an explicit `--python` or setting comes first. */
  readonly candidates?: readonly InterpreterCandidate[];
  /** A sweep point's optimizer settings (the plan's `overrides`). */
  readonly overrides?: Readonly<Record<string, number>>;
  /** Extra environment for the run (a sweep's CUDA_VISIBLE_DEVICES). */
  readonly env?: Readonly<Record<string, string>>;
  /** Processes for a torchrun-style script (`torchrun --nproc_per_node N`); 1 or absent: one. */
  readonly nprocPerNode?: number;
  /** The script as analyzeProbeScript already read it (engine choice and sweeps read it once). */
  readonly analyzed?: AnalyzedScript;
}

export interface AnalyzedScript {
  readonly script: string;
  readonly cwd: string;
  readonly settings: AnalysisSettings;
  readonly analysis: DiskAnalysis;
}

export interface ProbeListener {
  event?(event: ProbeEvent): void;
  malformed?(line: MalformedLine): void;
  output?(text: string): void;
}

export interface RunningProbe {
  readonly runId: string;
  readonly runDir: string;
  readonly engine: EngineKind;
  /** Why this engine (and interpreter) runs, for people. */
  readonly engineReason: string;
  /** The Python interpreter; null for engines without one. */
  readonly interpreter: InterpreterInfo | null;
  readonly plan: ProbePlan;
  readonly planNotes: readonly string[];
  readonly done: Promise<FinishedProbe>;
  cancel(): Promise<void>;
}

export interface FinishedProbe {
  readonly record: RunRecord;
  readonly summary: RunSummary;
  readonly findings: readonly ProbeFinding[];
  readonly events: readonly ProbeEvent[];
}

const KILL_BACKSTOP_SECONDS = 10;

/** A probe that cannot start: no torch, an unreadable script. The message says what to do. */
export class ProbeSetupError extends Error {}

/** The folder holding the `regscope_probe` package: beside the bundle, or in the source tree. */
export function harnessDir(): string {
  const candidates = [path.join(__dirname, 'python'), path.resolve(__dirname, '../../python'), path.resolve(__dirname, '../server/python')];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'regscope_probe', '__main__.py')));
  if (!found) throw new ProbeSetupError(`the probe runtime (regscope_probe) is missing from this installation; looked in ${candidates.join(', ')}`);
  return found;
}

/** The script a probe runs, analysed with its project's settings (every engine starts here). */
export function analyzeProbeScript(parser: PythonParser, req: ProbeRequest): AnalyzedScript {
  if (req.analyzed) return req.analyzed;
  const script = path.resolve(req.script);
  if (!fs.existsSync(script)) throw new ProbeSetupError(`cannot probe ${req.script}: no such file`);
  const cwd = req.cwd ?? path.dirname(script);
  const settings = new ProjectSettingsFinder().forFile(script).settings;
  return { script, cwd, settings, analysis: analyzeDiskFile(parser, script, settings, [req.storeRoot, cwd]) };
}

export async function startPythonProbe(parser: PythonParser, req: ProbeRequest, listener: ProbeListener = {}): Promise<RunningProbe> {
  const { script, cwd, settings, analysis } = analyzeProbeScript(parser, req);
  const { plan, notes } = buildProbePlan(analysis.document, analysis, {
    script, args: req.args, cwd, steps: req.steps, metrics: req.metrics, seed: req.seed,
    timeoutSeconds: req.timeoutSeconds, fullLandscape: req.fullLandscape, overrides: req.overrides, directions: req.directions,
  });
  const search = await findTorchInterpreter(req.candidates ?? defaultCandidates(), { cwd });
  if ('missing' in search) throw new ProbeSetupError(search.missing);
  const interpreter = search.found;

  const runId = newRunId(script);
  const startedAt = new Date().toISOString();
  const initial: RunRecord = {
    v: 1, id: runId, script, args: req.args, engine: 'python', engineReason: `python: ${interpreter.reason}`,
    interpreter: interpreter.path, status: 'running', startedAt, endedAt: null, steps: 0, device: null,
    torch: interpreter.torchVersion, error: null, headline: {}, findings: [], warnings: [...notes],
    cost: { hvps: 0, passes: 0, seconds: 0 },
  };
  const sink = await RunSink.open(req.storeRoot, plan, initial, analysis, settings, listener);
  let handle: HarnessHandle;
  try {
    handle = startHarness({
      interpreter: interpreter.path,
      harnessDir: harnessDir(),
      planPath: path.join(sink.writer.dir, 'plan.json'),
      script,
      args: req.args,
      cwd,
      ...(req.env ? { env: { ...process.env, ...req.env } } : {}),
      ...(req.nprocPerNode ? { nproc: req.nprocPerNode } : {}),
      // The harness stops itself at the plan's timeout and reports it; killing the process group
      // a little later is the backstop for a hang inside native code, where Python cannot act.
      timeoutMs: (plan.budget.timeoutSeconds + KILL_BACKSTOP_SECONDS) * 1000,
      onEvent: (event) => sink.record(event),
      onMalformed: (line) => sink.malformedLine(line),
      onStderr: (text) => sink.stderr(text),
    });
  } catch (e) {
    await sink.writer.close();
    throw e;
  }
  const done = handle.done.then((exit) => sink.finish(exit));
  return {
    runId, runDir: sink.writer.dir, engine: 'python', engineReason: `python: ${interpreter.reason}`, interpreter, plan, planNotes: notes, done,
    cancel: async () => { await handle.cancel(); },
  };
}

/** Anchors for findings of a stored run, from the script as it is now. */
export function anchorsFor(parser: PythonParser, script: string, root: string): ProbeAnchors {
  const analysis = analyzeDiskFile(parser, script, DEFAULT_SETTINGS, [root]);
  return probeAnchors(analysis.document, analysis);
}
