import type { ParsedDocument } from './document';
import { collectFacts } from './facts/collectFacts';
import type { ScriptFacts } from './facts/scriptFacts';
import type { Finding } from './findings';
import { extractModel } from './model/extractModel';
import type { TrainingScript } from './model/trainingScript';
import { RULES } from './catalogue';
import { RuleContext, type RuleSpec } from './rules/ruleSpec';
import { DEFAULT_SETTINGS, isRuleEnabled, type AnalysisSettings } from './settings';
import { isSuppressed, parseSuppressions } from './suppression';
import { NO_FILES, type FileReader } from './values/configFiles';
import { ValueResolver } from './values/valueResolver';

export interface AnalysisInput {
  readonly document: ParsedDocument;
  readonly settings?: AnalysisSettings;
  /** Reads config files the script loads by a literal path; none by default. */
  readonly files?: FileReader;
  /** The rules to run; the whole catalogue by default (tests pass others). */
  readonly rules?: readonly RuleSpec[];
}

export interface AnalysisResult {
  readonly model: TrainingScript;
  readonly facts: ScriptFacts;
  readonly values: ValueResolver;
  readonly findings: readonly Finding[];
  /** Things the user should know about the analysis itself (partial parse, a rule that failed). */
  readonly notices: readonly string[];
}

/** Text in, findings out: pure, synchronous, and it never throws on user code. */
export function analyze(input: AnalysisInput): AnalysisResult {
  const doc = input.document;
  const settings = input.settings ?? DEFAULT_SETTINGS;
  const notices: string[] = [];
  if (doc.tooLarge) notices.push(`File is ${(doc.text.length / 1e6).toFixed(1)} MB; files over 4 MB are not analysed.`);
  else if (doc.hasSyntaxErrors) notices.push('The file has syntax errors; findings cover the parts that parse.');
  const facts = collectFacts(doc.root, doc.text);
  const values = new ValueResolver(facts, doc.text, doc.lines, input.files ?? NO_FILES);
  const model = extractModel({ facts, text: doc.text, values });
  const ctx = new RuleContext(model, facts, values, doc.text, doc.lines, settings.rules);
  for (const rule of input.rules ?? RULES) {
    if (!isRuleEnabled(rule.id, settings)) continue;
    const before = ctx.findings.length;
    try {
      rule.check(ctx.forRule(rule));
    } catch (e) {
      ctx.findings.length = before;
      notices.push(`Rule ${rule.id} failed on this file and was skipped: ${(e as Error).message}`);
    }
  }
  const suppressions = parseSuppressions(doc.text);
  const findings = ctx.findings
    .filter((f) => !isSuppressed(f.rule, f.range.start.line, suppressions) && !isSuppressed(f.rule, f.range.end.line, suppressions))
    .map((f) => {
      const override = settings.severity[f.rule];
      return override && override !== 'off' ? { ...f, severity: override } : f;
    })
    .sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character || a.rule.localeCompare(b.rule));
  return { model, facts, values, findings: dedupe(findings), notices };
}

/** One finding per rule and range: the same problem reached twice (e.g. through two loops) is reported once. */
function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.rule}:${f.range.start.line}:${f.range.start.character}:${f.range.end.line}:${f.range.end.character}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
