/**
 * Sweeps from the editor: start one over a grid (with the same engine settings a probe gets),
 * report its points as they change, list the stored sweeps, render a stored sweep's report.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PythonParser } from '../analysis/syntax/pythonParser';
import { ProbeSetupError } from '../probe/pythonEngine';
import { STORE_DIR } from '../probe/runStore';
import { parseGridFlag, type GridAxis } from '../probe/sweep/grid';
import { startSweep, sweepsRoot, type RunningSweep } from '../probe/sweep/sweepRunner';
import type { ListedSweep, SweepEventParams, SweepRecord, SweepStartParams, SweepStartResult } from '../protocol';
import { sweepHtml } from '../report/sweepHtml';
import { filePath } from './analysisService';
import type { ProbeService } from './probeService';

export class SweepService {
  private readonly running = new Map<string, RunningSweep>();

  constructor(
    private readonly parser: PythonParser,
    private readonly probes: ProbeService,
    private readonly notify: (params: SweepEventParams) => void,
    private readonly folders: () => readonly string[],
    private readonly settings: () => { readonly probeSteps: number; readonly probeMetrics: readonly import('../protocol').ProbeMetric[] },
  ) {}

  async start(params: SweepStartParams): Promise<SweepStartResult> {
    const script = filePath(params.uri);
    if (!script) throw new ProbeSetupError(`only files on disk can be swept (${params.uri})`);
    let axes: GridAxis[];
    try { axes = params.grid.map(parseGridFlag); } catch (e) { throw new ProbeSetupError((e as Error).message); }
    if (axes.length === 0) throw new ProbeSetupError('a sweep needs at least one axis, NAME=V1,V2,…');
    const root = this.probes.storeRootFor(script);
    const s = this.settings();
    let id = '';
    const sweep = await startSweep(this.parser, {
      script, args: [], storeRoot: root, axes, ...(params.maxParallel ? { maxParallel: params.maxParallel } : {}),
      probe: { ...this.probes.optionsFor(root), steps: s.probeSteps, metrics: s.probeMetrics },
    }, { point: (point) => { if (id) this.notify({ sweepId: id, point }); } });
    id = sweep.id;
    this.running.set(id, sweep);
    void sweep.done.then((record) => { this.running.delete(id); this.notify({ sweepId: id, done: record }); });
    const points = axes.reduce((n, a) => n * a.values.length, 1);
    return { sweepId: id, dir: sweep.dir, points };
  }

  async cancel(sweepId: string): Promise<boolean> {
    const sweep = this.running.get(sweepId);
    if (!sweep) return false;
    await sweep.cancel();
    return true;
  }

  list(): ListedSweep[] {
    const out: ListedSweep[] = [];
    for (const folder of this.folders().map(filePath).filter((p): p is string => !!p)) {
      const root = sweepsRoot(folder);
      let names: string[] = [];
      try { names = fs.readdirSync(root); } catch { continue; }
      for (const name of names) {
        const dir = path.join(root, name);
        try { out.push({ dir, record: JSON.parse(fs.readFileSync(path.join(dir, 'sweep.json'), 'utf8')) as SweepRecord }); } catch { /* not a sweep folder */ }
      }
    }
    return out.sort((a, b) => b.record.startedAt.localeCompare(a.record.startedAt));
  }

  /** The report of a stored sweep; the folder comes from the client, so it must be a sweep folder. */
  report(dir: string): string {
    const resolved = path.resolve(dir);
    if (path.basename(path.dirname(resolved)) !== 'sweeps' || path.basename(path.dirname(path.dirname(resolved))) !== STORE_DIR || !/^sweep-[\w.-]+$/.test(path.basename(resolved))) {
      throw new Error(`${dir} is not a RegScope sweep folder (<workspace>/${STORE_DIR}/sweeps/<id>)`);
    }
    return sweepHtml(JSON.parse(fs.readFileSync(path.join(resolved, 'sweep.json'), 'utf8')) as SweepRecord);
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.running.values()].map((s) => s.cancel()));
  }
}
