import type { CallInfo, ClassInfo, FunctionInfo, ScriptFacts } from '../facts/scriptFacts';
import type { LayerKind } from '../model/apiCatalogue';
import { isModuleClass, sequentialItemNodes } from '../model/extractModel';
import type { LayerModel, TrainingScript } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, contains, unparenthesize } from '../syntax/syntaxNode';
import { asString, isNone } from '../values/pyValue';
import type { ValueResolver } from '../values/valueResolver';

/**
 * The order in which layers really run: items of `nn.Sequential` / Keras `Sequential` (and
 * `model.add(...)`), and the data flow of `forward()` / `call()` and of any function
 * (`x = self.drop(x)` then `x = self.bn(x)`, `self.bn(self.drop(x))`, Keras functional
 * `layers.Dense(10)(x)`). Each op knows the op whose output it consumes directly, so rules can
 * ask "is this batch norm fed by a dropout?" without trusting `__init__` order. Anything the
 * reader does not understand (a residual sum, a loop, an unknown call) breaks the chain.
 */
export interface FlowOp {
  readonly kind: LayerKind;
  /** `Dropout`, `BatchNorm1d`, `softmax`, `log_softmax`, `sigmoid`, `relu` … */
  readonly name: string;
  /** The layer object, when the op is one (`self.drop`, a Sequential item, `Dense(10)(x)`). */
  readonly layer: LayerModel | undefined;
  /** The call that applies the op (`self.drop(x)`, `F.softmax(x)`); undefined for a Sequential item. */
  readonly application: CallInfo | undefined;
  /** Where a finding about the op goes: the layer's constructor call, or the functional call. */
  readonly anchor: SyntaxNode;
  /** The op whose output this one consumes, with nothing the reader does not understand in between. */
  readonly input: FlowOp | undefined;
  readonly container: 'sequential' | 'flow';
  /**
   * What the op belongs to: its Sequential call, or the class (else function) that defines the
   * layer or calls the functional op. Rules that rewrite a layer because of its neighbour only
   * pair ops with the same owner: a block class reused elsewhere must not be edited for one use.
   */
  readonly owner: object | undefined;
  /** For a Sequential item: every item node of its container (layers or not) and its index there. */
  readonly items?: readonly SyntaxNode[];
  readonly index?: number;
}

/** A loss applied to a prediction: `criterion(out, y)`, `F.cross_entropy(logits, y)`, `loss_fn(y, model(x))`. */
export interface LossUse {
  readonly call: CallInfo;
  /** Class or function name: `CrossEntropyLoss`, `cross_entropy`, `SparseCategoricalCrossentropy`. */
  readonly loss: string;
  readonly framework: 'pytorch' | 'keras';
  /** The op producing the prediction, when known. */
  readonly input: FlowOp | undefined;
  /** The loss object's constructor, when the loss is an object. */
  readonly constructor: CallInfo | undefined;
}

/** A Keras model compiled with a loss: `model.compile(loss=...)`. */
export interface KerasCompile {
  readonly call: CallInfo;
  /** The model's output op (its last layer), when known. */
  readonly output: FlowOp | undefined;
  /** The `loss=` argument. */
  readonly lossArg: SyntaxNode | undefined;
}

export interface LayerFlow {
  readonly ops: readonly FlowOp[];
  readonly losses: readonly LossUse[];
  readonly compiles: readonly KerasCompile[];
  /**
   * The layers of the model a name holds (`model`, `self.backbone`, `net`) as seen from `fn`:
   * its class's layers and those of the script's module classes it builds, or a Sequential's
   * items. Undefined when the name is not a model the script builds.
   */
  modelLayers(name: string, fn: FunctionInfo | undefined, cls: ClassInfo | undefined): readonly LayerModel[] | undefined;
}

type Provider =
  | { readonly kind: 'class'; readonly cls: ClassInfo }
  | { readonly kind: 'sequence'; readonly call: CallInfo }
  | { readonly kind: 'kerasModel'; readonly call: CallInfo };

interface FunctionFlow {
  readonly returns: (FlowOp | undefined)[];
  /** Outputs of `keras.Model(inputs, outputs)` calls in this function. */
  readonly modelOutputs: Map<SyntaxNode, FlowOp | undefined>;
}

