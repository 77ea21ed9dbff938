/**
 * A probe as a Slurm batch job: submitted with sbatch on this machine, or on a login node over
 * SSH (`--host`), followed while it is queued and while it runs, cancelled with scancel.
 *
 * The job's folder must be on a file system the compute nodes see. Here: the run's folder under
 * the workspace (`.regscope/runs/<id>/job`), the usual case on a cluster where home and project
 * folders are shared. Over SSH: a per-run folder on the login node (like the ssh engine's, home by
 * default), with the script and its imports copied there. The harness writes its events into that
 * folder; follow.sh (slurmScripts.ts) streams them back byte for byte and reports each change of
 * the job's state, so a pending job shows as pending with the scheduler's reason, and queue time
 * and run time are told apart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PythonParser } from '../../analysis/syntax/pythonParser';
import type { ProbePlan, RunRecord, SchedulerInfo } from '../../protocol';
import { buildProbePlan } from '../plan';
import { analyzeProbeScript, ProbeSetupError, type ProbeListener, type ProbeRequest, type RunningProbe } from '../pythonEngine';
import type { ExitInfo } from '../pythonProcess';
import { RunSink } from '../runSink';
import { newRunId, runDir } from '../runStore';
import { collectPayload, payloadBase, remotePaths } from './payload';
import { parseStateLine, SLURM_FOLLOW, SLURM_JOB, type SlurmState } from './slurmScripts';
import { prepare, removeRemote, upload, writeStage } from './sshEngine';
import { checkHost, localRun, sshArgv, sshComplaint, sshRun, type SshResult, type SshTarget } from './sshTransport';

export interface SlurmOptions {
  /** A login node to submit on over SSH; this machine when absent. */
  readonly host?: string;
  readonly sshConfig?: string;
  readonly partition?: string;
  readonly gres?: string;
  /** sbatch --time (`00:10:00`); the plan's timeout plus a minute when absent. */
  readonly time?: string;
  readonly account?: string;
  /** The interpreter on the compute nodes (default `python3`). */
  readonly remotePython?: string;
  /** Over SSH: where per-run folders go on the login node (default .cache/regscope/runs). */
  readonly remoteDir?: string;
  readonly keepRemote?: boolean;
}

export interface SlurmRequest extends ProbeRequest, SlurmOptions {}

/** Runs commands where sbatch runs: here (no shell) or on the login node (quoted words over ssh). */
export interface CommandSite {
  readonly name: string;
  run(argv: readonly string[], timeoutMs?: number): Promise<SshResult>;
  spawn(argv: readonly string[]): ChildProcess;
}

export function localSite(): CommandSite {
  return {
    name: 'this machine',
    run: (argv, timeoutMs) => localRun(argv[0]!, argv.slice(1), { timeoutMs: timeoutMs ?? 60_000 }),
    spawn: (argv) => spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }),
  };
}

export function sshSite(target: SshTarget): CommandSite {
  return {
    name: target.host,
    run: (argv, timeoutMs) => sshRun(target, argv, { timeoutMs: timeoutMs ?? 60_000 }),
    spawn: (argv) => spawn('ssh', sshArgv(target, argv), { stdio: ['ignore', 'pipe', 'pipe'] }),
  };
}

/** `%` in a path is Slurm's pattern character (`%j`, `%a`): a literal one is doubled. */
export const slurmLiteral = (p: string): string => p.replace(/%/g, '%%');

/** sbatch's options from ours; `output` is a Slurm filename pattern (literal parts through slurmLiteral). */
export function sbatchOptions(o: SlurmOptions, name: string, output: string, timeoutSeconds: number, array?: string): string[] {
  const minutes = Math.max(1, Math.ceil((timeoutSeconds + 60) / 60));
  return [
    '--parsable', '--job-name', name, '--output', output,
    '--time', o.time ?? String(minutes),
    ...(o.partition ? ['--partition', o.partition] : []),
    ...(o.gres ? ['--gres', o.gres] : []),
    ...(o.account ? ['--account', o.account] : []),
    ...(array ? ['--array', array] : []),
  ];
}

