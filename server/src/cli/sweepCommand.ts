/** `regscope sweep SCRIPT --grid NAME=V1,V2 … [probe options] [--max-parallel N] [--html FILE] [--json]`. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadPythonParser } from '../host/parserLoader';
import { ProbeSetupError } from '../probe/pythonEngine';
import { parseGridFlag, type GridAxis } from '../probe/sweep/grid';
import { startSweep } from '../probe/sweep/sweepRunner';
import type { SweepPoint, SweepRecord } from '../protocol';
import { sweepHtml } from '../report/sweepHtml';
import { fmt } from './formatProbe';
import { parseArgs, UsageError } from './parseArgs';
import { PROBE_BOOLEAN_FLAGS, PROBE_VALUE_FLAGS, probeOptionsFromFlags, type Io } from './probeCommands';

export const SWEEP_USAGE = `  regscope sweep SCRIPT --grid NAME=V1,V2,… [--grid …] [--engine auto|python|tfjs|ssh|slurm] [--max-parallel N]
                        [probe options] [--html FILE] [--json] [-- SCRIPT ARGS...]`;

export async function sweep(argv: readonly string[], io: Io): Promise<number> {
  // --grid repeats: take every one out before the common parser (which keeps the last of a flag).
  const grids: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { rest.push(...argv.slice(i)); break; }
    if (a === '--grid') { const v = argv[++i]; if (v === undefined) throw new UsageError('--grid needs NAME=V1,V2,…'); grids.push(v); continue; }
    if (a.startsWith('--grid=')) { grids.push(a.slice(7)); continue; }
    rest.push(a);
  }
  const a = parseArgs(rest, { values: [...PROBE_VALUE_FLAGS, 'html', 'max-parallel'], booleans: PROBE_BOOLEAN_FLAGS });
  if (a.positionals.length !== 1) throw new UsageError('sweep takes one script');
  if (grids.length === 0) throw new UsageError('sweep needs at least one --grid NAME=V1,V2,… (for example --grid lr=1e-4,3e-4,1e-3)');
  let axes: GridAxis[];
  try { axes = grids.map(parseGridFlag); } catch (e) { throw new UsageError((e as Error).message); }
  const options = probeOptionsFromFlags(a);
  const maxParallelFlag = a.flags.get('max-parallel');
  const maxParallel = typeof maxParallelFlag === 'string' ? Number(maxParallelFlag) : undefined;
  if (maxParallel !== undefined && !(Number.isInteger(maxParallel) && maxParallel >= 1)) throw new UsageError('--max-parallel must be an integer ≥ 1');
  const storeRoot = path.resolve(typeof a.flags.get('out') === 'string' ? (a.flags.get('out') as string) : process.cwd());
  const json = a.flags.get('json') === true;
  const parser = await loadPythonParser();
  let running;
  try {
    running = await startSweep(parser, { script: a.positionals[0]!, args: a.rest, storeRoot, axes, probe: options, ...(maxParallel ? { maxParallel } : {}) }, {
      point: (p) => { if (!json && p.status !== 'pending' && p.status !== 'running') io.err(`  ${describe(p)}: ${p.status}${p.error && p.status !== 'ok' ? ` (${p.error})` : ''}\n`); },
      log: (text) => { if (!json) io.err(`  ${text}`); },
    });
  } catch (e) {
    if (e instanceof ProbeSetupError) { io.err(`regscope: ${e.message}\n`); return 2; }
    throw e;
  }
  if (!json) io.err(`Sweeping ${a.positionals[0]}: ${axes.map((x) => `${x.key} × ${x.values.length}`).join(', ')}; sweep ${running.id}\n`);
  const onSignal = (): void => { void running.cancel(); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const record = await running.done.finally(() => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); });
  if (json) io.out(`${JSON.stringify({ sweep: record, dir: running.dir }, null, 2)}\n`);
  else io.out(formatSweep(record, path.relative(process.cwd(), running.dir) || running.dir));
  const html = a.flags.get('html');
  if (typeof html === 'string') {
    fs.writeFileSync(html, sweepHtml(record));
    io.err(`report written to ${html} (open it in a browser)\n`);
  }
  return record.status === 'ok' ? 0 : record.status === 'cancelled' ? 130 : 1;
}

const describe = (p: SweepPoint): string => Object.entries(p.values).map(([k, v]) => `${k}=${v}`).join(', ');

export function formatSweep(r: SweepRecord, dir: string): string {
  const rows = r.points.map((p) => [describe(p), p.status, fmt(p.finalLoss ?? undefined), fmt(p.sharpnessRatio ?? undefined), fmt(p.noiseScale ?? undefined), p.runId ?? '–']);
  const head = ['point', 'status', 'final loss', 'sharpness/threshold', 'B_noise', 'run'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  const ok = r.points.filter((p) => p.status === 'ok').length;
  return [
    `RegScope sweep of ${r.script}: ${r.status} (${ok} of ${r.points.length} points finished in ${r.seconds.toFixed(1)} s)`,
    `  engine  ${r.engineReason}`,
    ...(r.scheduler ? [`  slurm   job array ${r.scheduler.jobId}: queued ${r.scheduler.queueSeconds ?? '–'} s, ran ${r.scheduler.runSeconds ?? '–'} s`] : []),
    `  axes    ${r.axes.map((x) => `${x.key} via ${x.via}`).join('; ')}`,
    line(head), ...rows.map(line),
    `sweep stored in ${dir} (sweep.json); each point is a run in .regscope/runs/`,
    '',
  ].join('\n');
}