const FUNCTIONAL: Readonly<Record<string, readonly [LayerKind, string]>> = {};
const addFunctional = (mods: readonly string[], names: readonly string[], kind: LayerKind, rename?: (n: string) => string) => {
  for (const m of mods) for (const n of names) (FUNCTIONAL as Record<string, readonly [LayerKind, string]>)[`${m}.${n}`] = [kind, rename ? rename(n) : n];
};
const TORCH_F = ['torch.nn.functional'];
addFunctional(TORCH_F, ['dropout', 'dropout1d', 'dropout2d', 'dropout3d', 'alpha_dropout', 'feature_alpha_dropout'], 'dropout');
addFunctional(['torch'], ['dropout', 'alpha_dropout', 'feature_dropout'], 'dropout');
addFunctional([...TORCH_F, 'torch'], ['relu', 'relu6', 'gelu', 'silu', 'elu', 'selu', 'celu', 'leaky_relu', 'tanh', 'sigmoid', 'softplus', 'mish', 'hardswish', 'hardtanh', 'softsign', 'glu'], 'activation');
addFunctional([...TORCH_F, 'torch', 'torch.special'], ['softmax', 'log_softmax'], 'softmax');
addFunctional(['torch.special'], ['expit'], 'activation', () => 'sigmoid');
addFunctional(TORCH_F, ['linear'], 'linear');
addFunctional(TORCH_F, ['batch_norm'], 'batchnorm');
addFunctional(TORCH_F, ['layer_norm'], 'layernorm');
addFunctional(['tensorflow.nn', 'tensorflow.math', 'tensorflow', 'keras.activations', 'tensorflow.keras.activations', 'keras.ops', 'jax.nn'], ['relu', 'gelu', 'tanh', 'sigmoid', 'elu', 'selu', 'silu', 'swish', 'softplus'], 'activation');
addFunctional(['tensorflow.nn', 'tensorflow.math', 'keras.activations', 'tensorflow.keras.activations', 'keras.ops', 'jax.nn'], ['softmax', 'log_softmax'], 'softmax');

const TENSOR_ACTIVATIONS = new Set(['relu', 'sigmoid', 'tanh', 'softmax', 'log_softmax', 'gelu']);
/** Methods that reshape or move a tensor without changing what it holds. */
const TRANSPARENT_METHODS = new Set(['view', 'reshape', 'flatten', 'squeeze', 'unsqueeze', 'contiguous', 'permute', 'transpose', 'float', 'half', 'double', 'to', 'cuda', 'cpu', 'type_as', 'view_as', 'reshape_as', 'clone']);
const TRANSPARENT_FUNCTIONS = new Set(['torch.flatten', 'torch.squeeze', 'torch.reshape']);

const TORCH_LOSS_FUNCTIONS: Readonly<Record<string, string>> = {
  'torch.nn.functional.cross_entropy': 'cross_entropy', 'torch.nn.functional.nll_loss': 'nll_loss',
  'torch.nn.functional.binary_cross_entropy': 'binary_cross_entropy',
  'torch.nn.functional.binary_cross_entropy_with_logits': 'binary_cross_entropy_with_logits',
};
const MODEL_CHAIN_METHODS = new Set(['to', 'cuda', 'cpu', 'float', 'half', 'double', 'train', 'eval', 'bfloat16', 'requires_grad_']);

const flowCache = new WeakMap<TrainingScript, LayerFlow>();

/** Reads the layer order of the whole script once (cached per model). */
export function layerFlow(model: TrainingScript, facts: ScriptFacts, text: string): LayerFlow {
  const hit = flowCache.get(model);
  if (hit) return hit;
  const flow = new FlowReader(model, facts, text).read();
  flowCache.set(model, flow);
  return flow;
}

