/**
 * A probe on a remote host over SSH: the Python engine's run, with the harness on the far side.
 *
 * 1. One ssh call makes the per-run folder, says whether rsync is there and checks that the
 *    remote Python has torch (a failure here is a setup error; the folder is removed).
 * 2. The script, the workspace modules it imports, the config files the analysis read, the
 *    harness, the plan (with remote paths) and the runner go over by rsync when both ends have
 *    it, else as a tar stream through ssh.
 * 3. The runner (remoteRunner.ts) starts the harness; its events stream back over ssh's stdout
 *    into the run store as they come, the script's output over stderr.
 * 4. Cancel closes ssh's stdin: the runner stops the harness's process group and the harness
 *    reports `cancelled`. A dropped connection does the same on the far side, and here ends the
 *    run with a `connection` error, keeping what arrived.
 * 5. The remote folder is removed unless asked to keep it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PythonParser } from '../../analysis/syntax/pythonParser';
import type { ProbePlan, RunRecord } from '../../protocol';
import { buildProbePlan } from '../plan';
import { analyzeProbeScript, harnessDir, ProbeSetupError, type ProbeListener, type ProbeRequest, type RunningProbe } from '../pythonEngine';
import type { ExitInfo } from '../pythonProcess';
import { RunSink } from '../runSink';
import { newRunId } from '../runStore';
import { collectPayload, payloadBase, remotePaths, type Payload } from './payload';
import { REMOTE_RUNNER } from './remoteRunner';
import { shQuote } from './shellQuote';
import { checkHost, localRun, sshArgv, sshComplaint, sshOptions, sshRun, SSH_FAILED, type SshTarget } from './sshTransport';

export interface SshRequest extends ProbeRequest {
  readonly host: string;
  /** `ssh -F FILE`: a configuration other than ~/.ssh/config. */
  readonly sshConfig?: string;
  /** The interpreter on the remote host (default `python3` on its PATH). */
  readonly remotePython?: string;
  /** Where per-run folders go on the remote host, relative to its home unless absolute (default .cache/regscope/runs). */
  readonly remoteDir?: string;
  /** CUDA_VISIBLE_DEVICES for the run (default `0`: one GPU; empty: leave it as the host has it). */
  readonly gpus?: string;
  /** Leave the remote folder in place after the run. */
  readonly keepRemote?: boolean;
}

const DEFAULT_REMOTE_DIR = '.cache/regscope/runs';
/** After closing stdin: how long the far side has to stop the harness before the client is killed. */
const CANCEL_GRACE_MS = 8000;
const KILL_BACKSTOP_SECONDS = 10;

export interface Prepared {
  readonly dir: string;
  readonly rsync: boolean;
  readonly python: string;
  readonly torch: string;
}

