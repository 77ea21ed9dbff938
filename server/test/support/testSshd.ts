/**
 * A real sshd on 127.0.0.1 for the ssh engine's tests (scripts/test-sshd.sh): its own host key,
 * a client key, and an ssh_config whose alias `regscope-test` logs in as the current user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './runFixtures';

export interface TestSshd {
  readonly dir: string;
  readonly config: string;
  readonly host: 'regscope-test';
  readonly port: number;
  /** The pid of the listening sshd (its children serve the connections). */
  readonly pid: number;
  stop(): void;
}

/** Skip reason when sshd or rsync is missing; under CI that is a failure. */
export function sshdSkip(): string | false {
  const missing = ['/usr/sbin/sshd', '/usr/bin/ssh'].filter((p) => !fs.existsSync(p));
  if (missing.length === 0) return false;
  if (process.env['CI'] === 'true') throw new Error(`missing ${missing.join(', ')}: CI must install openssh-server (scripts/setup-system.sh)`);
  return 'no sshd here (apt install openssh-server)';
}

export function startSshd(): TestSshd {
  // Short and plain: the path is written into ssh config files.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-sshd-'));
  const script = path.join(ROOT, 'scripts', 'test-sshd.sh');
  const out = execFileSync('bash', [script, 'start', dir], { encoding: 'utf8', timeout: 60_000 });
  const port = Number(/port=(\d+)/.exec(out)?.[1]);
  const pid = Number(fs.readFileSync(path.join(dir, 'sshd.pid'), 'utf8').trim());
  return {
    dir, config: path.join(dir, 'ssh_config'), host: 'regscope-test', port, pid,
    stop: () => { spawnSync('bash', [script, 'stop', dir], { stdio: 'ignore', timeout: 30_000 }); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Runs a command on the test host and returns its stdout. */
export function onHost(sshd: TestSshd, command: string): string {
  return execFileSync('ssh', ['-F', sshd.config, sshd.host, command], { encoding: 'utf8', timeout: 30_000 });
}

/** Kills the sshd processes serving open connections (not the listener): a dropped link. */
export function dropConnections(sshd: TestSshd): number {
  const r = spawnSync('ps', ['-o', 'pid=', '--ppid', String(sshd.pid)], { encoding: 'utf8' });
  const pids = r.stdout.split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  return pids.length;
}
