import type { AssignmentInfo, CallInfo, FunctionInfo, LoopInfo, ScriptFacts } from '../facts/scriptFacts';
import { calledScriptFunction, isModuleClass } from '../model/extractModel';
import type { LoopEvent, LoopEventKind, TrainingLoopModel, TrainingScript } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';

/**
 * One iteration of a hand-written training loop, as the LOOP, AMP and EVAL rules read it: the
 * loop's events in the order one iteration runs them, each knowing whether it runs once per
 * iteration of this loop (`direct`) or inside a nested loop.
 */
export interface IterationEvent {
  readonly kind: LoopEventKind;
  readonly call: CallInfo;
  /** The call in the loop's own body that runs the event (the event itself, or the helper call). */
  readonly anchor: CallInfo;
  /** Runs once per iteration of this loop, not inside a nested loop (here or in a helper). */
  readonly direct: boolean;
  readonly index: number;
}

export interface StepLoop {
  readonly training: TrainingLoopModel;
  readonly loop: LoopInfo;
  readonly events: readonly IterationEvent[];
}

const SCALER_RECEIVER = /scaler/i;

/** True inside code a framework runs for the user: Lightning/Keras/HF Trainer hooks and methods of their subclasses. */
export function inFrameworkCode(model: TrainingScript, fn: FunctionInfo | undefined): boolean {
  for (let f = fn; f; f = f.parent) {
    if (model.frameworkHooks.includes(f)) return true;
    if (f.cls && isModuleClass(f.cls, true)) return true;
  }
  return false;
}

function isDirect(e: LoopEvent, loop: LoopInfo): boolean {
  const anchor = e.via?.[0] ?? e.call;
  if (anchor.fn !== loop.fn || anchor.loops[anchor.loops.length - 1] !== loop) return false;
  if (!e.via) return true;
  for (let i = 1; i < e.via.length; i++) if (e.via[i]!.loops.length > 0) return false;
  return e.call.loops.length === 0;
}

export function iterationEvents(t: TrainingLoopModel): IterationEvent[] {
  return t.events.map((e, index) => ({ kind: e.kind, call: e.call, anchor: e.via?.[0] ?? e.call, direct: isDirect(e, t.loop), index }));
}

const stepLoopCache = new WeakMap<TrainingScript, StepLoop[]>();

/**
 * Loops that run optimizer steps once per iteration (directly or through a helper they call),
 * outside framework code. Each optimizer step belongs to exactly one of them: the innermost.
 */
export function stepLoops(model: TrainingScript): readonly StepLoop[] {
  const hit = stepLoopCache.get(model);
  if (hit) return hit;
  const out: StepLoop[] = [];
  for (const t of model.trainingLoops) {
    if (inFrameworkCode(model, t.loop.fn)) continue;
    // distributed autograd keeps gradients per context: no zero_grad, steps take the context id
    if (t.events.some((e) => e.kind === 'backward' && /dist_autograd|distributed\.autograd/.test(e.call.receiver ?? ''))) continue;
    const events = iterationEvents(t);
    if (!events.some((e) => e.kind === 'step' && e.direct)) continue;
    out.push({ training: t, loop: t.loop, events });
  }
  stepLoopCache.set(model, out);
  return out;
}

/** `scaler.step(optimizer)` / `optimizer.step()` → the optimizer's text. */
export function steppedOptimizer(step: CallInfo, text: string): string | undefined {
  if (step.receiver && SCALER_RECEIVER.test(step.receiver)) {
    const a = step.args[0];
    return a ? text.slice(a.start, a.end) : undefined;
  }
  return step.receiver;
}

export function isScalerStep(step: CallInfo): boolean {
  return !!step.receiver && SCALER_RECEIVER.test(step.receiver);
}

// ------------------------------------------------------------------ regions

/** Calls of `fn` inside `node`, in source order (binary search over the function's sorted calls). */
export function callsWithin(facts: ScriptFacts, node: SyntaxNode, fn: FunctionInfo | undefined): CallInfo[] {
  const list = facts.callsByFunction.get(fn) ?? [];
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.node.start < node.start) lo = mid + 1;
    else hi = mid;
  }
  const out: CallInfo[] = [];
  for (let i = lo; i < list.length && list[i]!.node.start < node.end; i++) {
    if (list[i]!.node.end <= node.end) out.push(list[i]!);
  }
  return out;
}

