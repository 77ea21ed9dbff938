/**
 * `# regscope: ignore[WD001, WD002]` (or bare `# regscope: ignore`) silences findings that start
 * on that line; `# regscope: ignore-file[SEED001]` anywhere silences them in the whole file.
 */
export interface Suppressions {
  readonly fileWide: ReadonlySet<string>;
  /** Line → rule ids; an empty set means every rule. */
  readonly lines: ReadonlyMap<number, ReadonlySet<string>>;
}

const DIRECTIVE = /#\s*regscope:\s*(ignore-file|ignore)\b(?:\[([^\]]*)\])?/g;

export function parseSuppressions(text: string): Suppressions {
  const fileWide = new Set<string>();
  const lines = new Map<number, Set<string>>();
  if (!text.includes('regscope:')) return { fileWide, lines };
  let line = 0;
  let lineStart = 0;
  DIRECTIVE.lastIndex = 0;
  for (let m = DIRECTIVE.exec(text); m; m = DIRECTIVE.exec(text)) {
    for (let i = text.indexOf('\n', lineStart); i !== -1 && i < m.index; i = text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    const ids = (m[2] ?? '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
    if (m[1] === 'ignore-file') {
      ids.forEach((id) => fileWide.add(id));
      if (ids.length === 0) fileWide.add('ALL');
    } else {
      const set = lines.get(line) ?? new Set<string>();
      ids.forEach((id) => set.add(id));
      if (ids.length === 0) set.add('ALL');
      lines.set(line, set);
    }
  }
  return { fileWide, lines };
}

export function isSuppressed(rule: string, line: number, s: Suppressions): boolean {
  if (s.fileWide.has('ALL') || s.fileWide.has(rule)) return true;
  const ids = s.lines.get(line);
  return !!ids && (ids.has('ALL') || ids.has(rule));
}
