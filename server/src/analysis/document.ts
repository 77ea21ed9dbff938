import type { Edit, Language } from 'web-tree-sitter';
import { LineIndex } from './positions';
import { copySubtree, type PythonParser, type PythonTree } from './syntax/pythonParser';
import { shift, type SyntaxNode } from './syntax/syntaxNode';

/** Files larger than this are not parsed: a clear message instead of seconds of work. */
export const MAX_ANALYSED_CHARS = 4_000_000;

/**
 * One version of one Python file: its text, line index, tree-sitter tree (kept for incremental
 * re-parsing) and the plain-object syntax tree that analysis walks.
 *
 * `update` re-parses incrementally and re-copies only the top-level statements whose text
 * changed; unchanged statements are reused and shifted to their new offsets.
 */
export class ParsedDocument {
  readonly lines: LineIndex;
  readonly root: SyntaxNode;
  /** Read once at parse time, so it stays valid after `dispose`. */
  readonly hasSyntaxErrors: boolean;
  /** Top-level statements keyed by their text, for reuse by the next version. */
  private readonly statementCache: Map<string, SyntaxNode[]>;

  private constructor(
    readonly text: string,
    readonly version: number,
    private readonly tree: PythonTree | undefined,
    private readonly parser: PythonParser,
    previous: ParsedDocument | undefined,
    readonly tooLarge: boolean,
  ) {
    this.lines = new LineIndex(text);
    this.statementCache = new Map();
    this.root = tree ? this.copyTree(tree, previous) : emptyModule(text.length);
    this.hasSyntaxErrors = tree?.rootNode.hasError ?? false;
  }

  static parse(parser: PythonParser, text: string, version = 0): ParsedDocument {
    if (text.length > MAX_ANALYSED_CHARS) return new ParsedDocument(text, version, undefined, parser, undefined, true);
    const tree = parser.parse(text) ?? undefined;
    return new ParsedDocument(text, version, tree, parser, undefined, false);
  }

  /** The next version of this document; this one stays valid until `dispose`. */
  update(text: string, version = this.version + 1): ParsedDocument {
    if (text.length > MAX_ANALYSED_CHARS || !this.tree) return ParsedDocument.parse(this.parser, text, version);
    const old = this.tree.copy();
    old.edit(textEdit(this.text, text, this.lines));
    const tree = this.parser.parse(text, old) ?? undefined;
    old.delete();
    return new ParsedDocument(text, version, tree, this.parser, this, false);
  }


  textOf(node: SyntaxNode): string {
    return this.text.slice(node.start, node.end);
  }

  dispose(): void {
    this.tree?.delete();
  }

  private copyTree(tree: PythonTree, previous: ParsedDocument | undefined): SyntaxNode {
    const language: Language = tree.language;
    const cursor = tree.walk();
    const root: SyntaxNode = {
      type: 'module', start: 0, end: this.text.length, field: undefined, named: true,
      children: [], parent: undefined, missing: false,
    };
    const reuse = previous?.statementCache;
    if (cursor.gotoFirstChild()) {
      do {
        if (!cursor.nodeIsNamed) continue;
        const start = cursor.startIndex;
        const end = cursor.endIndex;
        const key = this.text.slice(start, end);
        const candidates = reuse?.get(key);
        let node = candidates?.pop();
        if (node) {
          shift(node, start - node.start);
          node.parent = root;
        } else {
          node = copySubtree(cursor, language, root);
        }
        root.children.push(node);
        const bucket = this.statementCache.get(key);
        if (bucket) bucket.push(node);
        else this.statementCache.set(key, [node]);
      } while (cursor.gotoNextSibling());
    }
    cursor.delete();
    return root;
  }
}

function emptyModule(length: number): SyntaxNode {
  return { type: 'module', start: 0, end: length, field: undefined, named: true, children: [], parent: undefined, missing: false };
}

/** The single edit that turns `before` into `after` (common prefix and suffix kept). */
function textEdit(before: string, after: string, lines: LineIndex): Edit {
  let prefix = 0;
  const max = Math.min(before.length, after.length);
  while (prefix < max && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (
    suffix < max - prefix &&
    before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
  ) suffix++;
  const oldEnd = before.length - suffix;
  const newEnd = after.length - suffix;
  const start = lines.positionAt(prefix);
  // The new end follows from the start and the inserted text alone (no index of the new text).
  const inserted = after.slice(prefix, newEnd);
  const breaks = [...inserted.matchAll(/\r\n|\r|\n/g)];
  const last = breaks[breaks.length - 1];
  const newEndPosition = last
    ? { row: start.line + breaks.length, column: inserted.length - (last.index! + last[0].length) }
    : { row: start.line, column: start.character + inserted.length };
  const oldEndPoint = lines.positionAt(oldEnd);
  return {
    startIndex: prefix,
    oldEndIndex: oldEnd,
    newEndIndex: newEnd,
    startPosition: { row: start.line, column: start.character },
    oldEndPosition: { row: oldEndPoint.line, column: oldEndPoint.character },
    newEndPosition,
  };
}