/** The activation a Keras layer applies: `relu`, `softmax`, `linear` (none); undefined when not static. */
export function kerasActivation(layer: LayerModel, values: ValueResolver, text: string): string | undefined {
  if (layer.framework !== 'keras') return undefined;
  if (layer.className === 'Softmax') return 'softmax';
  if (layer.className === 'ReLU') return 'relu';
  const isActivationLayer = layer.className === 'Activation';
  const node = isActivationLayer
    ? layer.call.args[0] ?? layer.call.keywords.get('activation')
    : layer.call.keywords.get('activation') ?? (layer.kind === 'linear' ? layer.call.args[1] : undefined);
  if (!node) return isActivationLayer || layer.call.hasSplat || (layer.kind === 'conv' && layer.call.args.length >= 8) ? undefined : 'linear';
  const r = values.resolve(node, layer.call.fn);
  if (isNone(r)) return 'linear';
  const s = asString(r);
  if (s !== undefined) return s.toLowerCase();
  // `activation=tf.nn.softmax`, `activation=keras.activations.relu`
  if (node.type === 'attribute' || node.type === 'identifier') {
    const m = /(?:^|\.)(softmax|sigmoid|relu|tanh|gelu|elu|selu|swish|silu|linear|softplus|log_softmax)$/.exec(text.slice(node.start, node.end));
    if (m) return m[1];
  }
  return undefined;
}

class FlowReader {
  private readonly ops: FlowOp[] = [];
  private readonly losses: LossUse[] = [];
  private readonly compiles: KerasCompile[] = [];
  private readonly layerByCall = new Map<SyntaxNode, LayerModel>();
  /** `Cls|self.x` and `<scope>|name` → layer object. */
  private readonly layerByName = new Map<string, LayerModel>();
  private readonly providers = new Map<string, Provider | null>();
  private readonly lossByName = new Map<string, CallInfo>();
  private readonly lossCtorByCall = new Map<SyntaxNode, { name: string; framework: 'pytorch' | 'keras' }>();
  private readonly functionFlows = new Map<FunctionInfo | undefined, FunctionFlow>();
  private readonly inProgress = new Map<FunctionInfo | undefined, FunctionFlow>();
  private readonly sequenceOutputs = new Map<SyntaxNode, FlowOp | undefined>();
  private readonly classOutputs = new Map<ClassInfo, FlowOp | undefined>();

  constructor(
    private readonly model: TrainingScript,
    private readonly facts: ScriptFacts,
    private readonly text: string,
  ) {}

  private t(n: SyntaxNode | undefined): string {
    return n ? this.text.slice(n.start, n.end) : '';
  }

  read(): LayerFlow {
    for (const l of this.model.layers) {
      this.layerByCall.set(l.call.node, l);
      if (!l.boundTo) continue;
      this.applied.add(l.boundTo);
      this.layerCallees.add(l.boundTo);
      this.layerByName.set(this.nameKey(l.boundTo, l.call.fn, l.call.cls), l);
    }
    for (const l of this.model.losses) {
      this.lossCtorByCall.set(l.call.node, { name: l.className, framework: l.framework === 'keras' ? 'keras' : 'pytorch' });
      for (const b of l.boundTo) {
        this.lossByName.set(b, l.call);
        this.applied.add(b);
      }
    }
    this.collectProviders();
    for (const seq of this.model.sequences) {
      if (seq.container === 'module') continue;
      this.sequenceOutputs.set(seq.node, this.sequenceOps(seq.node, seq.container === 'keras'));
    }
    this.flowOf(undefined);
    for (const fn of this.facts.functions) if (this.worthReading(fn)) this.flowOf(fn);
    return {
      ops: this.ops, losses: this.losses, compiles: this.compiles,
      modelLayers: (name, fn, cls) => {
        const p = this.providerFor(name, fn, cls);
        return p ? this.providerLayers(p) : undefined;
      },
    };
  }

  private providerLayers(p: Provider): readonly LayerModel[] | undefined {
    if (p.kind === 'class') return this.classLayers(p.cls, new Set());
    if (p.kind === 'sequence') {
      const items = this.sequenceItems(p.call, /keras/.test(p.call.qualified));
      return items.map((i) => i.layer).filter((l): l is LayerModel => !!l);
    }
    return undefined;
  }

  private classLayers(cls: ClassInfo, seen: Set<ClassInfo>): LayerModel[] {
    seen.add(cls);
    const out = this.model.layers.filter((l) => l.call.cls === cls);
    for (const m of cls.methods.values()) {
      for (const c of this.facts.callsByFunction.get(m) ?? []) {
        const sub = this.facts.classesByName.get(c.callee);
        if (sub && !seen.has(sub) && isLayerClass(sub)) out.push(...this.classLayers(sub, seen));
      }
    }
    return out;
  }

  /** Names that, when called, apply a layer, a loss or a model. */
  private readonly applied = new Set<string>(['self', 'self.forward']);

