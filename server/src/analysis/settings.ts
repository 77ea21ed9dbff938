import { parse as parseToml } from 'smol-toml';
import type { Severity } from './findings';

/** Per-rule thresholds, keyed by rule id then snake_case key (as in `[tool.regscope.rules.ID]`). */
export type RuleOptions = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

export interface AnalysisSettings {
  /** Rule ids or prefixes (`WD`, `LOOP00`) to run; empty means all. */
  readonly select: readonly string[];
  readonly ignore: readonly string[];
  readonly severity: Readonly<Record<string, Severity | 'off'>>;
  readonly rules: RuleOptions;
}

export const DEFAULT_SETTINGS: AnalysisSettings = { select: [], ignore: [], severity: {}, rules: {} };

export interface SettingsProblem {
  readonly message: string;
}

const SEVERITIES = new Set(['error', 'warning', 'information', 'hint', 'off']);

/** Reads `[tool.regscope]` from pyproject.toml text; problems are reported, never thrown. */
export function settingsFromPyproject(text: string): { settings: AnalysisSettings | undefined; problems: SettingsProblem[] } {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    return { settings: undefined, problems: [{ message: `pyproject.toml is not valid TOML: ${(e as Error).message.split('\n')[0]}` }] };
  }
  const tool = (doc.tool as Record<string, unknown> | undefined)?.regscope;
  if (tool === undefined) return { settings: undefined, problems: [] };
  return settingsFromObject(tool, '[tool.regscope]');
}

/** Validates settings from any source (pyproject, editor settings); unknown keys are reported. */
export function settingsFromObject(raw: unknown, where: string): { settings: AnalysisSettings; problems: SettingsProblem[] } {
  const problems: SettingsProblem[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { settings: DEFAULT_SETTINGS, problems: [{ message: `${where} must be a table` }] };
  }
  const obj = raw as Record<string, unknown>;
  const list = (key: string): string[] => {
    const v = obj[key];
    if (v === undefined) return [];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.map((x) => x.toUpperCase());
    problems.push({ message: `${where}.${key} must be a list of rule ids, e.g. ["WD001", "LOOP"]` });
    return [];
  };
  const severity: Record<string, Severity | 'off'> = {};
  const sev = obj.severity;
  if (sev !== undefined) {
    if (typeof sev === 'object' && sev !== null && !Array.isArray(sev)) {
      for (const [id, s] of Object.entries(sev)) {
        if (typeof s === 'string' && SEVERITIES.has(s)) severity[id.toUpperCase()] = s as Severity | 'off';
        else problems.push({ message: `${where}.severity.${id} must be one of error, warning, information, hint, off` });
      }
    } else problems.push({ message: `${where}.severity must be a table of rule id = severity` });
  }
  const rules: Record<string, Record<string, unknown>> = {};
  const r = obj.rules;
  if (r !== undefined) {
    if (typeof r === 'object' && r !== null && !Array.isArray(r)) {
      for (const [id, opts] of Object.entries(r)) {
        if (typeof opts === 'object' && opts !== null && !Array.isArray(opts)) rules[id.toUpperCase()] = opts as Record<string, unknown>;
        else problems.push({ message: `${where}.rules.${id} must be a table of thresholds` });
      }
    } else problems.push({ message: `${where}.rules must be a table` });
  }
  for (const key of Object.keys(obj)) {
    if (!['select', 'ignore', 'severity', 'rules', 'fail-on', 'fail_on'].includes(key)) problems.push({ message: `${where}: unknown key "${key}"` });
  }
  return { settings: { select: list('select'), ignore: list('ignore'), severity, rules }, problems };
}

/** True when `id` is selected: prefixes match (`WD` selects WD001…), ignore wins over select. */
export function isRuleEnabled(id: string, settings: AnalysisSettings): boolean {
  const matches = (p: string) => p === 'ALL' || id.startsWith(p);
  if (settings.ignore.some(matches)) return false;
  if (settings.severity[id] === 'off') return false;
  return settings.select.length === 0 || settings.select.some(matches);
}
