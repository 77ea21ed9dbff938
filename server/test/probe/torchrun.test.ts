import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { HelloEvent, MetricEvent, ProbeEvent, RunRecord } from '../../src/protocol';
import { ROOT, torchSkip, workspace } from './probeScripts';

/**
 * A torchrun-style script (examples/ddp_mlp.py: gloo, DistributedSampler, DDP) probed on two CPU
 * processes against the same script in one process on the same global batch: the Hessian, the
 * landscape and the losses are the global ones, so they agree to float rounding.
 */
const CLI = path.join(ROOT, 'dist', 'cli.js');
const PY = '/usr/bin/python3';

function probe(script: string, extra: string[], cwd: string): { record: RunRecord; events: ProbeEvent[]; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [CLI, 'probe', script, '--python', PY, '--steps', '4', '--metrics', 'hessian,landscape,noise', '--json', ...extra], { cwd, encoding: 'utf8', timeout: 300_000 });
  const out = JSON.parse(r.stdout) as { run: RunRecord; runDir: string };
  const events = fs.readFileSync(path.join(out.runDir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeEvent);
  return { record: out.run, events, stderr: r.stderr, status: r.status };
}

const metric = (events: readonly ProbeEvent[], name: string): MetricEvent => events.filter((e): e is MetricEvent => e.type === 'metric' && e.name === name).at(-1)!;
const close = (a: number, b: number, what: string, rel = 1e-5): void => assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${what}: ${a} (2 ranks) vs ${b} (1 process)`);

describe('torchrun-style scripts (--nproc-per-node)', { skip: torchSkip() }, () => {
  it('two gloo ranks give the single-process numbers on the same global batch', () => {
    const dir = workspace({});
    const script = path.join(ROOT, 'examples', 'ddp_mlp.py');
    const two = probe(script, ['--nproc-per-node', '2'], dir);
    const one = probe(script, [], dir);
    assert.equal(two.record.status, 'ok', two.stderr);
    assert.equal(one.record.status, 'ok', one.stderr);
    const hello = two.events.find((e): e is HelloEvent => e.type === 'hello')!;
    assert.deepEqual([hello.rank, hello.worldSize], [0, 2], 'rank 0 reports, for a world of 2');
    const losses = (evs: ProbeEvent[]) => evs.flatMap((e) => (e.type === 'step' ? [e.loss!] : []));
    losses(two.events).forEach((l, i) => close(l, losses(one.events)[i]!, `loss at step ${i + 1}`));
    for (const name of ['hessian.top', 'hessian.trace', 'stability.sharpness', 'noise.alignment', 'landscape.2d']) {
      close(metric(two.events, name).value as number, metric(one.events, name).value as number, name);
    }
    const eig2 = metric(two.events, 'hessian.top').data!['eigenvalues'] as number[];
    const eig1 = metric(one.events, 'hessian.top').data!['eigenvalues'] as number[];
    eig2.slice(0, 3).forEach((v, i) => close(v, eig1[i]!, `λ${i + 1}`, 1e-4));
    // The noise scale samples micro-batches (a rank's shard splits differently): each estimate lies
    // in the other's 90 % interval, with the same global count and size of micro-batches.
    const n2 = metric(two.events, 'noise.scale'), n1 = metric(one.events, 'noise.scale');
    assert.equal(n2.data!['microBatch'], n1.data!['microBatch']);
    assert.ok((n2.value as number) >= n1.uncertainty!.low! && (n2.value as number) <= n1.uncertainty!.high!, `${n2.value} in [${n1.uncertainty!.low}, ${n1.uncertainty!.high}]`);
    assert.ok((n1.value as number) >= n2.uncertainty!.low! && (n1.value as number) <= n2.uncertainty!.high!);
  });

  it('a rank that fails is the run’s error, named, and the other rank is stopped', () => {
    const text = fs.readFileSync(path.join(ROOT, 'examples', 'ddp_mlp.py'), 'utf8').replace(
      '        optimizer.step()\n',
      '        optimizer.step()\n        if distributed and dist.get_rank() == 1:\n            raise RuntimeError("rank 1 fails on purpose")\n',
    );
    const dir = workspace({ 'ddp_fail.py': text });
    const started = Date.now();
    const r = probe(path.join(dir, 'ddp_fail.py'), ['--nproc-per-node', '2'], dir);
    assert.equal(r.status, 1);
    assert.equal(r.record.status, 'error');
    assert.equal(r.record.error?.kind, 'script');
    assert.match(r.record.error!.message, /^rank 1: RuntimeError: rank 1 fails on purpose$/);
    assert.ok(Date.now() - started < 120_000, 'no hang waiting for the dead rank');
    // The launcher stops the survivors; whichever rank it saw exit first is the one it names (rank 0
    // may fail too, its collective having lost its peer), while the run's error is rank 1's own.
    assert.match(fs.readFileSync(path.join(dir, '.regscope', 'runs', r.record.id, 'stderr.log'), 'utf8'), /regscope: rank [01] exited with code -?\d+/);
  });
});