const assignmentsByFn = new WeakMap<ScriptFacts, Map<FunctionInfo | undefined, AssignmentInfo[]>>();

export function assignmentsWithin(facts: ScriptFacts, node: SyntaxNode, fn: FunctionInfo | undefined): AssignmentInfo[] {
  let byFn = assignmentsByFn.get(facts);
  if (!byFn) {
    byFn = new Map();
    for (const a of facts.assignments) {
      const l = byFn.get(a.fn);
      if (l) l.push(a);
      else byFn.set(a.fn, [a]);
    }
    assignmentsByFn.set(facts, byFn);
  }
  return (byFn.get(fn) ?? []).filter((a) => node.start <= a.node.start && a.node.end <= node.end);
}

const nestedCache = new WeakMap<ScriptFacts, Map<FunctionInfo | undefined, FunctionInfo[]>>();

/** Functions by the function they are defined in (undefined: module level or a class body). */
function nestedFunctions(facts: ScriptFacts): Map<FunctionInfo | undefined, FunctionInfo[]> {
  let m = nestedCache.get(facts);
  if (!m) {
    m = new Map();
    for (const f of facts.functions) {
      const l = m.get(f.parent);
      if (l) l.push(f);
      else m.set(f.parent, [f]);
    }
    nestedCache.set(facts, m);
  }
  return m;
}

export interface Span {
  readonly node: SyntaxNode;
  readonly fn: FunctionInfo | undefined;
}

/**
 * What one iteration of a loop runs: its body plus the bodies of the script's functions it calls
 * (two levels, as the model's events do) and of functions defined inside it (closures).
 */
export function regionOf(facts: ScriptFacts, body: SyntaxNode, fn: FunctionInfo | undefined, depth = 2): Span[] {
  const spans: Span[] = [{ node: body, fn }];
  const seen = new Set<FunctionInfo | undefined>([fn]);
  const queue: { node: SyntaxNode; fn: FunctionInfo | undefined; depth: number }[] = [{ node: body, fn, depth }];
  while (queue.length) {
    const cur = queue.shift()!;
    const add = (f: FunctionInfo, d: number) => {
      if (seen.has(f) || !f.body) return;
      seen.add(f);
      spans.push({ node: f.body, fn: f });
      queue.push({ node: f.body, fn: f, depth: d });
    };
    for (const f of nestedFunctions(facts).get(cur.fn) ?? []) {
      if (cur.node.start <= f.node.start && f.node.end <= cur.node.end) add(f, cur.depth);
    }
    if (cur.depth <= 0) continue;
    for (const c of callsWithin(facts, cur.node, cur.fn)) {
      const target = calledScriptFunction(facts, c);
      if (target) add(target, cur.depth - 1);
    }
  }
  return spans;
}

export function regionCalls(facts: ScriptFacts, spans: readonly Span[]): CallInfo[] {
  return spans.flatMap((s) => callsWithin(facts, s.node, s.fn));
}

export function regionAssignments(facts: ScriptFacts, spans: readonly Span[]): AssignmentInfo[] {
  return spans.flatMap((s) => assignmentsWithin(facts, s.node, s.fn));
}

/** A call into the user's own code: a function or method the script defines, or a name imported from the user's modules. */
export function isUserCode(facts: ScriptFacts, call: CallInfo): boolean {
  if (calledScriptFunction(facts, call) || facts.functionsByName.has(call.name)) return true;
  const head = call.callee.split('.')[0]!;
  const bound = head ? facts.importBindings.get(head) : undefined;
  return !!bound && !KNOWN_LIBRARY.test(bound);
}

const BACKWARD_CALL = /^(backward|manual_backward|grad)$/;
const TRAINING_NAME = /train|step|backward|update|optimi[sz]e|grad|loss|fit|run|engine|closure|iteration|batch/i;

/**
 * A call the analysis cannot follow that may run a backward pass: a script function or method
 * with that name (when not resolved to one body) whose body calls backward/grad, or a
 * training-sounding function imported from the user's own modules.
 */
