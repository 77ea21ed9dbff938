// The process layer under a fake harness: a `regscope_probe` package written here that speaks the
// event contract and then misbehaves on purpose (hangs, ignores SIGTERM, leaves processes behind,
// writes garbage). Real processes, no mocks; the real harness is tested in pythonRuntime.test.ts.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MalformedLine, ProbeEvent } from '../../src/protocol';
import { groupAlive, startHarness, type HarnessOptions } from '../../src/probe/pythonProcess';

const PYTHON = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'pass']).status === 0) ?? 'python3';
const ROOT = path.resolve(__dirname, '..', '..', '..');
const posix = process.platform !== 'win32';

const FAKE_HARNESS = String.raw`
import json, os, signal, subprocess, sys, time
argv = sys.argv[1:]
plan_path = argv[argv.index('--plan') + 1]
sep = argv.index('--')
script, script_args = argv[sep + 1], argv[sep + 2:]
with open(plan_path) as f:
    case = json.load(f)['case']
T0 = time.monotonic()

def emit(type_, **fields):
    event = {'v': 1, 'type': type_, 't': round(time.monotonic() - T0, 4)}
    event.update(fields)
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()

def done(status, steps=0):
    emit('done', status=status, steps=steps, seconds=0.1, cost={'hvps': 0, 'passes': 0})

def sleeper():
    """A grandchild that ignores SIGTERM and holds the stdout and stderr pipes; returns once it ignores SIGTERM."""
    ready = plan_path + '.ready'
    if os.path.exists(ready):
        os.remove(ready)
    code = 'import signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nopen(sys.argv[1], "w").close()\ntime.sleep(60)'
    child = subprocess.Popen([sys.executable, '-c', code, ready])
    while not os.path.exists(ready):
        time.sleep(0.005)
    return child

emit('hello', harness='fake', python='3', torch='none', interpreter=sys.executable, pid=os.getpid(),
     device={'type': 'cpu', 'name': 'cpu', 'count': 1}, rank=0, worldSize=1, hvpMethod='none')

if case == 'stream':
    emit('warning', code='argv', message=json.dumps({
        'script': script, 'args': script_args, 'cwd': os.getcwd(), 'path': sys.path,
        'unbuffered': os.environ.get('PYTHONUNBUFFERED'), 'encoding': os.environ.get('PYTHONIOENCODING'),
        'keep': os.environ.get('REGSCOPE_TEST_VAR')}))
    for i in range(1, 301):
        emit('step', step=i, loss=1.0 / i, lr=0.1, gradNorm=None, seconds=0.001)
        if i % 100 == 0:
            sys.stderr.write('script output %d \u03bb\n' % i)
            sys.stderr.flush()
    done('ok', 300)
elif case == 'garbage':
    sys.stdout.write('Epoch 1 loss=0.5\n')
    emit('telemetry', x=1)
    sys.stdout.write(json.dumps({'v': 2, 'type': 'step'}) + '\r\n')
    emit('step', step=1, loss=None, lr=0.1, gradNorm=1.0, seconds=0.01)
    sys.stdout.write('{"v":1,"type":"done"')  # cut off by the exit
    sys.stdout.flush()
    os._exit(1)
elif case == 'graceful':
    # Like the real harness: SIGTERM becomes an error event and a done event.
    def on_term(*_):
        emit('error', kind='cancelled', message='the probe was stopped')
        done('cancelled')
        os._exit(1)
    signal.signal(signal.SIGTERM, on_term)
    while True:
        time.sleep(0.02)
elif case == 'stubborn':
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = sleeper()
    emit('warning', code='grandchild', message=str(child.pid))
    while True:
        time.sleep(0.02)
elif case == 'leftover':
    child = sleeper()
    emit('warning', code='grandchild', message=str(child.pid))
    done('ok')
    os._exit(0)
elif case == 'escaped':
    # A grandchild in a session of its own (out of reach of the group) keeps the pipes open.
    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'], start_new_session=True)
    emit('warning', code='grandchild', message=str(child.pid))
    done('ok')
    os._exit(0)
elif case == 'exit3':
    sys.stderr.write('bad usage\n')
    sys.exit(3)
`;

