/**
 * What a remote probe copies: the script, the workspace modules it imports (followed through
 * the modules they import), and the config files the analysis read, each with its path relative
 * to a base folder (the workspace folder holding the script, else the script's folder) so that
 * imports and relative paths resolve the same way on the remote side. Data, virtual
 * environments and everything else in the workspace stay where they are.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface PayloadFile {
  readonly local: string;
  /** Relative to the base, with '/' separators. */
  readonly relative: string;
}

export interface Payload {
  readonly base: string;
  readonly files: PayloadFile[];
  readonly bytes: number;
}

/** Above this the probe refuses to copy: it is not source any more. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** Module names a Python file imports: `import a.b`, `from a.b import c` (also `a.b.c`), relative ones resolved against `pkg`. */
export function importedModules(source: string, pkg: readonly string[]): string[] {
  const out = new Set<string>();
  // Drop comments, then join continued lines and parenthesized lists (`from a import (b,\n c)`).
  const text = source.replace(/#[^\n]*/g, '').replace(/\\\r?\n/g, ' ').replace(/\(([^()]*)\)/g, (_m: string, inner: string) => `(${inner.replace(/\r?\n/g, ' ')})`);
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    let m = /^import\s+(.+)$/.exec(line);
    if (m) {
      for (const part of m[1]!.split(',')) {
        const name = part.trim().split(/\s+as\s+/)[0]!.trim();
        if (/^[\w.]+$/.test(name)) out.add(name);
      }
      continue;
    }
    m = /^from\s+(\.*)([\w.]*)\s+import\s+\(?([^)]*)\)?/.exec(line);
    if (!m) continue;
    const dots = m[1]!.length;
    let module = m[2]!;
    if (dots > 0) {
      if (dots - 1 > pkg.length) continue;
      const parent = pkg.slice(0, pkg.length - (dots - 1));
      module = [...parent, ...(module ? [module] : [])].join('.');
    }
    if (module) out.add(module);
    for (const part of m[3]!.split(',')) {
      const name = part.trim().split(/\s+as\s+/)[0]!.trim();
      if (/^\w+$/.test(name) && name !== '*') out.add(module ? `${module}.${name}` : name);
    }
  }
  return [...out];
}

/** The file a module name resolves to under one of `roots` (a module file or a package's __init__.py). */
function moduleFile(module: string, roots: readonly string[]): string | undefined {
  const parts = module.split('.');
  for (const root of roots) {
    const asFile = path.join(root, ...parts) + '.py';
    if (isFile(asFile)) return asFile;
    const asPackage = path.join(root, ...parts, '__init__.py');
    if (isFile(asPackage)) return asPackage;
  }
  return undefined;
}

const isFile = (p: string): boolean => { try { return fs.statSync(p).isFile(); } catch { return false; } };

/**
 * The script and what it needs from the workspace. `base` is the folder the layout is relative
 * to; `extra` are other files to carry (config files the analysis read), kept when inside base.
 */
export function collectPayload(script: string, base: string, extra: readonly string[] = []): Payload {
  const inside = (p: string): boolean => { const r = path.relative(base, p); return !!r && !r.startsWith('..') && !path.isAbsolute(r); };
  const roots = [...new Set([path.dirname(script), base])];
  const seen = new Set<string>();
  const queue = [script];
  while (queue.length) {
    const file = queue.shift()!;
    if (seen.has(file) || !inside(file)) continue;
    seen.add(file);
    let source: string;
    try { source = fs.readFileSync(file, 'utf8'); } catch { continue; }
    // The package a file is in, for its relative imports (`from .util import x`).
    const rel = path.relative(base, path.dirname(file));
    const pkg = rel ? rel.split(path.sep) : [];
    for (const module of importedModules(source, pkg)) {
      const found = moduleFile(module, [...roots, path.dirname(file)]);
      if (found && !seen.has(found)) queue.push(found);
      // A package's modules are imported through its __init__; the parents' __init__ files come too.
      const parts = module.split('.');
      for (let i = 1; i < parts.length; i++) {
        const init = moduleFile(parts.slice(0, i).join('.'), roots);
        if (init && init.endsWith('__init__.py') && !seen.has(init)) queue.push(init);
      }
    }
  }
  for (const e of extra) if (isFile(e) && inside(e)) seen.add(path.resolve(e));
  const files = [...seen].sort().map((local) => ({ local, relative: path.relative(base, local).split(path.sep).join('/') }));
  const bytes = files.reduce((n, f) => n + fs.statSync(f.local).size, 0);
  if (bytes > MAX_PAYLOAD_BYTES) throw new Error(`the script and the modules it imports come to ${(bytes / 1048576).toFixed(0)} MiB, over the ${MAX_PAYLOAD_BYTES / 1048576} MiB a remote probe copies`);
  return { base, files, bytes };
}

/** The folder a remote copy is laid out against: the workspace folder holding the script, else the script's folder. */
export function payloadBase(script: string, storeRoot: string): string {
  return path.relative(storeRoot, script).startsWith('..') ? path.dirname(script) : path.resolve(storeRoot);
}

/** The script and its working folder as they lie under a remote run folder (`<dir>/work/…`); a cwd outside the base becomes `work/`. */
export function remotePaths(dir: string, base: string, script: string, cwd: string): { script: string; cwd: string } {
  const rel = (p: string): string => path.relative(base, p).split(path.sep).join('/');
  const work = path.posix.join(dir, 'work');
  return { script: path.posix.join(work, rel(script)), cwd: rel(cwd).startsWith('..') ? work : path.posix.join(work, rel(cwd)) };
}