export async function startSshProbe(parser: PythonParser, req: SshRequest, listener: ProbeListener = {}): Promise<RunningProbe> {
  const badHost = checkHost(req.host);
  if (badHost) throw new ProbeSetupError(`cannot probe over SSH: ${badHost}`);
  const target: SshTarget = { host: req.host, ...(req.sshConfig ? { configFile: req.sshConfig } : {}) };
  const { script, cwd, settings, analysis } = analyzeProbeScript(parser, req);
  const { plan, notes } = buildProbePlan(analysis.document, analysis, {
    script, args: req.args, cwd, steps: req.steps, metrics: req.metrics, seed: req.seed,
    timeoutSeconds: req.timeoutSeconds, fullLandscape: req.fullLandscape, overrides: req.overrides, directions: req.directions,
  });
  const base = payloadBase(script, req.storeRoot);
  let payload: Payload;
  try {
    payload = collectPayload(script, base, analysis.configFiles);
  } catch (e) {
    throw new ProbeSetupError((e as Error).message);
  }
  const runId = newRunId(script);
  const py = req.remotePython ?? 'python3';
  const setupStarted = performance.now();
  const prepared = await prepare(target, path.posix.join(req.remoteDir ?? DEFAULT_REMOTE_DIR, runId), py);
  const connectSeconds = (performance.now() - setupStarted) / 1000;
  const { script: remoteScript, cwd: remoteCwd } = remotePaths(prepared.dir, base, script, cwd);
  const remotePlan: ProbePlan = { ...plan, script: remoteScript, cwd: remoteCwd };
  const copyStarted = performance.now();
  let method: string;
  try {
    method = await upload(target, prepared, payload, remotePlan);
  } catch (e) {
    await removeRemote(target, prepared.dir);
    throw e;
  }
  const copySeconds = (performance.now() - copyStarted) / 1000;
  const where = `${req.host}:${prepared.dir}`;
  const engineReason = `ssh: ${req.host}, ${py} (Python ${prepared.python}, torch ${prepared.torch}); ${payload.files.length} file(s), ${(payload.bytes / 1024).toFixed(0)} KiB copied by ${method} to ${prepared.dir} (connect and check ${connectSeconds.toFixed(2)} s, copy ${copySeconds.toFixed(2)} s)`;

  const initial: RunRecord = {
    v: 1, id: runId, script, args: req.args, engine: 'ssh', engineReason,
    interpreter: `${req.host}:${py}`, status: 'running', startedAt: new Date().toISOString(), endedAt: null, steps: 0, device: null,
    torch: prepared.torch, error: null, headline: {}, findings: [], warnings: [...notes], cost: { hvps: 0, passes: 0, seconds: 0 },
  };
  const sink = await RunSink.open(req.storeRoot, plan, initial, analysis, settings, listener);
  const started = performance.now();
  const child = spawn('ssh', sshArgv(target, ['sh', path.posix.join(prepared.dir, 'run.sh'), prepared.dir, remoteCwd, py, req.gpus ?? '0', String(req.nprocPerNode ?? 1), '--', remoteScript, ...req.args]), { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => sink.stdout(d));
  child.stderr.on('data', (d: Buffer) => sink.stderr(d.toString('utf8')));
  child.stdin.on('error', () => undefined); // the far side may be gone already
  let reason: ExitInfo['reason'] = 'exited';
  const stop = (why: 'cancelled' | 'timeout'): void => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (reason === 'exited') reason = why;
    child.stdin.end();
    setTimeout(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); }, CANCEL_GRACE_MS).unref();
  };
  const timer = setTimeout(() => stop('timeout'), (plan.budget.timeoutSeconds + KILL_BACKSTOP_SECONDS) * 1000);
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('error', (e) => resolve({ code: null, signal: null, reason: 'spawn-error', spawnError: `cannot start ssh: ${e.message}`, seconds: 0 }));
    child.on('close', (code, signal) => resolve({ code, signal, reason, seconds: (performance.now() - started) / 1000 }));
  });
  const done = exited.then(async (exit) => {
    clearTimeout(timer);
    // ssh's own failure after the run started: the link went down. What arrived is kept.
    if (exit.reason === 'exited' && exit.code === SSH_FAILED && !sink.hasDone()) {
      sink.record({
        v: 1, type: 'error', t: sink.events.at(-1)?.t ?? 0, kind: 'connection', step: sink.lastStep,
        message: `the connection to ${req.host} was lost after ${sink.lastStep} step(s) (ssh: ${sshComplaint(sink.stderrTail)}); the events received before are kept`,
      });
    }
    const warnings: string[] = [];
    if (!req.keepRemote) {
      const removed = await removeRemote(target, prepared.dir);
      if (removed) warnings.push(`the remote folder ${where} could not be removed (${removed}); remove it by hand`);
    } else warnings.push(`the remote folder ${where} was kept (--keep-remote)`);
    return sink.finish(exit, (r) => ({ ...r, warnings: [...r.warnings, ...warnings] }));
  });
  return {
    runId, runDir: sink.writer.dir, engine: 'ssh', engineReason, interpreter: null, plan, planNotes: notes, done,
    cancel: async () => { stop('cancelled'); await done; },
  };
}

/**
 * Makes the run's folder, checks rsync and (unless `checkTorch` is false: a cluster's login node
 * may not have the compute nodes' environment) torch on the far side, in one connection.
 */
