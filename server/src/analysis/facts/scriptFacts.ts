import type { SyntaxNode } from '../syntax/syntaxNode';

/**
 * Syntax facts of one file, collected in a single walk: every call, assignment, function,
 * class, loop, `with` block and import, each knowing its enclosing function, class and loops.
 * Value resolution, model extraction and the rules all read these instead of re-walking.
 */
export interface FunctionInfo {
  readonly name: string;
  readonly node: SyntaxNode;
  readonly body: SyntaxNode | undefined;
  readonly params: ParamInfo[];
  readonly decorators: string[];
  /** The class whose method this is, when defined directly in a class body. */
  readonly cls: ClassInfo | undefined;
  /** The enclosing function, for nested functions. */
  readonly parent: FunctionInfo | undefined;
}

export interface ParamInfo {
  readonly name: string;
  readonly node: SyntaxNode;
  readonly defaultValue: SyntaxNode | undefined;
  readonly annotation: string | undefined;
  /** `*args` / `**kwargs`. */
  readonly splat: boolean;
}

export interface ClassInfo {
  readonly name: string;
  readonly node: SyntaxNode;
  readonly bases: string[];
  readonly qualifiedBases: string[];
  readonly decorators: string[];
  readonly methods: Map<string, FunctionInfo>;
  /** Class-level `name: T = value` / `name = value` statements (dataclass fields, constants). */
  readonly fields: Map<string, { node: SyntaxNode; value: SyntaxNode | undefined; annotation: string | undefined }>;
}

export interface LoopInfo {
  readonly node: SyntaxNode;
  readonly kind: 'for' | 'while';
  /** `for target in iter` (for loops only). */
  readonly target: SyntaxNode | undefined;
  readonly iter: SyntaxNode | undefined;
  readonly body: SyntaxNode | undefined;
  readonly fn: FunctionInfo | undefined;
  readonly parent: LoopInfo | undefined;
  /** The end of the header (`for ...:`), for ranges that should cover only the first line. */
  readonly headerEnd: number;
}

export interface WithInfo {
  readonly node: SyntaxNode;
  /** The expressions of the `with` items (`torch.no_grad()`, `autocast(...)`). */
  readonly items: SyntaxNode[];
  readonly body: SyntaxNode | undefined;
  readonly fn: FunctionInfo | undefined;
}

export interface CallInfo {
  readonly node: SyntaxNode;
  /** Dotted source text of the callee (`torch.optim.AdamW`), '' when not a plain dotted name. */
  readonly callee: string;
  /** The callee with its first segment replaced through the file's imports (`nn` → `torch.nn`); set per analysis. */
  qualified: string;
  /** Last segment of the callee (`step` in `optimizer.step`). */
  readonly name: string;
  /** Text of the object a method is called on (`optimizer` in `optimizer.step()`), if any. */
  readonly receiver: string | undefined;
  readonly receiverNode: SyntaxNode | undefined;
  readonly args: SyntaxNode[];
  readonly keywords: Map<string, SyntaxNode>;
  /** The whole `name=value` nodes, for ranges and edits. */
  readonly keywordNodes: Map<string, SyntaxNode>;
  readonly argumentList: SyntaxNode | undefined;
  readonly hasSplat: boolean;
  readonly fn: FunctionInfo | undefined;
  readonly cls: ClassInfo | undefined;
  /** Enclosing loops inside the same function, outermost first. */
  readonly loops: LoopInfo[];
  readonly withs: WithInfo[];
  /** The innermost statement containing the call. */
  readonly statement: SyntaxNode;
}

export interface AssignmentInfo {
  readonly node: SyntaxNode;
  readonly target: SyntaxNode;
  /** Dotted text of a simple target (`lr`, `self.lr`, `cfg.lr`); '' for tuples and subscripts. */
  readonly targetText: string;
  readonly value: SyntaxNode | undefined;
  readonly annotation: string | undefined;
  /** '=' or the augmented operator ('+=', '*=' …). */
  readonly op: string;
  readonly fn: FunctionInfo | undefined;
  readonly cls: ClassInfo | undefined;
  readonly loops: LoopInfo[];
  /** True when inside an if/try/with/match block of its scope (may not always run). */
  readonly conditional: boolean;
}

export interface ImportInfo {
  readonly node: SyntaxNode;
  /** Local name → fully qualified module path or symbol. */
  readonly bindings: Map<string, string>;
  /** `from module import *`. */
  readonly starFrom: string | undefined;
}

export interface ScriptFacts {
  readonly functions: FunctionInfo[];
  readonly classes: ClassInfo[];
  readonly loops: LoopInfo[];
  readonly withs: WithInfo[];
  readonly calls: CallInfo[];
  readonly assignments: AssignmentInfo[];
  readonly imports: ImportInfo[];
  /** Local alias → qualified name, from every import in the file. */
  readonly importBindings: Map<string, string>;
  readonly starImports: string[];
  /** Calls grouped by their last name segment, for fast lookup. */
  readonly callsByName: Map<string, CallInfo[]>;
  readonly callByNode: Map<SyntaxNode, CallInfo>;
  /** Calls per enclosing function (undefined: module level), in source order. */
  readonly callsByFunction: Map<FunctionInfo | undefined, CallInfo[]>;
  /** Assignments by the dotted text of their target (`lr`, `self.lr`). */
  readonly assignmentsByTarget: Map<string, AssignmentInfo[]>;
  /** Assignments by their value node: what a call's result is bound to. */
  readonly assignmentByValue: Map<SyntaxNode, AssignmentInfo>;
  readonly functionsByName: Map<string, FunctionInfo[]>;
  readonly classesByName: Map<string, ClassInfo>;
}
