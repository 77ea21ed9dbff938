/**
 * The hosts **RegScope: Probe on Remote Host…** offers: regscope.remote.host, regscope.remote.hosts
 * and the `Host` aliases of ~/.ssh/config (and the files it includes), then "Other host…".
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkHost, sshConfigHosts } from '../../server/src/probe/remote/sshConfig';

/** Aliases from an ssh config file and its includes (globs in the last path part only). */
export function configuredHosts(file: string, depth = 0): string[] {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return []; }
  const { hosts, includes } = sshConfigHosts(text);
  if (depth > 4) return hosts;
  for (const inc of includes) {
    const full = inc.startsWith('~/') ? path.join(os.homedir(), inc.slice(2)) : path.isAbsolute(inc) ? inc : path.join(os.homedir(), '.ssh', inc);
    const dir = path.dirname(full);
    const pattern = new RegExp(`^${path.basename(full).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    let names: string[] = [];
    try { names = fs.readdirSync(dir).filter((n) => pattern.test(n)).sort(); } catch { /* no such folder */ }
    for (const n of names) for (const h of configuredHosts(path.join(dir, n), depth + 1)) if (!hosts.includes(h)) hosts.push(h);
  }
  return hosts;
}

export async function pickRemoteHost(): Promise<string | undefined> {
  const cfg = vscode.workspace.getConfiguration('regscope.remote');
  const fromSetting = cfg.get<string>('host', '').trim();
  const listed = cfg.get<string[]>('hosts', []).map((h) => h.trim()).filter(Boolean);
  const sshConfig = cfg.get<string>('sshConfig', '').trim();
  const configFile = sshConfig ? (sshConfig.startsWith('~/') ? path.join(os.homedir(), sshConfig.slice(2)) : sshConfig) : path.join(os.homedir(), '.ssh', 'config');
  const seen = new Set<string>();
  const items: (vscode.QuickPickItem & { host?: string })[] = [];
  const add = (host: string, description: string): void => { if (!seen.has(host)) { seen.add(host); items.push({ label: host, description, host }); } };
  if (fromSetting) add(fromSetting, 'regscope.remote.host');
  for (const h of listed) add(h, 'regscope.remote.hosts');
  for (const h of configuredHosts(configFile)) add(h, path.basename(configFile) === 'config' ? '~/.ssh/config' : configFile);
  items.push({ label: '$(edit) Other host…', description: 'user@host' });
  const pick = await vscode.window.showQuickPick(items, { placeHolder: 'Host to run the probe on (over SSH, with your own keys and config)' });
  if (!pick) return undefined;
  if (pick.host) return pick.host;
  const typed = await vscode.window.showInputBox({ prompt: 'Remote host (user@host or an ssh config alias)', validateInput: (v) => checkHost(v.trim()) });
  return typed?.trim() || undefined;
}
