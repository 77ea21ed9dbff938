import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it, before } from 'node:test';
import { loadPythonParser } from '../../src/host/parserLoader';
import type { PythonParser } from '../../src/analysis/syntax/pythonParser';
import type { ProbeEvent } from '../../src/protocol';
import { ProbeSetupError, startPythonProbe } from '../../src/probe/pythonEngine';
import { readRun } from '../../src/probe/runStore';
import { lineOf, processAlive, torchSkip, trainScript, workspace } from './probeScripts';

const skip = torchSkip();

describe('python engine: real harness, real scripts', { skip }, () => {
  let parser: PythonParser;
  before(async () => { parser = await loadPythonParser(); });

  it('probes a script: events stored in order, run record written, numbers present', async () => {
    const dir = workspace({ 'train.py': trainScript() });
    const seen: ProbeEvent[] = [];
    const probe = await startPythonProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 4 }, { event: (e) => seen.push(e) });
    assert.match(probe.interpreter!.reason, /has torch/);
    assert.deepEqual(probe.plan.closure?.batch, ['x', 'y']);
    const done = await probe.done;
    assert.equal(done.record.status, 'ok', JSON.stringify(done.record.error));
    assert.equal(done.record.steps, 4);
    assert.equal(seen[0]?.type, 'hello');
    assert.equal(seen.at(-1)?.type, 'done');
    const stored = await readRun(probe.runDir);
    assert.equal(stored.record.status, 'ok');
    assert.deepEqual(stored.events.map((e) => e.type), seen.map((e) => e.type));
    assert.equal(stored.malformed.length, 0);
    assert.ok(typeof done.record.headline['hessian.top'] === 'number');
    assert.ok(fs.existsSync(path.join(probe.runDir, 'plan.json')));
  });

  it('a script that crashes ends as a stored error run with its traceback', async () => {
    const dir = workspace({ 'train.py': trainScript({ hook: "if step == 1: raise RuntimeError('dataset is gone')" }) });
    const probe = await startPythonProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 4 });
    const done = await probe.done;
    assert.equal(done.record.status, 'error');
    assert.equal(done.record.error?.kind, 'script');
    assert.match(done.record.error?.message ?? '', /dataset is gone/);
    const stored = await readRun(probe.runDir);
    assert.equal(stored.record.error?.kind, 'script');
  });

  it('a diverging script gives PRB007 on the lr argument', async () => {
    const text = trainScript({ lr: '1e12' });
    const dir = workspace({ 'train.py': text });
    const probe = await startPythonProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 6 });
    const done = await probe.done;
    const prb = done.findings.find((f) => f.rule === 'PRB007');
    assert.ok(prb, JSON.stringify(done.findings));
    assert.equal(prb.line, lineOf(text, 'lr=1e12'));
  });

  it('a script that hangs is stopped at the timeout; its process group is gone', async () => {
    const dir = workspace({ 'train.py': trainScript({ hook: 'time.sleep(3600) if step == 1 else None' }) });
    const probe = await startPythonProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 4, timeoutSeconds: 4 });
    const done = await probe.done;
    assert.equal(done.record.status, 'error');
    assert.equal(done.record.error?.kind, 'timeout');
    assert.match(done.record.error?.message ?? '', /within 4 s/);
    const stored = await readRun(probe.runDir);
    assert.equal(stored.events.at(-1)?.type, 'done');
    assert.match(fs.readFileSync(path.join(probe.runDir, 'stderr.log'), 'utf8'), /time\.sleep|line \d+/, 'the stack of the hang is kept');
  });

  it('cancel kills the whole process tree, including a child that ignores SIGTERM', async () => {
    const prelude = `import subprocess, signal
child = subprocess.Popen([sys.executable, '-c', 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open(${JSON.stringify('PIDFILE')}, "w").write(str(__import__("os").getpid())); time.sleep(3600)'])`;
    const dir = workspace({});
    const pidFile = path.join(dir, 'child.pid');
    fs.writeFileSync(path.join(dir, 'train.py'), trainScript({ prelude: prelude.replace('PIDFILE', pidFile), hook: 'time.sleep(0.5)' }));
    let sawStep!: () => void;
    const stepped = new Promise<void>((r) => { sawStep = r; });
    const probe = await startPythonProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 50 }, {
      event: (e) => { if (e.type === 'step') sawStep(); },
    });
    await stepped;
    await probe.cancel();
    const done = await probe.done;
    assert.equal(done.record.status, 'cancelled');
    const childPid = Number(fs.readFileSync(pidFile, 'utf8'));
    assert.equal(processAlive(childPid), false, 'the grandchild that ignored SIGTERM must be dead');
  });

  it('output on stdout (even from C or a subprocess) goes to stderr.log, never into the events', async () => {
    const dir = workspace({ 'train.py': trainScript({ hook: "os.write(1, b'{not json\\n'); print('garbage line')" }) });
    const probe = await startPythonProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 3, metrics: ['weights'] });
    const done = await probe.done;
    assert.equal(done.record.status, 'ok');
    assert.ok(!done.record.warnings.some((w) => /not valid events/.test(w)), done.record.warnings.join('\n'));
    const log = fs.readFileSync(path.join(probe.runDir, 'stderr.log'), 'utf8');
    assert.match(log, /\{not json/);
    assert.match(log, /garbage line/);
  });

  it('sys.exit mid-run is an exit error, and the run is stored', async () => {
    const dir = workspace({ 'train.py': trainScript({ hook: 'sys.exit(4) if step == 2 else None' }) });
    const probe = await startPythonProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 5, metrics: ['weights'] });
    const done = await probe.done;
    assert.equal(done.record.error?.kind, 'exit');
    assert.match(done.record.error?.message ?? '', /sys\.exit\(4\)/);
  });

  it('no interpreter with torch: a setup error that says what to install', async () => {
    const dir = workspace({ 'train.py': trainScript() });
    await assert.rejects(
      startPythonProbe(parser, { script: path.join(dir, 'train.py'), args: [], storeRoot: dir, candidates: [{ path: '/bin/false', origin: 'setting' }] }),
      (e: unknown) => e instanceof ProbeSetupError && /torch/.test(e.message),
    );
  });
});
