/** `regscope probe` and `regscope runs`: probe runs from a terminal or CI. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadPythonParser } from '../host/parserLoader';
import type { ProbeMetric, RunRecord } from '../protocol';
import type { InterpreterCandidate } from '../probe/interpreter';
import { defaultCandidates } from '../probe/interpreter';
import { ALL_METRICS } from '../probe/plan';
import { ProbeSetupError } from '../probe/pythonEngine';
import { startProbe, type AnyProbeRequest, type EngineChoice } from '../probe/startProbe';
import type { BackendChoice } from '../probe/tfjs/backend';
import { isValidRunId, listRuns, runDir } from '../probe/runStore';
import { writeReport } from '../report/writeReport';
import { REGSCOPE_VERSION } from '../version';
import { fmt, formatProbeSummary } from './formatProbe';
import { parseArgs, UsageError, type ParsedArgs } from './parseArgs';

export interface Io {
  out(s: string): void;
  err(s: string): void;
  isTty: boolean;
}

export const PROBE_USAGE = `  regscope probe SCRIPT [--engine auto|python|tfjs|ssh|slurm] [--python PATH] [--backend auto|wasm|cpu|tensorflow] [--data FILE | --label-noise P] [--nproc-per-node N] [--steps N]
                        [--host USER@HOST] [--ssh-config FILE] [--remote-python PATH] [--remote-dir DIR] [--gpus LIST] [--keep-remote]
                        [--partition P] [--gres gpu:1] [--time 00:10:00] [--account A]
                        [--metrics hessian,landscape,noise,weights,collapse] [--full-landscape] [--directions random|eigen|pca]
                        [--timeout SECONDS] [--seed N] [--out DIR] [--html FILE] [--json] [-- SCRIPT ARGS...]
  regscope runs [--out DIR] [--json]
  regscope report RUN... --html FILE [--out DIR]   (RUN: a run folder or a run id under DIR; several runs are compared)`;

const ENGINES = ['python', 'auto', 'tfjs', 'ssh', 'slurm'];

function metricsFlag(v: string | true | undefined): ProbeMetric[] | undefined {
  if (typeof v !== 'string') return undefined;
  const names = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const n of names) if (!(ALL_METRICS as readonly string[]).includes(n)) throw new UsageError(`unknown metric "${n}" (choose from ${ALL_METRICS.join(', ')})`);
  return names as ProbeMetric[];
}

function intFlag(v: string | true | undefined, name: string, min: number): number | undefined {
  if (typeof v !== 'string') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}`);
  return n;
}

export const PROBE_VALUE_FLAGS = ['engine', 'python', 'steps', 'metrics', 'out', 'timeout', 'seed', 'directions', 'backend', 'data', 'label-noise', 'host', 'ssh-config', 'remote-python', 'remote-dir', 'gpus', 'partition', 'gres', 'time', 'account', 'nproc-per-node'] as const;
export const PROBE_BOOLEAN_FLAGS = ['json', 'full-landscape', 'keep-remote'] as const;

/** The probe options every engine reads, from the command line (shared by `probe` and `sweep`). */
export function probeOptionsFromFlags(a: ParsedArgs): Omit<AnyProbeRequest, 'script' | 'args' | 'storeRoot'> & { readonly engine: EngineChoice } {
  const engine = typeof a.flags.get('engine') === 'string' ? (a.flags.get('engine') as string) : 'auto';
  if (!ENGINES.includes(engine)) throw new UsageError(`unknown engine "${engine}" (auto, python, tfjs, ssh, slurm)`);
  const remote = ['host', 'ssh-config', 'remote-python', 'remote-dir', 'keep-remote'].filter((k) => a.flags.has(k));
  if (engine !== 'ssh' && engine !== 'slurm' && remote.length > 0) throw new UsageError(`--${remote[0]} is for the ssh and slurm engines (--engine ssh --host user@gpu-box)`);
  if (engine !== 'ssh' && a.flags.has('gpus')) throw new UsageError('--gpus is for the ssh engine (on Slurm, ask for GPUs with --gres gpu:N)');
  const slurmOnly = ['partition', 'gres', 'time', 'account'].filter((k) => a.flags.has(k));
  if (engine !== 'slurm' && slurmOnly.length > 0) throw new UsageError(`--${slurmOnly[0]} is for the slurm engine (--engine slurm)`);
  const str = (k: string): string | undefined => (typeof a.flags.get(k) === 'string' ? (a.flags.get(k) as string) : undefined);
  if (engine === 'python' && (a.flags.has('data') || a.flags.has('label-noise'))) throw new UsageError(`--${a.flags.has('data') ? 'data' : 'label-noise'} is for the embedded engine (--engine tfjs or auto); the Python engine runs the script on its own data`);
  const labelNoise = a.flags.get('label-noise');
  const noise = typeof labelNoise === 'string' ? Number(labelNoise) : 0;
  if (!(noise >= 0 && noise < 1)) throw new UsageError('--label-noise is the share of synthetic labels to flip, from 0 up to (not including) 1');
  if (noise > 0 && a.flags.has('data')) throw new UsageError('--label-noise flips synthetic labels; it does not apply to --data');
  const backend = a.flags.get('backend') ?? 'auto';
  if (!['auto', 'wasm', 'cpu', 'tensorflow'].includes(String(backend))) throw new UsageError('--backend is auto, wasm, cpu or tensorflow');
  const python = a.flags.get('python');
  const candidates: InterpreterCandidate[] = typeof python === 'string'
    ? [{ path: python, origin: 'setting', name: '--python' }]
    : defaultCandidates();
  const directions = a.flags.get('directions') ?? 'random';
  if (directions !== 'random' && directions !== 'eigen' && directions !== 'pca') throw new UsageError('--directions is random, eigen or pca');
  const nproc = intFlag(a.flags.get('nproc-per-node'), 'nproc-per-node', 1);
  if (nproc !== undefined && engine === 'tfjs') throw new UsageError('--nproc-per-node runs a torchrun-style script on several processes; the embedded engine trains one surrogate');
  return {
    ...(nproc !== undefined ? { nprocPerNode: nproc } : {}),
    engine: engine as EngineChoice, backend: backend as BackendChoice,
    ...(str('data') ? { dataFile: path.resolve(str('data')!) } : {}),
    ...(noise > 0 ? { labelNoise: noise } : {}),
    ...(engine === 'slurm' ? {
      ...(str('partition') ? { partition: str('partition') } : {}), ...(str('gres') ? { gres: str('gres') } : {}),
      ...(str('time') ? { time: str('time') } : {}), ...(str('account') ? { account: str('account') } : {}),
    } : {}),
    ...(engine === 'ssh' || engine === 'slurm' ? {
      ...(str('host') !== undefined || engine === 'ssh' ? { host: str('host') ?? '' } : {}), ...(str('ssh-config') ? { sshConfig: path.resolve(str('ssh-config')!) } : {}),
      ...(str('remote-python') ? { remotePython: str('remote-python') } : {}), ...(str('remote-dir') ? { remoteDir: str('remote-dir') } : {}),
      ...(str('gpus') !== undefined ? { gpus: str('gpus') } : {}), keepRemote: a.flags.get('keep-remote') === true,
    } : {}),
    steps: intFlag(a.flags.get('steps'), 'steps', 1),
    metrics: metricsFlag(a.flags.get('metrics')), fullLandscape: a.flags.get('full-landscape') === true || undefined,
    seed: intFlag(a.flags.get('seed'), 'seed', 0), directions, timeoutSeconds: intFlag(a.flags.get('timeout'), 'timeout', 1), candidates,
  };
}

