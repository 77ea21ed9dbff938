/**
 * The Python engine on each shipped example: plain step time, one HVP against one
 * forward+backward on the same batch, what the default probe costs (HVPs, passes, wall time),
 * and the accuracy it reports (Lanczos residual bound on λ₁, the trace's 95 % half-width).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MetricEvent, ProbeEvent, StepEvent } from '../src/protocol';
import { readRun } from '../src/probe/runStore';

const ROOT = path.resolve(__dirname, '..', '..');
export const PROBE_EXAMPLES = ['mlp_sgd.py', 'cnn_batchnorm_adamw.py', 'tiny_transformer_lm.py', 'edge_of_stability.py', 'label_noise.py'];

const g = (x: number | null | undefined, digits = 3): string => (typeof x === 'number' && Number.isFinite(x) ? Number(x.toPrecision(digits)).toString() : 'n/a');
const median = (xs: number[]): number | undefined => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : undefined; };

export async function probeBench(): Promise<string[][]> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-bench-'));
  const rows: string[][] = [];
  for (const example of PROBE_EXAMPLES) {
    const script = path.join(ROOT, 'examples', example);
    if (!fs.existsSync(script)) continue;
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'probe', script, '--out', out, '--json'], { encoding: 'utf8', maxBuffer: 256 << 20 });
    const wall = (performance.now() - t0) / 1000;
    if (r.status === 2) {
      rows.push([example, 'no torch interpreter', '', '', '', '', '', '']);
      continue;
    }
    const { runDir } = JSON.parse(r.stdout) as { runDir: string };
    const { record, events } = await readRun(runDir);
    const metric = (name: string): MetricEvent | undefined =>
      events.filter((e: ProbeEvent): e is MetricEvent => e.type === 'metric' && e.name === name).at(-1);
    const steps = events.filter((e): e is StepEvent => e.type === 'step');
    // The first steps include warm-up (allocations, lazy init); the median of the rest is the step time.
    const stepMs = median(steps.slice(2).map((s) => s.seconds * 1000));
    const timing = metric('cost.hvp_ratio');
    const top = metric('hessian.top');
    const trace = metric('hessian.trace');
    const fb = Number(timing?.data?.['forwardBackwardSeconds']);
    const hvp = Number(timing?.data?.['hvpSeconds']);
    // HVP-equivalents: HVPs plus every forward(+backward) pass priced at its share of an HVP.
    const equivalents = record.cost.hvps + (fb > 0 && hvp > 0 ? record.cost.passes * (fb / hvp) : 0);
    rows.push([
      example,
      record.status === 'ok' ? `${g(stepMs)} ms` : `${record.status}: ${record.error?.kind ?? ''}`,
      timing ? `${g(timing.value, 2)}× (${g(hvp * 1000)} / ${g(fb * 1000)} ms)` : 'n/a',
      `${record.cost.hvps} HVP + ${record.cost.passes} passes ≈ ${g(equivalents)} HVP-eq.`,
      `${g(wall)} s`,
      top ? `${g(top.value, 4)} ± ${g(top.uncertainty?.halfWidth, 2)}` : 'n/a',
      trace ? `${g(trace.value, 4)} ± ${g(((trace.uncertainty?.halfWidth ?? 0) / Math.abs(trace.value ?? 1)) * 100, 2)} %` : 'n/a',
      record.findings.map((f) => f.rule).join(' ') || '–',
    ]);
  }
  fs.rmSync(out, { recursive: true, force: true });
  return rows;
}

export const PROBE_BENCH_HEADER = ['example', 'step (plain)', 'HVP / fwd+bwd (target ≤ 3×)', 'default probe cost (target ≤ 150 HVP-eq.)', 'probe wall', 'λ₁ ± residual bound', 'tr(H) ± 95 % CI', 'findings'];

if (require.main === module) {
  void probeBench().then((rows) => {
    for (const r of rows) console.log(r.join(' | '));
  });
}

