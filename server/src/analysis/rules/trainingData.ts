import { singleReturnExpression } from '../facts/functionReturns';
import type { AssignmentInfo, CallInfo, FunctionInfo } from '../facts/scriptFacts';
import type { DataLoaderModel } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, unparenthesize } from '../syntax/syntaxNode';
import { asNumber, type Resolved } from '../values/pyValue';
import { inFrameworkCode, mentionsEval, mentionsTrain } from './loopIteration';
import { describe } from './ruleHelpers';
import type { RuleContext } from './ruleSpec';

/**
 * What the rules know about the training data: which DataLoader feeds the training loop, and
 * how many samples a dataset holds when the script makes that static (synthetic tensors, a
 * `__len__` returning a constant, a torchvision dataset of known size, `random_split` lengths).
 */
export interface DatasetSize {
  readonly n: number;
  /** Where the number comes from: `N_SAMPLES = 1000, line 12; torch.randn(n, 64)`, `CIFAR10 training split`. */
  readonly detail: string;
}

const trainingCache = new WeakMap<object, Set<DataLoaderModel>>();

/** DataLoaders that feed training: named so, returned by `train_dataloader()`, or iterated by a hand-written training loop. */
export function trainingLoaders(ctx: RuleContext): DataLoaderModel[] {
  let set = trainingCache.get(ctx.model);
  if (!set) {
    set = new Set();
    const iterated = iteratedByTraining(ctx);
    for (const d of ctx.model.dataLoaders) {
      if (d.role === 'eval') continue;
      const fnName = d.call.fn?.name ?? '';
      if (d.role === 'unknown' && fnName && mentionsEval(fnName)) continue;
      if (d.role === 'train' || (fnName && mentionsTrain(fnName)) || d.boundTo.some((b) => iterated.has(b))) set.add(d);
    }
    trainingCache.set(ctx.model, set);
  }
  return [...set];
}

/** Names iterated by training loops (outside framework code), following loader parameters to their call sites. */
function iteratedByTraining(ctx: RuleContext): Set<string> {
  const out = new Set<string>();
  for (const tl of ctx.model.trainingLoops) {
    const loop = tl.loop;
    if (!loop.iter || inFrameworkCode(ctx.model, loop.fn)) continue;
    for (const m of ctx.text_(loop.iter).matchAll(/[A-Za-z_][\w.]*/g)) {
      const name = m[0];
      out.add(name);
      const fn = loop.fn;
      if (!fn || name.includes('.')) continue;
      const params = fn.params.filter((p) => !p.splat);
      const index = params.findIndex((p) => p.name === name);
      if (index < 0) continue;
      const offset = fn.cls && params[0]?.name === 'self' ? 1 : 0;
      for (const site of ctx.facts.callsByName.get(fn.name) ?? []) {
        const arg = site.keywords.get(name) ?? site.args[index - offset];
        if (arg) out.add(ctx.text_(arg));
      }
    }
  }
  return out;
}

/** The dataset a DataLoader reads. */
export function loaderDataset(d: DataLoaderModel): SyntaxNode | undefined {
  return d.call.args[0] ?? d.call.keywords.get('dataset');
}

/**
 * Where names get their values while following a dataset expression: the function, and for a
 * call followed into one of the script's functions, its parameters bound to that call's arguments.
 */
interface Scope {
  readonly fn: FunctionInfo | undefined;
  readonly env?: ReadonlyMap<string, { readonly node: SyntaxNode; readonly scope: Scope }>;
}

const RESIZING = /\b(cat|concat|concatenate|stack|vstack|hstack|repeat|repeat_interleave|tile|expand|append|extend|split|chunk|sample|choice|filter|select|take|shard)\b/;

/**
 * The assignments that bind `name` before `use` in the scope (or an enclosing one), last first.
 * A rebinding computed from the name itself (`x = (x - mean) / std`, `x, v = scale(x, v)`) keeps
 * the number of rows, so the search goes on to the binding before it; slicing, concatenation or
 * sampling stops it.
 */
