/**
 * Finding a Python interpreter that can run a probe: one that imports torch. Candidates (the
 * setting, the Python extension's environment, PATH, the usual system locations) are tried in
 * order by running each with a tiny script, no shell, with a timeout; the answer says which one
 * was chosen and why the earlier ones were not, or exactly what to install.
 *
 * A positive answer is cached per interpreter path and file modification time (importing torch
 * takes a second or more); a negative one is not, so installing torch and trying again works.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type InterpreterOrigin = 'setting' | 'python-extension' | 'PATH' | 'system';

export interface InterpreterCandidate {
  /** An absolute path, or a bare command name (resolved on PATH by the OS when it is spawned). */
  readonly path: string;
  readonly origin: InterpreterOrigin;
  /** Arguments that select the interpreter (`-3` for the Windows `py` launcher). */
  readonly args?: readonly string[];
  /** How people know it (`python3`): shown in reasons when it differs from the path. */
  readonly name?: string;
}

export interface InterpreterInfo {
  /** What to spawn: the interpreter's own `sys.executable` (the real file behind a pyenv shim or `py -3`). */
  readonly path: string;
  readonly origin: InterpreterOrigin;
  /** The candidate as it was given. */
  readonly candidate: InterpreterCandidate;
  readonly pythonVersion: string;
  readonly torchVersion: string;
  readonly cuda: boolean;
  /** The CUDA device's name, or null. */
  readonly deviceName: string | null;
  /** Apple-silicon GPU available to torch. */
  readonly mps: boolean;
  /** `/usr/bin/python3 (system) has torch 1.13.0; python3 on PATH (/root/.pyenv/shims/python3, Python 3.11.7) has no torch` */
  readonly reason: string;
}

export type TriedOutcome = 'no-torch' | 'torch-broken' | 'too-old' | 'not-found' | 'not-executable' | 'failed' | 'timeout';

export interface TriedInterpreter {
  readonly path: string;
  readonly origin: InterpreterOrigin;
  readonly name?: string;
  readonly outcome: TriedOutcome;
  /** Null when the candidate did not run as Python. */
  readonly pythonVersion: string | null;
  /** Its `sys.executable` when it ran as Python (the file behind a shim). */
  readonly executable: string | null;
  /** One line: `Python 3.11.7, no torch`, `not found`, `exited with code 1 without answering`. */
  readonly detail: string;
}

export type InterpreterSearch =
  | { readonly found: InterpreterInfo; readonly tried: readonly TriedInterpreter[] }
  | { readonly missing: string; readonly tried: readonly TriedInterpreter[] };

export interface FindOptions {
  /** Per candidate; importing torch is slow the first time. Default 20 s. */
  readonly timeoutMs?: number;
  /** The environment the probe will run in (PYTHONPATH, conda variables). Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where to run the check (a pyenv shim picks its version by folder). Default process.cwd(). */
  readonly cwd?: string;
  /** Default true. */
  readonly useCache?: boolean;
  readonly platform?: NodeJS.Platform;
}

const MARKER = '@@regscope-interpreter@@';
const MIN_PYTHON: readonly [number, number] = [3, 8];

/**
 * Runs in the candidate. Drops the current folder from sys.path first (`import sys` is built in),
 * so a workspace file named like a module (json.py, torch.py) is never imported by the check.
 * Python 2 compatible up to the point where it reports its version.
 */
const CHECK_SCRIPT = [
  'import sys',
  "sys.path[:] = [p for p in sys.path if p not in ('', '.')]",
  'import json, platform',
  "r = {'python': platform.python_version(), 'executable': sys.executable, 'torch': None, 'torchError': None, 'cuda': False, 'device': None, 'mps': False}",
  'try:',
  '    import torch',
  "    r['torch'] = str(torch.__version__)",
  '    try:',
  "        r['cuda'] = bool(torch.cuda.is_available())",
  "        if r['cuda']: r['device'] = str(torch.cuda.get_device_name(0))",
  '    except Exception:',
  '        pass',
  '    try:',
  "        r['mps'] = bool(torch.backends.mps.is_available())",
  '    except Exception:',
  '        pass',
  'except ImportError as e:',
  "    r['torchError'] = None if getattr(e, 'name', None) == 'torch' or str(e).endswith(\"'torch'\") or str(e) == 'No module named torch' else '%s: %s' % (type(e).__name__, e)",
  'except Exception as e:',
  "    r['torchError'] = '%s: %s' % (type(e).__name__, e)",
  `sys.stdout.write('\\n${MARKER}' + json.dumps(r) + '\\n')`,
  'sys.stdout.flush()',
].join('\n');

