/**
 * A sweep: one probe per grid point, each an ordinary run in the run store, gathered in
 * `.regscope/sweeps/<id>/sweep.json`.
 *
 * - Locally (and over SSH): a bounded pool of probes, at most `maxParallel` at once; with GPUs
 *   on this machine each slot gets its own `CUDA_VISIBLE_DEVICES`.
 * - On Slurm: one job array (`--array=0-N%maxParallel`), each task with its own plan and
 *   arguments in `task-<i>/`, followed with squeue and scontrol; every task's events are read
 *   into its run when the array has ended.
 * A point that fails is recorded with its error; the others still report (status `partial`).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PythonParser } from '../../analysis/syntax/pythonParser';
import type { ProbePlan, RunRecord, SweepPoint, SweepRecord } from '../../protocol';
import { buildProbePlan } from '../plan';
import { analyzeProbeScript, ProbeSetupError, type AnalyzedScript, type FinishedProbe, type RunningProbe } from '../pythonEngine';
import { collectPayload, payloadBase, remotePaths } from '../remote/payload';
import { jobExit, localSite, recordJobEnd, sbatchOptions, slurmLiteral, sshSite, submit, type CommandSite } from '../remote/slurmEngine';
import { SLURM_FOLLOW, SLURM_JOB } from '../remote/slurmScripts';
import { prepare, removeRemote, upload, writeStage } from '../remote/sshEngine';
import { checkHost, sshComplaint, sshRun, type SshTarget } from '../remote/sshTransport';
import { RunSink } from '../runSink';
import { newRunId, STORE_DIR, writeFileAtomic } from '../runStore';
import type { RunSummary } from '../runSummary';
import { startProbe, type AnyProbeRequest } from '../startProbe';
import { describePoint, gridPoints, pointInputs, routeAxes, type GridAxis, type GridPoint } from './grid';

export interface SweepRequest {
  readonly script: string;
  readonly args: readonly string[];
  readonly storeRoot: string;
  readonly axes: readonly GridAxis[];
  /** The probe engine of every point; `slurm` makes it one job array. */
  readonly probe: Omit<AnyProbeRequest, 'script' | 'args' | 'storeRoot' | 'overrides'>;
  readonly maxParallel?: number;
}

export interface SweepListener {
  point?(point: SweepPoint): void;
  log?(text: string): void;
}

export interface RunningSweep {
  readonly id: string;
  readonly dir: string;
  readonly done: Promise<SweepRecord>;
  cancel(): Promise<void>;
}

export function sweepsRoot(root: string): string {
  return path.join(root, STORE_DIR, 'sweeps');
}

/** GPUs on this machine (`nvidia-smi -L`), 0 when there is none or no driver. */
export function localGpuCount(): number {
  try {
    return execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => l.startsWith('GPU ')).length;
  } catch {
    return 0;
  }
}

/** The numbers a sweep's heatmaps show, from a finished run. */
export function pointResult(point: GridPoint, runId: string | null, finished: Pick<FinishedProbe, 'record' | 'summary'> | undefined, error?: string): SweepPoint {
  const s: RunSummary | undefined = finished?.summary;
  const landscape = s?.metrics.get('landscape.2d')?.data?.['loss'];
  const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  return {
    index: point.index, values: point.values, runId,
    status: finished?.record.status ?? 'error',
    error: error ?? finished?.record.error?.message ?? null,
    finalLoss: num(s?.steps.at(-1)?.loss),
    sharpnessRatio: num(s?.metrics.get('stability.sharpness')?.value),
    noiseScale: num(s?.metrics.get('noise.scale')?.value),
    landscape: Array.isArray(landscape) ? { loss: landscape as number[][] } : null,
  };
}

