import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadPythonParser } from '../../../src/host/parserLoader';
import type { PythonParser } from '../../../src/analysis/syntax/pythonParser';
import { startSshProbe } from '../../../src/probe/remote/sshEngine';
import { ProbeService } from '../../../src/lsp/probeService';
import { DEFAULT_EDITOR_SETTINGS } from '../../../src/lsp/settingsSchema';
import type { ProbeEventParams } from '../../../src/protocol';
import { pathToFileURL } from 'node:url';
import { dropConnections, onHost, sshdSkip, startSshd, type TestSshd } from '../../support/testSshd';
import { ROOT, torchSkip, trainScript, workspace } from '../probeScripts';

/** The ssh engine against a real sshd on 127.0.0.1 (scripts/test-sshd.sh), the remote Python being /usr/bin/python3 with torch. */
const CLI = path.join(ROOT, 'dist', 'cli.js');
const skip = sshdSkip() || torchSkip();

describe('the ssh engine against a real sshd', { skip }, () => {
  let sshd: TestSshd;
  let parser: PythonParser;
  before(async () => { sshd = startSshd(); parser = await loadPythonParser(); });
  after(() => sshd?.stop());
  const cli = (args: string[], cwd: string) => spawnSync(process.execPath, [CLI, 'probe', ...args, '--engine', 'ssh', '--host', sshd.host, '--ssh-config', sshd.config, '--remote-python', '/usr/bin/python3'], { cwd, encoding: 'utf8', timeout: 180_000 });
  const leftovers = (runId: string): string[] => onHost(sshd, 'ps -eo args').split('\n').filter((l) => l.includes(runId) && !l.includes('ps -eo'));

  it('a path with spaces, quotes and $(…) reaches the remote harness as it is; the imported module goes along; nothing is left behind', () => {
    const marker = path.join(os.tmpdir(), `regscope-injected-${process.pid}`);
    const dir = workspace({
      [`it's a $(touch ${marker}) "dir"/helpers/__init__.py`]: '',
      [`it's a $(touch ${marker}) "dir"/helpers/scale.py`]: 'FACTOR = 1.0\n',
      [`it's a $(touch ${marker}) "dir"/train me.py`]: trainScript({ prelude: 'from helpers.scale import FACTOR' }),
    });
    const scriptDir = path.join(dir, `it's a $(touch ${marker}) "dir"`);
    const r = cli(['train me.py', '--steps', '4', '--metrics', 'hessian', '--json'], scriptDir);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!fs.existsSync(marker), 'no shell anywhere ran the $(…) in the path');
    const { runDir, run: record } = JSON.parse(r.stdout) as { runDir: string; run: { engine: string; engineReason: string; status: string; device: string } };
    assert.equal(record.engine, 'ssh');
    assert.equal(record.status, 'ok');
    assert.match(record.engineReason, /^ssh: regscope-test, \/usr\/bin\/python3 \(Python 3\.\d+\.\d+, torch 1\.13[^)]*\); 3 file\(s\), \d+ KiB copied by rsync to \S.*\/\.cache\/regscope\/runs\/.+ \(connect and check [\d.]+ s, copy [\d.]+ s\)$/);
    const events = fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; name?: string });
    assert.ok(events.some((e) => e.type === 'metric' && e.name === 'hessian.top'));
    assert.match(record.device, /^cpu: /, 'the remote device, as the harness saw it');
    const runId = path.basename(runDir);
    assert.equal(onHost(sshd, `ls -A .cache/regscope/runs | grep -c ${runId} || true`).trim(), '0', 'the remote run folder is removed');
  });

  it('without rsync the files go as a tar stream through the same ssh, and the probe runs the same', () => {
    const dir = workspace({ 'pkg/__init__.py': '', 'pkg/util.py': 'X = 1\n', 'train.py': trainScript({ prelude: 'from pkg.util import X' }) });
    const r = spawnSync(process.execPath, [CLI, 'probe', 'train.py', '--engine', 'ssh', '--host', sshd.host, '--ssh-config', sshd.config, '--remote-python', '/usr/bin/python3', '--steps', '2', '--metrics', 'weights', '--json'],
      { cwd: dir, encoding: 'utf8', timeout: 180_000, env: { ...process.env, REGSCOPE_SSH_COPY: 'tar' } });
    assert.equal(r.status, 0, r.stderr);
    const { run } = JSON.parse(r.stdout) as { run: { engineReason: string; status: string } };
    assert.equal(run.status, 'ok');
    assert.match(run.engineReason, /3 file\(s\), \d+ KiB copied by tar over ssh to /);
  });

  it('a torchrun-style script on two remote ranks: rank 0 reports for a world of 2', async () => {
    const dir = workspace({ 'ddp.py': fs.readFileSync(path.join(ROOT, 'examples', 'ddp_mlp.py'), 'utf8') });
    const probe = await startSshProbe(parser, {
      script: path.join(dir, 'ddp.py'), args: [], storeRoot: dir, steps: 2, metrics: ['hessian'],
      host: sshd.host, sshConfig: sshd.config, remotePython: '/usr/bin/python3', nprocPerNode: 2,
    });
    const done = await probe.done;
    assert.equal(done.record.status, 'ok', JSON.stringify(done.record.error));
    assert.equal(done.summary.hello?.worldSize, 2);
  });

  it('a host that refuses and a host key that does not match: exit 2 with ssh’s own reason, no run stored', () => {
    const dir = workspace({ 'train.py': trainScript() });
    const config = fs.readFileSync(sshd.config, 'utf8');
    const closed = path.join(sshd.dir, 'closed_config');
    fs.writeFileSync(closed, config.replace(/Port \d+/, 'Port 9'));
    const refused = spawnSync(process.execPath, [CLI, 'probe', 'train.py', '--engine', 'ssh', '--host', sshd.host, '--ssh-config', closed], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /cannot reach regscope-test over SSH: .*Connection refused/);
    const strangers = path.join(sshd.dir, 'stranger_config');
    fs.writeFileSync(path.join(sshd.dir, 'empty_known_hosts'), '');
    fs.writeFileSync(strangers, config.replace(/UserKnownHostsFile \S+/, `UserKnownHostsFile ${path.join(sshd.dir, 'empty_known_hosts')}`));
    const unknown = spawnSync(process.execPath, [CLI, 'probe', 'train.py', '--engine', 'ssh', '--host', sshd.host, '--ssh-config', strangers], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /cannot reach regscope-test over SSH: Host key verification failed/);
    assert.ok(!fs.existsSync(path.join(dir, '.regscope', 'runs')) || fs.readdirSync(path.join(dir, '.regscope', 'runs')).length === 0);
    const injected = spawnSync(process.execPath, [CLI, 'probe', 'train.py', '--engine', 'ssh', '--host', '-oProxyCommand=touch /tmp/x'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(injected.status, 2);
    assert.match(injected.stderr, /"-oProxyCommand=touch \/tmp\/x" is not a host name/);
  });

  it('cancel stops the remote harness and everything in its group; the run says cancelled', async () => {
    // The script starts a child of its own: it must go with the harness.
    const dir = workspace({ 'train.py': trainScript({ hook: 'time.sleep(0.2)', prelude: 'import subprocess\nsubprocess.Popen(["sleep", "321"])' }) });
    let resolveStep!: () => void;
    const stepped = new Promise<void>((r) => { resolveStep = r; });
    const probe = await startSshProbe(parser, {
      script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 400, metrics: ['weights'],
      host: sshd.host, sshConfig: sshd.config, remotePython: '/usr/bin/python3',
    }, { event: (e) => { if (e.type === 'step' && e.step >= 2) resolveStep(); } });
    const sleeping = (): string[] => onHost(sshd, 'ps -eo args').split('\n').filter((l) => l.trim() === 'sleep 321');
    await stepped;
    assert.ok(leftovers(probe.runId).length > 0, 'the harness runs on the host');
    await probe.cancel();
    const done = await probe.done;
    assert.equal(done.record.status, 'cancelled');
    assert.equal(done.record.error?.kind, 'cancelled');
    assert.deepEqual(leftovers(probe.runId), [], 'no remote process left behind');
    assert.deepEqual(sleeping(), [], 'the script’s own child is stopped too');
  });

  it('a connection dropped mid-run: a clear connection error, the events so far kept, the remote harness stopped', async () => {
    const dir = workspace({ 'train.py': trainScript({ hook: 'time.sleep(0.2)' }) });
    let resolveStep!: () => void;
    const stepped = new Promise<void>((r) => { resolveStep = r; });
    const probe = await startSshProbe(parser, {
      script: path.join(dir, 'train.py'), args: [], storeRoot: dir, steps: 400, metrics: ['weights'],
      host: sshd.host, sshConfig: sshd.config, remotePython: '/usr/bin/python3', keepRemote: true,
    }, { event: (e) => { if (e.type === 'step' && e.step >= 3) resolveStep(); } });
    await stepped;
    assert.ok(dropConnections(sshd) > 0);
    const done = await probe.done;
    assert.equal(done.record.status, 'error');
    assert.equal(done.record.error?.kind, 'connection');
    assert.match(done.record.error!.message, /^the connection to regscope-test was lost after \d+ step\(s\) \(ssh: .+\); the events received before are kept$/);
    assert.ok(done.record.steps >= 3, `${done.record.steps} steps kept`);
    const stored = fs.readFileSync(path.join(probe.runDir, 'events.jsonl'), 'utf8');
    assert.match(stored, /"type":"step"/);
    // The runner saw its stdin close and stopped the harness (within its 3 s grace).
    const deadline = Date.now() + 8000;
    while (leftovers(probe.runId).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(leftovers(probe.runId), []);
    assert.ok(done.record.warnings.some((w) => /was kept \(--keep-remote\)/.test(w)));
    onHost(sshd, `rm -rf .cache/regscope/runs/${probe.runId}`);
  });

  it('from the editor: the remote command’s host and the regscope.remote settings reach the ssh engine', async () => {
    const dir = workspace({ 'train.py': trainScript() });
    const events: ProbeEventParams[] = [];
    const refreshed: string[] = [];
    const service = new ProbeService(parser, { event: (p) => events.push(p), refresh: (u) => refreshed.push(u), log: () => undefined }, () => [pathToFileURL(dir).toString()],
      () => undefined, () => 'auto', () => '',
      () => ({ ...DEFAULT_EDITOR_SETTINGS.remote, python: '/usr/bin/python3', sshConfig: sshd.config, gpus: '' }));
    const started = await service.start({ uri: pathToFileURL(path.join(dir, 'train.py')).toString(), engine: 'ssh', host: sshd.host, steps: 2, metrics: ['weights'] });
    assert.match(started.engineReason, /^ssh: regscope-test, \/usr\/bin\/python3/);
    const deadline = Date.now() + 120_000;
    while (!events.some((e) => e.runId === started.runId && e.event.type === 'done') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(events.filter((e) => e.event.type === 'done').at(-1)?.event.type === 'done' && (events.filter((e) => e.event.type === 'done').at(-1)!.event as { status: string }).status, 'ok');
    await assert.rejects(service.start({ uri: pathToFileURL(path.join(dir, 'train.py')).toString(), engine: 'ssh' }), /the ssh engine needs a host/);
  });
});