export interface CheckAnswer {
  readonly python: string;
  readonly executable: string;
  readonly torch: string | null;
  readonly torchError: string | null;
  readonly cuda: boolean;
  readonly device: string | null;
  readonly mps: boolean;
}

export type CheckResult = { readonly answer: CheckAnswer } | { readonly outcome: TriedOutcome; readonly detail: string };

const cache = new Map<string, CheckAnswer>();

export function clearInterpreterCache(): void {
  cache.clear();
}

/** Tries each candidate in order (duplicates once) and returns the first that imports torch. */
export async function findTorchInterpreter(candidates: readonly InterpreterCandidate[], opts: FindOptions = {}): Promise<InterpreterSearch> {
  const platform = opts.platform ?? process.platform;
  const tried: TriedInterpreter[] = [];
  const seen = new Set<string>();
  for (const candidate of candidates) {
    const key = identity(candidate, platform);
    if (seen.has(key)) continue;
    seen.add(key);
    const result = await checkInterpreter(candidate, opts);
    if ('outcome' in result) {
      tried.push({ path: candidate.path, origin: candidate.origin, name: candidate.name, outcome: result.outcome, pythonVersion: null, executable: null, detail: result.detail });
      continue;
    }
    const a = result.answer;
    const version = parseVersion(a.python);
    if (version && (version[0] < MIN_PYTHON[0] || (version[0] === MIN_PYTHON[0] && version[1] < MIN_PYTHON[1]))) {
      tried.push(triedOf(candidate, a, 'too-old', `Python ${a.python}, too old for the probe (needs ${MIN_PYTHON.join('.')} or newer)`));
    } else if (a.torch === null) {
      tried.push(a.torchError
        ? triedOf(candidate, a, 'torch-broken', `Python ${a.python}, torch fails to import: ${firstLine(a.torchError)}`)
        : triedOf(candidate, a, 'no-torch', `Python ${a.python}, no torch`));
    } else {
      const found: InterpreterInfo = {
        path: a.executable && path.isAbsolute(a.executable) ? a.executable : candidate.path,
        origin: candidate.origin,
        candidate,
        pythonVersion: a.python,
        torchVersion: a.torch,
        cuda: a.cuda,
        deviceName: a.device,
        mps: a.mps,
        reason: [`${label(candidate, a.executable)} has torch ${a.torch}${a.cuda && a.device ? ` (CUDA: ${a.device})` : a.mps ? ' (MPS)' : ''}`, ...tried.map(triedReason)].join('; '),
      };
      return { found, tried };
    }
  }
  return { missing: missingMessage(tried, platform), tried };
}

/** Runs the check script in one candidate. Never throws. */
export async function checkInterpreter(candidate: InterpreterCandidate, opts: FindOptions = {}): Promise<CheckResult> {
  const useCache = opts.useCache ?? true;
  let cacheKey: string | undefined;
  if (path.isAbsolute(candidate.path)) {
    let st: fs.Stats;
    try {
      st = fs.statSync(candidate.path);
    } catch {
      return { outcome: 'not-found', detail: 'not found' };
    }
    if (!st.isFile()) return { outcome: 'not-executable', detail: 'not a file' };
    cacheKey = `${candidate.path}\0${(candidate.args ?? []).join(' ')}\0${st.mtimeMs}\0${st.size}\0${opts.cwd ?? ''}`;
    const cached = useCache ? cache.get(cacheKey) : undefined;
    if (cached) return { answer: cached };
  }
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const run = await runCheck(candidate, opts, timeoutMs);
  let result: CheckResult;
  const at = run.stdout.lastIndexOf(MARKER);
  const answer = at >= 0 ? parseAnswer(run.stdout.slice(at + MARKER.length).split('\n')[0] ?? '') : undefined;
  if (answer) result = { answer };
  else if (run.spawnError === 'ENOENT') result = { outcome: 'not-found', detail: 'not found' };
  else if (run.spawnError === 'EACCES' || run.spawnError === 'ENOEXEC') result = { outcome: 'not-executable', detail: `cannot be run (${run.spawnError})` };
  else if (run.spawnError) result = { outcome: 'failed', detail: `cannot be started (${run.spawnError})` };
  else if (run.timedOut) result = { outcome: 'timeout', detail: `did not answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}` };
  else {
    const said = firstLine(run.stderr.trim().split('\n').pop() ?? '');
    const how = run.code === 0 ? 'ran, but did not answer as Python does' : run.code !== null ? `exited with code ${run.code} without answering` : `was killed by ${run.signal} without answering`;
    result = { outcome: 'failed', detail: `${how}${said ? `: ${said}` : ''}` };
  }
  if (cacheKey && useCache && 'answer' in result && result.answer.torch !== null) cache.set(cacheKey, result.answer);
  return result;
}