export async function startSweep(parser: PythonParser, req: SweepRequest, listener: SweepListener = {}): Promise<RunningSweep> {
  // Read once: every point's probe (and the job array) reuses it.
  const analyzed = analyzeProbeScript(parser, { ...req, args: req.args });
  const { script, analysis } = analyzed;
  let routes;
  try { routes = routeAxes(analysis.document, analysis, req.axes); } catch (e) { throw new ProbeSetupError((e as Error).message); }
  if (req.axes.length === 0) throw new ProbeSetupError('a sweep needs at least one --grid NAME=V1,V2,…');
  const points = gridPoints(req.axes);
  const engine = req.probe.engine ?? 'auto';
  const gpus = engine === 'slurm' || engine === 'ssh' ? 0 : localGpuCount();
  const maxParallel = Math.max(1, req.maxParallel ?? (gpus > 0 ? gpus : Math.max(1, Math.floor(os.cpus().length / 2))));
  const id = `sweep-${newRunId(script)}`;
  const dir = path.join(sweepsRoot(req.storeRoot), id);
  fs.mkdirSync(dir, { recursive: true });
  const started = performance.now();
  let record: SweepRecord = {
    v: 1, id, script, args: req.args,
    axes: req.axes.map((a, i) => ({ key: a.key, values: a.values, via: routes[i]!.via === 'flag' ? (routes[i] as { flag: string }).flag : `optimizer ${(routes[i] as { name: string }).name}` })),
    engine: engine === 'auto' || engine === 'python' || engine === 'tfjs' ? 'local' : engine,
    engineReason: '', status: 'running', startedAt: new Date().toISOString(), endedAt: null, maxParallel, seconds: 0,
    points: points.map((p) => ({ index: p.index, values: p.values, runId: null, status: 'pending', error: null, finalLoss: null, sharpnessRatio: null, noiseScale: null, landscape: null })),
  };
  const save = async (): Promise<void> => writeFileAtomic(path.join(dir, 'sweep.json'), `${JSON.stringify(record, null, 2)}\n`);
  const setPoint = (p: SweepPoint): void => {
    record = { ...record, points: record.points.map((q) => (q.index === p.index ? p : q)) };
    listener.point?.(p);
    void save();
  };
  await save();
  const run = engine === 'slurm'
    ? await arraySweep(req, analyzed, id, points, routes, maxParallel, setPoint, listener)
    : poolSweep(parser, req, analyzed, points, routes, maxParallel, gpus, setPoint, listener);
  record = { ...record, engineReason: run.reason };
  const done = run.done.then(async (extra) => {
    const statuses = record.points.map((p) => p.status);
    // Cancelled here, or every point cancelled (an scancel from outside): the sweep was stopped.
    const status: SweepRecord['status'] = statuses.every((s) => s === 'ok') ? 'ok'
      : run.cancelled() || statuses.every((s) => s === 'cancelled') ? 'cancelled' : statuses.some((s) => s === 'ok') ? 'partial' : 'error';
    record = { ...record, ...extra, status, endedAt: new Date().toISOString(), seconds: Number(((performance.now() - started) / 1000).toFixed(2)) };
    await save();
    return record;
  });
  return { id, dir, done, cancel: run.cancel };
}

interface SweepRun {
  readonly reason: string;
  readonly done: Promise<Partial<SweepRecord>>;
  cancelled(): boolean;
  cancel(): Promise<void>;
}

/** At most `maxParallel` probes at once, each on the point's arguments and overrides. */
function poolSweep(parser: PythonParser, req: SweepRequest, analyzed: AnalyzedScript, points: readonly GridPoint[], routes: ReturnType<typeof routeAxes>, maxParallel: number, gpus: number, setPoint: (p: SweepPoint) => void, listener: SweepListener): SweepRun {
  const queue = [...points];
  const running = new Set<RunningProbe>();
  let stopped = false;
  const worker = async (slot: number): Promise<void> => {
    for (let point = queue.shift(); point && !stopped; point = queue.shift()) {
      const { args, overrides } = pointInputs(routes, point, req.args);
      let probe: RunningProbe;
      try {
        probe = await startProbe(parser, {
          ...req.probe, script: req.script, args, storeRoot: req.storeRoot, overrides, analyzed,
          ...(gpus > 0 ? { env: { CUDA_VISIBLE_DEVICES: String(slot % gpus) } } : {}),
        });
      } catch (e) {
        setPoint(pointResult(point, null, undefined, (e as Error).message));
        continue;
      }
      running.add(probe);
      setPoint({ ...pointResult(point, probe.runId, undefined), status: 'running', error: null });
      listener.log?.(`point ${point.index + 1}/${points.length} (${describePoint(point)}): run ${probe.runId}\n`);
      const finished = await probe.done;
      running.delete(probe);
      setPoint(pointResult(point, probe.runId, finished));
    }
  };
  const done = Promise.all(Array.from({ length: Math.min(maxParallel, points.length) }, (_, i) => worker(i))).then(() => {
    for (const p of queue) setPoint({ ...pointResult(p, null, undefined, 'the sweep was cancelled before this point ran'), status: 'cancelled' });
    return {};
  });
  return {
    reason: `${points.length} probes, at most ${maxParallel} at once${gpus > 0 ? ` on ${gpus} GPU(s)` : ''} (engine ${req.probe.engine ?? 'auto'})`,
    done, cancelled: () => stopped,
    cancel: async () => { stopped = true; await Promise.all([...running].map((p) => p.cancel())); await done; },
  };
}

