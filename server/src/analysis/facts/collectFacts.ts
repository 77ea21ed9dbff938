import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, childrenByField } from '../syntax/syntaxNode';
import type {
  CallInfo, ClassInfo, FunctionInfo, ImportInfo, LoopInfo, ParamInfo, ScriptFacts, WithInfo,
} from './scriptFacts';

const CONDITIONAL_BLOCKS = new Set([
  'if_statement', 'elif_clause', 'else_clause', 'try_statement', 'except_clause', 'finally_clause',
  'match_statement', 'case_clause', 'conditional_expression',
]);

interface Context {
  fn: FunctionInfo | undefined;
  cls: ClassInfo | undefined;
  loops: LoopInfo[];
  withs: WithInfo[];
  conditional: boolean;
  statement: SyntaxNode | undefined;
}

/** Dotted text of `a`, `a.b.c`; '' for anything else (calls, subscripts). */
export function dottedName(node: SyntaxNode | undefined, text: string): string {
  if (!node) return '';
  if (node.type === 'identifier') return text.slice(node.start, node.end);
  if (node.type === 'attribute') {
    const obj = dottedName(childByField(node, 'object'), text);
    const attr = childByField(node, 'attribute');
    return obj && attr ? `${obj}.${text.slice(attr.start, attr.end)}` : '';
  }
  return '';
}

export function qualify(dotted: string, bindings: ReadonlyMap<string, string>): string {
  if (!dotted) return '';
  const dot = dotted.indexOf('.');
  const head = dot < 0 ? dotted : dotted.slice(0, dot);
  const bound = bindings.get(head);
  if (!bound) return dotted;
  return dot < 0 ? bound : bound + dotted.slice(dot);
}

/** The facts of one top-level statement: they depend on its text alone, so they are cached per statement node. */
type StatementFacts = Pick<ScriptFacts, 'functions' | 'classes' | 'loops' | 'withs' | 'calls' | 'assignments' | 'imports'>;

/**
 * The document reuses the syntax node of every top-level statement whose text did not change
 * (shifting its offsets in place), so facts keyed by that node stay valid: facts hold nodes,
 * not offsets. Only what depends on other statements (import qualification, indexes) is
 * recomputed on every analysis.
 */
const statementFacts = new WeakMap<SyntaxNode, StatementFacts>();

export function collectFacts(root: SyntaxNode, text: string): ScriptFacts {
  const facts: ScriptFacts = {
    functions: [], classes: [], loops: [], withs: [], calls: [], assignments: [], imports: [],
    importBindings: new Map(), starImports: [], callsByName: new Map(), callByNode: new Map(),
    callsByFunction: new Map(), assignmentsByTarget: new Map(), assignmentByValue: new Map(), functionsByName: new Map(),
    classesByName: new Map(),
  };
  for (const stmt of root.children) {
    if (!stmt.named) continue;
    let part = statementFacts.get(stmt);
    if (!part) {
      part = collectStatement(stmt, text);
      statementFacts.set(stmt, part);
    }
    facts.functions.push(...part.functions);
    facts.classes.push(...part.classes);
    facts.loops.push(...part.loops);
    facts.withs.push(...part.withs);
    facts.calls.push(...part.calls);
    facts.assignments.push(...part.assignments);
    facts.imports.push(...part.imports);
  }
  for (const fn of facts.functions) {
    const list = facts.functionsByName.get(fn.name);
    if (list) list.push(fn);
    else facts.functionsByName.set(fn.name, [fn]);
  }
  for (const cls of facts.classes) if (!facts.classesByName.has(cls.name)) facts.classesByName.set(cls.name, cls);
  for (const imp of facts.imports) {
    for (const [k, v] of imp.bindings) facts.importBindings.set(k, v);
    if (imp.starFrom) facts.starImports.push(imp.starFrom);
  }
  for (const cls of facts.classes) {
    cls.qualifiedBases.length = 0;
    for (const b of cls.bases) cls.qualifiedBases.push(qualify(b, facts.importBindings));
  }
  for (const info of facts.calls) {
    info.qualified = qualify(info.callee, facts.importBindings);
    facts.callByNode.set(info.node, info);
    const inFn = facts.callsByFunction.get(info.fn);
    if (inFn) inFn.push(info);
    else facts.callsByFunction.set(info.fn, [info]);
    const list = facts.callsByName.get(info.name);
    if (list) list.push(info);
    else facts.callsByName.set(info.name, [info]);
  }
  for (const a of facts.assignments) {
    if (a.value) facts.assignmentByValue.set(a.value, a);
    const names = a.targetText ? [a.targetText] : a.target.children.filter((c) => c.type === 'identifier').map((c) => text.slice(c.start, c.end));
    for (const n of names) {
      const list = facts.assignmentsByTarget.get(n);
      if (list) list.push(a);
      else facts.assignmentsByTarget.set(n, [a]);
    }
  }
  return facts;
}

