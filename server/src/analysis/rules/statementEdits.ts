import type { TextEdit } from '../findings';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { walk } from '../syntax/syntaxNode';
import type { RuleContext } from './ruleSpec';

/**
 * Edits that move, insert and wrap whole statements and still leave valid, correctly indented
 * Python. Each helper returns undefined when it cannot guarantee that (a statement sharing its
 * line with another, a block that would become empty, a multi-line string whose text would shift).
 */

/** The statement occupies its lines alone: only indentation before it, only a comment after it. */
export function ownsLines(ctx: RuleContext, stmt: SyntaxNode): boolean {
  const start = ctx.lines.positionAt(stmt.start);
  const end = ctx.lines.positionAt(stmt.end);
  const before = ctx.lines.lineText(start.line).slice(0, start.character);
  const after = ctx.lines.lineText(end.line).slice(end.character);
  return /^[ \t]*$/.test(before) && /^[ \t]*(#.*)?$/.test(after) && !hasMultilineString(ctx, stmt);
}

export function hasMultilineString(ctx: RuleContext, node: SyntaxNode): boolean {
  let found = false;
  walk(node, (n) => {
    if (found) return false;
    if (n.type === 'string' && ctx.text.slice(n.start, n.end).includes('\n')) found = true;
    return !found;
  });
  return found;
}

/** Statements of the block holding `stmt`, comments excluded. */
function siblings(stmt: SyntaxNode): SyntaxNode[] {
  return stmt.parent ? stmt.parent.children.filter((c) => c.named && c.type !== 'comment') : [];
}

/** Deleting the statement leaves its block non-empty. */
export function canRemove(stmt: SyntaxNode): boolean {
  return stmt.parent?.type !== 'block' || siblings(stmt).length >= 2;
}

/** The statement's lines without the indentation of its first line (continuation lines keep their extra indent). */
export function dedentedLines(ctx: RuleContext, stmt: SyntaxNode): string[] {
  const lines = ctx.statementLines(stmt);
  const indent = ctx.indentOf(stmt);
  return lines.map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()));
}

/** Moves `stmt` to just before or after `target`; both must own their lines. */
export function moveStatement(ctx: RuleContext, stmt: SyntaxNode, target: SyntaxNode, where: 'before' | 'after'): TextEdit[] | undefined {
  if (stmt === target || !ownsLines(ctx, stmt) || !ownsLines(ctx, target) || !canRemove(stmt)) return undefined;
  if (stmt.start <= target.start && target.end <= stmt.end) return undefined;
  if (target.start <= stmt.start && stmt.end <= target.end) return undefined;
  const lines = dedentedLines(ctx, stmt);
  const insert = where === 'before' ? ctx.insertLinesBefore(target, lines) : ctx.insertLinesAfter(target, lines);
  return [ctx.deleteLines(stmt), insert];
}

/** Inserts lines before/after a statement that owns its lines. */
export function insertBefore(ctx: RuleContext, target: SyntaxNode, lines: readonly string[]): TextEdit[] | undefined {
  return ownsLines(ctx, target) ? [ctx.insertLinesBefore(target, lines)] : undefined;
}

export function insertAfter(ctx: RuleContext, target: SyntaxNode, lines: readonly string[]): TextEdit[] | undefined {
  return ownsLines(ctx, target) ? [ctx.insertLinesAfter(target, lines)] : undefined;
}

/** The file's indentation step, from the statement's body (`    ` or a tab). */
export function indentUnit(ctx: RuleContext, compound: SyntaxNode, body: SyntaxNode | undefined): string {
  const outer = ctx.indentOf(compound);
  const first = body?.children.find((c) => c.named && c.type !== 'comment');
  if (first) {
    const inner = ctx.indentOf(first);
    if (inner.startsWith(outer) && inner.length > outer.length) return inner.slice(outer.length);
  }
  return outer.includes('\t') ? '\t' : '    ';
}

/** Wraps a statement in `header:` (e.g. `with torch.no_grad():`), indenting its lines one step. */
export function wrapStatement(ctx: RuleContext, stmt: SyntaxNode, header: string, unit: string): TextEdit[] | undefined {
  if (!ownsLines(ctx, stmt)) return undefined;
  const startLine = ctx.lines.positionAt(stmt.start).line;
  const endLine = ctx.lines.positionAt(stmt.end).line;
  const indent = ctx.indentOf(stmt);
  const eol = ctx.eol();
  const body = ctx.statementLines(stmt).map((l) => (l.trim() === '' ? l : unit + l));
  const newText = [indent + header, ...body].join(eol);
  return [{ range: { start: { line: startLine, character: 0 }, end: { line: endLine, character: ctx.lines.lineText(endLine).length } }, newText }];
}
