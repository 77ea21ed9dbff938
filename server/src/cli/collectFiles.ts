import * as fs from 'node:fs';
import * as path from 'node:path';

const SKIP_DIRS = new Set(['node_modules', '__pycache__', 'site-packages', 'venv', '.venv', 'env', '.git', '.hg', '.tox', '.mypy_cache', '.pytest_cache', 'build', 'dist', '.regscope']);

/** Files named on the command line, and `*.py` under directories (hidden and env folders skipped). */
export function collectFiles(paths: readonly string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  const visit = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      missing.push(dir);
      return;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) visit(p);
      } else if (e.isFile() && e.name.endsWith('.py')) files.push(p);
    }
  };
  for (const p of paths) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      missing.push(p);
      continue;
    }
    if (st.isDirectory()) visit(p);
    else files.push(p);
  }
  return { files, missing };
}