  /**
   * A function whose body applies nothing the reader knows (no layer, loss, model, functional
   * op or Keras compile) cannot contribute ops: most of a large script is skipped this way.
   * forward()/call() of network classes are always read (their output is asked for).
   */
  private worthReading(fn: FunctionInfo): boolean {
    if (fn.cls && (fn.name === 'forward' || fn.name === 'call')) return true;
    for (const c of this.facts.callsByFunction.get(fn) ?? []) {
      // A model call alone (`model(x).argmax(1)` in an evaluation helper) produces nothing a rule reads.
      if (this.layerCallees.has(c.callee) || this.lossByName.has(c.callee) || FUNCTIONAL[c.qualified] || TORCH_LOSS_FUNCTIONS[c.qualified] || TENSOR_ACTIVATIONS.has(c.name)) return true;
      if (c.name === 'compile' || c.name === 'Model' || (!c.callee && childByField(c.node, 'function')?.type === 'call')) return true;
    }
    return false;
  }

  /** Names layers are bound to (`self.drop`, `dense`). */
  private readonly layerCallees = new Set<string>();

  /** `self.x` inside a class is keyed by the class; other names by the function that binds them. */
  private nameKey(name: string, fn: FunctionInfo | undefined, cls: ClassInfo | undefined): string {
    if (name.startsWith('self.') && cls) return `${cls.name}|${name}`;
    return `${fn ? fn.node.start : 'module'}|${name}`;
  }

  // ------------------------------------------------------------ model instances

  private collectProviders(): void {
    const set = (key: string, p: Provider) => {
      const prev = this.providers.get(key);
      if (prev === undefined) this.providers.set(key, p);
      else if (prev !== null && !sameProvider(prev, p)) this.providers.set(key, null);
    };
    for (const a of this.facts.assignments) {
      if (!a.value || !a.targetText || a.op !== '=') continue;
      const p = this.providerOfValue(a.value);
      if (!p) continue;
      this.applied.add(a.targetText);
      set(this.nameKey(a.targetText, a.fn, a.cls), p);
      if (!a.targetText.startsWith('self.')) set(`any|${a.targetText}`, p);
    }
  }

  private providerOfValue(value: SyntaxNode, depth = 0): Provider | undefined {
    let v = unparenthesize(value);
    for (let i = 0; i < 6 && v.type === 'call'; i++) {
      const call = this.facts.callByNode.get(v);
      if (!call) return undefined;
      if (call.receiverNode && MODEL_CHAIN_METHODS.has(call.name) && !call.callee.startsWith('torch.')) {
        v = unparenthesize(call.receiverNode);
        continue;
      }
      if (call.name === 'Sequential' && /torch\.nn|keras/.test(call.qualified)) return { kind: 'sequence', call };
      if (call.name === 'Model' && /keras/.test(call.qualified)) return { kind: 'kerasModel', call };
      const cls = this.facts.classesByName.get(call.callee);
      if (cls && isLayerClass(cls)) return { kind: 'class', cls };
      // `model = build_model()`: the one value the script's own function returns.
      const own = !call.receiver ? this.facts.functionsByName.get(call.callee) : undefined;
      if (own?.length === 1 && depth < 3) {
        const ret = this.returned(own[0]!);
        return ret ? this.providerOfValue(ret, depth + 1) : undefined;
      }
      return undefined;
    }
    return undefined;
  }

  private readonly returns = new Map<FunctionInfo, SyntaxNode | undefined>();

  private returned(fn: FunctionInfo): SyntaxNode | undefined {
    if (!this.returns.has(fn)) this.returns.set(fn, returnedValue(fn, this.text, this.facts));
    return this.returns.get(fn);
  }

  private providerFor(callee: string, fn: FunctionInfo | undefined, cls: ClassInfo | undefined): Provider | undefined {
    if (!callee) return undefined;
    if (callee.startsWith('self.')) return this.providers.get(this.nameKey(callee, fn, cls)) ?? undefined;
    for (let f = fn; ; f = f.parent) {
      const p = this.providers.get(this.nameKey(callee, f, undefined));
      if (p !== undefined) return p ?? undefined;
      if (!f) break;
    }
    return this.providers.get(`any|${callee}`) ?? undefined;
  }

  private outputOf(p: Provider): FlowOp | undefined {
    switch (p.kind) {
      case 'sequence':
        return this.sequenceOutputs.get(p.call.node);
      case 'class':
        return this.classOutput(p.cls);
      case 'kerasModel':
        return this.flowOf(p.call.fn).modelOutputs.get(p.call.node);
    }
  }

