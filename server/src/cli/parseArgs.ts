/** A small, strict argument parser: unknown flags are usage errors, never silently ignored. */
export class UsageError extends Error {}

export interface ParsedArgs {
  readonly positionals: string[];
  readonly flags: Map<string, string | true>;
  /** Everything after `--` (script arguments for `probe`). */
  readonly rest: string[];
}

export function parseArgs(argv: readonly string[], spec: { values: readonly string[]; booleans: readonly string[] }): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  let rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (spec.booleans.includes(name)) {
        if (eq > 0) throw new UsageError(`--${name} takes no value`);
        flags.set(name, true);
      } else if (spec.values.includes(name)) {
        const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
        flags.set(name, value);
      } else {
        throw new UsageError(`unknown option --${name}`);
      }
    } else if (a.startsWith('-') && a.length > 1) {
      throw new UsageError(`unknown option ${a}`);
    } else {
      positionals.push(a);
    }
  }
  return { positionals, flags, rest };
}

export function listFlag(v: string | true | undefined): string[] {
  if (typeof v !== 'string') return [];
  return v.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
}
