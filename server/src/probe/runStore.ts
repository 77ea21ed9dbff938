/**
 * The run store (docs/design/probe-events.md, "The run store"): one folder per probe run under
 * `<root>/.regscope/runs/<id>/` holding
 *
 * - `plan.json`    the plan the harness ran with;
 * - `events.jsonl` every decoded event, one a line, appended in arrival order;
 * - `stderr.log`   the script's own output (bounded);
 * - `run.json`     the `RunRecord`, replaced atomically (temporary file, fsync, rename) whenever
 *                  the engine writes it, so a reader never sees half of it;
 * - `owner.json`   while the run is being written: the writing process (pid, host), so that a
 *                  run left `running` by a process that died is listed as ended, not running.
 *
 * `.regscope/.gitignore` (`*`) keeps runs out of commits.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MalformedLine, ProbeEvent, ProbePlan, RunRecord, RunStatus } from '../protocol';
import { decodeEventLine, EventLineSplitter, type SplitItem } from './events';
import { summarizeEvents } from './runSummary';

export const STORE_DIR = '.regscope';
/** stderr.log stops growing here; a note at its end says so. */
export const MAX_STDERR_BYTES = 20 * 1024 * 1024;
/** The message of a run whose writer died before it wrote (or finished) its run.json. */
export const ENDED_WITHOUT_RECORD = 'run ended without a record';

const FILES = { plan: 'plan.json', events: 'events.jsonl', stderr: 'stderr.log', record: 'run.json', owner: 'owner.json' } as const;

/** `<root>/.regscope/runs` */
/** The workspace root a run folder `<root>/.regscope/runs/<id>` belongs to. */
export function storeRootOf(dir: string): string {
  return path.resolve(dir, '..', '..', '..');
}


export function runsRoot(root: string): string {
  return path.join(root, STORE_DIR, 'runs');
}

/** A run id is one path segment of safe characters: never `..`, never a separator. */
export function isValidRunId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id) && !id.includes('..');
}

/** The folder of run `id` (which may come from a client: it is checked). */
export function runDir(root: string, id: string): string {
  if (!isValidRunId(id)) throw new Error(`not a run id: ${JSON.stringify(id)}`);
  return path.join(runsRoot(root), id);
}

/** `YYYYMMDD-HHMMSS-<script stem>-<4 hex>`, local time (people read it). */
export function newRunId(scriptPath: string, now: Date = new Date()): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const date = `${now.getFullYear()}${p2(now.getMonth() + 1)}${p2(now.getDate())}`;
  const time = `${p2(now.getHours())}${p2(now.getMinutes())}${p2(now.getSeconds())}`;
  const base = scriptPath.split(/[\\/]/).pop() ?? '';
  const stem = base.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^[-_]+|[-_]+$/g, '').slice(0, 40) || 'script';
  return `${date}-${time}-${stem}-${randomBytes(2).toString('hex')}`;
}

// --- writing -----------------------------------------------------------------------------------

export interface RunWriterOptions {
  /** Default MAX_STDERR_BYTES. */
  readonly maxStderrBytes?: number;
  /** Called once per failed write (disk full, folder deleted); writing goes on. */
  readonly onError?: (message: string) => void;
}

/**
 * Writes one run's folder. Every write goes through one queue, in call order, so appends never
 * interleave and run.json is never written by two writes at once; appends made while a write is
 * in flight are batched into the next one. No method throws or rejects after `create`: a failed
 * write is kept in `errors` (and passed to `onError`), and the run goes on.
 */
export class RunWriter {
  readonly errors: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private eventLines: string[] = [];
  private stderrParts: Buffer[] = [];
  private stderrBytes = 0;
  private stderrCut = false;
  private pendingRecord: RunRecord | undefined;
  private recordWrite: Promise<void> | undefined;
  private latest: RunRecord;
  private closed = false;
  private readonly maxStderrBytes: number;

  private constructor(readonly dir: string, readonly id: string, record: RunRecord, private readonly opts: RunWriterOptions) {
    this.latest = record;
    this.maxStderrBytes = opts.maxStderrBytes ?? MAX_STDERR_BYTES;
  }

