/**
 * Running the Python probe harness as a child process: `python -u -m regscope_probe --plan PLAN --
 * SCRIPT ARGS…`, no shell, in its own process group (POSIX), events decoded from stdout as they
 * arrive, the script's output (stderr) passed on.
 *
 * Lifecycle rules (architecture.md, "Process lifecycle"): cancel and timeout stop the whole
 * process group (SIGTERM, which the harness turns into a `cancelled` error and a `done` event,
 * then SIGKILL after a grace period); whatever the script left running in its group after it
 * exits is stopped the same way; the group is killed if this process exits while a run is
 * active; `done` resolves exactly once, after the child is reaped and its pipes are closed, and
 * never rejects. On Windows the tree is stopped with `taskkill /T`.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { MalformedLine, ProbeEvent } from '../protocol';
import { decodeEventLine, EventLineSplitter, type SplitItem } from './events';

export interface HarnessOptions {
  /** The interpreter to spawn (an absolute path: InterpreterInfo.path). */
  readonly interpreter: string;
  /** The folder that contains the `regscope_probe` package; prepended to PYTHONPATH. */
  readonly harnessDir: string;
  readonly planPath: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The environment to start from (default process.env); PYTHONPATH, PYTHONUNBUFFERED, PYTHONIOENCODING are set on top. */
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  /** Ranks on this machine for a torchrun-style script (regscope_probe.launch); 1 or absent: one process. */
  readonly nproc?: number;
  /** Between SIGTERM and SIGKILL. Default 3000. */
  readonly killGraceMs?: number;
  readonly onEvent: (event: ProbeEvent) => void;
  readonly onMalformed: (line: MalformedLine) => void;
  /** The script's output (its stdout and stderr both arrive here: the harness moves stdout to stderr). */
  readonly onStderr: (text: string) => void;
}

export type ExitReason = 'exited' | 'cancelled' | 'timeout' | 'spawn-error';

export interface ExitInfo {
  /** The harness's exit code (0 ok, 1 the probe ended in an error, 2 usage), or null when killed by a signal or never started. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly reason: ExitReason;
  /** Why the process could not be started, for people. */
  readonly spawnError?: string;
  /** Wall time from start to the end of the process group. */
  readonly seconds: number;
  /** The first exception thrown by onEvent / onMalformed / onStderr (caught, so the stream goes on). */
  readonly handlerError?: string;
}

export interface HarnessHandle {
  /** Undefined when the process could not be started. */
  readonly pid: number | undefined;
  readonly done: Promise<ExitInfo>;
  /** Stops the run (reason `cancelled` unless it had already ended); resolves when it has ended. */
  cancel(): Promise<ExitInfo>;
}

const DEFAULT_GRACE_MS = 3000;
/** After SIGKILL: how long to wait for the group to disappear and the pipes to close before giving up on them. */
const AFTER_KILL_MS = 2000;
const isWindows = process.platform === 'win32';

export function startHarness(opts: HarnessOptions): HarnessHandle {
  return new HarnessRun(opts).handle;
}

/** Runs still going: stopped with SIGKILL if this process exits. */
const active = new Set<HarnessRun>();
function onParentExit(): void {
  for (const run of active) run.killNow();
}

class HarnessRun {
  readonly handle: HarnessHandle;
  private child: ChildProcess | undefined;
  private settle!: (info: ExitInfo) => void;
  private readonly done: Promise<ExitInfo>;
  private readonly started = Date.now();
  private finished = false;
  private stopReason: 'cancelled' | 'timeout' | undefined;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private closed = false;
  private stopping = false;
  private killSent = false;
  private handlerError: string | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly splitter = new EventLineSplitter();
  private readonly stderrDecoder = new StringDecoder('utf8');
  private stdoutEnded = false;
  private readonly grace: number;

  constructor(private readonly opts: HarnessOptions) {
    this.grace = opts.killGraceMs ?? DEFAULT_GRACE_MS;
    this.done = new Promise<ExitInfo>((resolve) => { this.settle = resolve; });
    this.start();
    this.handle = {
      pid: this.child?.pid,
      done: this.done,
      cancel: () => {
        this.requestStop('cancelled');
        return this.done;
      },
    };
  }