/** One Slurm job array; every task's run is filled in from its events file when the array has ended. */
async function arraySweep(req: SweepRequest, analyzed: AnalyzedScript, sweepId: string, points: readonly GridPoint[], routes: ReturnType<typeof routeAxes>, maxParallel: number, setPoint: (p: SweepPoint) => void, listener: SweepListener): Promise<SweepRun> {
  const o = req.probe;
  if (o.host) { const bad = checkHost(o.host); if (bad) throw new ProbeSetupError(`cannot submit over SSH: ${bad}`); }
  const target: SshTarget | undefined = o.host ? { host: o.host, ...(o.sshConfig ? { configFile: o.sshConfig } : {}) } : undefined;
  const site: CommandSite = target ? sshSite(target) : localSite();
  const { script, cwd, settings, analysis } = analyzed;
  const py = o.remotePython ?? 'python3';
  const base = payloadBase(script, req.storeRoot);
  let jobDir: string;
  let jobScript = script;
  let jobCwd = cwd;
  let prepared: Awaited<ReturnType<typeof prepare>> | undefined;
  if (target) {
    prepared = await prepare(target, path.posix.join(o.remoteDir ?? '.cache/regscope/runs', sweepId), py, false);
    jobDir = prepared.dir;
    ({ script: jobScript, cwd: jobCwd } = remotePaths(jobDir, base, script, cwd));
  } else {
    jobDir = path.join(sweepsRoot(req.storeRoot), sweepId, 'job');
  }
  // Each task: its run in the store, its plan and its arguments.
  const tasks = await Promise.all(points.map(async (point) => {
    const { args, overrides } = pointInputs(routes, point, req.args);
    if (args.some((a) => a.includes('\n'))) throw new ProbeSetupError('a sweep cannot pass an argument that contains a newline to a Slurm array task');
    const { plan } = buildProbePlan(analysis.document, analysis, { script, args, cwd, steps: o.steps, metrics: o.metrics, seed: o.seed, timeoutSeconds: o.timeoutSeconds, fullLandscape: o.fullLandscape, directions: o.directions, overrides });
    const runId = newRunId(script);
    const initial: RunRecord = {
      v: 1, id: runId, script, args, engine: 'slurm', engineReason: `slurm: sweep ${sweepId}, array task ${point.index}`,
      interpreter: `${py} (compute node)`, status: 'running', startedAt: new Date().toISOString(), endedAt: null, steps: 0, device: null,
      torch: null, error: null, headline: {}, findings: [], warnings: [], cost: { hvps: 0, passes: 0, seconds: 0 },
    };
    const sink = await RunSink.open(req.storeRoot, plan, initial, analysis, settings, {});
    return { point, args, plan: { ...plan, script: jobScript, cwd: jobCwd } as ProbePlan, sink };
  }));
  // The batch script, the follower and every task's plan and arguments (`task-<i>/`).
  const files: Record<string, string> = { 'job.sh': SLURM_JOB, 'follow.sh': SLURM_FOLLOW };
  for (const t of tasks) {
    files[`task-${t.point.index}/plan.json`] = `${JSON.stringify(t.plan, null, 2)}\n`;
    files[`task-${t.point.index}/args`] = [jobScript, ...t.args].map((a) => `${a}\n`).join('');
  }
  if (target) await upload(target, prepared!, collectPayload(script, base, analysis.configFiles), tasks[0]!.plan, files);
  else writeStage(jobDir, tasks[0]!.plan, files);
  const last = points.length - 1;
  const jobId = await submit(site, [
    ...sbatchOptions(o, `regscope-sweep-${path.basename(script, '.py')}`, `${slurmLiteral(jobDir)}/slurm-%a.out`, tasks[0]!.plan.budget.timeoutSeconds, `0-${last}%${maxParallel}`),
    path.posix.join(jobDir, 'job.sh'), jobDir, jobCwd, py, String(o.nprocPerNode ?? 1), '--', jobScript,
  ]).catch(async (e: unknown) => {
    for (const t of tasks) { await t.sink.finish({ code: null, signal: null, reason: 'spawn-error', spawnError: (e as Error).message, seconds: 0 }); fs.rmSync(t.sink.writer.dir, { recursive: true, force: true }); }
    if (target) await removeRemote(target, jobDir);
    throw e;
  });
  for (const t of tasks) setPoint({ ...pointResult(t.point, t.sink.writer.dir.split(path.sep).pop()!, undefined), status: 'pending', error: null, task: `${jobId}_${t.point.index}` });
  listener.log?.(`Slurm job array ${jobId} (${points.length} tasks, at most ${maxParallel} at once) submitted on ${site.name}\n`);
  const submitted = performance.now();
  let firstRunning: number | undefined;
  let cancelled = false;
  const states = new Map<number, string>();
  const poll = async (): Promise<boolean> => {
    const r = await site.run(['squeue', '-h', '-r', '-j', jobId, '-o', '%K %T %r']);
    const lines = r.code === 0 ? r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 2 && /^\d+$/.test(f[0]!)) : [];
    for (const [k, state, reason] of lines) {
      const i = Number(k);
      if (states.get(i) === state) continue;
      states.set(i, state!);
      if (state === 'RUNNING') firstRunning ??= performance.now();
      const t = tasks.find((x) => x.point.index === i);
      if (t) setPoint({ ...pointResult(t.point, t.sink.writer.dir.split(path.sep).pop()!, undefined), status: state === 'PENDING' ? 'pending' : 'running', error: state === 'PENDING' && reason && reason !== 'None' ? `pending (${reason})` : null, task: `${jobId}_${i}` });
    }
    return r.code === 0 && lines.length === 0;
  };
  const done = (async (): Promise<Partial<SweepRecord>> => {
    while (!(await poll())) await new Promise((r) => setTimeout(r, 1000));
    const ended = performance.now();
    // Final states per task: scontrol keeps finished jobs for MinJobAge; sacct where accounting runs.
    const final = new Map<number, { state: string; exit: string }>();
    const sc = await site.run(['scontrol', 'show', 'job', jobId, '-o']);
    for (const line of sc.stdout.split('\n')) {
      const st = /JobState=([A-Z_]+)/.exec(line)?.[1];
      // Tasks that never started stay one record: `ArrayTaskId=2-3,5%2`.
      for (const k of taskIds(/ArrayTaskId=(\S+)/.exec(line)?.[1] ?? '')) if (st) final.set(k, { state: st, exit: / ExitCode=(\d+:\d+)/.exec(line)?.[1] ?? '-' });
    }
    if (final.size === 0) {
      const sa = await site.run(['sacct', '-n', '-P', '-X', '-j', jobId, '-o', 'JobID,State,ExitCode']);
      for (const line of sa.stdout.split('\n')) {
        const [jid, st, ec] = line.split('|');
        const k = /_(\d+)$/.exec(jid ?? '')?.[1];
        if (k && st) final.set(Number(k), { state: st.split(' ')[0]!, exit: ec ?? '-' });
      }
    }
    for (const t of tasks) {
      const taskDir = path.posix.join(jobDir, `task-${t.point.index}`);
      const read = async (name: string): Promise<Buffer | undefined> => {
        if (!target) { try { return fs.readFileSync(path.join(taskDir, name)); } catch { return undefined; } }
        const r = await sshRun(target, ['cat', path.posix.join(taskDir, name)], { timeoutMs: 120_000 });
        return r.code === 0 ? Buffer.from(r.stdout, 'utf8') : undefined;
      };
      const events = await read('events.out');
      if (events) t.sink.stdout(events);
      const log = await read('script.log');
      if (log?.length) t.sink.stderr(log.toString('utf8'));
      const f = final.get(t.point.index) ?? { state: 'UNKNOWN', exit: '-' };
      const exitCode = f.exit !== '-' ? f.exit : null;
      recordJobEnd(t.sink, `array task ${jobId}_${t.point.index}`, f.state, exitCode);
      const finished = await t.sink.finish(jobExit(f.state, exitCode, 'exited', (ended - submitted) / 1000));
      setPoint({ ...pointResult(t.point, finished.record.id, finished), task: `${jobId}_${t.point.index}` });
    }
    if (target && !o.keepRemote) {
      const removed = await removeRemote(target, jobDir);
      if (removed) listener.log?.(`the job folder ${o.host}:${jobDir} could not be removed (${removed})\n`);
    }
    return { scheduler: { system: 'slurm', jobId, queueSeconds: firstRunning === undefined ? null : Number(((firstRunning - submitted) / 1000).toFixed(1)), runSeconds: firstRunning === undefined ? null : Number(((ended - firstRunning) / 1000).toFixed(1)) } };
  })();
  return {
    reason: `Slurm job array ${jobId} on ${site.name}: ${points.length} tasks, at most ${maxParallel} at once`,
    done, cancelled: () => cancelled,
    cancel: async () => {
      cancelled = true;
      const r = await site.run(['scancel', jobId]);
      if (r.code !== 0) listener.log?.(`scancel ${jobId} failed: ${sshComplaint(r.stderr)}\n`);
      await done;
    },
  };
}

/** Slurm's task id list: `3`, `2-5`, `1,4-6`, with an optional `%limit`. */
export function taskIds(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split('%')[0]!.split(',')) {
    const m = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const from = Number(m[1]), to = m[2] ? Number(m[2]) : from, by = m[3] ? Number(m[3]) : 1;
    for (let k = from; k <= to; k += by) out.push(k);
  }
  return out;
}