interface CheckRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly spawnError?: string;
}

/**
 * Spawns the check (no shell) in its own process group, so a timeout kills whatever it started
 * too, and answers at the timeout even if something still holds its pipes.
 */
function runCheck(candidate: InterpreterCandidate, opts: FindOptions, timeoutMs: number): Promise<CheckRun> {
  const posix = process.platform !== 'win32';
  return new Promise<CheckRun>((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    let timedOut = false;
    const limit = 1 << 20;
    const done = (r: Omit<CheckRun, 'stdout' | 'stderr' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ stdout, stderr, timedOut, ...r });
    };
    let child: ChildProcess;
    try {
      child = spawn(candidate.path, [...(candidate.args ?? []), '-c', CHECK_SCRIPT], {
        cwd: opts.cwd ?? process.cwd(),
        env: opts.env ?? process.env,
        shell: false,
        detached: posix,
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (e) {
      resolve({ stdout, stderr, timedOut, code: null, signal: null, spawnError: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
      return;
    }
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (posix && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // already gone
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      if (exited) done(exited);
      else child.once('exit', (code, signal) => done({ code, signal }));
    }, timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { if (stdout.length < limit) stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < limit) stderr += d; });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (child.pid === undefined) done({ code: null, signal: null, spawnError: e.code ?? e.message });
    });
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on('exit', (code, signal) => { exited = { code, signal }; });
    child.on('close', (code, signal) => done({ code, signal }));
  });
}

function parseAnswer(text: string): CheckAnswer | undefined {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (typeof v['python'] !== 'string') return undefined;
    const s = (x: unknown) => (typeof x === 'string' ? x : null);
    return {
      python: v['python'],
      executable: s(v['executable']) ?? '',
      torch: s(v['torch']),
      torchError: s(v['torchError']),
      cuda: v['cuda'] === true,
      device: s(v['device']),
      mps: v['mps'] === true,
    };
  } catch {
    return undefined;
  }
}

/**
 * The usual places, in order: `python3` and `python` on PATH (resolved here, so reasons show
 * real paths), then the system's own Pythons. On Windows: the `py -3` launcher, then python.exe
 * on PATH.
 */
export function defaultCandidates(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): InterpreterCandidate[] {
  const out: InterpreterCandidate[] = [];
  if (platform === 'win32') {
    const py = whichSync('py', env, platform);
    if (py) out.push({ path: py, origin: 'PATH', args: ['-3'], name: 'py -3' });
    for (const name of ['python', 'python3']) {
      const found = whichSync(name, env, platform);
      // The Microsoft Store alias (WindowsApps\python.exe) opens the Store instead of running Python.
      if (found && !/[\\/]WindowsApps[\\/]/i.test(found)) out.push({ path: found, origin: 'PATH', name });
    }
    return out;
  }
  for (const name of ['python3', 'python']) {
    const found = whichSync(name, env, platform);
    if (found) out.push({ path: found, origin: 'PATH', name });
  }
  for (const p of ['/usr/bin/python3', '/usr/local/bin/python3', '/opt/homebrew/bin/python3']) {
    if (isExecutableFile(p, platform)) out.push({ path: p, origin: 'system' });
  }
  return out;
}

