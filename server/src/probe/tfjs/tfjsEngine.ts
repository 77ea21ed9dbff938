/**
 * One probe run on the embedded engine: analyse the script, rebuild its model as a surrogate
 * (or say exactly why not), run it in a worker thread, store every event as it arrives, and end
 * with the same run record and PRB findings as the Python engine.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PythonParser } from '../../analysis/syntax/pythonParser';
import type { RunRecord } from '../../protocol';
import { decodeEventLine } from '../events';
import { buildProbePlan } from '../plan';
import { analyzeProbeScript, ProbeSetupError, type ProbeListener, type ProbeRequest, type RunningProbe } from '../pythonEngine';
import type { ExitInfo } from '../pythonProcess';
import { RunSink } from '../runSink';
import { newRunId } from '../runStore';
import type { BackendChoice } from './backend';
import { trySurrogateSpec, type OptimizerSpec, type SurrogateSpec } from './surrogateSpec';
import type { WorkerInput, WorkerMessage } from './tfjsWorker';

/** The worker bundle: beside this bundle (dist/), or the built one when running from source. */
export function workerPath(): string {
  const candidates = [path.join(__dirname, 'tfjsWorker.js'), path.resolve(__dirname, '../../../../dist/tfjsWorker.js')];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new ProbeSetupError(`the embedded engine (tfjsWorker.js) is missing from this installation; looked in ${candidates.join(', ')}`);
  return found;
}

export interface TfjsRequest extends ProbeRequest {
  readonly backend?: BackendChoice;
  readonly labelNoise?: number;
  /** A data file (.csv, .npy, .npz) to train the surrogate on instead of synthetic data; relative to cwd. */
  readonly dataFile?: string;
  /** Why the embedded engine runs (auto: no interpreter with torch). */
  readonly why?: string;
}

export async function startTfjsProbe(parser: PythonParser, req: TfjsRequest, listener: ProbeListener = {}): Promise<RunningProbe> {
  const { script, cwd, settings, analysis } = analyzeProbeScript(parser, req);
  const rebuilt = trySurrogateSpec(analysis.document, analysis);
  if ('error' in rebuilt) throw new ProbeSetupError(`${rebuilt.error}. Use the Python engine (--engine python, with an interpreter that has torch) for this script.`);
  const { plan, notes } = buildProbePlan(analysis.document, analysis, {
    script, args: req.args, cwd, steps: req.steps, metrics: req.metrics, seed: req.seed,
    timeoutSeconds: req.timeoutSeconds, fullLandscape: req.fullLandscape, overrides: req.overrides, directions: 'random',
  });
  const worker = workerPath();
  const engineReason = `tfjs: ${req.why ?? 'the embedded engine was asked for'}; the model is a surrogate rebuilt from the script`;
  const runId = newRunId(script);
  const initial: RunRecord = {
    v: 1, id: runId, script, args: req.args, engine: 'tfjs', engineReason,
    interpreter: null, status: 'running', startedAt: new Date().toISOString(), endedAt: null, steps: 0, device: null,
    torch: null, error: null, headline: {}, findings: [], warnings: notes.filter((n) => !n.startsWith('no loss expression')),
    cost: { hvps: 0, passes: 0, seconds: 0 },
  };
  const sink = await RunSink.open(req.storeRoot, plan, initial, analysis, settings, listener);
  const started = performance.now();
  const input: WorkerInput = {
    spec: withOverrides(rebuilt.spec, req.overrides), plan, backend: req.backend ?? 'auto', labelNoise: req.labelNoise ?? 0,
    ...(req.dataFile ? { dataFile: path.resolve(cwd, req.dataFile) } : {}),
  };
  const thread = new Worker(worker, { workerData: input, stdout: true, stderr: true });
  thread.stdout.on('data', (d: Buffer) => sink.stderr(d.toString('utf8')));
  thread.stderr.on('data', (d: Buffer) => sink.stderr(d.toString('utf8')));
  let reason: ExitInfo['reason'] = 'exited';
  let status: 'ok' | 'error' | undefined;
  const timer = setTimeout(() => { reason = 'timeout'; void thread.terminate(); }, plan.budget.timeoutSeconds * 1000);
  thread.on('message', (m: WorkerMessage) => {
    if (m.type === 'end') { status = m.status; return; }
    // The worker's events pass the same validation as the Python harness's.
    const decoded = decodeEventLine(JSON.stringify(m.event));
    if ('event' in decoded) sink.record(decoded.event);
    else sink.malformedLine(decoded.malformed);
  });
  const done = new Promise<ExitInfo>((resolve) => {
    thread.on('error', (e) => { sink.stderr(`${e.stack ?? e}\n`); });
    thread.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: status === 'ok' ? 0 : code === 0 ? 1 : code, signal: null, reason, seconds: (performance.now() - started) / 1000 });
    });
  }).then((exit) => sink.finish(exit, (r) => {
    // The device of a surrogate run is its TensorFlow.js runtime; there is no torch.
    const hello = sink.events.find((e) => e.type === 'hello');
    return { ...r, device: hello?.type === 'hello' ? hello.runtime ?? r.device : r.device, torch: null };
  }));
  return {
    runId, runDir: sink.writer.dir, engine: 'tfjs', engineReason, interpreter: null, plan, planNotes: notes, done,
    cancel: async () => { reason = 'cancelled'; await thread.terminate(); },
  };
}

/** A sweep point's optimizer settings on the surrogate, as the harness sets them: on every param group. */
export function withOverrides(spec: SurrogateSpec, overrides: Readonly<Record<string, number>> | undefined): SurrogateSpec {
  if (!overrides) return spec;
  const o = { ...spec.optimizer } as { -readonly [K in keyof OptimizerSpec]: OptimizerSpec[K] };
  for (const [name, value] of Object.entries(overrides)) {
    if (name === 'lr') o.lr = value;
    else if (name === 'weight_decay') { o.weightDecay = value; delete o.decayByShape; }
    else if (name === 'momentum') o.momentum = value;
    else if (name === 'eps') o.eps = value;
    else if (name === 'dampening') o.dampening = value;
  }
  return { ...spec, optimizer: o };
}
