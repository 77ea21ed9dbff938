import type { SyntaxNode } from '../syntax/syntaxNode';
import type { FunctionInfo } from './scriptFacts';

/** The `return` statements of a function's own body (not those of nested functions, classes or lambdas). */
export function returnStatements(fn: FunctionInfo): SyntaxNode[] {
  const returns: SyntaxNode[] = [];
  const visit = (n: SyntaxNode): void => {
    if (n.type === 'function_definition' || n.type === 'class_definition' || n.type === 'lambda') return;
    if (n.type === 'return_statement') returns.push(n);
    for (const c of n.children) visit(c);
  };
  for (const c of fn.body?.children ?? []) visit(c);
  return returns;
}

/** The returned expression, when the function has exactly one `return` and it returns a value. */
export function singleReturnExpression(fn: FunctionInfo): SyntaxNode | undefined {
  const returns = returnStatements(fn);
  return returns.length === 1 ? returns[0]!.children.find((c) => c.named && c.type !== 'comment') : undefined;
}