/** Submits; the job id, or a setup error with sbatch's words. */
export async function submit(site: CommandSite, argv: readonly string[]): Promise<string> {
  const r = await site.run(['sbatch', ...argv]);
  if (r.code !== 0) {
    const why = /command not found|No such file|ENOENT/.test(r.stderr) ? `sbatch is not available on ${site.name} (is Slurm installed and on PATH?)` : sshComplaint(r.stderr);
    throw new ProbeSetupError(`the Slurm job could not be submitted on ${site.name}: ${why}`);
  }
  const id = r.stdout.trim().split(';')[0]!;
  if (!/^\d+$/.test(id)) throw new ProbeSetupError(`sbatch on ${site.name} answered "${r.stdout.trim()}", not a job id`);
  return id;
}

/** How a job ended, as the run's exit: Slurm's `code:signal` and its CANCELLED and TIMEOUT states. */
export function jobExit(state: string, exitCode: string | null, reason: ExitInfo['reason'], seconds: number): ExitInfo {
  const code = exitCode && /^\d+:\d+$/.test(exitCode) ? Number(exitCode.split(':')[0]) : null;
  const why = state === 'CANCELLED' && reason === 'exited' ? 'cancelled' : state === 'TIMEOUT' ? 'timeout' : reason;
  return { code, signal: null, reason: why, seconds };
}

/**
 * A job (or array task) that ended before its harness reported a result (no Python, out of
 * time, killed by Slurm): its state and exit code become the run's error.
 */
export function recordJobEnd(sink: RunSink, job: string, state: string, exitCode: string | null, detail = ''): void {
  if (sink.hasDone() || state === 'COMPLETED' || state === 'CANCELLED') return;
  sink.record({
    v: 1, type: 'error', t: sink.events.at(-1)?.t ?? 0, kind: state === 'TIMEOUT' ? 'timeout' : 'exit', step: sink.lastStep,
    message: `${job} ended ${state}${exitCode ? ` (exit code ${exitCode})` : ''} after ${sink.lastStep} step(s) without reporting a result${detail}; the script's output is in stderr.log`,
  });
}

/** The job's state, as follow.sh reports it, with queue and run times measured here. */
export class JobClock {
  readonly submitted = performance.now();
  private runningSince: number | undefined;
  private endedAt: number | undefined;
  last: SlurmState | undefined;

  update(s: SlurmState): void {
    this.last = s;
    if (s.state !== 'PENDING' && s.state !== 'CONFIGURING' && this.runningSince === undefined) this.runningSince = performance.now();
    if (s.exitCode !== '-' && this.endedAt === undefined) this.endedAt = performance.now();
  }

  info(jobId: string): SchedulerInfo {
    const end = this.endedAt ?? performance.now();
    return {
      system: 'slurm', jobId, state: this.last?.state ?? 'UNKNOWN', nodes: this.last?.nodes && this.last.nodes !== '-' ? this.last.nodes : null,
      queueSeconds: Number((((this.runningSince ?? end) - this.submitted) / 1000).toFixed(1)),
      runSeconds: this.runningSince === undefined ? null : Number(((end - this.runningSince) / 1000).toFixed(1)),
      exitCode: this.last?.exitCode && this.last.exitCode !== '-' ? this.last.exitCode : null,
    };
  }
}