let work: string;
let harnessDir: string;
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-proc-'));
  harnessDir = path.join(work, 'harness');
  fs.mkdirSync(path.join(harnessDir, 'regscope_probe'), { recursive: true });
  fs.writeFileSync(path.join(harnessDir, 'regscope_probe', '__init__.py'), '');
  fs.writeFileSync(path.join(harnessDir, 'regscope_probe', '__main__.py'), FAKE_HARNESS);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

interface Collected {
  readonly events: ProbeEvent[];
  readonly malformed: MalformedLine[];
  stderr: string;
}

function run(kase: string, over: Partial<HarnessOptions> = {}) {
  const planPath = path.join(work, `plan-${kase}.json`);
  fs.writeFileSync(planPath, JSON.stringify({ case: kase }));
  const got: Collected = { events: [], malformed: [], stderr: '' };
  const handle = startHarness({
    interpreter: PYTHON,
    harnessDir,
    planPath,
    script: path.join(work, 'train.py'),
    args: [],
    cwd: work,
    timeoutMs: 20_000,
    killGraceMs: 400,
    onEvent: (e) => got.events.push(e),
    onMalformed: (m) => got.malformed.push(m),
    onStderr: (s) => { got.stderr += s; },
    ...over,
  });
  return { handle, got };
}

