// Interpreter discovery against the real interpreters of this machine (no mocks). Where the
// machine has no Python with torch the torch-dependent checks are skipped, except on CI
// (CI=true), which installs python3-torch and must find it.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import {
  clearInterpreterCache, defaultCandidates, findTorchInterpreter, whichSync, type InterpreterCandidate,
} from '../../src/probe/interpreter';
import { groupAlive } from '../../src/probe/pythonProcess';

const hasTorch = (c: InterpreterCandidate) =>
  spawnSync(c.path, [...(c.args ?? []), '-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 }).status === 0;
const runsPython = (c: InterpreterCandidate) =>
  spawnSync(c.path, [...(c.args ?? []), '-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)'], { stdio: 'ignore', timeout: 30_000 }).status === 0;

const machine: InterpreterCandidate[] = [
  ...(process.env['REGSCOPE_TEST_PYTHON'] ? [{ path: process.env['REGSCOPE_TEST_PYTHON'], origin: 'setting' as const }] : []),
  ...defaultCandidates(),
];
const torchPython = machine.find(hasTorch);
/**
 * A real Python without torch: one on this machine, else the torch Python with site-packages
 * turned off (-S -s), which cannot see torch (Debian's python3-torch, or a pip install).
 */
const noTorchPython: InterpreterCandidate | undefined = machine.find((c) => runsPython(c) && !hasTorch(c))
  ?? (torchPython && ((c: InterpreterCandidate) => (runsPython(c) && !hasTorch(c) ? c : undefined))({ ...torchPython, args: ['-S', '-s'], origin: 'PATH', name: 'python-without-site' }));

function needTorch(t: TestContext): InterpreterCandidate | undefined {
  if (torchPython) return torchPython;
  if (process.env['CI'] === 'true') assert.fail('no Python interpreter with torch on this machine (CI installs python3-torch)');
  t.skip('no Python interpreter with torch on this machine: apt install python3-torch (or pip install torch)');
  return undefined;
}

const temps: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-interp-'));
  temps.push(d);
  return d;
}
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

describe('findTorchInterpreter', () => {
  it('skips a Python without torch and picks the one with torch; the reason names both', async (t) => {
    const withTorch = needTorch(t);
    if (!withTorch) return;
    assert.ok(noTorchPython, 'a Python without torch to put first');
    const r = await findTorchInterpreter([noTorchPython, withTorch]);
    assert.ok('found' in r, 'missing' in r ? r.missing : '');
    const f = r.found;
    assert.equal(f.candidate, withTorch);
    assert.ok(path.isAbsolute(f.path) && fs.existsSync(f.path), f.path);
    assert.match(f.torchVersion, /^\d+\.\d+/);
    assert.match(f.pythonVersion, /^3\.\d+/);
    assert.equal(typeof f.cuda, 'boolean');
    assert.match(f.reason, /^[^;]* has torch [^;]*; .*has no torch/);
    assert.match(f.reason, new RegExp(`has torch ${f.torchVersion.replace(/[.+]/g, '\\$&')}`));
    assert.ok(f.reason.includes(noTorchPython.path), f.reason);
    assert.match(f.reason, /has no torch/);
    assert.deepEqual(r.tried.map((x) => [x.path, x.outcome]), [[noTorchPython.path, 'no-torch']]);
  });

  it('on this machine, the default candidates find torch (/usr/bin/python3 when python3 on PATH lacks it)', async (t) => {
    if (!needTorch(t)) return;
    const r = await findTorchInterpreter(defaultCandidates());
    assert.ok('found' in r, 'missing' in r ? r.missing : '');
    const pathPython = whichSync('python3');
    if (pathPython && !hasTorch({ path: pathPython, origin: 'PATH' })) {
      assert.equal(r.found.path, '/usr/bin/python3');
      assert.match(r.found.reason, /^\/usr\/bin\/python3 \(system\) has torch .*; python3 on PATH \(.*\) is Python 3\.\d+\.\d+ and has no torch/);
    }
  });

  it('reports a missing path and a non-Python executable in `tried`, without throwing', async (t) => {
    const withTorch = needTorch(t);
    const candidates: InterpreterCandidate[] = [
      { path: '/nonexistent/bin/python3', origin: 'setting' },
      { path: '/bin/false', origin: 'setting' },
      { path: 'regscope-no-such-command', origin: 'PATH' },
      ...(withTorch ? [withTorch] : []),
    ];
    const r = await findTorchInterpreter(candidates);
    assert.deepEqual(r.tried.map((x) => [x.path, x.outcome]), [
      ['/nonexistent/bin/python3', 'not-found'],
      ['/bin/false', 'failed'],
      ['regscope-no-such-command', 'not-found'],
    ]);
    assert.equal(r.tried[1]!.detail, 'exited with code 1 without answering');
    if (withTorch) assert.ok('found' in r);
  });

  it('with no torch anywhere, says exactly what to install and where', async (t) => {
    if (!noTorchPython) {
      t.skip('no Python on this machine at all');
      return;
    }
    const r = await findTorchInterpreter([noTorchPython, { path: '/nonexistent/python', origin: 'setting' }]);
    assert.ok('missing' in r);
    assert.ok(r.missing.startsWith(`No Python interpreter with torch was found. Tried: ${noTorchPython.path} (Python 3.`), r.missing);
    assert.match(r.missing, /, no torch\), \/nonexistent\/python \(not found\)\. Install PyTorch into one of them: /);
    assert.ok(r.missing.includes(`${noTorchPython.path} -m pip install torch`), r.missing);
    if (fs.existsSync('/etc/debian_version')) assert.match(r.missing, /apt install python3-torch/);
    assert.match(r.missing, /set regscope\.python\.interpreter/);
  });

  it('with no Python at all, says to install Python and torch', async () => {
    const r = await findTorchInterpreter([{ path: '/nonexistent/python3', origin: 'PATH', name: 'python3' }]);
    assert.ok('missing' in r);
    assert.match(r.missing, /^No Python interpreter was found to run the probe\. Tried: \/nonexistent\/python3 \(not found\)\. Install Python 3/);
    const none = await findTorchInterpreter([]);
    assert.ok('missing' in none);
    assert.match(none.missing, /Tried: none/);
  });

  it('times out a candidate that hangs, and kills it', async () => {
    const dir = tempDir();
    const hang = path.join(dir, 'python3');
    const pidFile = path.join(dir, 'pid');
    fs.writeFileSync(hang, `#!/bin/sh\necho $$ > ${pidFile}\nsleep 30 &\nwait\n`, { mode: 0o755 });
    const started = Date.now();
    const r = await findTorchInterpreter([{ path: hang, origin: 'setting' }], { timeoutMs: 400 });
    assert.ok(Date.now() - started < 5000, 'the timeout answered promptly although a grandchild holds the pipes');
    assert.equal(r.tried[0]!.outcome, 'timeout');
    assert.equal(r.tried[0]!.detail, 'did not answer within 400 ms');
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(groupAlive(pid), false, 'the whole group was killed');
  });

  it('caches an interpreter with torch by path and mtime, spawns the real executable behind a shim', async (t) => {
    const withTorch = needTorch(t);
    if (!withTorch || withTorch.args) return;
    clearInterpreterCache();
    const dir = tempDir();
    const shim = path.join(dir, 'python3');
    const log = path.join(dir, 'calls');
    const real = spawnSync(withTorch.path, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim();
    fs.writeFileSync(shim, `#!/bin/sh\necho call >> ${log}\nexec ${real} "$@"\n`, { mode: 0o755 });
    const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0);
    const c: InterpreterCandidate = { path: shim, origin: 'setting' };
    const first = await findTorchInterpreter([c]);
    assert.ok('found' in first);
    assert.equal(first.found.path, real);
    assert.match(first.found.reason, new RegExp(`^${shim.replace(/[.]/g, '\\.')} → ${real.replace(/[.]/g, '\\.')} \\(regscope\\.python\\.interpreter\\) has torch`));
    assert.equal(calls(), 1);
    await findTorchInterpreter([c]);
    assert.equal(calls(), 1, 'second search answered from the cache');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(shim, later, later);
    await findTorchInterpreter([c]);
    assert.equal(calls(), 2, 'a changed interpreter is checked again');
    await findTorchInterpreter([c], { useCache: false });
    assert.equal(calls(), 3);
  });

  it('checks the same interpreter once when it is listed twice (/bin/python3 is /usr/bin/python3 where /bin links to /usr/bin)', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'calls');
    const fake = path.join(dir, 'python3');
    fs.writeFileSync(fake, `#!/bin/sh\necho call >> ${log}\nexit 3\n`, { mode: 0o755 });
    fs.symlinkSync(dir, path.join(dir, 'link'));
    const r = await findTorchInterpreter([
      { path: fake, origin: 'PATH' }, { path: path.join(dir, 'link', 'python3'), origin: 'system' }, { path: fake, origin: 'setting' },
    ]);
    assert.equal(r.tried.length, 1);
    assert.equal(fs.readFileSync(log, 'utf8'), 'call\n');
  });
});

describe('defaultCandidates', () => {
  it('resolves python3 then python on PATH (executable files only), then system locations', () => {
    const a = tempDir();
    const b = tempDir();
    fs.writeFileSync(path.join(a, 'python3'), 'not executable', { mode: 0o644 });
    fs.mkdirSync(path.join(a, 'python')); // a folder, not a file
    fs.writeFileSync(path.join(b, 'python3'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(b, 'python'), '#!/bin/sh\n', { mode: 0o755 });
    const env = { PATH: ['relative/dir', a, b].join(path.delimiter) };
    const c = defaultCandidates(env, 'linux');
    assert.deepEqual(c.slice(0, 2), [
      { path: path.join(b, 'python3'), origin: 'PATH', name: 'python3' },
      { path: path.join(b, 'python'), origin: 'PATH', name: 'python' },
    ]);
    for (const s of c.slice(2)) {
      assert.equal(s.origin, 'system');
      assert.ok(['/usr/bin/python3', '/usr/local/bin/python3', '/opt/homebrew/bin/python3'].includes(s.path));
      assert.ok(fs.existsSync(s.path));
    }
    assert.equal(defaultCandidates({ PATH: '' }, 'linux').filter((x) => x.origin === 'PATH').length, 0);
  });
});