  /**
   * Creates `<root>/.regscope/runs/<id>/` (the id must be new) with plan.json, run.json and
   * owner.json, and `.regscope/.gitignore` when it is missing. Throws when the folder cannot be made.
   */
  static async create(root: string, id: string, plan: ProbePlan, record: RunRecord, opts: RunWriterOptions = {}): Promise<RunWriter> {
    const dir = runDir(root, id);
    await fsp.mkdir(path.dirname(dir), { recursive: true });
    await ensureGitignore(path.join(root, STORE_DIR));
    await fsp.mkdir(dir); // not recursive: an existing folder is an error (ids are unique)
    await writeFileAtomic(path.join(dir, FILES.plan), `${JSON.stringify(plan, null, 2)}\n`);
    await writeFileAtomic(path.join(dir, FILES.owner), `${JSON.stringify({ pid: process.pid, host: os.hostname() })}\n`);
    await writeFileAtomic(path.join(dir, FILES.record), `${JSON.stringify(record, null, 2)}\n`);
    return new RunWriter(dir, id, record, opts);
  }

  /** The record last handed to `writeRecord` (or `create`). */
  get record(): RunRecord {
    return this.latest;
  }

  appendEvent(event: ProbeEvent): void {
    if (this.refuse('an event')) return;
    this.eventLines.push(`${JSON.stringify(event)}\n`);
    if (this.eventLines.length === 1) {
      this.enqueue(async () => {
        const text = this.eventLines.join('');
        this.eventLines = [];
        await fsp.appendFile(path.join(this.dir, FILES.events), text, 'utf8');
      });
    }
  }

  /** The script's output; stops at `maxStderrBytes` with a note. */
  appendStderr(chunk: string | Buffer): void {
    if (this.refuse('script output') || this.stderrCut) return;
    let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (buf.length === 0) return;
    if (this.stderrBytes + buf.length > this.maxStderrBytes) {
      buf = Buffer.concat([
        buf.subarray(0, this.maxStderrBytes - this.stderrBytes),
        Buffer.from(`\n[regscope: stderr.log stops here, at ${this.maxStderrBytes} bytes; the rest of the script's output was not kept]\n`),
      ]);
      this.stderrCut = true;
    }
    this.stderrBytes += buf.length;
    this.stderrParts.push(buf);
    if (this.stderrParts.length === 1) {
      this.enqueue(async () => {
        const data = Buffer.concat(this.stderrParts);
        this.stderrParts = [];
        await fsp.appendFile(path.join(this.dir, FILES.stderr), data);
      });
    }
  }

  /**
   * Replaces run.json atomically. Resolves once this record (or a later one that replaced it
   * while it waited) is on disk; never rejects.
   */
  writeRecord(record: RunRecord): Promise<void> {
    if (this.refuse('run.json')) return Promise.resolve();
    this.latest = record;
    this.pendingRecord = record;
    this.recordWrite ??= this.enqueue(async () => {
      const next = this.pendingRecord;
      this.pendingRecord = undefined;
      this.recordWrite = undefined;
      if (next) await writeFileAtomic(path.join(this.dir, FILES.record), `${JSON.stringify(next, null, 2)}\n`);
    });
    return this.recordWrite;
  }

  /** Waits for every pending write, then removes owner.json. Later writes are refused. */
  async close(): Promise<void> {
    if (this.closed) return this.chain;
    this.closed = true;
    this.enqueue(() => fsp.rm(path.join(this.dir, FILES.owner), { force: true }));
    return this.chain;
  }

  private refuse(what: string): boolean {
    if (this.closed) this.fail(`${what} written after the run was closed`);
    return this.closed;
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(op).catch((e: unknown) => this.fail(e instanceof Error ? e.message : String(e)));
    return this.chain;
  }

  private fail(message: string): void {
    this.errors.push(message);
    try {
      this.opts.onError?.(message);
    } catch {
      // a reporting callback must not break the queue
    }
  }
}