export async function prepare(target: SshTarget, dir: string, py: string, checkTorch = true): Promise<Prepared> {
  const script = [
    'set -u',
    'mkdir -p -- "$1" || exit 90',
    'cd -- "$1" || exit 90',
    'pwd',
    'if command -v rsync >/dev/null 2>&1; then echo rsync=yes; else echo rsync=no; fi',
    checkTorch ? '"$2" -c "import sys, torch; print(\'python=\' + sys.version.split()[0]); print(\'torch=\' + torch.__version__)" || { cd / && rm -rf -- "$1"; exit 91; }' : ':',
  ].join('\n');
  const r = await sshRun(target, ['sh', '-c', script, 'regscope-prepare', dir, py]);
  if (r.code === SSH_FAILED || r.code === null) throw new ProbeSetupError(`cannot reach ${target.host} over SSH: ${sshComplaint(r.stderr)}`);
  if (r.code === 90) throw new ProbeSetupError(`cannot make the run folder ${dir} on ${target.host}: ${sshComplaint(r.stderr)}`);
  if (r.code === 91) throw new ProbeSetupError(`the remote Python ${py} on ${target.host} cannot import torch (${sshComplaint(r.stderr)}); give --remote-python PATH (an interpreter with torch)`);
  if (r.code !== 0) throw new ProbeSetupError(`preparing ${target.host} failed (exit ${r.code}): ${sshComplaint(r.stderr)}`);
  const lines = r.stdout.split('\n').map((l) => l.trim());
  const value = (k: string): string => lines.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1) ?? '?';
  return { dir: lines[0]!, rsync: value('rsync') === 'yes', python: value('python'), torch: value('torch') };
}

/** Stages the run's files locally and sends them: rsync when both ends have it, else tar through ssh. */
export async function upload(target: SshTarget, prepared: Prepared, payload: Payload, plan: ProbePlan, scripts: Readonly<Record<string, string>> = { 'run.sh': REMOTE_RUNNER }): Promise<'rsync' | 'tar over ssh'> {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-ssh-'));
  try {
    for (const f of payload.files) {
      const to = path.join(stage, 'work', ...f.relative.split('/'));
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(f.local, to);
    }
    writeStage(stage, plan, scripts);
    // REGSCOPE_SSH_COPY=tar skips rsync (for a host whose rsync misbehaves); rsync needs both ends.
    const haveRsync = process.env['REGSCOPE_SSH_COPY'] !== 'tar' && prepared.rsync && (await localRun('rsync', ['--version'], { timeoutMs: 10_000 })).code === 0;
    if (haveRsync) {
      // --protect-args: the remote path travels inside rsync's protocol, not through a remote shell.
      const rsh = ['ssh', ...sshOptions(target)].map(shQuote).join(' ');
      const r = await localRun('rsync', ['-a', '--protect-args', '-e', rsh, `${stage}/`, `${target.host}:${prepared.dir}/`]);
      if (r.code !== 0) throw new ProbeSetupError(`copying to ${target.host} failed (rsync exit ${r.code}): ${sshComplaint(r.stderr)}`);
      return 'rsync';
    }
    const tar = await localTar(stage);
    const r = await sshRun(target, ['tar', '-C', prepared.dir, '-xf', '-'], { input: tar, timeoutMs: 300_000 });
    if (r.code !== 0) throw new ProbeSetupError(`copying to ${target.host} failed (tar over ssh, exit ${r.code}): ${sshComplaint(r.stderr)}`);
    return 'tar over ssh';
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/** The harness, the plan and the shell scripts of a run, into a folder (the stage, or a local job folder). */
export function writeStage(dir: string, plan: ProbePlan, scripts: Readonly<Record<string, string>>): void {
  fs.cpSync(path.join(harnessDir(), 'regscope_probe'), path.join(dir, 'harness', 'regscope_probe'), {
    recursive: true, filter: (src) => !src.includes('__pycache__'),
  });
  fs.writeFileSync(path.join(dir, 'plan.json'), `${JSON.stringify(plan, null, 2)}\n`);
  for (const [name, text] of Object.entries(scripts)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
}

function localTar(dir: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn('tar', ['-C', dir, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (d: Buffer) => chunks.push(d));
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', (e) => reject(new ProbeSetupError(`cannot run tar: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new ProbeSetupError(`tar failed: ${err.trim()}`))));
  });
}

/** Removes the run's folder; the error, if any, for the run's warnings. */
export async function removeRemote(target: SshTarget, dir: string): Promise<string | undefined> {
  const r = await sshRun(target, ['rm', '-rf', '--', dir], { timeoutMs: 30_000 });
  return r.code === 0 ? undefined : sshComplaint(r.stderr);
}
