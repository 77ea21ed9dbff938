/**
 * The remote engines' cost: a probe over SSH (to a real sshd on 127.0.0.1, so the network is
 * out of the picture and what is left is ssh's own set-up, the copy and the streaming) beside
 * the same probe run locally; and a sweep's throughput on the local pool beside a Slurm job
 * array on the loopback cluster (scripts/test-sshd.sh, scripts/test-slurm.sh). Rows say why
 * when sshd or Slurm is not installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const PY = '/usr/bin/python3';
const SCRIPT = path.join(ROOT, 'examples', 'mlp_sgd.py');

export const REMOTE_BENCH_HEADER = ['measure', 'median of 3', 'spread', 'notes'];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timed(args: string[], env: NodeJS.ProcessEnv = process.env): { seconds: number; stdout: string; ok: boolean } {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-remote-bench-'));
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env, timeout: 600_000, maxBuffer: 64 << 20 });
  return { seconds: (performance.now() - t0) / 1000, stdout: r.stdout, ok: r.status === 0 };
}

function row(name: string, runs: { seconds: number }[], notes: string): string[] {
  const s = runs.map((r) => r.seconds);
  return [name, `${median(s).toFixed(2)} s`, `${Math.min(...s).toFixed(2)}–${Math.max(...s).toFixed(2)} s`, notes];
}

export async function remoteBench(): Promise<string[][]> {
  const rows: string[][] = [];
  const probeArgs = ['probe', SCRIPT, '--python', PY, '--steps', '10', '--json'];
  const local = [0, 1, 2].map(() => timed(probeArgs));
  rows.push(row('probe mlp_sgd.py, local Python engine', local, 'default probe, 10 steps'));
  const haveSshd = fs.existsSync('/usr/sbin/sshd');
  if (haveSshd) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-bench-sshd-'));
    execFileSync('bash', [path.join(ROOT, 'scripts', 'test-sshd.sh'), 'start', dir], { encoding: 'utf8' });
    try {
      const ssh = [0, 1, 2].map(() => timed(['probe', SCRIPT, '--engine', 'ssh', '--host', 'regscope-test', '--ssh-config', path.join(dir, 'ssh_config'), '--remote-python', PY, '--steps', '10', '--json']));
      const split = ssh.map((r) => /connect and check ([\d.]+) s, copy ([\d.]+) s/.exec((JSON.parse(r.stdout) as { run: { engineReason: string } }).run.engineReason)!).map((m) => [Number(m[1]), Number(m[2])]);
      rows.push(row('same probe over SSH (sshd on 127.0.0.1)', ssh, `connect + check torch ${median(split.map((x) => x[0]!)).toFixed(2)} s, copy ${median(split.map((x) => x[1]!)).toFixed(2)} s (rsync)`));
      rows.push(['SSH overhead over local', `${(median(ssh.map((r) => r.seconds)) - median(local.map((r) => r.seconds))).toFixed(2)} s`, '', 'set-up, copy, streaming and removing the remote folder']);
    } finally {
      spawnSync('bash', [path.join(ROOT, 'scripts', 'test-sshd.sh'), 'stop', dir]);
    }
  } else rows.push(['probe over SSH', 'not measured', '', 'no sshd here (apt install openssh-server)']);

  const sweepArgs = ['sweep', SCRIPT, '--grid', 'lr=0.01,0.03,0.1', '--grid', 'weight_decay=0,0.001,0.01', '--python', PY, '--remote-python', PY, '--steps', '4', '--metrics', 'hessian', '--max-parallel', '2', '--json'];
  const pool = [0].map(() => timed(sweepArgs.filter((a, i, all) => a !== '--remote-python' && all[i - 1] !== '--remote-python')));
  rows.push([`sweep 3×3 (9 probes), local pool of 2`, `${pool[0]!.seconds.toFixed(1)} s`, '', `${(9 / pool[0]!.seconds * 60).toFixed(1)} probes/min`]);
  if (fs.existsSync('/usr/sbin/slurmctld')) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-bench-slurm-'));
    fs.chmodSync(dir, 0o755);
    const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'test-slurm.sh'), 'start', dir], { encoding: 'utf8' });
    const conf = /SLURM_CONF=(\S+)/.exec(out)![1]!;
    try {
      const array = timed([...sweepArgs.filter((a, i, all) => a !== '--python' && all[i - 1] !== '--python'), '--engine', 'slurm'], { ...process.env, SLURM_CONF: conf });
      rows.push(['sweep 3×3 as a Slurm job array (%2, loopback cluster)', `${array.seconds.toFixed(1)} s`, '', `${(9 / array.seconds * 60).toFixed(1)} probes/min${array.ok ? '' : ' (failed)'}`]);
    } finally {
      spawnSync('bash', [path.join(ROOT, 'scripts', 'test-slurm.sh'), 'stop', dir]);
    }
  } else rows.push(['sweep as a Slurm job array', 'not measured', '', 'no Slurm here (apt install slurmctld slurmd slurm-client munge)']);
  return rows;
}