/** The first `name` on env.PATH that is an executable file (PATHEXT on Windows), or undefined. */
export function whichSync(name: string, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | undefined {
  const p = platform === 'win32' ? path.win32 : path.posix;
  const pathVar = (platform === 'win32' ? env['Path'] ?? env['PATH'] : env['PATH']) ?? '';
  const exts = platform === 'win32'
    ? ['', ...(env['PATHEXT'] ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean).map((e) => e.toLowerCase())]
    : [''];
  for (const dir of pathVar.split(p.delimiter)) {
    if (!dir || !p.isAbsolute(dir)) continue; // a relative PATH entry would make the answer depend on the folder
    for (const ext of exts) {
      const file = p.join(dir, name + ext);
      if (isExecutableFile(file, platform)) return file;
    }
  }
  return undefined;
}

function isExecutableFile(file: string, platform: NodeJS.Platform): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    if (platform !== 'win32') fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Two candidates are the same when they are the same file reached through the same folder
 * name: /bin/python3 and /usr/bin/python3 (where /bin links to /usr/bin) are one, but a venv's
 * bin/python3 is not the /usr/bin/python3 it links to (it sees the venv's packages).
 */
function identity(c: InterpreterCandidate, platform: NodeJS.Platform): string {
  let key = c.path;
  if (path.isAbsolute(c.path)) {
    try {
      key = path.join(fs.realpathSync(path.dirname(c.path)), path.basename(c.path));
    } catch {
      // keep the path as given
    }
  }
  if (platform === 'win32') key = key.toLowerCase();
  return `${key}\0${(c.args ?? []).join(' ')}`;
}

function triedOf(c: InterpreterCandidate, a: CheckAnswer, outcome: TriedOutcome, detail: string): TriedInterpreter {
  return { path: c.path, origin: c.origin, name: c.name, outcome, pythonVersion: a.python, executable: a.executable || null, detail };
}

function label(c: InterpreterCandidate, executable?: string): string {
  const shown = c.args && c.args.length > 0 ? `${c.path} ${c.args.join(' ')}` : c.path;
  const via = executable && executable !== c.path && path.isAbsolute(executable) ? ` → ${executable}` : '';
  switch (c.origin) {
    case 'PATH': return `${c.name ?? path.basename(c.path)} on PATH (${shown}${via})`;
    case 'setting': return `${shown}${via} (regscope.python.interpreter)`;
    case 'python-extension': return `${shown}${via} (the Python extension's environment)`;
    case 'system': return `${shown}${via} (system)`;
  }
}

function triedReason(t: TriedInterpreter): string {
  const c: InterpreterCandidate = { path: t.path, origin: t.origin, name: t.name };
  const what: Record<TriedOutcome, string> = {
    'no-torch': 'has no torch',
    'torch-broken': `cannot import torch (${t.detail.replace(/^Python [^,]*, torch fails to import: /, '')})`,
    'too-old': 'is too old',
    'not-found': 'was not found',
    'not-executable': 'cannot be run',
    failed: `failed (${t.detail})`,
    timeout: `did not answer (${t.detail})`,
  };
  return `${label(c, t.executable ?? undefined)}${t.pythonVersion ? ` is Python ${t.pythonVersion} and` : ''} ${what[t.outcome]}`;
}

/** Exactly what to do: which interpreters were tried, what each lacked, the install command. */
function missingMessage(tried: readonly TriedInterpreter[], platform: NodeJS.Platform): string {
  const list = tried.length > 0
    ? tried.map((t) => `${t.path} (${t.detail})`).join(', ')
    : 'none (no python3 or python on PATH, and none in the usual places)';
  const pythons = tried.filter((t) => t.outcome === 'no-torch' || t.outcome === 'torch-broken');
  const setting = 'or set regscope.python.interpreter to a Python that has it';
  if (pythons.length === 0) {
    const install = platform === 'win32'
      ? 'Install Python 3 from python.org, then: py -3 -m pip install torch'
      : platform === 'darwin'
        ? 'Install Python 3 (brew install python), then: python3 -m pip install torch'
        : isDebianLike()
          ? 'Install Python 3 and PyTorch: apt install python3 python3-torch (Debian/Ubuntu), or python3 -m pip install torch'
          : 'Install Python 3, then: python3 -m pip install torch';
    return `No Python interpreter was found to run the probe. Tried: ${list}. ${install}; ${setting}.`;
  }
  const first = pythons[0]!;
  const pip = `${quoteArg(first.path, platform)}${first.name === 'py -3' ? ' -3' : ''} -m pip install torch`;
  const apt = platform === 'linux' && isDebianLike() ? `, or on Debian/Ubuntu: apt install python3-torch (for /usr/bin/python3)` : '';
  const broken = pythons.some((t) => t.outcome === 'torch-broken') ? ' (an installed torch that fails to import needs reinstalling: pip install --force-reinstall torch)' : '';
  return `No Python interpreter with torch was found. Tried: ${list}. Install PyTorch into one of them: ${pip}${apt}${broken}; ${setting}.`;
}

function quoteArg(p: string, platform: NodeJS.Platform): string {
  if (!/[\s"'$`\\]/.test(p) || (platform === 'win32' && !/[\s"]/.test(p))) return p;
  return platform === 'win32' ? `"${p}"` : `'${p.replace(/'/g, `'\\''`)}'`;
}

let debianLike: boolean | undefined;
function isDebianLike(): boolean {
  debianLike ??= os.platform() === 'linux' && fs.existsSync('/etc/debian_version');
  return debianLike;
}

function parseVersion(v: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
