/**
 * The embedded engine on the examples it can rebuild, on each backend available here, beside
 * the Python engine on the same script: the median training step (steps 3 onward), the wall
 * time of the default probe (10 steps, measured at 5 and 10) and what it cost.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ProbeEvent, StepEvent } from '../src/protocol';

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLES = ['mlp_sgd.py', 'edge_of_stability.py', 'label_noise.py', 'cnn_batchnorm_adamw.py', 'text_cnn.py', 'keras_mlp.py'];
/** Keras scripts have no Python-engine row: the harness probes PyTorch. */
const PYTORCH = (example: string): boolean => !example.startsWith('keras_');

export const TFJS_BENCH_HEADER = ['example', 'engine / backend', 'step (median)', 'default probe wall', 'probe cost', 'HVP / fwd+bwd'];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

function probe(example: string, args: string[]): string[] {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-tfjs-bench-'));
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'probe', path.join(ROOT, 'examples', example), '--out', out, '--json', ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0 && r.status !== 1) return [r.stderr.split('\n').find((l) => l.startsWith('regscope:'))?.replace(/^regscope: /, '').slice(0, 70) ?? `exit ${r.status}`, '', '', ''];
  const { runDir } = JSON.parse(r.stdout) as { runDir: string };
  const events = fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeEvent);
  const steps = events.filter((e): e is StepEvent => e.type === 'step').slice(2).map((s) => s.seconds * 1000);
  const done = events.find((e) => e.type === 'done');
  const ratio = events.find((e) => e.type === 'metric' && e.name === 'cost.hvp_ratio');
  return [
    `${median(steps).toPrecision(3)} ms`,
    `${wall.toFixed(2)} s`,
    done?.type === 'done' ? `${done.cost.hvps} HVPs + ${done.cost.passes} passes` : '',
    ratio?.type === 'metric' && typeof ratio.value === 'number' ? `${ratio.value.toFixed(1)}×` : '',
  ];
}

export async function tfjsBench(): Promise<string[][]> {
  const rows: string[][] = [];
  const backends = ['wasm', 'cpu'];
  try { require.resolve('@tensorflow/tfjs-node'); backends.unshift('tensorflow'); } catch { /* optional */ }
  for (const example of EXAMPLES) {
    for (const b of backends) rows.push([example, `tfjs / ${b}`, ...probe(example, ['--engine', 'tfjs', '--backend', b])]);
    if (PYTORCH(example)) rows.push([example, 'python (torch, CPU)', ...probe(example, ['--engine', 'python'])]);
  }
  return rows;
}