export async function probe(argv: readonly string[], io: Io): Promise<number> {
  const a = parseArgs(argv, { values: [...PROBE_VALUE_FLAGS, 'html'], booleans: PROBE_BOOLEAN_FLAGS });
  if (a.positionals.length !== 1) throw new UsageError('probe takes one script');
  const options = probeOptionsFromFlags(a);
  const storeRoot = path.resolve(typeof a.flags.get('out') === 'string' ? (a.flags.get('out') as string) : process.cwd());
  const json = a.flags.get('json') === true;
  const script = a.positionals[0]!;
  const parser = await loadPythonParser();
  let running;
  try {
    running = await startProbe(parser, {
      ...options, script, args: a.rest, storeRoot,
    }, {
      event: (e) => {
        if (json) return;
        if (e.type === 'step') io.err(`  step ${e.step}: loss ${fmt(e.loss)}, lr ${fmt(e.lr)}\n`);
        else if (e.type === 'progress' && e.message) io.err(`  ${e.phase}: ${e.message}\n`);
        else if (e.type === 'error') io.err(`  error (${e.kind}): ${e.message}\n`);
      },
    });
  } catch (e) {
    if (e instanceof ProbeSetupError) {
      io.err(`regscope: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (!json) io.err(`Probing ${script}: ${running.engineReason}; run ${running.runId}\n`);
  // The harness runs in its own process group (so it can be killed as a whole), which also means
  // Ctrl-C in the terminal does not reach it: forward it as a cancel.
  const onSignal = (): void => { void running.cancel(); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const finished = await running.done.finally(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
  const display = path.relative(process.cwd(), path.resolve(script)) || script;
  if (json) {
    io.out(`${JSON.stringify({ run: finished.record, runDir: running.runDir, plan: running.plan }, null, 2)}\n`);
  } else {
    io.out(formatProbeSummary(finished.record, finished.summary, finished.findings, display));
    io.out(`run stored in ${path.relative(process.cwd(), running.runDir) || running.runDir} (events.jsonl, run.json, stderr.log)\n`);
  }
  const html = a.flags.get('html');
  if (typeof html === 'string') {
    const written = await writeReport(parser, [running.runDir], html, `RegScope ${REGSCOPE_VERSION}`);
    io.err(`report written to ${path.relative(process.cwd(), written.file) || written.file} (${Math.round(written.bytes / 1024)} KiB, open it in a browser)\n`);
  }
  return finished.record.status === 'ok' ? 0 : finished.record.status === 'cancelled' ? 130 : 1;
}

/** `regscope report RUN... --html FILE`: the panels' views of stored runs as one HTML file. */
export async function report(argv: readonly string[], io: Io): Promise<number> {
  const a = parseArgs(argv, { values: ['html', 'out'], booleans: [] });
  const html = a.flags.get('html');
  if (typeof html !== 'string') throw new UsageError('report needs --html FILE');
  if (a.positionals.length === 0) throw new UsageError('report takes one or more run folders (or run ids)');
  const root = path.resolve(typeof a.flags.get('out') === 'string' ? (a.flags.get('out') as string) : process.cwd());
  const dirs = a.positionals.map((p) => (fs.existsSync(p) ? path.resolve(p) : isValidRunId(p) ? runDir(root, p) : path.resolve(p)));
  for (const d of dirs) {
    if (!fs.existsSync(d)) {
      io.err(`regscope: no run folder ${d}\n`);
      return 2;
    }
  }
  const parser = await loadPythonParser();
  let written;
  try {
    written = await writeReport(parser, dirs, html, `RegScope ${REGSCOPE_VERSION}`);
  } catch (e) {
    io.err(`regscope: ${(e as Error).message}\n`);
    return 2;
  }
  for (const b of written.bundles) for (const p of b.problems) io.err(`${b.record.id}: ${p}\n`);
  io.out(`${written.file}\n`);
  io.err(`report of ${written.bundles.length} run${written.bundles.length === 1 ? '' : 's'} written (${Math.round(written.bytes / 1024)} KiB)\n`);
  return 0;
}

export async function runs(argv: readonly string[], io: Io): Promise<number> {
  const a = parseArgs(argv, { values: ['out'], booleans: ['json'] });
  if (a.positionals.length > 0) throw new UsageError('runs takes no positional arguments');
  const root = path.resolve(typeof a.flags.get('out') === 'string' ? (a.flags.get('out') as string) : process.cwd());
  const skipped: string[] = [];
  const records = await listRuns(root, (s) => skipped.push(`${s.dir}: ${s.reason}`));
  if (a.flags.get('json') === true) {
    io.out(`${JSON.stringify({ runs: records, skipped }, null, 2)}\n`);
    return 0;
  }
  if (records.length === 0) {
    io.out(`no probe runs under ${path.join(root, '.regscope', 'runs')}\n`);
  } else {
    io.out(formatRunTable(records));
  }
  for (const s of skipped) io.err(`skipped ${s}\n`);
  return 0;
}

function formatRunTable(records: readonly RunRecord[]): string {
  const rows = records.map((r) => [
    r.id, r.status, path.basename(r.script), String(r.steps), fmt(r.headline['hessian.top'] ?? null),
    fmt(r.headline['hessian.trace'] ?? null), String(r.findings.length), r.error ? `${r.error.kind}: ${r.error.message.split('\n')[0]!.slice(0, 60)}` : '',
  ]);
  const header = ['run', 'status', 'script', 'steps', 'λ₁', 'tr(H)', 'findings', 'error'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