async function ensureGitignore(storeDir: string): Promise<void> {
  await fsp.mkdir(storeDir, { recursive: true });
  try {
    await fsp.writeFile(path.join(storeDir, '.gitignore'), '# RegScope probe runs: local results, not source.\n*\n', { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

let tempCounter = 0;

/** Temporary file in the same folder, fsync, rename over the target (retried where Windows holds it open). */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${++tempCounter}.tmp`);
  try {
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await fsp.rename(tmp, file);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (attempt >= 5 || (code !== 'EPERM' && code !== 'EACCES' && code !== 'EBUSY')) throw e;
        await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
      }
    }
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  if (process.platform !== 'win32') {
    // Make the rename itself durable; best effort.
    try {
      const dir = await fsp.open(path.dirname(file), 'r');
      await dir.sync().finally(() => dir.close());
    } catch {
      // some file systems do not support fsync on folders
    }
  }
}

// --- reading -----------------------------------------------------------------------------------

export interface StoredRun {
  /** run.json, or a record rebuilt from the folder when run.json is missing or unreadable. */
  readonly record: RunRecord;
  readonly events: ProbeEvent[];
  readonly malformed: MalformedLine[];
  /** Why `record` was rebuilt or its status corrected; absent when run.json was read as written. */
  readonly problem?: string;
}

/** Reads a run folder back; events go through decodeEventLine like live ones. Throws for a folder that holds no run. */
export async function readRun(dir: string): Promise<StoredRun> {
  const { events, malformed, found } = await readEvents(path.join(dir, FILES.events));
  const read = await readRecordFile(dir);
  if (read.record) {
    const stale = await staleRunning(dir, read.record);
    if (!stale) return { record: read.record, events, malformed };
    return { record: endedWithoutRecord(read.record, events), events, malformed, problem: stale };
  }
  const plan = await readPlan(dir);
  if (!found && !plan) throw new Error(`${dir} is not a probe run folder (${read.problem}, and it has no ${FILES.events} or ${FILES.plan})`);
  return { record: await rebuildRecord(dir, plan, events), events, malformed, problem: read.problem };
}

export interface SkippedRun {
  readonly dir: string;
  readonly reason: string;
}

/**
 * The runs stored under `<root>/.regscope/runs`, newest first. A folder whose run.json is missing
 * or unreadable is still listed when its events or plan are there (status `error`, "run ended
 * without a record"); one with nothing to list is skipped and passed to `onSkip`.
 */
export async function listRuns(root: string, onSkip?: (skipped: SkippedRun) => void): Promise<RunRecord[]> {
  const base = runsRoot(root);
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(base, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const records = await Promise.all(entries.filter((d) => d.isDirectory() && isValidRunId(d.name)).map(async (d) => {
    const dir = path.join(base, d.name);
    const read = await readRecordFile(dir);
    if (read.record) {
      // The common case reads run.json only; events are read just to correct a stale record.
      if (!(await staleRunning(dir, read.record))) return read.record;
    }
    try {
      return (await readRun(dir)).record;
    } catch (e) {
      onSkip?.({ dir, reason: e instanceof Error ? e.message : String(e) });
      return undefined;
    }
  }));
  return records.filter((r): r is RunRecord => r !== undefined).sort(newestFirst);
}

function newestFirst(a: RunRecord, b: RunRecord): number {
  const ta = Date.parse(a.startedAt);
  const tb = Date.parse(b.startedAt);
  if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

async function readEvents(file: string): Promise<{ events: ProbeEvent[]; malformed: MalformedLine[]; found: boolean }> {
  const events: ProbeEvent[] = [];
  const malformed: MalformedLine[] = [];
  const take = (items: SplitItem[]) => {
    for (const item of items) {
      const decoded = 'line' in item ? decodeEventLine(item.line) : item;
      if ('event' in decoded) events.push(decoded.event);
      else malformed.push(decoded.malformed);
    }
  };
  const splitter = new EventLineSplitter();
  try {
    for await (const chunk of fs.createReadStream(file)) take(splitter.push(chunk as Buffer));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { events, malformed, found: false };
    throw e;
  }
  take(splitter.flush());
  return { events, malformed, found: true };
}

async function readRecordFile(dir: string): Promise<{ record: RunRecord; problem?: undefined } | { record?: undefined; problem: string }> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(dir, FILES.record), 'utf8');
  } catch (e) {
    return { problem: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${FILES.record} is missing` : `${FILES.record} cannot be read (${(e as Error).message})` };
  }
  try {
    const value: unknown = JSON.parse(text);
    const why = recordProblem(value);
    return why ? { problem: `${FILES.record} is not a run record (${why})` } : { record: value as RunRecord };
  } catch (e) {
    return { problem: `${FILES.record} is corrupt (${(e as Error).message})` };
  }
}

const STATUSES: readonly RunStatus[] = ['running', 'ok', 'error', 'cancelled'];

/** The fields the run list and the panels rely on; anything else in run.json is the engine's business. */
function recordProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const r = v as Record<string, unknown>;
  if (r['v'] !== 1) return `version ${JSON.stringify(r['v'])}`;
  for (const key of ['id', 'script', 'startedAt', 'engine'] as const) if (typeof r[key] !== 'string') return `${key} is not a string`;
  if (!STATUSES.includes(r['status'] as RunStatus)) return `status ${JSON.stringify(r['status'])}`;
  for (const key of ['args', 'findings', 'warnings'] as const) if (!Array.isArray(r[key])) return `${key} is not an array`;
  if (typeof r['headline'] !== 'object' || r['headline'] === null) return 'headline is not an object';
  return undefined;
}