  private classOutput(cls: ClassInfo): FlowOp | undefined {
    if (this.classOutputs.has(cls)) return this.classOutputs.get(cls);
    this.classOutputs.set(cls, undefined); // recursion guard
    const fwd = cls.methods.get('forward') ?? cls.methods.get('call');
    let out: FlowOp | undefined;
    if (fwd) {
      const rets = this.flowOf(fwd).returns;
      if (rets.length > 0 && rets.every((r) => r && r === rets[0])) out = rets[0];
    }
    this.classOutputs.set(cls, out);
    return out;
  }

  // ------------------------------------------------------------ Sequential containers

  /** Items of a Sequential call (plus `model.add(...)` for Keras), each a layer or undefined (unknown: breaks the chain). */
  sequenceItems(call: CallInfo, keras: boolean): { layer: LayerModel | undefined; node: SyntaxNode }[] {
    const items = sequentialItemNodes(call, this.facts, this.text, keras) ?? [];
    const out = items.map((i) => ({ layer: this.layerByCall.get(unparenthesize(i)), node: unparenthesize(i) }));
    if (keras) {
      const bound = this.facts.assignmentByValue.get(call.node)?.targetText;
      if (bound) {
        for (const add of this.facts.callsByName.get('add') ?? []) {
          if (add.receiver !== bound || add.fn !== call.fn || add.node.start < call.node.end || !add.args[0]) continue;
          const arg = unparenthesize(add.args[0]);
          // An add() under if/else or in a loop may or may not run: it breaks the known order.
          out.push({ layer: runsOnce(add.node, this.text) ? this.layerByCall.get(arg) : undefined, node: arg });
        }
      }
    }
    return out;
  }

  private sequenceOps(node: SyntaxNode, keras: boolean): FlowOp | undefined {
    const call = this.facts.callByNode.get(node);
    if (!call || (call.hasSplat && sequentialItemNodes(call, this.facts, this.text, keras) === undefined)) return undefined;
    let prev: FlowOp | undefined;
    const all = this.sequenceItems(call, keras);
    // Items written in the call's own list (not added later with model.add) can be edited as a list.
    const listed = all.filter((i) => contains(call.node, i.node)).map((i) => i.node);
    all.forEach((item, index) => {
      if (!item.layer) {
        prev = undefined;
        const nested = this.facts.callByNode.get(item.node);
        if (nested?.name === 'Sequential') prev = this.sequenceOutputs.get(item.node);
        return;
      }
      const inList = index < listed.length && listed[index] === item.node;
      const op: FlowOp = {
        kind: item.layer.kind, name: item.layer.className, layer: item.layer, application: undefined, anchor: item.layer.call.node, input: prev, container: 'sequential', owner: call.node,
        items: inList ? listed : undefined, index: inList ? index : undefined,
      };
      this.ops.push(op);
      prev = op;
    });
    return prev;
  }

  // ------------------------------------------------------------ function bodies

  private flowOf(fn: FunctionInfo | undefined): FunctionFlow {
    const hit = this.functionFlows.get(fn);
    if (hit) return hit;
    // A body being read asks about itself (`model = keras.Model(...)` then `model.compile(...)`):
    // answer with what has been read so far.
    const partial = this.inProgress.get(fn);
    if (partial) return partial;
    const flow: FunctionFlow = { returns: [], modelOutputs: new Map() };
    this.inProgress.set(fn, flow);
    const body = fn ? fn.body : this.moduleRoot();
    if (body) new BodyReader(this, flow, this.facts.callsByFunction.get(fn) ?? []).block(body, 0);
    this.inProgress.delete(fn);
    this.functionFlows.set(fn, flow);
    return flow;
  }

  private moduleRoot(): SyntaxNode | undefined {
    const first = this.facts.imports[0]?.node ?? this.facts.calls[0]?.node ?? this.facts.assignments[0]?.node;
    let n = first;
    while (n?.parent) n = n.parent;
    return n;
  }

  // ---- hooks for BodyReader

  addOp(op: FlowOp): FlowOp {
    this.ops.push(op);
    return op;
  }

  addLoss(l: LossUse): void {
    this.losses.push(l);
  }

