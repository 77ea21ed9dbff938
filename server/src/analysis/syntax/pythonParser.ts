import type { Language, Parser, Tree, TreeCursor } from 'web-tree-sitter';
import type { SyntaxNode } from './syntaxNode';

/**
 * The parser is created once by the host (LSP server, CLI, tests) from the shipped wasm grammar
 * and passed in: loading wasm is I/O and the analysis core does none.
 */
export type PythonParser = Parser;
export type PythonTree = Tree;

/** Copies the subtree under the cursor's current node into plain objects. */
export function copySubtree(cursor: TreeCursor, language: Language, parent: SyntaxNode | undefined): SyntaxNode {
  const types = language.types;
  const fields = language.fields;
  const make = (p: SyntaxNode | undefined): SyntaxNode => ({
    type: types[cursor.nodeTypeId] ?? 'ERROR',
    start: cursor.startIndex,
    end: cursor.endIndex,
    field: fields[cursor.currentFieldId] ?? undefined,
    named: cursor.nodeIsNamed,
    children: [],
    parent: p,
    missing: cursor.nodeIsMissing,
  });
  const root = make(parent);
  const stack: SyntaxNode[] = [root];
  if (!cursor.gotoFirstChild()) return root;
  for (;;) {
    const keep = cursor.nodeIsNamed || cursor.currentFieldId !== 0;
    let descended = false;
    if (keep) {
      const top = stack[stack.length - 1]!;
      const node = make(top);
      top.children.push(node);
      if (cursor.gotoFirstChild()) {
        stack.push(node);
        descended = true;
      }
    }
    if (descended) continue;
    while (!cursor.gotoNextSibling()) {
      cursor.gotoParent();
      stack.pop();
      if (stack.length === 0) return root;
    }
  }
}