function bindingOf(ctx: RuleContext, name: string, fn: FunctionInfo | undefined, use: SyntaxNode): AssignmentInfo | undefined {
  const wordRe = new RegExp(`(^|[^\\w.])${name}\\b`);
  for (let scope = fn; ; scope = scope.parent) {
    const all = (ctx.facts.assignmentsByTarget.get(name) ?? []).filter((a) => a.fn === scope && a.op === '=' && (scope !== undefined || a.cls === undefined));
    if (all.length > 0) {
      const before = all.filter((a) => a.node.end <= use.start);
      const pick = before.length > 0 ? before : all;
      for (let i = pick.length - 1; i >= 0; i--) {
        const a = pick[i]!;
        if (a.conditional || a.loops.length > 0) return undefined;
        const value = a.value ? ctx.text_(a.value) : '';
        if (i > 0 && wordRe.test(value)) {
          if (new RegExp(`\\b${name}\\s*\\[`).test(value) || RESIZING.test(value)) return undefined;
          continue;
        }
        return a;
      }
      return undefined;
    }
    if (!scope) return undefined;
    if (scope.params.some((p) => p.name === name)) return undefined;
  }
}

/** The expression bound to a parameter when every call site passes the same text. */
function parameterArgument(ctx: RuleContext, fn: FunctionInfo, name: string): { node: SyntaxNode; fn: FunctionInfo | undefined } | undefined {
  const params = fn.params.filter((p) => !p.splat);
  const index = params.findIndex((p) => p.name === name);
  if (index < 0) return undefined;
  const offset = fn.cls && params[0]?.name === 'self' ? 1 : 0;
  const sites = (ctx.facts.callsByName.get(fn.name) ?? []).filter((c) => (fn.cls ? c.receiver !== undefined : c.callee === fn.name));
  let found: { node: SyntaxNode; fn: FunctionInfo | undefined } | undefined;
  for (const site of sites) {
    if (site.hasSplat) return undefined;
    const arg = site.keywords.get(name) ?? site.args[index - offset];
    if (!arg) return undefined;
    if (found && ctx.text_(found.node) !== ctx.text_(arg)) return undefined;
    found ??= { node: arg, fn: site.fn };
  }
  return found;
}

/** Binds a script function's parameters to one call's arguments. */
function callScope(fn: FunctionInfo, call: CallInfo, caller: Scope): Scope {
  const env = new Map<string, { node: SyntaxNode; scope: Scope }>();
  const params = fn.params.filter((p) => !p.splat);
  const offset = fn.cls && params[0]?.name === 'self' ? 1 : 0;
  params.forEach((p, i) => {
    const arg = call.keywords.get(p.name) ?? (i - offset >= 0 ? call.args[i - offset] : undefined);
    if (arg) env.set(p.name, { node: arg, scope: caller });
  });
  return { fn, env };
}

/** An expression for `name` in `scope`: a bound parameter, an assignment, or the argument every call site passes. */
function lookup(ctx: RuleContext, name: string, scope: Scope, use: SyntaxNode): { node: SyntaxNode; scope: Scope; part?: { asg: AssignmentInfo } } | undefined {
  const bound = scope.env?.get(name);
  if (bound) return bound;
  const asg = bindingOf(ctx, name, scope.fn, use);
  if (asg?.value) {
    const s: Scope = asg.fn === scope.fn ? scope : { fn: asg.fn };
    return asg.targetText === name ? { node: asg.value, scope: s } : { node: asg.value, scope: s, part: { asg } };
  }
  if (!asg && scope.fn && scope.fn.params.some((p) => p.name === name)) {
    const arg = parameterArgument(ctx, scope.fn, name);
    return arg ? { node: arg.node, scope: { fn: arg.fn } } : undefined;
  }
  return undefined;
}

/** `a, b = f(...)` / `a, b = x, y`: the expression that becomes `name`, following the script's function. */
function unpacked(ctx: RuleContext, asg: AssignmentInfo, name: string, scope: Scope): { node: SyntaxNode; scope: Scope } | undefined {
  const idx = asg.target.children.filter((c) => c.named).findIndex((c) => ctx.text_(c) === name);
  if (idx < 0 || !asg.value) return undefined;
  const value = unparenthesize(asg.value);
  if (value.type === 'expression_list' || value.type === 'tuple') {
    const item = value.children.filter((c) => c.named && c.type !== 'comment')[idx];
    return item ? { node: item, scope } : undefined;
  }
  const call = value.type === 'call' ? ctx.facts.callByNode.get(value) : undefined;
  const own = call && !call.receiver ? ctx.facts.functionsByName.get(call.callee) : undefined;
  if (!call || own?.length !== 1) return undefined;
  const ret = singleReturnExpression(own[0]!);
  const r = ret ? unparenthesize(ret) : undefined;
  if (!r || (r.type !== 'expression_list' && r.type !== 'tuple')) return undefined;
  const item = r.children.filter((c) => c.named && c.type !== 'comment')[idx];
  return item ? { node: item, scope: callScope(own[0]!, call, scope) } : undefined;
}

