import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ProbeEvent, ProbePlan, RunRecord } from '../../src/protocol';
import {
  ENDED_WITHOUT_RECORD, isValidRunId, listRuns, newRunId, readRun, runDir, RunWriter, type SkippedRun,
} from '../../src/probe/runStore';

const temps: string[] = [];
function tempRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-runs-'));
  temps.push(dir);
  return dir;
}
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

const PLAN: ProbePlan = {
  v: 1, script: '/w/train.py', args: ['--lr', '0.1'], cwd: '/w', seed: 0,
  budget: { warmupSteps: 4, probeSteps: [5], timeoutSeconds: 600 },
  metrics: ['hessian'], closure: null,
  hessian: { topK: 5, lanczosSteps: 30, traceMaxProbes: 30, traceRelTol: 0.02, densityProbes: 3, densitySteps: 40 },
  landscape: { preview: 5, grid: 21, span: 1, refine: false, directions: 'random' },
  noise: { microBatches: 16 }, hparamSources: [],
};

function record(id: string, patch: Partial<RunRecord> = {}): RunRecord {
  return {
    v: 1, id, script: '/w/train.py', args: ['--lr', '0.1'], engine: 'python', engineReason: 'python: /usr/bin/python3 has torch 1.13.0',
    interpreter: '/usr/bin/python3', status: 'running', startedAt: '2025-01-02T03:04:05.000Z', endedAt: null, steps: 0,
    device: null, torch: null, error: null, headline: {}, findings: [], warnings: [], cost: { hvps: 0, passes: 0, seconds: 0 },
    ...patch,
  };
}

const stepEvent = (step: number): ProbeEvent => ({ v: 1, type: 'step', t: step / 10, step, loss: 1 / step, lr: 0.1, gradNorm: 1, seconds: 0.01 });

describe('run ids', () => {
  it('newRunId: date, time, sanitized script stem, 4 hex', () => {
    const now = new Date(2025, 0, 2, 3, 4, 5);
    assert.match(newRunId('/home/me/proj/train.py', now), /^20250102-030405-train-[0-9a-f]{4}$/);
    assert.match(newRunId('C:\\proj\\my model (v2).py', now), /^20250102-030405-my-model-v2-[0-9a-f]{4}$/);
    assert.match(newRunId('/x/../.py', now), /^20250102-030405-script-[0-9a-f]{4}$/);
    assert.match(newRunId(`/x/${'é'.repeat(5)}${'a'.repeat(100)}.py`, now), /^20250102-030405-a{40}-[0-9a-f]{4}$/);
    assert.ok(isValidRunId(newRunId('/x/train.py')));
    assert.notEqual(newRunId('/x/t.py', now), newRunId('/x/t.py', now)); // (1 in 65536 flaky at worst)
  });

  it('runDir refuses ids that would leave the runs folder', () => {
    for (const bad of ['..', '../x', 'a/b', 'a\\b', '', '.hidden', 'a..b']) assert.throws(() => runDir('/r', bad), /not a run id/, bad);
    assert.equal(runDir('/r', '20250102-030405-train-abcd'), path.join('/r', '.regscope', 'runs', '20250102-030405-train-abcd'));
  });
});