  private start(): void {
    const { opts } = this;
    const unusable = checkFolder(opts.cwd, 'working folder') ?? checkFolder(opts.harnessDir, 'probe harness folder');
    if (unusable) return this.spawnFailed(unusable);
    const env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env) };
    env['PYTHONPATH'] = [opts.harnessDir, env['PYTHONPATH']].filter((p) => !!p).join(path.delimiter);
    env['PYTHONUNBUFFERED'] = '1';
    env['PYTHONIOENCODING'] = 'utf-8';
    let child: ChildProcess;
    try {
      child = spawn(opts.interpreter, ['-u', ...harnessModule(opts.nproc), '--plan', opts.planPath, '--', opts.script, ...opts.args], {
        cwd: opts.cwd,
        env,
        shell: false,
        detached: !isWindows, // its own process group, so a stop reaches everything the script started
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (e) {
      // spawn throws synchronously for arguments it cannot pass at all (a NUL byte in a path)
      return this.spawnFailed(`cannot start ${opts.interpreter}: ${(e as Error).message}`);
    }
    this.child = child;
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined) this.spawnFailed(spawnMessage(opts.interpreter, err));
      // otherwise a failed kill(): the exit and close events still come
    });
    if (child.pid === undefined) return; // the 'error' event follows
    active.add(this);
    if (active.size === 1) process.on('exit', onParentExit);

    child.stdout!.on('data', (chunk: Buffer) => this.dispatch(this.splitter.push(chunk)));
    child.stdout!.on('end', () => this.endStdout());
    child.stderr!.on('data', (chunk: Buffer) => this.stderr(this.stderrDecoder.write(chunk)));
    child.stderr!.on('end', () => this.stderr(this.stderrDecoder.end()));
    child.on('exit', (code, signal) => {
      if (this.finished) return;
      this.exit = { code, signal };
      // The harness is gone; anything it left in its group (workers, a server the script
      // started) is stopped too. Their pipes may be what keeps 'close' from coming.
      if (!isWindows && groupAlive(child.pid!)) this.stopGroup();
      // A process outside the group (one that called setsid) may hold the pipes for ever:
      // stop waiting for them once the group has had its time to go.
      this.timer(() => {
        if (this.closed) return;
        child.stdout?.destroy();
        child.stderr?.destroy();
        this.closed = true;
        this.maybeFinish();
      }, this.grace + AFTER_KILL_MS);
      this.maybeFinish();
    });
    child.on('close', () => {
      this.closed = true;
      this.maybeFinish();
    });
    this.timer(() => this.requestStop('timeout'), opts.timeoutMs);
  }

  private requestStop(reason: 'cancelled' | 'timeout'): void {
    if (this.finished) return;
    // Once the harness has exited the reason stays 'exited'; only its leftovers are stopped.
    if (this.exit === undefined) this.stopReason ??= reason;
    this.stopGroup();
  }

  /** SIGTERM to the group, SIGKILL after the grace period if anything is left. */
  private stopGroup(): void {
    if (this.stopping || this.child?.pid === undefined) return;
    this.stopping = true;
    const pid = this.child.pid;
    if (isWindows) {
      execFile('taskkill', ['/pid', String(pid), '/T'], { windowsHide: true }, () => undefined);
    } else {
      signalGroup(pid, 'SIGTERM');
      // Finish as soon as the group is gone rather than at the end of the grace period.
      const poll = () => {
        if (!groupAlive(pid)) this.maybeFinish();
        else if (!this.killSent) this.timer(poll, 50);
      };
      this.timer(poll, 20);
    }
    this.timer(() => {
      if (isWindows) {
        if (this.exit === undefined) execFile('taskkill', ['/pid', String(pid), '/T', '/F'], { windowsHide: true }, () => undefined);
      } else if (groupAlive(pid)) {
        signalGroup(pid, 'SIGKILL');
      }
      this.killSent = true;
      this.waitAfterKill(Date.now());
    }, this.grace);
  }

  /**
   * After SIGKILL: finish when the group is gone and the pipes are closed, or after AFTER_KILL_MS
   * whatever is left (a process outside the group holding the pipes, one stuck in the kernel:
   * Node still reaps the child whenever it goes).
   */
  private waitAfterKill(since: number): void {
    if (this.finished) return;
    const gone = isWindows || !groupAlive(this.child!.pid!);
    if (gone && this.closed && this.exit !== undefined) return this.finish();
    if (Date.now() - since >= AFTER_KILL_MS) {
      this.child!.stdout?.destroy();
      this.child!.stderr?.destroy();
      return this.finish();
    }
    this.timer(() => this.waitAfterKill(since), 25);
  }

  private maybeFinish(): void {
    if (this.finished || this.exit === undefined || !this.closed) return;
    // A stop in progress ends when the group is gone; the poll or waitAfterKill sees to it.
    if (this.stopping && !isWindows && groupAlive(this.child!.pid!)) return;
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.endStdout();
    this.finished = true;
    this.cleanup();
    const exit = this.exit ?? { code: null, signal: null };
    this.settle({
      code: exit.code,
      signal: exit.signal,
      reason: this.stopReason ?? 'exited',
      seconds: (Date.now() - this.started) / 1000,
      ...(this.handlerError ? { handlerError: this.handlerError } : {}),
    });
  }

  private spawnFailed(message: string): void {
    if (this.finished) return;
    this.finished = true;
    this.cleanup();
    this.settle({ code: null, signal: null, reason: 'spawn-error', spawnError: message, seconds: (Date.now() - this.started) / 1000 });
  }

  private cleanup(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (active.delete(this) && active.size === 0) process.off('exit', onParentExit);
  }

  /** From the process 'exit' handler: synchronous, no grace. */
  killNow(): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.finished) return;
    try {
      if (isWindows) execFileSync('taskkill', ['/pid', String(pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true, timeout: 5000 });
      else signalGroup(pid, 'SIGKILL');
    } catch {
      // exiting anyway
    }
  }

  private timer(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private endStdout(): void {
    if (this.stdoutEnded) return;
    this.stdoutEnded = true;
    this.dispatch(this.splitter.flush());
  }

  private dispatch(items: readonly SplitItem[]): void {
    for (const item of items) {
      const decoded = 'line' in item ? decodeEventLine(item.line) : item;
      this.call(() => ('event' in decoded ? this.opts.onEvent(decoded.event) : this.opts.onMalformed(decoded.malformed)));
    }
  }

  private stderr(text: string): void {
    if (text) this.call(() => this.opts.onStderr(text));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.handlerError ??= e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
    }
  }
}

/** `-m regscope_probe`, or its launcher for N ranks (torchrun's environment, rank 0 reports). */
export function harnessModule(nproc: number | undefined): string[] {
  return nproc !== undefined && nproc > 1 ? ['-m', 'regscope_probe.launch', '--nproc', String(nproc)] : ['-m', 'regscope_probe'];
}

function checkFolder(dir: string, what: string): string | undefined {
  try {
    if (fs.statSync(dir).isDirectory()) return undefined;
    return `the ${what} ${dir} is not a folder`;
  } catch {
    return `the ${what} ${dir} does not exist`;
  }
}

function spawnMessage(interpreter: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT': return `cannot start the Python interpreter ${interpreter}: no such file (set regscope.python.interpreter to a Python that has torch)`;
    case 'EACCES': return `cannot start the Python interpreter ${interpreter}: permission denied (is it executable?)`;
    case 'ENOEXEC': return `cannot start ${interpreter}: not an executable file`;
    default: return `cannot start the Python interpreter ${interpreter}: ${err.message}`;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

/**
 * Whether any process of group `pgid` is still running. On Linux, zombies (exited, waiting for
 * a parent that does not reap them) do not count: they hold nothing and cannot be signalled away.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp …; comm may contain spaces and parentheses
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}