/** The number of samples in a dataset expression, when static. */
export function datasetSize(ctx: RuleContext, node: SyntaxNode | undefined, fn: FunctionInfo | undefined): DatasetSize | undefined {
  return node ? sizeIn(ctx, node, { fn }, 0) : undefined;
}

type SizeWalk = (ctx: RuleContext, node: SyntaxNode, scope: Scope, depth: number) => DatasetSize | undefined;

/**
 * Follows a name to what it is bound to and continues `walk` there: the assigned value, or for
 * a tuple-unpacking assignment first `special` (a split or a generator returning the parts),
 * then the matching element.
 */
function throughName(ctx: RuleContext, n: SyntaxNode, scope: Scope, depth: number, walk: SizeWalk, special: (asg: AssignmentInfo, name: string) => DatasetSize | undefined): DatasetSize | undefined {
  const name = ctx.text_(n);
  const found = lookup(ctx, name, scope, n);
  if (!found) return undefined;
  if (!found.part) return walk(ctx, found.node, found.scope, depth + 1);
  const direct = special(found.part.asg, name);
  if (direct) return direct;
  const u = unpacked(ctx, found.part.asg, name, found.scope);
  return u ? walk(ctx, u.node, u.scope, depth + 1) : undefined;
}

function sizeIn(ctx: RuleContext, node: SyntaxNode, scope: Scope, depth: number): DatasetSize | undefined {
  if (depth > 10) return undefined;
  const n = unparenthesize(node);
  if (n.type === 'identifier') return throughName(ctx, n, scope, depth, sizeIn, (asg, name) => splitPart(ctx, asg, name));
  if (n.type === 'subscript') return sliceSize(ctx, n, scope);
  if (n.type !== 'call') return undefined;
  const call = ctx.facts.callByNode.get(n);
  if (!call) return undefined;
  switch (call.name) {
    case 'TensorDataset':
      return call.args[0] ? firstDim(ctx, call.args[0], scope, depth + 1) : undefined;
    case 'Subset': {
      const idx = call.args[1] ?? call.keywords.get('indices');
      return idx ? lengthOf(ctx, idx, scope) : undefined;
    }
  }
  const known = TORCHVISION_SIZES[call.name];
  if (known && /torchvision|datasets/.test(call.qualified)) {
    const trainArg = call.keywords.get('train');
    const train = trainArg ? asNumber(ctx.values.resolve(trainArg, scope.fn)) : 1;
    if (train === undefined || call.keywords.has('split')) return undefined;
    const size = train ? known[0] : known[1];
    return { n: size, detail: `${call.name} ${train ? 'training' : 'test'} split` };
  }
  const cls = ctx.facts.classesByName.get(call.callee);
  if (cls) {
    const len = cls.methods.get('__len__');
    const ret = len ? singleReturnExpression(len) : undefined;
    if (!ret || !len) return undefined;
    const r = ctx.values.resolve(ret, len);
    const v = asNumber(r);
    return v !== undefined && Number.isInteger(v) && v > 0 ? { n: v, detail: joinDetail(r, `${cls.name}.__len__`) } : undefined;
  }
  const own = !call.receiver ? ctx.facts.functionsByName.get(call.callee) : undefined;
  if (own?.length === 1) {
    const ret = singleReturnExpression(own[0]!);
    return ret ? sizeIn(ctx, ret, callScope(own[0]!, call, scope), depth + 1) : undefined;
  }
  return undefined;
}

/** `x[:N]` (rows 0..N) → N, when N resolves; other slices are left alone. */
function sliceSize(ctx: RuleContext, n: SyntaxNode, scope: Scope): DatasetSize | undefined {
  const sub = childByField(n, 'subscript');
  if (sub?.type !== 'slice') return undefined;
  const parts = sub.children.filter((c) => c.named && c.type !== 'comment');
  const text = ctx.text_(sub).replace(/\s+/g, '');
  if (parts.length !== 1 || !/^:[^:]+$/.test(text)) return undefined;
  const v = intOf(ctx, parts[0]!, scope);
  return v ? { n: v.v, detail: joinDetail(v.r, `\`${ctx.text_(n).replace(/\s+/g, ' ').slice(0, 50)}\``) } : undefined;
}