function collectStatement(stmt: SyntaxNode, text: string): StatementFacts {
  const facts: StatementFacts = { functions: [], classes: [], loops: [], withs: [], calls: [], assignments: [], imports: [] };
  const t = (n: SyntaxNode | undefined) => (n ? text.slice(n.start, n.end) : '');

  const visit = (node: SyntaxNode, ctx: Context): void => {
    switch (node.type) {
      case 'import_statement':
      case 'import_from_statement':
        facts.imports.push(readImport(node, t));
        return;
      case 'decorated_definition': {
        const decorators = node.children.filter((c) => c.type === 'decorator').map((d) => t(d).replace(/^@\s*/, ''));
        const def = childByField(node, 'definition');
        if (def) visitDefinition(def, ctx, decorators);
        return;
      }
      case 'function_definition':
      case 'class_definition':
        visitDefinition(node, ctx, []);
        return;
      case 'for_statement':
      case 'while_statement': {
        const body = childByField(node, 'body');
        const loop: LoopInfo = {
          node,
          kind: node.type === 'for_statement' ? 'for' : 'while',
          target: childByField(node, 'left'),
          iter: childByField(node, node.type === 'for_statement' ? 'right' : 'condition'),
          body,
          fn: ctx.fn,
          parent: ctx.loops[ctx.loops.length - 1],
          get headerEnd() { return body ? body.start : node.end; },
        };
        facts.loops.push(loop);
        const outerLoops = ctx.loops;
        const outerConditional = ctx.conditional;
        for (const c of node.children) {
          if (c === body) {
            ctx.loops = [...outerLoops, loop];
            visit(c, ctx);
            ctx.loops = outerLoops;
          } else if (c.field === 'alternative') {
            ctx.conditional = true;
            visit(c, ctx);
            ctx.conditional = outerConditional;
          } else visit(c, ctx);
        }
        return;
      }
      case 'with_statement': {
        const clause = node.children.find((c) => c.type === 'with_clause');
        const items = clause ? clause.children.filter((c) => c.type === 'with_item').map((i) => childByField(i, 'value') ?? i) : [];
        const body = childByField(node, 'body');
        const info: WithInfo = { node, items, body, fn: ctx.fn };
        facts.withs.push(info);
        const outerWiths = ctx.withs;
        for (const c of node.children) {
          if (c === body) ctx.withs = [...outerWiths, info];
          visit(c, ctx);
          ctx.withs = outerWiths;
        }
        return;
      }
      case 'call':
        facts.calls.push(readCall(node, ctx, text));
        break;
      case 'assignment':
      case 'augmented_assignment':
        recordAssignment(node, ctx);
        break;
      case 'lambda':
        return; // its body is an expression evaluated elsewhere; calls inside are not loop events
    }
    // One mutable context, saved and restored around children: no allocation per node.
    const outerConditional = ctx.conditional;
    const outerStatement = ctx.statement;
    if (CONDITIONAL_BLOCKS.has(node.type) && !ctx.conditional && !isMainGuard(node, text)) ctx.conditional = true;
    const isBlock = node.type === 'block' || node.type === 'module';
    for (const c of node.children) {
      if (!c.named) continue;
      if (isBlock) ctx.statement = c;
      visit(c, ctx);
    }
    ctx.conditional = outerConditional;
    ctx.statement = outerStatement;
  };

  const visitDefinition = (node: SyntaxNode, ctx: Context, decorators: string[]): void => {
    const name = t(childByField(node, 'name'));
    const body = childByField(node, 'body');
    if (node.type === 'class_definition') {
      const supers = childByField(node, 'superclasses');
      const bases = supers ? supers.children.filter((c) => c.named && c.type !== 'keyword_argument' && c.type !== 'comment').map((b) => t(b)) : [];
      const cls: ClassInfo = {
        name, node, bases, qualifiedBases: [], decorators, methods: new Map(), fields: new Map(),
      };
      facts.classes.push(cls);
      const inner: Context = { fn: undefined, cls, loops: [], withs: [], conditional: false, statement: undefined };
      if (body) {
        for (const stmt of body.children) {
          if (!stmt.named) continue;
          readClassField(stmt, cls);
          inner.statement = stmt;
          visit(stmt, inner);
        }
      }
      return;
    }
    const fn: FunctionInfo = {
      name, node, body, params: readParams(childByField(node, 'parameters'), t), decorators,
      cls: ctx.fn ? undefined : ctx.cls, parent: ctx.fn,
    };
    facts.functions.push(fn);
    if (fn.cls) fn.cls.methods.set(name, fn);
    // Defaults are evaluated in the enclosing scope.
    for (const p of fn.params) if (p.defaultValue) visit(p.defaultValue, ctx);
    if (body) {
      const inner: Context = { fn, cls: fn.cls ?? ctx.cls, loops: [], withs: [], conditional: false, statement: undefined };
      for (const stmt of body.children) {
        if (!stmt.named) continue;
        inner.statement = stmt;
        visit(stmt, inner);
      }
    }
  };

  const readClassField = (stmt: SyntaxNode, cls: ClassInfo): void => {
    if (stmt.type !== 'expression_statement') return;
    const asg = stmt.children[0];
    if (!asg || asg.type !== 'assignment') return;
    const left = childByField(asg, 'left');
    if (left?.type !== 'identifier') return;
    const typ = childByField(asg, 'type');
    cls.fields.set(t(left), { node: asg, value: childByField(asg, 'right'), annotation: typ ? t(typ) : undefined });
  };

  const recordAssignment = (node: SyntaxNode, ctx: Context): void => {
    const target = childByField(node, 'left');
    if (!target) return;
    const op = node.type === 'assignment' ? '=' : t(childByField(node, 'operator')) || '+=';
    const typ = childByField(node, 'type');
    let value = childByField(node, 'right');
    // a = b = 1: the right side is itself an assignment; take its final value.
    while (value?.type === 'assignment') value = childByField(value, 'right');
    facts.assignments.push({
      node, target, targetText: dottedName(target, text), value, annotation: typ ? t(typ) : undefined, op,
      fn: ctx.fn, cls: ctx.cls, loops: ctx.loops, conditional: ctx.conditional,
    });
  };

  visit(stmt, { fn: undefined, cls: undefined, loops: [], withs: [], conditional: false, statement: stmt });
  return facts;
}