/** Running, not counting zombies (this container's init does not reap orphans). */
function alive(pid: number): boolean {
  if (process.platform === 'linux') {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function grandchildOf(got: Collected): number {
  const w = got.events.find((e) => e.type === 'warning' && e.code === 'grandchild');
  assert.ok(w && w.type === 'warning', 'the fake harness reported its grandchild');
  return Number(w.message);
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

describe('startHarness', () => {
  it('streams events in order, passes script output, args, cwd and environment', async () => {
    const { handle, got } = run('stream', {
      args: ['--lr', '0.1', 'two words', 'λ'],
      env: { ...process.env, PYTHONPATH: '/existing/path', REGSCOPE_TEST_VAR: 'kept' },
    });
    assert.equal(typeof handle.pid, 'number');
    const exit = await handle.done;
    assert.deepEqual({ code: exit.code, signal: exit.signal, reason: exit.reason }, { code: 0, signal: null, reason: 'exited' });
    assert.deepEqual(got.malformed, []);
    const types = got.events.map((e) => e.type);
    assert.equal(types[0], 'hello');
    assert.equal(types.at(-1), 'done');
    const steps = got.events.filter((e) => e.type === 'step').map((e) => (e.type === 'step' ? e.step : 0));
    assert.deepEqual(steps, Array.from({ length: 300 }, (_, i) => i + 1));
    assert.equal(got.stderr, 'script output 100 λ\nscript output 200 λ\nscript output 300 λ\n');
    const argv = got.events.find((e) => e.type === 'warning' && e.code === 'argv');
    assert.ok(argv && argv.type === 'warning');
    const info = JSON.parse(argv.message) as { script: string; args: string[]; cwd: string; path: string[]; unbuffered: string; encoding: string; keep: string };
    assert.equal(info.script, path.join(work, 'train.py'));
    assert.deepEqual(info.args, ['--lr', '0.1', 'two words', 'λ']);
    assert.equal(fs.realpathSync(info.cwd), fs.realpathSync(work));
    assert.ok(info.path.indexOf(harnessDir) >= 0 && info.path.indexOf(harnessDir) < info.path.indexOf('/existing/path'), info.path.join(':'));
    assert.equal(info.unbuffered, '1');
    assert.equal(info.encoding, 'utf-8');
    assert.equal(info.keep, 'kept');
  });

  it('reports garbage on stdout as malformed lines, in order with the events', async () => {
    const { handle, got } = run('garbage');
    const exit = await handle.done;
    assert.equal(exit.code, 1);
    assert.equal(exit.reason, 'exited');
    assert.deepEqual(got.events.map((e) => e.type), ['hello', 'step']);
    assert.deepEqual(got.malformed.map((m) => m.reason.replace(/ \(.*$/, '')), [
      'not JSON', 'unknown event type "telemetry"', 'unsupported event version 2', 'not JSON',
    ]);
    assert.equal(got.malformed[0]!.line, 'Epoch 1 loss=0.5');
    assert.equal(got.malformed[3]!.line, '{"v":1,"type":"done"');
  });

  it('passes on a non-zero exit code', async () => {
    const { handle, got } = run('exit3');
    const exit = await handle.done;
    assert.deepEqual([exit.code, exit.reason], [3, 'exited']);
    assert.equal(got.stderr, 'bad usage\n');
  });

  it('cancel(): SIGTERM first, so the harness reports and ends on its own', async () => {
    const { handle, got } = run('graceful');
    await until(() => got.events.length > 0, 5000);
    const exit = await handle.cancel();
    assert.equal(exit.reason, 'cancelled');
    assert.equal(exit.code, 1);
    assert.ok(exit.seconds < 5);
    assert.deepEqual(got.events.map((e) => e.type), ['hello', 'error', 'done']);
    assert.equal(await handle.done, exit, 'done resolves once, with the same answer');
    assert.equal(await handle.cancel(), exit, 'a second cancel changes nothing');
    if (posix) assert.equal(groupAlive(handle.pid!), false);
  });

  it('timeout: a process that ignores SIGTERM, and its grandchild, are killed with their group', { skip: !posix && 'process groups are POSIX' }, async () => {
    const { handle, got } = run('stubborn', { timeoutMs: 800 });
    const exit = await handle.done;
    assert.equal(exit.reason, 'timeout');
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(exit.seconds >= 0.8 && exit.seconds < 6, String(exit.seconds));
    const grandchild = grandchildOf(got);
    assert.equal(alive(handle.pid!), false, 'the harness is gone');
    assert.equal(alive(grandchild), false, 'the grandchild that ignored SIGTERM is gone');
    assert.equal(groupAlive(handle.pid!), false, 'nothing is left in the group');
    const ps = spawnSync('ps', ['-o', 'pid=,stat=', '-g', String(handle.pid)], { encoding: 'utf8' });
    const running = ps.stdout.split('\n').filter((l) => l.trim() && !/\bZ/.test(l));
    assert.deepEqual(running, [], `ps still lists: ${ps.stdout}`);
  });

  it('cancel() of a process that ignores SIGTERM ends in SIGKILL after the grace period', { skip: !posix && 'process groups are POSIX' }, async () => {
    const { handle, got } = run('stubborn', { killGraceMs: 300 });
    await until(() => got.events.length >= 2, 5000);
    const started = Date.now();
    const exit = await handle.cancel();
    assert.equal(exit.reason, 'cancelled');
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(Date.now() - started >= 300 && Date.now() - started < 4000);
    assert.equal(alive(grandchildOf(got)), false);
  });

  it('a harness that exits leaving a process that holds its pipes still ends, and the leftover is stopped', { skip: !posix && 'process groups are POSIX' }, async () => {
    const { handle, got } = run('leftover', { killGraceMs: 300 });
    const exit = await handle.done;
    assert.deepEqual([exit.code, exit.reason], [0, 'exited']);
    assert.ok(exit.seconds < 5);
    assert.equal(got.events.at(-1)?.type, 'done');
    assert.equal(alive(grandchildOf(got)), false);
  });

  it('a process that left the group and holds the pipes does not keep the run from ending', { skip: !posix && 'process groups are POSIX' }, async () => {
    const { handle, got } = run('escaped', { killGraceMs: 200 });
    const exit = await handle.done;
    const escaped = grandchildOf(got);
    try {
      assert.deepEqual([exit.code, exit.reason], [0, 'exited']);
      assert.ok(exit.seconds < 4, String(exit.seconds));
      assert.equal(got.events.at(-1)?.type, 'done');
    } finally {
      process.kill(escaped, 'SIGKILL'); // out of the harness's reach by design: the test cleans it up
    }
  });

  it('an interpreter or folder that does not exist is a spawn error, not an exception', async () => {
    const missing = run('stream', { interpreter: '/nonexistent/bin/python3' });
    assert.equal(missing.handle.pid, undefined);
    const e1 = await missing.handle.done;
    assert.equal(e1.reason, 'spawn-error');
    assert.match(e1.spawnError ?? '', /^cannot start the Python interpreter \/nonexistent\/bin\/python3: no such file/);
    assert.deepEqual([e1.code, e1.signal], [null, null]);
    assert.equal((await missing.handle.cancel()).reason, 'spawn-error');

    const notPython = run('stream', { interpreter: work });
    const e2 = await notPython.handle.done;
    assert.equal(e2.reason, 'spawn-error');
    assert.match(e2.spawnError ?? '', /permission denied|EACCES/);

    const noCwd = run('stream', { cwd: path.join(work, 'missing-folder') });
    const e3 = await noCwd.handle.done;
    assert.equal(e3.reason, 'spawn-error');
    assert.equal(e3.spawnError, `the working folder ${path.join(work, 'missing-folder')} does not exist`);
    assert.deepEqual(noCwd.got.events, []);
  });

  it('an exception in a callback does not stop the stream; it is reported once', async () => {
    let calls = 0;
    const { handle } = run('stream', {
      onEvent: () => {
        calls++;
        throw new Error('consumer bug');
      },
    });
    const exit = await handle.done;
    assert.equal(exit.reason, 'exited');
    assert.equal(calls, 303);
    assert.match(exit.handlerError ?? '', /^consumer bug/);
  });

  it('kills the group when the parent process exits', { skip: !posix && 'process groups are POSIX' }, async () => {
    const planPath = path.join(work, 'plan-parent.json');
    fs.writeFileSync(planPath, JSON.stringify({ case: 'stubborn' }));
    const parentScript = path.join(work, 'parent.ts');
    fs.writeFileSync(parentScript, `
      import { startHarness } from ${JSON.stringify(path.join(ROOT, 'server', 'src', 'probe', 'pythonProcess.ts'))};
      const h = startHarness({
        interpreter: ${JSON.stringify(PYTHON)}, harnessDir: ${JSON.stringify(harnessDir)}, planPath: ${JSON.stringify(planPath)},
        script: 'train.py', args: [], cwd: ${JSON.stringify(work)}, timeoutMs: 60_000,
        onEvent: (e) => {
          if (e.type === 'warning' && e.code === 'grandchild') {
            console.log(JSON.stringify({ pid: h.pid, grandchild: Number(e.message) }));
            process.exit(0);
          }
        },
        onMalformed: () => undefined, onStderr: () => undefined,
      });
    `);
    const parent = spawn(process.execPath, ['--import', 'tsx', parentScript], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((r) => parent.on('close', r));
    assert.equal(code, 0);
    const { pid, grandchild } = JSON.parse(out) as { pid: number; grandchild: number };
    assert.ok(await until(() => !alive(pid) && !alive(grandchild), 3000), 'the harness and its grandchild died with the parent');
    assert.equal(groupAlive(pid), false);
  });
});

// Every run above has ended; nothing of theirs may be left behind.
after(() => {
  const ps = spawnSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' }).stdout;
  const left = ps.split('\n').filter((l) => l.includes(harnessDir) || (l.includes('signal.SIG_IGN') && !/\sZ/.test(l)));
  assert.deepEqual(left, [], 'processes left behind');
});