  addCompile(c: KerasCompile): void {
    this.compiles.push(c);
  }

  callInfo(node: SyntaxNode): CallInfo | undefined {
    return this.facts.callByNode.get(node);
  }

  layerCalled(call: CallInfo, fnNode: SyntaxNode | undefined): LayerModel | undefined {
    if (fnNode && unparenthesize(fnNode).type === 'call') return this.layerByCall.get(unparenthesize(fnNode));
    if (!call.callee || !this.applied.has(call.callee)) return undefined;
    if (call.callee.startsWith('self.')) return this.layerByName.get(this.nameKey(call.callee, call.fn, call.cls));
    for (let f = call.fn; ; f = f.parent) {
      const l = this.layerByName.get(this.nameKey(call.callee, f, undefined));
      if (l) return l;
      if (!f) return undefined;
    }
  }

  modelCalled(call: CallInfo): FlowOp | undefined | null {
    if (!this.applied.has(call.callee)) return null;
    if ((call.callee === 'self' || call.callee === 'self.forward') && call.cls && isModuleClass(call.cls)) return this.classOutput(call.cls);
    const p = this.providerFor(call.callee, call.fn, call.cls);
    return p ? this.outputOf(p) : null;
  }

  lossCalled(call: CallInfo, fnNode: SyntaxNode | undefined): { name: string; framework: 'pytorch' | 'keras'; ctor: CallInfo | undefined } | undefined {
    const fnInner = fnNode ? unparenthesize(fnNode) : undefined;
    if (fnInner?.type === 'call') {
      const ctor = this.lossCtorByCall.get(fnInner);
      return ctor ? { ...ctor, ctor: this.facts.callByNode.get(fnInner) } : undefined;
    }
    const f = TORCH_LOSS_FUNCTIONS[call.qualified];
    if (f) return { name: f, framework: 'pytorch', ctor: undefined };
    const ctorCall = call.callee ? this.lossByName.get(call.callee) : undefined;
    if (ctorCall) {
      const ctor = this.lossCtorByCall.get(ctorCall.node)!;
      return { ...ctor, ctor: ctorCall };
    }
    return undefined;
  }

  isModuleName(head: string): boolean {
    return this.facts.importBindings.has(head);
  }

  kerasCompileOutput(call: CallInfo): FlowOp | undefined {
    if (!call.receiver) return undefined;
    const p = this.providerFor(call.receiver, call.fn, call.cls);
    if (p) return this.outputOf(p);
    // One Keras model in the file: the compile is about it.
    const keras = this.model.sequences.filter((s) => s.container === 'keras');
    return keras.length === 1 ? this.sequenceOutputs.get(keras[0]!.node) : undefined;
  }

  textOf(n: SyntaxNode | undefined): string {
    return this.t(n);
  }
}

/**
 * What a script function returns: the expression of its only `return`, followed through one
 * local variable (`model = Sequential(...); return model`).
 */
function returnedValue(fn: FunctionInfo, text: string, facts: ScriptFacts): SyntaxNode | undefined {
  // Top-level statements only; a compound statement that may return elsewhere makes it unknown.
  const returns: SyntaxNode[] = [];
  for (const c of fn.body?.children ?? []) {
    if (c.type === 'return_statement') returns.push(c);
    else if (COMPOUND.has(c.type) || c.type === 'with_statement') {
      if (/\breturn\b/.test(text.slice(c.start, c.end))) return undefined;
    }
  }
  const value = returns.length === 1 ? returns[0]!.children.find((c) => c.named && c.type !== 'comment') : undefined;
  if (value?.type !== 'identifier') return value;
  const name = text.slice(value.start, value.end);
  const asgs = (facts.assignmentsByTarget.get(name) ?? []).filter((a) => a.fn === fn && a.op === '=');
  return asgs.length === 1 ? asgs[0]!.value : undefined;
}

/** A script class that is a network piece: an nn.Module / Keras layer or model, or a Sequential subclass. */
export function isLayerClass(cls: ClassInfo): boolean {
  return isModuleClass(cls) || cls.qualifiedBases.some((b) => /(^|\.)(Sequential|ModuleList|ModuleDict)$/.test(b));
}

const BRANCHING = new Set(['if_statement', 'elif_clause', 'else_clause', 'try_statement', 'except_clause', 'for_statement', 'while_statement', 'match_statement', 'conditional_expression']);