/** `if __name__ == "__main__":` always runs when the script runs. */
function isMainGuard(node: SyntaxNode, text: string): boolean {
  if (node.type !== 'if_statement') return false;
  const cond = childByField(node, 'condition');
  return !!cond && /__name__\s*==\s*['"]__main__['"]/.test(text.slice(cond.start, cond.end));
}

/** A call's facts; `qualified` is filled in once the whole file's imports are known. */
function readCall(node: SyntaxNode, ctx: Context, text: string): CallInfo {
  const fnNode = childByField(node, 'function');
  const callee = dottedName(fnNode, text);
  const argsNode = childByField(node, 'arguments');
  const args: SyntaxNode[] = [];
  const keywords = new Map<string, SyntaxNode>();
  const keywordNodes = new Map<string, SyntaxNode>();
  let hasSplat = false;
  if (argsNode?.type === 'argument_list') {
    for (const a of argsNode.children) {
      if (!a.named || a.type === 'comment') continue;
      if (a.type === 'keyword_argument') {
        const k = childByField(a, 'name');
        const v = childByField(a, 'value');
        if (k && v) {
          const key = text.slice(k.start, k.end);
          keywords.set(key, v);
          keywordNodes.set(key, a);
        }
      } else if (a.type === 'list_splat' || a.type === 'dictionary_splat') {
        hasSplat = true;
      } else {
        args.push(a);
      }
    }
  } else if (argsNode) {
    args.push(argsNode); // generator expression argument
  }
  let name = callee.slice(callee.lastIndexOf('.') + 1);
  let receiverNode: SyntaxNode | undefined;
  if (fnNode?.type === 'attribute') {
    receiverNode = childByField(fnNode, 'object');
    const attr = childByField(fnNode, 'attribute');
    if (attr) name = text.slice(attr.start, attr.end);
  }
  return {
    node, callee, qualified: callee, name,
    receiver: receiverNode ? text.slice(receiverNode.start, receiverNode.end) : undefined,
    receiverNode, args, keywords, keywordNodes, argumentList: argsNode, hasSplat,
    fn: ctx.fn, cls: ctx.cls, loops: ctx.loops, withs: ctx.withs, statement: ctx.statement ?? node,
  };
}

function readParams(params: SyntaxNode | undefined, t: (n: SyntaxNode | undefined) => string): ParamInfo[] {
  if (!params) return [];
  const out: ParamInfo[] = [];
  for (const p of params.children) {
    if (!p.named) continue;
    switch (p.type) {
      case 'identifier':
        out.push({ name: t(p), node: p, defaultValue: undefined, annotation: undefined, splat: false });
        break;
      case 'typed_parameter': {
        const id = p.children.find((c) => c.type === 'identifier');
        const splat = p.children.find((c) => c.type === 'list_splat_pattern' || c.type === 'dictionary_splat_pattern');
        out.push({ name: t(id ?? splat), node: p, defaultValue: undefined, annotation: t(childByField(p, 'type')) || undefined, splat: !!splat });
        break;
      }
      case 'default_parameter':
      case 'typed_default_parameter':
        out.push({
          name: t(childByField(p, 'name')), node: p, defaultValue: childByField(p, 'value'),
          annotation: t(childByField(p, 'type')) || undefined, splat: false,
        });
        break;
      case 'list_splat_pattern':
      case 'dictionary_splat_pattern':
        out.push({ name: t(p).replace(/^\*+/, ''), node: p, defaultValue: undefined, annotation: undefined, splat: true });
        break;
    }
  }
  return out;
}

function readImport(node: SyntaxNode, t: (n: SyntaxNode | undefined) => string): ImportInfo {
  const bindings = new Map<string, string>();
  let starFrom: string | undefined;
  if (node.type === 'import_statement') {
    for (const n of childrenByField(node, 'name')) {
      if (n.type === 'aliased_import') {
        bindings.set(t(childByField(n, 'alias')), t(childByField(n, 'name')));
      } else {
        const full = t(n);
        // `import torch.nn` binds `torch`; qualified names through it are already full.
        const head = full.split('.')[0]!;
        bindings.set(head, head);
      }
    }
  } else {
    const mod = t(childByField(node, 'module_name'));
    if (node.children.some((c) => c.type === 'wildcard_import')) starFrom = mod;
    for (const n of childrenByField(node, 'name')) {
      if (n.type === 'aliased_import') bindings.set(t(childByField(n, 'alias')), `${mod}.${t(childByField(n, 'name'))}`);
      else bindings.set(t(n), `${mod}.${t(n)}`);
    }
  }
  return { node, bindings, starFrom };
}
