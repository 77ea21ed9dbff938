import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FileReader } from '../analysis/values/configFiles';

/** Config files above this size are not read: they are data, not configuration. */
const MAX_CONFIG_BYTES = 2_000_000;

/**
 * Reads config files a script loads by a literal path: relative paths are tried against the
 * script's folder, then each of `roots` (workspace folders, the current directory).
 */
export function fileSystemReader(scriptPath: string, roots: readonly string[] = [process.cwd()], cache?: ConfigTextCache): FileReader & { readonly loaded: string[] } {
  const loaded: string[] = [];
  const bases = [path.dirname(scriptPath), ...roots];
  return {
    loaded,
    read(p: string) {
      const candidates = path.isAbsolute(p) ? [p] : bases.map((b) => path.resolve(b, p));
      for (const c of candidates) {
        let text = cache?.get(c);
        if (text === undefined) {
          text = readConfig(c);
          cache?.set(c, text);
        }
        if (text === null) continue;
        loaded.push(c);
        return { path: path.relative(path.dirname(scriptPath), c) || p, text };
      }
      return undefined;
    },
  };
}

/**
 * Config texts by absolute path (null: not there or not readable). The language server keeps
 * one so that typing does not re-read YAML files from disk; it drops entries when the files change.
 */
export type ConfigTextCache = Map<string, string | null>;

function readConfig(file: string): string | null {
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > MAX_CONFIG_BYTES) return null;
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
