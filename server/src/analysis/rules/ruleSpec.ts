import type { Finding, Fix, RelatedInformation, Severity, TextEdit } from '../findings';
import type { ScriptFacts } from '../facts/scriptFacts';
import type { TrainingScript } from '../model/trainingScript';
import type { LineIndex, Range } from '../positions';
import type { SyntaxNode } from '../syntax/syntaxNode';
import type { ValueResolver } from '../values/valueResolver';

export type RuleFamily = 'WD' | 'OPT' | 'LR' | 'LOOP' | 'AMP' | 'EVAL' | 'REG' | 'DATA' | 'FW' | 'SEED';
export type FixKind = 'safe' | 'unsafe' | 'none';

/** One catalogue entry: data about the rule plus the check that produces its findings. */
export interface RuleSpec {
  readonly id: string;
  readonly title: string;
  readonly family: RuleFamily;
  readonly severity: Severity;
  readonly fix: FixKind;
  /** The reference the docs page cites, by title. */
  readonly reference: string;
  /** Thresholds a user may override under `[tool.regscope.rules.<id>]`, with their defaults. */
  readonly options?: Readonly<Record<string, unknown>>;
  readonly check: (ctx: RuleContext) => void;
}

export interface ReportInput {
  readonly node: SyntaxNode;
  /** Overrides the node's range (e.g. a header line only). */
  readonly range?: Range;
  readonly message: string;
  readonly related?: readonly { node: SyntaxNode; message: string }[];
  readonly fixes?: readonly Fix[];
}

/**
 * What a rule's check sees: the model, the raw facts, the value resolver, text helpers, its
 * options, and `report`. Rules never touch LSP types or do I/O.
 */
export class RuleContext {
  readonly findings: Finding[] = [];
  private spec: RuleSpec | undefined;

  constructor(
    readonly model: TrainingScript,
    readonly facts: ScriptFacts,
    readonly values: ValueResolver,
    readonly text: string,
    readonly lines: LineIndex,
    private readonly ruleOptions: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  ) {}

  forRule(spec: RuleSpec): this {
    this.spec = spec;
    return this;
  }

  /** A threshold: the user's override from settings, else the rule's default. */
  option<T>(key: string): T {
    const spec = this.spec!;
    const user = this.ruleOptions[spec.id]?.[key];
    const fallback = spec.options?.[key];
    if (user === undefined || typeof user !== typeof fallback) return fallback as T;
    // A table (e.g. lr_range per optimizer family) merges: keys the user leaves out keep their defaults.
    if (isPlainObject(user) && isPlainObject(fallback)) return { ...fallback, ...user } as T;
    return user as T;
  }

  report(input: ReportInput): void {
    const spec = this.spec!;
    const related: RelatedInformation[] = (input.related ?? []).map((r) => ({ message: r.message, range: this.range(r.node) }));
    this.findings.push({
      rule: spec.id, severity: spec.severity, message: input.message, range: input.range ?? this.range(input.node),
      related, fixes: input.fixes ?? [],
    });
  }

  text_(node: SyntaxNode | undefined): string {
    return node ? this.text.slice(node.start, node.end) : '';
  }

  range(node: SyntaxNode): Range {
    return this.lines.rangeOf(node.start, node.end);
  }

  /** Range covering only the first line of a node (for loops, defs, multi-line calls). */
  firstLineRange(node: SyntaxNode): Range {
    const start = this.lines.positionAt(node.start);
    const lineEnd = this.lines.lineEnd(start.line);
    return { start, end: this.lines.positionAt(Math.min(node.end, lineEnd)) };
  }

  replace(node: SyntaxNode, newText: string): TextEdit {
    return { range: this.range(node), newText };
  }

  insertAt(offset: number, newText: string): TextEdit {
    const p = this.lines.positionAt(offset);
    return { range: { start: p, end: p }, newText };
  }

  /** The leading whitespace of the line a node starts on. */
  indentOf(node: SyntaxNode): string {
    const line = this.lines.positionAt(node.start).line;
    return /^[ \t]*/.exec(this.lines.lineText(line))![0];
  }

  /** Edit inserting whole lines before the statement's line, at the statement's indentation. */
  insertLinesBefore(statement: SyntaxNode, lines: readonly string[]): TextEdit {
    const line = this.lines.positionAt(statement.start).line;
    const indent = this.indentOf(statement);
    const eol = this.eol();
    const p = { line, character: 0 };
    return { range: { start: p, end: p }, newText: lines.map((l) => indent + l + eol).join('') };
  }

  /** Edit inserting whole lines after the statement's last line, at the statement's indentation. */
  insertLinesAfter(statement: SyntaxNode, lines: readonly string[]): TextEdit {
    const endLine = this.lines.positionAt(statement.end).line;
    const indent = this.indentOf(statement);
    const eol = this.eol();
    const at = this.lines.lineEnd(endLine);
    return { ...this.insertAt(at, ''), newText: lines.map((l) => eol + indent + l).join('') };
  }

  /** Edit deleting the statement's whole lines (with their line break). */
  deleteLines(statement: SyntaxNode): TextEdit {
    const startLine = this.lines.positionAt(statement.start).line;
    const endLine = this.lines.positionAt(statement.end).line;
    return { range: { start: { line: startLine, character: 0 }, end: { line: endLine + 1, character: 0 } }, newText: '' };
  }

  /** The text of a statement's whole lines (for move fixes). */
  statementLines(statement: SyntaxNode): string[] {
    const startLine = this.lines.positionAt(statement.start).line;
    const endLine = this.lines.positionAt(statement.end).line;
    const out: string[] = [];
    for (let l = startLine; l <= endLine; l++) out.push(this.lines.lineText(l));
    return out;
  }

  eol(): string {
    return this.text.includes('\r\n') ? '\r\n' : '\n';
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