/** The run's plan.json as written (partial when it was damaged), undefined when unreadable. */
export async function readPlan(dir: string): Promise<Partial<ProbePlan> | undefined> {
  try {
    const value: unknown = JSON.parse(await fsp.readFile(path.join(dir, FILES.plan), 'utf8'));
    return typeof value === 'object' && value !== null ? (value as Partial<ProbePlan>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why a record that says `running` is not running any more: its writer removed owner.json
 * without a final record, or the process named there is gone (same host only; on another host
 * the record is trusted).
 */
async function staleRunning(dir: string, record: RunRecord): Promise<string | undefined> {
  if (record.status !== 'running') return undefined;
  let owner: { pid?: unknown; host?: unknown };
  try {
    owner = JSON.parse(await fsp.readFile(path.join(dir, FILES.owner), 'utf8')) as typeof owner;
  } catch {
    return `${FILES.record} says running, but no process owns the run`;
  }
  if (owner.host !== os.hostname() || typeof owner.pid !== 'number') return undefined;
  if (owner.pid === process.pid || processAlive(owner.pid)) return undefined;
  return `${FILES.record} says running, but process ${owner.pid} that wrote it has exited`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function endedWithoutRecord(record: RunRecord, events: readonly ProbeEvent[]): RunRecord {
  const summary = summarizeEvents(events);
  return {
    ...record,
    status: 'error',
    steps: Math.max(record.steps, summary.done?.steps ?? 0, ...summary.steps.map((s) => s.step)),
    error: { kind: 'harness', message: ENDED_WITHOUT_RECORD },
  };
}

async function rebuildRecord(dir: string, plan: Partial<ProbePlan> | undefined, events: readonly ProbeEvent[]): Promise<RunRecord> {
  const summary = summarizeEvents(events);
  const mtime = async (file: string) => fsp.stat(path.join(dir, file)).then((s) => s.mtime.toISOString(), () => undefined);
  const startedAt = (await mtime(FILES.plan)) ?? (await mtime('.')) ?? new Date(0).toISOString();
  const headline: Record<string, number | null> = {};
  for (const [name, m] of summary.metrics) headline[name] = m.value ?? null;
  const hello = summary.hello;
  const warnings = [...summary.warnings];
  if (summary.error) warnings.push(`${summary.error.kind}: ${summary.error.message.split('\n')[0]}`);
  return {
    v: 1,
    id: path.basename(dir),
    script: typeof plan?.script === 'string' ? plan.script : '',
    args: Array.isArray(plan?.args) ? plan.args.filter((a): a is string => typeof a === 'string') : [],
    engine: 'python',
    engineReason: '',
    interpreter: hello?.interpreter ?? null,
    status: 'error',
    startedAt,
    endedAt: (await mtime(FILES.events)) ?? null,
    steps: Math.max(summary.done?.steps ?? 0, ...summary.steps.map((s) => s.step)),
    device: hello ? `${hello.device.type}: ${hello.device.name}` : null,
    torch: hello?.torch ?? null,
    error: { kind: 'harness', message: ENDED_WITHOUT_RECORD },
    headline,
    findings: [],
    warnings,
    cost: summary.cost,
  };
}
