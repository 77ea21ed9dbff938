import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PythonParser } from '../../../src/analysis/syntax/pythonParser';
import { loadPythonParser } from '../../../src/host/parserLoader';
import { startSlurmProbe } from '../../../src/probe/remote/slurmEngine';
import type { ProbeEvent } from '../../../src/protocol';
import { slurmCommand, slurmSkip, startSlurm, type TestSlurm } from '../../support/testSlurm';
import { sshdSkip, startSshd, type TestSshd } from '../../support/testSshd';
import { ROOT, torchSkip, trainScript, workspace } from '../probeScripts';

/** The slurm engine against a real single-node Slurm on 127.0.0.1 (scripts/test-slurm.sh). */
const CLI = path.join(ROOT, 'dist', 'cli.js');
const skip = slurmSkip() || torchSkip();
const PY = '/usr/bin/python3';

describe('the slurm engine against a real Slurm', { skip }, () => {
  let slurm: TestSlurm;
  let parser: PythonParser;
  const saved = process.env['SLURM_CONF'];
  before(async () => { slurm = startSlurm(); process.env['SLURM_CONF'] = slurm.conf; parser = await loadPythonParser(); });
  after(() => { slurm?.stop(); if (saved === undefined) delete process.env['SLURM_CONF']; else process.env['SLURM_CONF'] = saved; });
  const jobProcesses = (runId: string): string[] => spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(runId) && l.includes('regscope_probe'));

  it('regscope probe --engine slurm: submitted, followed, its events and the job’s queue and run time recorded', () => {
    const dir = workspace({ 'train.py': trainScript() });
    const r = spawnSync(process.execPath, [CLI, 'probe', 'train.py', '--engine', 'slurm', '--remote-python', PY, '--steps', '4', '--metrics', 'hessian', '--partition', 'debug', '--time', '00:05:00'], { cwd: dir, encoding: 'utf8', env: slurm.env, timeout: 180_000 });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /slurm +job \d+ COMPLETED on localhost \(exit 0:0\): queued \d+\.\d s, ran \d+\.\d s/);
    assert.match(r.stdout, /engine +slurm: submitted on this machine, partition debug; \/usr\/bin\/python3 on the compute node; job folder .*\/job/);
    assert.match(r.stdout, /λ₁ /);
    const runs = path.join(dir, '.regscope', 'runs');
    const run = JSON.parse(fs.readFileSync(path.join(runs, fs.readdirSync(runs)[0]!, 'run.json'), 'utf8')) as { status: string; scheduler: { state: string; queueSeconds: number; runSeconds: number } };
    assert.equal(run.status, 'ok');
    assert.equal(run.scheduler.state, 'COMPLETED');
    assert.ok(run.scheduler.runSeconds > 0 && run.scheduler.queueSeconds >= 0);
  });

  it('a pending job says so with the scheduler’s reason; then it runs', async () => {
    // Both CPUs taken: the probe waits for Resources.
    const blocker = slurmCommand(slurm, ['sbatch', '--parsable', '--cpus-per-task', '2', '--output', '/dev/null', '--wrap', 'sleep 60']).trim();
    const dir = workspace({ 'train.py': trainScript() });
    const seen: ProbeEvent[] = [];
    const probe = await startSlurmProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 2, metrics: ['weights'], remotePython: PY }, { event: (e) => seen.push(e) });
    const deadline = Date.now() + 30_000;
    while (!seen.some((e) => e.type === 'progress' && /pending \(Resources\)/.test(e.message ?? '')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.ok(seen.some((e) => e.type === 'progress' && e.phase === 'queue' && /^job \d+ pending \(Resources\)$/.test(e.message ?? '')), JSON.stringify(seen));
    slurmCommand(slurm, ['scancel', blocker]);
    const done = await probe.done;
    assert.equal(done.record.status, 'ok');
    assert.ok(done.record.scheduler!.queueSeconds >= 0.5, `queued ${done.record.scheduler!.queueSeconds} s`);
  });

  it('a job that fails before the harness reports: FAILED with its exit code, the run says why', async () => {
    const dir = workspace({ 'train.py': trainScript() });
    const probe = await startSlurmProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 2, metrics: ['weights'], remotePython: '/nonexistent/python3' }, {});
    const done = await probe.done;
    assert.equal(done.record.status, 'error');
    assert.equal(done.record.scheduler?.state, 'FAILED');
    assert.match(done.record.error!.message, /^the Slurm job \d+ ended FAILED \(exit code 127:0\) after 0 step\(s\) without reporting a result; the script's output is in stderr\.log$/);
    assert.match(fs.readFileSync(path.join(probe.runDir, 'stderr.log'), 'utf8'), /nonexistent\/python3/);
  });

  it('cancel is scancel: the job ends CANCELLED, the harness says cancelled, nothing of it keeps running', async () => {
    const dir = workspace({ 'train.py': trainScript({ hook: 'time.sleep(0.2)' }) });
    let resolveStep!: () => void;
    const stepped = new Promise<void>((r) => { resolveStep = r; });
    const probe = await startSlurmProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 400, metrics: ['weights'], remotePython: PY }, {
      event: (e) => { if (e.type === 'step' && e.step >= 2) resolveStep(); },
    });
    await stepped;
    assert.ok(jobProcesses(probe.runId).length > 0);
    await probe.cancel();
    const done = await probe.done;
    assert.equal(done.record.status, 'cancelled');
    assert.equal(done.record.scheduler?.state, 'CANCELLED');
    assert.ok(done.record.steps >= 2);
    const deadline = Date.now() + 10_000;
    while (jobProcesses(probe.runId).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(jobProcesses(probe.runId), []);
  });

  it('a torchrun-style script on two ranks inside one job (--cpus-per-task 2): rank 0 reports for a world of 2', async () => {
    const dir = workspace({ 'ddp.py': fs.readFileSync(path.join(ROOT, 'examples', 'ddp_mlp.py'), 'utf8') });
    const probe = await startSlurmProbe(parser, { script: path.join(dir, 'ddp.py'), args: [], storeRoot: dir, steps: 2, metrics: ['hessian'], remotePython: PY, nprocPerNode: 2 }, {});
    const done = await probe.done;
    assert.equal(done.record.status, 'ok', JSON.stringify(done.record.error));
    assert.equal(done.summary.hello?.worldSize, 2);
    assert.ok(done.summary.metrics.has('hessian.top'));
  });

  describe('submitted on a login node over SSH', { skip: sshdSkip() }, () => {
    let sshd: TestSshd;
    before(() => {
      sshd = startSshd();
      // The login node's environment points at the cluster (as /etc/slurm would on a real one).
      fs.appendFileSync(sshd.config, `  SetEnv SLURM_CONF=${slurm.conf}\n`);
    });
    after(() => sshd?.stop());

    it('the script goes to the login node, the job runs there, the folder is removed', async () => {
      const dir = workspace({ 'train.py': trainScript() });
      const probe = await startSlurmProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 2, metrics: ['hessian'], remotePython: PY, host: sshd.host, sshConfig: sshd.config }, {});
      const done = await probe.done;
      assert.equal(done.record.status, 'ok', JSON.stringify(done.record.error));
      assert.match(done.record.engineReason, /^slurm: submitted on regscope-test; \/usr\/bin\/python3 on the compute node; job folder regscope-test:\S+\/\.cache\/regscope\/runs\//);
      assert.equal(done.record.scheduler?.state, 'COMPLETED');
      assert.ok(done.summary.metrics.has('hessian.top'));
      const leftover = spawnSync('ssh', ['-F', sshd.config, sshd.host, `ls -A .cache/regscope/runs | grep -c ${probe.runId} || true`], { encoding: 'utf8' }).stdout.trim();
      assert.equal(leftover, '0');
    });
  });
});