/** `X, y = make_classification(n_samples=N, ...)` (scikit-learn generators): N rows in every part. */
function sampleGenerator(ctx: RuleContext, asg: AssignmentInfo): DatasetSize | undefined {
  const value = asg.value ? unparenthesize(asg.value) : undefined;
  const call = value?.type === 'call' ? ctx.facts.callByNode.get(value) : undefined;
  if (!call || !/^(make_classification|make_regression|make_moons|make_circles|make_blobs)$/.test(call.name) || !/sklearn/.test(call.qualified)) return undefined;
  const node = call.keywords.get('n_samples') ?? call.args[0];
  if (!node) return { n: 100, detail: `${call.name} default n_samples` };
  const v = intOf(ctx, node, { fn: asg.fn });
  return v ? { n: v.v, detail: joinDetail(v.r, `${call.name}(n_samples=…)`) } : undefined;
}

/** `train_ds, val_ds = random_split(ds, [800, 200])`: the part bound to `name`. */
function splitPart(ctx: RuleContext, asg: AssignmentInfo, name: string): DatasetSize | undefined {
  const value = asg.value ? unparenthesize(asg.value) : undefined;
  const call = value?.type === 'call' ? ctx.facts.callByNode.get(value) : undefined;
  if (!call || call.name !== 'random_split') return undefined;
  const idx = asg.target.children.filter((c) => c.named).findIndex((c) => ctx.text_(c) === name);
  const lengths = call.args[1] ?? call.keywords.get('lengths');
  if (idx < 0 || !lengths) return undefined;
  const r = ctx.values.resolve(lengths, asg.fn);
  if (r.value?.kind !== 'sequence') return undefined;
  const item = r.value.items[idx];
  const v = asNumber(item);
  if (!item || v === undefined || !Number.isInteger(v) || (item.value?.kind === 'number' && !item.value.isInt)) return undefined;
  return { n: v, detail: joinDetail(item, 'random_split length') };
}

/** `N_SAMPLES = 256, line 15; torch.randn(n, 64)`: the value's provenance (when not a literal) and the expression. */
function joinDetail(r: Resolved, what: string): string {
  const d = describe(r);
  const m = /^\S+ \((.*)\)$/.exec(d);
  return m ? `${m[1]}; ${what}` : what;
}


function intOf(ctx: RuleContext, node: SyntaxNode, scope: Scope, depth = 0): { v: number; r: Resolved } | undefined {
  const n = unparenthesize(node);
  if (n.type === 'identifier' && depth < 6) {
    const bound = scope.env?.get(ctx.text_(n));
    if (bound) return intOf(ctx, bound.node, bound.scope, depth + 1);
  }
  const r = ctx.values.resolve(n, scope.fn);
  const v = asNumber(r);
  return v !== undefined && Number.isInteger(v) && v > 0 && r.value?.kind === 'number' ? { v, r } : undefined;
}

const SIZE_FIRST = /^(torch|numpy|numpy\.random|torch\.random)\.(randn|rand|zeros|ones|empty|full)$/;

/** First dimension of a tensor-creating expression: `torch.randn(N, 10)`, `np.zeros((N, 3))`, `torch.randint(0, 2, (N,))`. */
function firstDim(ctx: RuleContext, node: SyntaxNode, scope: Scope, depth: number): DatasetSize | undefined {
  if (depth > 10) return undefined;
  const n = unparenthesize(node);
  if (n.type === 'identifier') return throughName(ctx, n, scope, depth, firstDim, (asg) => sampleGenerator(ctx, asg));
  if (n.type === 'subscript') return sliceSize(ctx, n, scope);
  if (n.type !== 'call') return undefined;
  const call = ctx.facts.callByNode.get(n);
  if (!call) return undefined;
  const q = call.qualified;
  let sizeNode: SyntaxNode | undefined;
  if (SIZE_FIRST.test(q)) sizeNode = call.keywords.get('size') ?? call.args[0];
  else if (/^torch\.randint$/.test(q)) sizeNode = call.keywords.get('size') ?? call.args[call.args.length - 1];
  else if (/^numpy\.random\.(randint|normal|uniform|choice|binomial|randn)$/.test(q)) sizeNode = call.keywords.get('size') ?? (call.name === 'randn' ? call.args[0] : undefined);
  else if (/^(torch\.(tensor|as_tensor|from_numpy|FloatTensor|LongTensor)|numpy\.(array|asarray))$/.test(q) && call.args[0]) {
    const a = unparenthesize(call.args[0]);
    if (a.type === 'list') {
      const len = a.children.filter((c) => c.named && c.type !== 'comment').length;
      return len > 0 ? { n: len, detail: 'list literal' } : undefined;
    }
    return firstDim(ctx, a, scope, depth + 1);
  } else if (call.receiverNode && /^(float|long|int|double|to|cuda|unsqueeze|contiguous|clone|detach|numpy|astype|half)$/.test(call.name) && !q.startsWith('torch.') && !q.startsWith('numpy.')) {
    return firstDim(ctx, call.receiverNode, scope, depth + 1);
  } else if (!call.receiver) {
    const own = ctx.facts.functionsByName.get(call.callee);
    const ret = own?.length === 1 ? singleReturnExpression(own[0]!) : undefined;
    if (ret) return firstDim(ctx, ret, callScope(own![0]!, call, scope), depth + 1);
  }
  if (!sizeNode) return undefined;
  const s = unparenthesize(sizeNode);
  const first = s.type === 'tuple' || s.type === 'list' ? s.children.find((c) => c.named && c.type !== 'comment') : s;
  if (!first) return undefined;
  const v = intOf(ctx, first, scope);
  return v ? { n: v.v, detail: joinDetail(v.r, `\`${ctx.text_(n).replace(/\s+/g, ' ').slice(0, 50)}\``) } : undefined;
}