export async function startSlurmProbe(parser: PythonParser, req: SlurmRequest, listener: ProbeListener = {}): Promise<RunningProbe> {
  if (req.host) { const bad = checkHost(req.host); if (bad) throw new ProbeSetupError(`cannot submit over SSH: ${bad}`); }
  const target: SshTarget | undefined = req.host ? { host: req.host, ...(req.sshConfig ? { configFile: req.sshConfig } : {}) } : undefined;
  const site = target ? sshSite(target) : localSite();
  const { script, cwd, settings, analysis } = analyzeProbeScript(parser, req);
  const { plan, notes } = buildProbePlan(analysis.document, analysis, {
    script, args: req.args, cwd, steps: req.steps, metrics: req.metrics, seed: req.seed,
    timeoutSeconds: req.timeoutSeconds, fullLandscape: req.fullLandscape, overrides: req.overrides, directions: req.directions,
  });
  const runId = newRunId(script);
  const py = req.remotePython ?? 'python3';
  const timeoutSeconds = plan.budget.timeoutSeconds;

  // Where the job's files live, and the paths the job sees.
  let jobDir: string;
  let jobScript = script;
  let jobCwd = cwd;
  if (target) {
    const base = payloadBase(script, req.storeRoot);
    const payload = collectPayload(script, base, analysis.configFiles);
    const prepared = await prepare(target, path.posix.join(req.remoteDir ?? '.cache/regscope/runs', runId), py, false);
    jobDir = prepared.dir;
    ({ script: jobScript, cwd: jobCwd } = remotePaths(jobDir, base, script, cwd));
    const remotePlan: ProbePlan = { ...plan, script: jobScript, cwd: jobCwd };
    try { await upload(target, prepared, payload, remotePlan, { 'job.sh': SLURM_JOB, 'follow.sh': SLURM_FOLLOW }); } catch (e) { await removeRemote(target, jobDir); throw e; }
  } else {
    // The run's own folder, inside the workspace (shared with the compute nodes on a cluster).
    jobDir = path.join(runDir(req.storeRoot, runId), 'job');
  }

  const where = target ? `${req.host}:${jobDir}` : jobDir;
  const engineReason = `slurm: submitted on ${site.name}${req.partition ? `, partition ${req.partition}` : ''}${req.gres ? `, --gres ${req.gres}` : ''}; ${py} on the compute node; job folder ${where}`;
  const initial: RunRecord = {
    v: 1, id: runId, script, args: req.args, engine: 'slurm', engineReason,
    interpreter: `${py} (compute node)`, status: 'running', startedAt: new Date().toISOString(), endedAt: null, steps: 0, device: null,
    torch: null, error: null, headline: {}, findings: [], warnings: [...notes], cost: { hvps: 0, passes: 0, seconds: 0 },
  };
  const sink = await RunSink.open(req.storeRoot, plan, initial, analysis, settings, listener);
  if (!target) {
    fs.mkdirSync(jobDir, { recursive: true });
    writeStage(jobDir, plan, { 'job.sh': SLURM_JOB, 'follow.sh': SLURM_FOLLOW });
  }
  let jobId: string;
  try {
    jobId = await submit(site, [...sbatchOptions(req, `regscope-${path.basename(script, '.py')}`, slurmLiteral(path.posix.join(jobDir, 'slurm.out')), timeoutSeconds),
      ...((req.nprocPerNode ?? 1) > 1 ? ['--cpus-per-task', String(req.nprocPerNode)] : []), path.posix.join(jobDir, 'job.sh'), jobDir, jobCwd, py, String(req.nprocPerNode ?? 1), '--', jobScript, ...req.args]);
  } catch (e) {
    // Nothing ran: no run is kept (as when another engine cannot start).
    await sink.finish({ code: null, signal: null, reason: 'spawn-error', spawnError: (e as Error).message, seconds: 0 });
    fs.rmSync(sink.writer.dir, { recursive: true, force: true });
    if (target && !req.keepRemote) await removeRemote(target, jobDir);
    throw e;
  }
  const clock = new JobClock();
  const t = (): number => Number(((performance.now() - clock.submitted) / 1000).toFixed(3));
  sink.record({ v: 1, type: 'progress', t: t(), phase: 'queue', done: 0, total: 1, message: `Slurm job ${jobId} submitted on ${site.name}` });
  const follower = site.spawn(['sh', path.posix.join(jobDir, 'follow.sh'), jobId, path.posix.join(jobDir, 'events.out')]);
  follower.stdout!.on('data', (d: Buffer) => sink.stdout(d));
  let pendingLine = '';
  // Our own limit counts from the start of the run (a long queue is not a hang).
  let timer: NodeJS.Timeout | undefined;
  follower.stderr!.on('data', (d: Buffer) => {
    pendingLine += d.toString('utf8');
    const lines = pendingLine.split('\n');
    pendingLine = lines.pop()!;
    for (const line of lines) {
      const s = parseStateLine(line);
      if (!s) { if (line.trim()) sink.stderr(`${line}\n`); continue; }
      clock.update(s);
      if (!timer && s.state !== 'PENDING' && s.state !== 'CONFIGURING') timer = setTimeout(() => void cancel('timeout'), (timeoutSeconds + 30) * 1000);
      const message = s.state === 'PENDING' ? `job ${jobId} pending${s.reason !== 'None' ? ` (${s.reason})` : ''}` : s.state === 'RUNNING' ? `job ${jobId} running on ${s.nodes}` : `job ${jobId} ${s.state.toLowerCase()}`;
      sink.record({ v: 1, type: 'progress', t: t(), phase: 'queue', done: s.state === 'PENDING' ? 0 : 1, total: 1, message });
    }
  });
  let reason: ExitInfo['reason'] = 'exited';
  const cancel = async (why: 'cancelled' | 'timeout'): Promise<void> => {
    if (reason === 'exited') reason = why;
    const r = await site.run(['scancel', jobId]);
    if (r.code !== 0) sink.stderr(`[regscope: scancel ${jobId} failed: ${sshComplaint(r.stderr)}]\n`);
  };
  const ended = new Promise<ExitInfo>((resolve) => {
    follower.on('error', (e) => resolve({ code: null, signal: null, reason: 'spawn-error', spawnError: `cannot follow the job: ${e.message}`, seconds: 0 }));
    follower.on('close', () => resolve(jobExit(clock.last?.state ?? 'UNKNOWN', clock.last?.exitCode ?? null, reason, (performance.now() - clock.submitted) / 1000)));
  });
  const done = ended.then(async (exit) => {
    if (timer) clearTimeout(timer);
    const info = clock.info(jobId);
    // The script's own output (its stderr and stdout) and Slurm's, into stderr.log.
    for (const name of ['script.log', 'slurm.out']) {
      const r = target ? await sshRun(target, ['tail', '-c', '1000000', path.posix.join(jobDir, name)]) : readTail(path.join(jobDir, name));
      if (r.code === 0 && r.stdout) sink.stderr(`--- ${name} (Slurm job ${jobId}) ---\n${r.stdout}${r.stdout.endsWith('\n') ? '' : '\n'}`);
    }
    const slurmOut = target ? '' : readTail(path.join(jobDir, 'slurm.out')).stdout.trim().split('\n').at(-1) ?? '';
    recordJobEnd(sink, `the Slurm job ${jobId}`, info.state, info.exitCode,
      `${info.state === 'TIMEOUT' ? ` (its time limit, --time ${req.time ?? `${Math.ceil((timeoutSeconds + 60) / 60)} min`})` : ''}${slurmOut ? `: ${slurmOut}` : ''}`);
    const warnings: string[] = [];
    if (target && !req.keepRemote) {
      const removed = await removeRemote(target, jobDir);
      if (removed) warnings.push(`the job folder ${where} could not be removed (${removed}); remove it by hand`);
    }
    return sink.finish(exit, (r) => ({ ...r, warnings: [...r.warnings, ...warnings], scheduler: info }));
  });
  return {
    runId, runDir: sink.writer.dir, engine: 'slurm', engineReason, interpreter: null, plan, planNotes: notes, done,
    cancel: async () => { await cancel('cancelled'); await done; },
  };
}

function readTail(file: string): SshResult {
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    const n = Math.min(size, 1_000_000);
    const buf = Buffer.alloc(n);
    fs.readSync(fd, buf, 0, n, size - n);
    fs.closeSync(fd);
    return { code: 0, stdout: buf.toString('utf8'), stderr: '' };
  } catch (e) {
    return { code: 1, stdout: '', stderr: (e as Error).message };
  }
}
