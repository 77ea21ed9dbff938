/**
 * The system OpenSSH client, as the user has it configured (their ~/.ssh/config, keys, agent and
 * known_hosts): we never handle a password (BatchMode) and host keys are checked as ssh checks
 * them. Every call is a process started without a local shell; the remote command is one string
 * of single-quoted words (shellQuote.ts).
 */
import { execFile, spawn } from 'node:child_process';
import { remoteCommand } from './shellQuote';

export { checkHost } from './sshConfig';

export interface SshTarget {
  /** `user@host`, `host` or an alias from the ssh configuration. */
  readonly host: string;
  /** An ssh configuration file other than the user's (`ssh -F`). */
  readonly configFile?: string;
}

export interface SshResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** ssh's exit status for its own failures (connection, authentication, host key). */
export const SSH_FAILED = 255;

/** Options for every connection: no prompts, a dead link noticed within ~15 s. */
export function sshOptions(target: SshTarget): string[] {
  return [
    ...(target.configFile ? ['-F', target.configFile] : []),
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=15',
    '-o', 'ServerAliveInterval=5',
    '-o', 'ServerAliveCountMax=3',
  ];
}

/** `ssh [options] HOST 'word' 'word' …` as an argv for spawn. */
export function sshArgv(target: SshTarget, remote: readonly string[], extra: readonly string[] = []): string[] {
  return [...sshOptions(target), ...extra, target.host, remoteCommand(remote)];
}

/** Runs one remote command to its end (stdin empty unless `input`). */
export function sshRun(target: SshTarget, remote: readonly string[], opts: { input?: Buffer; timeoutMs?: number } = {}): Promise<SshResult> {
  return new Promise((resolve) => {
    const child = execFile('ssh', sshArgv(target, remote), { encoding: 'utf8', maxBuffer: 16 << 20, timeout: opts.timeoutMs ?? 60_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : null) : 0;
      const why = err && (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the ssh client is not installed (OpenSSH: apt-get install openssh-client)\n' : '';
      resolve({ code, stdout, stderr: why + stderr });
    });
    if (opts.input) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Runs a local program (no shell) to its end; for rsync and tar. */
export function localRun(program: string, args: readonly string[], opts: { timeoutMs?: number; stdoutTo?: NodeJS.WritableStream } = {}): Promise<SshResult> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    child.on('error', (e) => { clearTimeout(timer); resolve({ code: null, stdout, stderr: `${program}: ${e.message}` }); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** The last meaningful line of ssh's own complaints, for an error message. */
export function sshComplaint(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^Warning: Permanently added/.test(l));
  return lines.at(-1) ?? 'no message';
}
