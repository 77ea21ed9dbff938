/**
 * A real single-node Slurm on 127.0.0.1 for the slurm engine's tests (scripts/test-slurm.sh):
 * munged, slurmctld and slurmd with their own configuration; SLURM_CONF points the clients at it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './runFixtures';

export interface TestSlurm {
  readonly dir: string;
  readonly conf: string;
  /** The environment the clients (sbatch, squeue, scancel) need. */
  readonly env: NodeJS.ProcessEnv;
  stop(): void;
}

export function slurmSkip(): string | false {
  const missing = ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/bin/sbatch', '/usr/sbin/munged'].filter((p) => !fs.existsSync(p));
  if (missing.length === 0) return false;
  if (process.env['CI'] === 'true') throw new Error(`missing ${missing.join(', ')}: CI must install slurmctld slurmd slurm-client munge (scripts/setup-system.sh)`);
  return 'no Slurm here (apt install slurmctld slurmd slurm-client munge)';
}

export function startSlurm(): TestSlurm {
  // At most 90 characters (munge's socket path), mode 0755 (munged checks the folders above its socket).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-slurm-'));
  fs.chmodSync(dir, 0o755);
  const script = path.join(ROOT, 'scripts', 'test-slurm.sh');
  const out = execFileSync('bash', [script, 'start', dir], { encoding: 'utf8', timeout: 120_000 });
  const conf = /SLURM_CONF=(\S+)/.exec(out)?.[1] ?? path.join(dir, 'slurm.conf');
  return {
    dir, conf, env: { ...process.env, SLURM_CONF: conf },
    stop: () => { spawnSync('bash', [script, 'stop', dir], { stdio: 'ignore', timeout: 60_000 }); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Runs a Slurm client command against the test cluster. */
export function slurmCommand(slurm: TestSlurm, argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: slurm.env, timeout: 30_000 });
}
