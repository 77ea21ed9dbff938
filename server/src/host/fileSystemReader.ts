import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FileReader } from '../analysis/values/configFiles';

/** Config files above this size are not read: they are data, not configuration. */
const MAX_CONFIG_BYTES = 2_000_000;

/**
 * Reads config files a script loads by a literal path: relative paths are tried against the
 * script's folder, then each of `roots` (workspace folders, the current directory).
 */
export function fileSystemReader(scriptPath: string, roots: readonly string[] = [process.cwd()]): FileReader & { readonly loaded: string[] } {
  const loaded: string[] = [];
  const bases = [path.dirname(scriptPath), ...roots];
  return {
    loaded,
    read(p: string) {
      const candidates = path.isAbsolute(p) ? [p] : bases.map((b) => path.resolve(b, p));
      for (const c of candidates) {
        try {
          const st = fs.statSync(c);
          if (!st.isFile() || st.size > MAX_CONFIG_BYTES) continue;
          loaded.push(c);
          return { path: path.relative(path.dirname(scriptPath), c) || p, text: fs.readFileSync(c, 'utf8') };
        } catch {
          // not there: try the next base
        }
      }
      return undefined;
    },
  };
}
