/**
 * Host aliases a user can pick from their OpenSSH client configuration: the `Host` lines of
 * `~/.ssh/config` (and the files it `Include`s, which the caller reads), without patterns
 * (`*`, `?`, `!`). Pure: text in, names out.
 */
export interface SshConfigHosts {
  readonly hosts: string[];
  /** `Include` arguments, for the caller to resolve (relative ones are under ~/.ssh). */
  readonly includes: string[];
}

export function sshConfigHosts(text: string): SshConfigHosts {
  const hosts: string[] = [];
  const includes: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\w+)\s*(?:=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const words = splitWords(m[2]!);
    if (key === 'host') for (const w of words) if (!/[*?!]/.test(w) && !hosts.includes(w)) hosts.push(w);
    if (key === 'include') includes.push(...words);
  }
  return { hosts, includes };
}

/** ssh_config's word splitting: whitespace, with double quotes grouping. */
function splitWords(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2]!);
  return out;
}

/** A destination ssh would read as an option (`-oProxyCommand=…`) or that no host has is refused. */
export function checkHost(host: string): string | undefined {
  if (!host) return 'no host given (--host user@gpu-box)';
  if (host.startsWith('-')) return `"${host}" is not a host name`;
  if (!/^[A-Za-z0-9_.@:%+[\]-]+$/.test(host)) return `"${host}" is not a host name (letters, digits and . _ - @ : only)`;
  return undefined;
}
