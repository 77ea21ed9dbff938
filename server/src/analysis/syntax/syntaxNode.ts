/**
 * A plain-JavaScript copy of tree-sitter's named nodes (plus anonymous nodes that fill a field,
 * such as operators). Analysis walks these instead of web-tree-sitter's Node objects, whose
 * every property access crosses into WebAssembly; copying once per statement and walking in JS
 * is several times faster and keeps the analysis code free of wasm lifetimes.
 */
export interface SyntaxNode {
  readonly type: string;
  /** UTF-16 offsets into the document text; shifted in place when a cached statement moves. */
  start: number;
  end: number;
  readonly field: string | undefined;
  /** False for anonymous tokens kept because they fill a field (operators). */
  readonly named: boolean;
  readonly children: SyntaxNode[];
  parent: SyntaxNode | undefined;
  /** True when tree-sitter inserted this node to recover from an error. */
  readonly missing: boolean;
}

export function childByField(node: SyntaxNode, field: string): SyntaxNode | undefined {
  for (const c of node.children) if (c.field === field) return c;
  return undefined;
}

export function childrenByField(node: SyntaxNode, field: string): SyntaxNode[] {
  return node.children.filter((c) => c.field === field);
}

export function contains(outer: SyntaxNode, inner: SyntaxNode): boolean {
  return outer.start <= inner.start && inner.end <= outer.end;
}

/** Depth-first, pre-order; `visit` returning false skips the node's children. */
export function walk(node: SyntaxNode, visit: (n: SyntaxNode) => boolean | void): void {
  if (visit(node) === false) return;
  for (const c of node.children) walk(c, visit);
}

export function shift(node: SyntaxNode, delta: number): void {
  node.start += delta;
  node.end += delta;
  for (const c of node.children) shift(c, delta);
}

/** Strips one pair of parentheses: `(x)` → `x`. */
export function unparenthesize(node: SyntaxNode): SyntaxNode {
  let n = node;
  while (n.type === 'parenthesized_expression' && n.children.length === 1) n = n.children[0]!;
  return n;
}
