import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const CODE_SERVER_ENTRY = path.join(ROOT, '.cache', 'code-server-4.100.3', 'node_modules', 'code-server', 'out', 'node', 'entry.js');

export function codeServerInstalled(): boolean {
  return fs.existsSync(CODE_SERVER_ENTRY) && fs.existsSync(path.join(ROOT, '.cache', 'code-server-4.100.3', '.installed'));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** A real VS Code (code-server 4.100.3, VS Code 1.100) with the packaged extension installed in a clean profile. */
export class CodeServer {
  private proc: ChildProcess | undefined;
  readonly log: string[] = [];
  port = 0;

  constructor(readonly home: string, readonly vsix: string) {}

  get userDataDir(): string {
    return path.join(this.home, 'user-data');
  }

  get extensionsDir(): string {
    return path.join(this.home, 'extensions');
  }

  installExtension(): void {
    const r = spawnSync(process.execPath, [CODE_SERVER_ENTRY, '--extensions-dir', this.extensionsDir, '--user-data-dir', this.userDataDir, '--install-extension', this.vsix], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`installing the .vsix failed: ${r.stdout}\n${r.stderr}`);
  }

  writeUserSettings(settings: Record<string, unknown>): void {
    const dir = path.join(this.userDataDir, 'User');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify(settings, null, 2));
  }

  async start(folder: string): Promise<string> {
    this.port = await freePort();
    this.proc = spawn(process.execPath, [
      CODE_SERVER_ENTRY, '--auth', 'none', '--bind-addr', `127.0.0.1:${this.port}`, '--disable-telemetry', '--disable-update-check',
      '--disable-workspace-trust', '--user-data-dir', this.userDataDir, '--extensions-dir', this.extensionsDir, folder,
    ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PASSWORD: undefined } });
    this.proc.stdout!.on('data', (d: Buffer) => this.log.push(String(d)));
    this.proc.stderr!.on('data', (d: Buffer) => this.log.push(String(d)));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.port}/healthz`);
        if (res.ok) return `http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(folder)}`;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`code-server did not start:\n${this.log.join('')}`);
  }

  async stop(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc!.once('exit', r));
    this.proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}