function lengthOf(ctx: RuleContext, node: SyntaxNode, scope: Scope): DatasetSize | undefined {
  const n = unparenthesize(node);
  if (n.type === 'list') {
    const len = n.children.filter((c) => c.named && c.type !== 'comment').length;
    return len > 0 ? { n: len, detail: 'list literal' } : undefined;
  }
  const call = n.type === 'call' ? ctx.facts.callByNode.get(n) : undefined;
  if (call?.callee === 'range' && call.args.length === 1) {
    const v = intOf(ctx, call.args[0]!, scope);
    return v ? { n: v.v, detail: joinDetail(v.r, `\`${ctx.text_(n)}\``) } : undefined;
  }
  return undefined;
}

/** Sizes of torchvision datasets: [training split, test split]. */
const TORCHVISION_SIZES: Readonly<Record<string, readonly [number, number]>> = {
  MNIST: [60000, 10000], FashionMNIST: [60000, 10000], KMNIST: [60000, 10000], CIFAR10: [50000, 10000], CIFAR100: [50000, 10000],
};

/** True when the dataset is (or may be) iterable-style or streamed, where shuffling belongs to the dataset itself. */
export function isIterableDataset(ctx: RuleContext, node: SyntaxNode | undefined, fn: FunctionInfo | undefined): boolean {
  if (!node) return false;
  const seen = new Set<SyntaxNode>();
  const queue: { node: SyntaxNode; fn: FunctionInfo | undefined }[] = [{ node, fn }];
  while (queue.length > 0 && seen.size < 8) {
    const cur = queue.shift()!;
    const n = unparenthesize(cur.node);
    if (seen.has(n)) continue;
    seen.add(n);
    const text = ctx.text_(n);
    if (/Iterable|[Ss]tream|IterDataPipe|webdataset|\bwds\.|to_iterable_dataset|\.shuffle\s*\(/.test(text)) return true;
    if (n.type === 'identifier') {
      const asg = bindingOf(ctx, text, cur.fn, n);
      if (asg?.value) queue.push({ node: asg.value, fn: asg.fn });
      // `ds = ds.shuffle(seed=0)` later in the script: shuffled by the dataset itself.
      if ((ctx.facts.callsByName.get('shuffle') ?? []).some((c) => c.receiver === text)) return true;
      continue;
    }
    if (n.type === 'call') {
      const call = ctx.facts.callByNode.get(n);
      if (!call) continue;
      const cls = ctx.facts.classesByName.get(call.callee);
      if (cls && cls.qualifiedBases.some((b) => /IterableDataset|IterDataPipe/.test(b))) return true;
      if (call.name === 'load_dataset' && call.keywords.has('streaming')) {
        const s = asNumber(ctx.values.resolve(call.keywords.get('streaming')!, cur.fn));
        if (s !== 0) return true;
      }
      for (const a of call.args) queue.push({ node: a, fn: cur.fn });
      if (call.receiverNode) queue.push({ node: call.receiverNode, fn: cur.fn });
    }
  }
  return false;
}

export function callText(ctx: RuleContext, call: CallInfo, max = 60): string {
  const t = ctx.text_(call.node).replace(/\s+/g, ' ');
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}