/** True when nothing between the node and its function (or module) makes it conditional or repeated. */
function runsOnce(node: SyntaxNode, text: string): boolean {
  for (let p = node.parent; p && p.type !== 'function_definition' && p.type !== 'module'; p = p.parent) {
    if (!BRANCHING.has(p.type)) continue;
    const cond = p.type === 'if_statement' ? childByField(p, 'condition') : undefined;
    if (cond && /^__name__\s*==\s*['"]__main__['"]$/.test(text.slice(cond.start, cond.end).trim())) continue;
    return false;
  }
  return true;
}

function headOf(dotted: string): string {
  const i = dotted.indexOf('.');
  return i < 0 ? dotted : dotted.slice(0, i);
}

function sameProvider(a: Provider, b: Provider): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'class' && b.kind === 'class') return a.cls === b.cls;
  return (a as { call: CallInfo }).call === (b as { call: CallInfo }).call;
}

const COMPOUND = new Set(['if_statement', 'for_statement', 'while_statement', 'try_statement', 'match_statement']);

/** Straight-line data flow of one function body: which op last produced each variable. */
class BodyReader {
  private readonly vars = new Map<string, FlowOp>();
  /** Start offsets of the calls in this body, in source order: subtrees without a call are skipped. */
  private readonly callStarts: number[];

  constructor(private readonly r: FlowReader, private readonly flow: FunctionFlow, calls: readonly CallInfo[]) {
    this.callStarts = calls.map((c) => c.node.start);
  }

