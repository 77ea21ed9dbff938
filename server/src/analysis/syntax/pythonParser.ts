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
  const named = namedTypes(language);
  // Each cursor property is a call into wasm; read each once per node, and only those needed.
  const make = (p: SyntaxNode | undefined, typeId: number, fieldId: number): SyntaxNode => ({
    type: types[typeId] ?? 'ERROR',
    start: cursor.startIndex,
    end: cursor.endIndex,
    field: fields[fieldId] ?? undefined,
    named: named[typeId] ?? true,
    children: [],
    parent: p,
    missing: false,
  });
  const root = make(parent, cursor.nodeTypeId, cursor.currentFieldId);
  const stack: SyntaxNode[] = [root];
  if (!cursor.gotoFirstChild()) return root;
  for (;;) {
    const typeId = cursor.nodeTypeId;
    const fieldId = cursor.currentFieldId;
    const keep = (named[typeId] ?? true) || fieldId !== 0;
    let descended = false;
    if (keep) {
      const top = stack[stack.length - 1]!;
      const node = make(top, typeId, fieldId);
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

const namedCache = new WeakMap<Language, boolean[]>();

/** Whether each node type id is named, asked of the grammar once per language. */
function namedTypes(language: Language): boolean[] {
  let out = namedCache.get(language);
  if (!out) {
    out = language.types.map((_t, id) => language.nodeTypeIsNamed(id));
    namedCache.set(language, out);
  }
  return out;
}
