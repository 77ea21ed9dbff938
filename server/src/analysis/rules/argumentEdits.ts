import type { TextEdit } from '../findings';
import type { CallInfo } from '../facts/scriptFacts';
import type { SyntaxNode } from '../syntax/syntaxNode';
import type { RuleContext } from './ruleSpec';

/**
 * Edits on one call's arguments that keep the call valid Python: set a keyword (replacing its
 * value, a positional argument in its place, or appending it), delete an item of a list.
 */

/** Appends `name=value` as the call's last argument, after a trailing comma if there is one. */
export function appendKeyword(ctx: RuleContext, call: CallInfo, name: string, value: string): TextEdit | undefined {
  const list = call.argumentList;
  if (!list || list.type !== 'argument_list') return undefined;
  const close = list.end - 1;
  if (ctx.text[close] !== ')') return undefined;
  const items = list.children.filter((c) => c.named && c.type !== 'comment');
  const last = items[items.length - 1];
  if (!last) return ctx.insertAt(close, `${name}=${value}`);
  const between = ctx.text.slice(last.end, close);
  // `f(a, b,)` or a multi-line call whose last line ends with a comma: keep its layout.
  const comma = between.indexOf(',');
  if (comma >= 0 && !between.slice(0, comma).includes('#')) {
    const at = last.end + comma + 1;
    const ownLine = ctx.lines.positionAt(last.start).line !== ctx.lines.positionAt(list.start).line;
    if (ownLine && /\r?\n/.test(between.slice(comma + 1))) {
      // After the comma's line (and its comment), on a line of its own.
      const lineEnd = ctx.lines.lineEnd(ctx.lines.positionAt(at).line);
      return ctx.insertAt(lineEnd, `${ctx.eol()}${ctx.indentOf(last)}${name}=${value},`);
    }
    return ctx.insertAt(at, ` ${name}=${value}`);
  }
  return ctx.insertAt(last.end, `, ${name}=${value}`);
}

/**
 * Sets a keyword: replaces its value when given by keyword, replaces the positional argument
 * at `positional` when given there, else appends it.
 */
export function setKeyword(ctx: RuleContext, call: CallInfo, name: string, value: string, positional?: number): TextEdit | undefined {
  const kw = call.keywords.get(name);
  if (kw) return ctx.replace(kw, value);
  if (positional !== undefined && call.args[positional]) return ctx.replace(call.args[positional]!, value);
  if (call.hasSplat) return undefined;
  return appendKeyword(ctx, call, name, value);
}

/** Deletes one item of a call's arguments or a list, with the comma that joins it to its neighbour. */
export function deleteItem(ctx: RuleContext, items: readonly SyntaxNode[], index: number): TextEdit | undefined {
  const item = items[index];
  if (!item || items.length < 2) return undefined;
  if (index > 0) {
    const prev = items[index - 1]!;
    if (ctx.text.slice(prev.end, item.start).includes('#')) return undefined;
    return { range: ctx.lines.rangeOf(prev.end, item.end), newText: '' };
  }
  const next = items[1]!;
  if (ctx.text.slice(item.end, next.start).includes('#')) return undefined;
  return { range: ctx.lines.rangeOf(item.start, next.start), newText: '' };
}