  private hasCall(n: SyntaxNode): boolean {
    const a = this.callStarts;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid]! < n.start) lo = mid + 1;
      else hi = mid;
    }
    return lo < a.length && a[lo]! < n.end;
  }

  block(block: SyntaxNode, depth: number): void {
    for (const stmt of block.children) {
      if (!stmt.named || stmt.type === 'comment') continue;
      this.statement(stmt, depth);
    }
  }

  private statement(stmt: SyntaxNode, depth: number): void {
    switch (stmt.type) {
      case 'expression_statement': {
        for (const inner of stmt.children) {
          if (!inner.named || inner.type === 'comment') continue;
          if (inner.type === 'assignment') this.assignment(inner);
          else if (inner.type === 'augmented_assignment') {
            const right = childByField(inner, 'right');
            if (right) this.expr(right);
            this.forget(childByField(inner, 'left'));
          } else this.expr(inner);
        }
        return;
      }
      case 'return_statement': {
        const value = stmt.children.find((c) => c.named && c.type !== 'comment');
        const op = value ? this.expr(value) : undefined;
        if (depth === 0) this.flow.returns.push(op);
        else this.flow.returns.push(undefined);
        return;
      }
      case 'with_statement': {
        const body = childByField(stmt, 'body');
        if (body) this.block(body, depth);
        return;
      }
      case 'function_definition':
      case 'class_definition':
      case 'decorated_definition':
        return;
      default:
        if (COMPOUND.has(stmt.type)) {
          this.vars.clear();
          this.nestedBlocks(stmt, depth + 1);
          this.vars.clear();
        }
    }
  }

  private nestedBlocks(node: SyntaxNode, depth: number): void {
    for (const c of node.children) {
      if (c.type === 'block') {
        this.vars.clear();
        this.block(c, depth);
      } else if (c.named && c.type !== 'comment' && /clause$|^case_clause$/.test(c.type)) this.nestedBlocks(c, depth);
    }
  }

  private assignment(node: SyntaxNode): void {
    const left = childByField(node, 'left');
    let right = childByField(node, 'right');
    while (right?.type === 'assignment') right = childByField(right, 'right');
    const op = right ? this.expr(right) : undefined;
    if (!left) return;
    if (left.type === 'identifier') {
      const name = this.r.textOf(left);
      if (op) this.vars.set(name, op);
      else this.vars.delete(name);
    } else this.forget(left);
  }

  private forget(target: SyntaxNode | undefined): void {
    if (!target) return;
    if (target.type === 'identifier') this.vars.delete(this.r.textOf(target));
    for (const c of target.children) this.forget(c);
  }

  /** Evaluates an expression: registers the ops it applies and returns the op that produces its value. */
  private expr(node: SyntaxNode): FlowOp | undefined {
    const n = unparenthesize(node);
    if (n.type === 'identifier') return this.vars.get(this.r.textOf(n));
    if (n.type === 'call') return this.call(n);
    if (n.type === 'lambda' || n.type === 'function_definition' || !this.hasCall(n)) return undefined;
    for (const c of n.children) if (c.named && c.type !== 'comment') this.expr(c);
    return undefined;
  }

  private firstInput(call: CallInfo, keyword = 'input'): SyntaxNode | undefined {
    return call.args[0] ?? call.keywords.get(keyword);
  }

  private otherArgs(call: CallInfo, except: SyntaxNode | undefined): void {
    for (const a of call.args) if (a !== except) this.expr(a);
    for (const v of call.keywords.values()) if (v !== except) this.expr(v);
  }

  private call(node: SyntaxNode): FlowOp | undefined {
    const call = this.r.callInfo(node);
    if (!call) return undefined;
    const fnNode = childByField(node, 'function');
    const layer = this.r.layerCalled(call, fnNode);
    if (layer) {
      const inputNode = this.firstInput(call, 'inputs');
      const input = inputNode ? this.expr(inputNode) : undefined;
      this.otherArgs(call, inputNode);
      return this.r.addOp({ kind: layer.kind, name: layer.className, layer, application: call, anchor: layer.call.node, input, container: 'flow', owner: layer.call.cls ?? layer.call.fn });
    }
    const loss = this.r.lossCalled(call, fnNode);
    if (loss) {
      const predNode = loss.framework === 'keras' ? call.args[1] ?? call.keywords.get('y_pred') : this.firstInput(call);
      const input = predNode ? this.expr(predNode) : undefined;
      this.otherArgs(call, predNode);
      this.r.addLoss({ call, loss: loss.name, framework: loss.framework, input, constructor: loss.ctor });
      return undefined;
    }
    const functional = FUNCTIONAL[call.qualified];
    if (functional) {
      const inputNode = this.firstInput(call, call.qualified.startsWith('tensorflow') || call.qualified.startsWith('keras') ? 'x' : 'input');
      const input = inputNode ? this.expr(inputNode) : undefined;
      this.otherArgs(call, inputNode);
      const name = functional[1] === 'softmax' && call.name === 'log_softmax' ? 'log_softmax' : call.name === 'expit' ? 'sigmoid' : call.name;
      return this.r.addOp({ kind: functional[0], name, layer: undefined, application: call, anchor: node, input, container: 'flow', owner: call.cls ?? call.fn });
    }
    if (TRANSPARENT_FUNCTIONS.has(call.qualified)) {
      const inputNode = this.firstInput(call);
      this.otherArgs(call, inputNode);
      return inputNode ? this.expr(inputNode) : undefined;
    }
    const model = this.r.modelCalled(call);
    if (model !== null) {
      this.otherArgs(call, undefined);
      return model;
    }
    if (call.name === 'compile' && call.receiver && call.keywords.has('loss')) {
      this.r.addCompile({ call, output: this.r.kerasCompileOutput(call), lossArg: call.keywords.get('loss') });
    }
    if (call.name === 'Model' && /keras/.test(call.qualified)) {
      const outputs = call.keywords.get('outputs') ?? call.args[1];
      const op = outputs ? this.expr(outputs) : undefined;
      this.otherArgs(call, outputs);
      this.flow.modelOutputs.set(node, op);
      return undefined;
    }
    const recv = call.receiverNode;
    const recvIsModule = !!call.receiver && this.r.isModuleName(headOf(call.receiver));
    if (recv && !recvIsModule && call.receiver !== 'self') {
      if (TENSOR_ACTIVATIONS.has(call.name)) {
        const input = this.expr(recv);
        this.otherArgs(call, undefined);
        const kind: LayerKind = call.name === 'softmax' || call.name === 'log_softmax' ? 'softmax' : 'activation';
        return this.r.addOp({ kind, name: call.name, layer: undefined, application: call, anchor: node, input, container: 'flow', owner: call.cls ?? call.fn });
      }
      if (TRANSPARENT_METHODS.has(call.name)) {
        this.otherArgs(call, undefined);
        return this.expr(recv);
      }
    }
    if (recv) this.expr(recv);
    if (fnNode && unparenthesize(fnNode).type === 'call') this.expr(fnNode);
    this.otherArgs(call, undefined);
    return undefined;
  }
}