export function mayRunBackward(facts: ScriptFacts, call: CallInfo): boolean {
  if (calledScriptFunction(facts, call)) return false;
  for (const f of facts.functionsByName.get(call.name) ?? []) {
    if ((facts.callsByFunction.get(f) ?? []).some((c) => BACKWARD_CALL.test(c.name) || facts.functionsByName.has(c.name) && c !== call)) return true;
  }
  const head = call.callee.split('.')[0]!;
  const bound = head ? facts.importBindings.get(head) : undefined;
  return !!bound && !KNOWN_LIBRARY.test(bound) && TRAINING_NAME.test(call.name);
}

const KNOWN_LIBRARY = /^(torch|torchvision|torchaudio|torchtext|numpy|np|math|random|os|sys|time|datetime|json|csv|re|copy|logging|argparse|pathlib|tqdm|wandb|tensorboard|tensorboardX|mlflow|transformers|datasets|evaluate|sklearn|scipy|pandas|PIL|matplotlib|seaborn|einops|timm|itertools|functools|collections|typing|dataclasses|yaml|omegaconf|hydra|pickle|shutil|glob|warnings|contextlib|statistics|accelerate|peft|tokenizers|safetensors)(\.|$)/;

// ------------------------------------------------------------------ conditions

const CONDITIONAL = new Set(['if_statement', 'elif_clause', 'else_clause', 'match_statement', 'case_clause', 'conditional_expression', 'boolean_operator', 'except_clause']);

/** True when the node may not run on every pass through `within` (an if/else/except/match between them). */
export function isConditionalWithin(node: SyntaxNode, within: SyntaxNode): boolean {
  for (let p = node.parent; p && p !== within; p = p.parent) if (CONDITIONAL.has(p.type)) return true;
  return false;
}

/** The `%` operator's right operand in a condition such as `(i + 1) % accum_steps == 0`. */
export function moduloOperand(condition: SyntaxNode): SyntaxNode | undefined {
  let found: SyntaxNode | undefined;
  const visit = (n: SyntaxNode) => {
    if (found) return;
    if (n.type === 'binary_operator' && n.children.some((c) => c.field === 'operator' && c.type === '%')) {
      found = n.children.find((c) => c.field === 'right');
      return;
    }
    for (const c of n.children) visit(c);
  };
  visit(condition);
  return found;
}

// ------------------------------------------------------------------ names

/** Models whose parameters an optimizer's params expression takes: `model` in `model.parameters()`, through one variable. */
export function parameterOwners(facts: ScriptFacts, text: string, node: SyntaxNode | undefined, fn: FunctionInfo | undefined): string[] {
  if (!node) return [];
  let t = text.slice(node.start, node.end);
  if (node.type === 'identifier') {
    const name = t;
    for (const a of facts.assignmentsByTarget.get(name) ?? []) if (a.fn === fn && a.value) t += ` ${text.slice(a.value.start, a.value.end)}`;
  }
  const out = new Set<string>();
  for (const m of t.matchAll(/([\w.]+)\.(?:named_)?parameters\s*\(/g)) out.add(m[1]!);
  return [...out];
}

/** Splits identifiers into lower-case words: `valLoader` → val, loader; `test_dl` → test, dl. */
export function words(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

const EVAL_WORDS = new Set(['val', 'valid', 'validation', 'validate', 'vali', 'test', 'tests', 'testing', 'eval', 'evaluate', 'evaluation', 'dev', 'holdout', 'heldout']);
const EVAL_COMPOUND = /^(val|valid|test|eval|dev)(loader|loaders|set|data|dl|ds|dataset|batch|batches|iter|split|x|y|imgs|images|labels)$/;
const TRAIN_WORDS = new Set(['train', 'training', 'trn']);
const TRAIN_COMPOUND = /^(train|trn)(loader|loaders|set|data|dl|ds|dataset|batch|batches|iter|split|x|y|imgs|images|labels)$/;

export function mentionsEval(text: string): boolean {
  return words(text).some((w) => EVAL_WORDS.has(w) || EVAL_COMPOUND.test(w));
}

export function mentionsTrain(text: string): boolean {
  return words(text).some((w) => TRAIN_WORDS.has(w) || TRAIN_COMPOUND.test(w));
}