describe('RunWriter', () => {
  it('creates the folder, plan.json, run.json and .regscope/.gitignore', async () => {
    const root = tempRoot();
    const w = await RunWriter.create(root, 'r1', PLAN, record('r1'));
    assert.equal(fs.readFileSync(path.join(root, '.regscope', '.gitignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).join(), '*');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(w.dir, 'plan.json'), 'utf8')), PLAN);
    assert.equal(JSON.parse(fs.readFileSync(path.join(w.dir, 'run.json'), 'utf8')).status, 'running');
    await w.close();
    // An existing .gitignore is left as the user made it; an existing run id is refused.
    fs.writeFileSync(path.join(root, '.regscope', '.gitignore'), 'mine\n');
    const w2 = await RunWriter.create(root, 'r2', PLAN, record('r2'));
    await w2.close();
    assert.equal(fs.readFileSync(path.join(root, '.regscope', '.gitignore'), 'utf8'), 'mine\n');
    await assert.rejects(RunWriter.create(root, 'r2', PLAN, record('r2')), /EEXIST/);
  });

  it('appends events in order, one a line, without interleaving, and reads them back', async () => {
    const root = tempRoot();
    const w = await RunWriter.create(root, 'r1', PLAN, record('r1'));
    const N = 2000;
    const big = 'x'.repeat(20_000);
    for (let i = 1; i <= N; i++) {
      w.appendEvent(i % 100 === 0 ? { v: 1, type: 'warning', t: i / 10, code: 'big', message: big } : stepEvent(i));
      if (i % 250 === 0) await new Promise((r) => setImmediate(r)); // let writes start between appends
      if (i % 500 === 0) void w.writeRecord(record('r1', { steps: i }));
      w.appendStderr(`line ${i}\n`);
    }
    await w.writeRecord(record('r1', { status: 'ok', steps: N, endedAt: new Date().toISOString() }));
    await w.close();
    assert.deepEqual(w.errors, []);
    const text = fs.readFileSync(path.join(w.dir, 'events.jsonl'), 'utf8');
    assert.equal(text.split('\n').length, N + 1);
    const run = await readRun(w.dir);
    assert.deepEqual(run.malformed, []);
    assert.equal(run.events.length, N);
    run.events.forEach((e, i) => assert.equal(e.t, (i + 1) / 10));
    assert.equal(run.record.status, 'ok');
    assert.equal(run.record.steps, N);
    assert.equal(run.problem, undefined);
    const stderr = fs.readFileSync(path.join(w.dir, 'stderr.log'), 'utf8').split('\n');
    assert.equal(stderr[0], 'line 1');
    assert.equal(stderr[N - 1], `line ${N}`);
    assert.equal(fs.existsSync(path.join(w.dir, 'owner.json')), false);
  });

  it('stops stderr.log at its limit with a note', async () => {
    const root = tempRoot();
    const w = await RunWriter.create(root, 'r1', PLAN, record('r1'), { maxStderrBytes: 1000 });
    for (let i = 0; i < 100; i++) w.appendStderr(Buffer.from(`${String(i).padStart(3, '0')} ${'.'.repeat(46)}\n`));
    await w.close();
    const log = fs.readFileSync(path.join(w.dir, 'stderr.log'), 'utf8');
    assert.ok(log.startsWith('000 '));
    assert.ok(log.length < 1200, String(log.length));
    assert.match(log, /\[regscope: stderr\.log stops here, at 1000 bytes; the rest of the script's output was not kept\]\n$/);
  });

  it('run.json is always whole: a reader in another process never sees a partial file', async () => {
    const root = tempRoot();
    const w = await RunWriter.create(root, 'r1', PLAN, record('r1'));
    const file = path.join(w.dir, 'run.json');
    const stopFile = path.join(root, 'stop');
    // A separate process reads run.json in a tight loop while this one replaces it.
    const reader = spawn(process.execPath, ['-e', `
      const fs = require('fs');
      let reads = 0, bad = 0, last = '';
      require('fs').writeFileSync(${JSON.stringify(stopFile)} + '.ready', '');
      while (!fs.existsSync(${JSON.stringify(stopFile)})) {
        let text;
        try { text = fs.readFileSync(${JSON.stringify(file)}, 'utf8'); } catch (e) { bad++; last = String(e); continue; }
        try { JSON.parse(text); reads++; } catch (e) { bad++; last = text.slice(-80); }
      }
      console.log(JSON.stringify({ reads, bad, last }));
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    reader.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<void>((r) => reader.on('close', () => r()));
    // The reader is up before the writes start (a loaded machine starts node slowly).
    while (!fs.existsSync(`${stopFile}.ready`)) await new Promise((r) => setTimeout(r, 10));
    const padding = 'p'.repeat(200_000); // a big record makes a torn read likely if writes were not atomic
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      writes.push(w.writeRecord(record('r1', { steps: i, warnings: [padding + i] })));
      if (i % 3 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(writes);
    await w.close();
    fs.writeFileSync(stopFile, '');
    await exited;
    const stats = JSON.parse(out) as { reads: number; bad: number; last: string };
    assert.equal(stats.bad, 0, `torn or missing run.json seen: ${stats.last}`);
    assert.ok(stats.reads > 10, `the reader read ${stats.reads} times`);
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).steps, 299);
    assert.deepEqual(fs.readdirSync(w.dir).filter((f) => f.endsWith('.tmp')), []);
  });

  it('reports failed writes instead of throwing, and refuses writes after close', async () => {
    const root = tempRoot();
    const seen: string[] = [];
    const w = await RunWriter.create(root, 'r1', PLAN, record('r1'), { onError: (m) => seen.push(m) });
    fs.rmSync(w.dir, { recursive: true });
    w.appendEvent(stepEvent(1));
    await w.writeRecord(record('r1', { status: 'ok' }));
    await w.close();
    w.appendEvent(stepEvent(2));
    assert.ok(w.errors.length >= 3, w.errors.join('\n'));
    assert.match(w.errors.join('\n'), /ENOENT/);
    assert.match(w.errors.at(-1)!, /after the run was closed/);
    assert.deepEqual(seen, w.errors);
  });
});

describe('listRuns and readRun', () => {
  async function makeRun(root: string, id: string, patch: Partial<RunRecord>, events: readonly ProbeEvent[] = []): Promise<string> {
    const w = await RunWriter.create(root, id, PLAN, record(id, patch));
    for (const e of events) w.appendEvent(e);
    await w.writeRecord(record(id, { status: 'ok', ...patch }));
    await w.close();
    return w.dir;
  }

  it('lists newest first; no store means no runs', async () => {
    const root = tempRoot();
    assert.deepEqual(await listRuns(root), []);
    await makeRun(root, 'b', { startedAt: '2025-01-02T00:00:00.000Z' });
    await makeRun(root, 'a', { startedAt: '2025-03-01T00:00:00.000Z' });
    await makeRun(root, 'c', { startedAt: '2024-12-31T23:59:59.000Z' });
    assert.deepEqual((await listRuns(root)).map((r) => r.id), ['a', 'b', 'c']);
  });

  it('a run that died before writing run.json is listed from its events as an error', async () => {
    const root = tempRoot();
    await makeRun(root, 'good', { startedAt: '2000-01-01T00:00:00.000Z' });
    const dir = await makeRun(root, 'died', {}, [
      { v: 1, type: 'hello', t: 0, harness: '0.1', python: '3.11', torch: '1.13.0', interpreter: '/usr/bin/python3', pid: 1, device: { type: 'cpu', name: 'x86_64', count: 1 }, rank: 0, worldSize: 1, hvpMethod: 'double-backward' },
      stepEvent(1), stepEvent(2),
      { v: 1, type: 'metric', t: 1, name: 'hessian.top', step: 2, value: 42, cost: { hvps: 20, passes: 0, seconds: 1 } },
    ]);
    fs.rmSync(path.join(dir, 'run.json'));
    fs.appendFileSync(path.join(dir, 'events.jsonl'), '{"v":1,"type":"step","t":3,"ste'); // cut mid-write
    const runs = await listRuns(root);
    assert.deepEqual(runs.map((r) => r.id), ['died', 'good']);
    const died = runs[0]!;
    assert.equal(died.status, 'error');
    assert.deepEqual(died.error, { kind: 'harness', message: ENDED_WITHOUT_RECORD });
    assert.equal(died.steps, 2);
    assert.equal(died.torch, '1.13.0');
    assert.equal(died.script, '/w/train.py');
    assert.deepEqual(died.args, ['--lr', '0.1']);
    assert.deepEqual(died.headline, { 'hessian.top': 42 });
    assert.deepEqual(died.cost, { hvps: 20, passes: 0, seconds: 1 });
    const read = await readRun(dir);
    assert.equal(read.events.length, 4);
    assert.equal(read.malformed.length, 1);
    assert.match(read.malformed[0]!.reason, /^not JSON/);
    assert.equal(read.problem, 'run.json is missing');
  });

  it('a corrupt run.json is rebuilt from the folder; a folder with nothing is skipped and reported', async () => {
    const root = tempRoot();
    const dir = await makeRun(root, 'corrupt', {}, [stepEvent(1)]);
    fs.writeFileSync(path.join(dir, 'run.json'), '{"v":1,"id":"corr');
    const wrong = await makeRun(root, 'wrong', {});
    fs.writeFileSync(path.join(wrong, 'run.json'), JSON.stringify({ ...record('wrong'), status: 'exploded' }));
    fs.mkdirSync(path.join(root, '.regscope', 'runs', 'empty'));
    fs.writeFileSync(path.join(root, '.regscope', 'runs', 'stray-file'), '');
    const skipped: SkippedRun[] = [];
    const runs = await listRuns(root, (s) => skipped.push(s));
    assert.deepEqual(runs.map((r) => r.id).sort(), ['corrupt', 'wrong']);
    assert.ok(runs.every((r) => r.status === 'error' && r.error?.message === ENDED_WITHOUT_RECORD));
    assert.equal(skipped.length, 1);
    assert.equal(path.basename(skipped[0]!.dir), 'empty');
    assert.match(skipped[0]!.reason, /not a probe run folder \(run\.json is missing/);
    assert.match((await readRun(dir)).problem ?? '', /^run\.json is corrupt \(/);
    assert.match((await readRun(wrong)).problem ?? '', /^run\.json is not a run record \(status "exploded"\)/);
    await assert.rejects(readRun(path.join(root, '.regscope', 'runs', 'empty')), /not a probe run folder/);
  });

  it('a run left "running" by a process that is gone is listed as ended; a live one as running', async () => {
    const root = tempRoot();
    const live = await RunWriter.create(root, 'live', PLAN, record('live', { startedAt: '2025-01-02T00:00:00.000Z' }));
    const dead = await RunWriter.create(root, 'dead', PLAN, record('dead', { startedAt: '2025-01-01T00:00:00.000Z' }));
    dead.appendEvent(stepEvent(1));
    await dead.close(); // closed without a final record: the writer is gone
    const orphan = await RunWriter.create(root, 'orphan', PLAN, record('orphan', { startedAt: '2024-01-01T00:00:00.000Z' }));
    // owner.json naming a process that has exited (a short-lived child's pid).
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => child.on('close', r));
    fs.writeFileSync(path.join(orphan.dir, 'owner.json'), JSON.stringify({ pid: child.pid, host: os.hostname() }));
    const runs = await listRuns(root);
    assert.deepEqual(runs.map((r) => [r.id, r.status]), [['live', 'running'], ['dead', 'error'], ['orphan', 'error']]);
    assert.equal(runs[1]!.steps, 1);
    assert.match((await readRun(dead.dir)).problem ?? '', /says running, but no process owns the run/);
    assert.match((await readRun(orphan.dir)).problem ?? '', new RegExp(`process ${child.pid} that wrote it has exited`));
    await live.close();
    await orphan.close();
  });
});
