/**
 * The surrogate the embedded engine trains: the script's model, loss, optimizer and batch size
 * as the static analysis resolved them, as plain data. Pure. What cannot be rebuilt is an error
 * that names the layer and its line, so the user knows to use the Python engine.
 */
import type { AnalysisResult } from '../../analysis/analyze';
import type { Hyperparameter, LayerModel, OptimizerModel } from '../../analysis/model/trainingScript';
import { childByField, unparenthesize, type SyntaxNode } from '../../analysis/syntax/syntaxNode';
import type { ParsedDocument } from '../../analysis/document';
import { effectiveLoop } from '../../analysis/rules/trainingSetup';
import { kerasModel, kerasTraining } from './kerasSpec';
import { scheduleShape, type ScheduleSpec } from './schedule';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'gelu' | 'silu' | 'elu' | 'leaky_relu' | 'softplus' | 'identity';

export type LayerSpec =
  | { readonly kind: 'linear'; readonly name: string; readonly line: number; readonly inFeatures: number; readonly outFeatures: number; readonly bias: boolean }
  | { readonly kind: 'activation'; readonly name: string; readonly line: number; readonly fn: Activation; readonly slope?: number }
  | { readonly kind: 'dropout'; readonly name: string; readonly line: number; readonly p: number }
  | { readonly kind: 'layernorm'; readonly name: string; readonly line: number; readonly features: number; readonly eps: number }
  | { readonly kind: 'flatten'; readonly name: string; readonly line: number }
  | { readonly kind: 'conv2d'; readonly name: string; readonly line: number; readonly inChannels: number; readonly outChannels: number; readonly kernel: number; readonly stride: number; readonly padding: number; readonly bias: boolean }
  | { readonly kind: 'pool2d'; readonly name: string; readonly line: number; readonly mode: 'max' | 'avg'; readonly kernel: number; readonly stride: number }
  | { readonly kind: 'batchnorm'; readonly name: string; readonly line: number; readonly features: number; readonly eps: number }
  | { readonly kind: 'embedding'; readonly name: string; readonly line: number; readonly vocab: number; readonly dim: number }
  | { readonly kind: 'conv1d'; readonly name: string; readonly line: number; readonly inChannels: number; readonly outChannels: number; readonly kernel: number; readonly stride: number; readonly padding: number; readonly bias: boolean }
  | { readonly kind: 'pool1d'; readonly name: string; readonly line: number; readonly mode: 'max' | 'avg'; readonly kernel: number; readonly stride: number }
  /** Average or max over every position (AdaptiveAvgPool2d(1), GlobalAveragePooling2D, `x.mean(1)`): channels out, flat. */
  | { readonly kind: 'globalpool'; readonly name: string; readonly line: number; readonly mode: 'max' | 'avg'; readonly axes?: readonly number[] }
  /** `x.transpose(1, 2)` on a sequence: PyTorch's (N, T, C) ↔ (N, C, T). The surrogate keeps channels last, so only the view changes. */
  | { readonly kind: 'transpose'; readonly name: string; readonly line: number };

export type OptimizerKind = 'sgd' | 'adam' | 'adamw' | 'rmsprop';

export interface OptimizerSpec {
  readonly kind: OptimizerKind;
  /** The class as the script names it (SGD, AdamW…). */
  readonly className: string;
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /**
   * Param groups that split decay by parameter shape (`p.ndim > 1` vs `p.ndim <= 1`, or by
   * `bias`/`norm` in the name): the decay of matrices/filters and of vectors (biases, norms).
   */
  readonly decayByShape?: { readonly matrices: number; readonly vectors: number };
  /** RMSprop's smoothing constant. */
  readonly alpha: number;
  /** Weight decay applied as θ ← θ − lr·wd·θ whatever the optimizer (Keras); AdamW's is always decoupled. */
  readonly decoupledDecay?: boolean;
  /** Adam's ε added to √v before bias correction, as Keras does (ε̂ = ε·√(1 − β₂ᵗ) in PyTorch's terms). */
  readonly epsBeforeCorrection?: boolean;
}

export interface SurrogateSpec {
  readonly layers: readonly LayerSpec[];
  /** Flattened input width; for image models H·W·C of `inputShape`. */
  readonly inputDim: number;
  /** [H, W, C] for models that start with a convolution (inferred from the first Linear after Flatten). */
  readonly inputShape?: readonly [number, number, number];
  /** [T, C] for models that start with a Conv1d over a (N, C, T) signal; channels last inside the surrogate. */
  readonly inputSeq?: readonly [number, number];
  /** For models that start with an Embedding: the input is `inputDim` token ids below `vocab`. */
  readonly tokens?: { readonly vocab: number };
  readonly outputDim: number;
  readonly loss: { readonly kind: 'cross_entropy'; readonly labelSmoothing: number } | { readonly kind: 'mse' };
  readonly optimizer: OptimizerSpec;
  readonly batchSize: number;
  readonly clipNorm: number | null;
  /** Set for a Keras script (the Python engine cannot probe it). */
  readonly keras?: boolean;
  /** The learning-rate schedule the script steps, when the surrogate can rebuild it. */
  readonly schedule?: ScheduleSpec;
  /** What was assumed because the script did not say (for the run's warnings). */
  readonly assumptions: readonly string[];
}

export type SurrogateResult = { readonly spec: SurrogateSpec } | { readonly error: string };

const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  ReLU: 'relu', Tanh: 'tanh', Sigmoid: 'sigmoid', GELU: 'gelu', SiLU: 'silu', ELU: 'elu', LeakyReLU: 'leaky_relu', Softplus: 'softplus', Identity: 'identity',
};

const num = (h: Hyperparameter | undefined): number | undefined => {
  const v = h?.resolved.value;
  if (v?.kind === 'number') return v.value;
  if (v?.kind === 'bool') return v.value ? 1 : 0;
  return undefined;
};

export function surrogateSpec(doc: ParsedDocument, analysis: AnalysisResult): SurrogateResult {
  const lineOf = (l: LayerModel): number => doc.lines.positionAt(l.call.node.start).line + 1;
  const model = analysis.model;
  const assumptions: string[] = [];
  if (model.frameworks.includes('keras') && !model.frameworks.includes('pytorch')) return kerasSpec(doc, analysis, assumptions);
  const seq = model.sequences.find((s) => s.container === 'sequential') ?? model.sequences.find((s) => s.container === 'module') ?? model.sequences[0];
  if (!seq || seq.container === 'keras') return { error: 'cannot rebuild the model: no nn.Sequential or nn.Module layer stack found in the script' };
  const layers = seq.container === 'sequential' ? seq.layers.map((l, i) => layerSpec(l, String(i), lineOf(l))) : moduleForward(doc, analysis, seq.name, lineOf);
  const shapes = inferShapes(layers);
  if ('error' in shapes) return shapes;
  const { inputDim, inputShape, inputSeq, tokens, width } = shapes;
  if (shapes.assumption) assumptions.push(shapes.assumption);

  const lossModel = model.losses[0];
  let loss: SurrogateSpec['loss'];
  if (!lossModel || lossModel.className === 'CrossEntropyLoss') {
    if (!lossModel) assumptions.push('no loss found: cross-entropy assumed');
    loss = { kind: 'cross_entropy', labelSmoothing: num(lossModel?.hyper.get('label_smoothing')) ?? 0 };
  } else if (lossModel.className === 'MSELoss') {
    loss = { kind: 'mse' };
  } else {
    return { error: `cannot rebuild the loss ${lossModel.className} at line ${doc.lines.positionAt(lossModel.call.node.start).line + 1}: the embedded engine knows CrossEntropyLoss and MSELoss` };
  }
  if (loss.kind === 'cross_entropy' && width < 2) return { error: `cannot rebuild: cross-entropy over ${width} output(s)` };

  const opt = model.optimizers[0];
  if (!opt) return { error: 'cannot rebuild the optimizer: none found in the script' };
  const className = opt.call.name.split('.').pop() ?? '';
  const kinds: Readonly<Record<string, OptimizerKind>> = { SGD: 'sgd', Adam: 'adam', AdamW: 'adamw', RMSprop: 'rmsprop' };
  const kind = kinds[className];
  if (!kind) return { error: `cannot rebuild the optimizer ${className} at line ${doc.lines.positionAt(opt.call.node.start).line + 1}: the embedded engine knows SGD, Adam, AdamW and RMSprop` };
  const get = (n: string): number | undefined => num(opt.hyper.get(n));
  const lr = get('lr');
  if (lr === undefined) return { error: `cannot rebuild the optimizer at line ${doc.lines.positionAt(opt.call.node.start).line + 1}: its learning rate is not known statically` };
  const betas = opt.hyper.get('betas')?.resolved.value;
  const betaValues = betas?.kind === 'sequence' ? betas.items.map((b) => (b.value?.kind === 'number' ? b.value.value : Number.NaN)) : [];
  const optimizer: OptimizerSpec = {
    kind, className, lr,
    momentum: get('momentum') ?? 0,
    dampening: get('dampening') ?? 0,
    nesterov: (get('nesterov') ?? 0) !== 0,
    beta1: Number.isFinite(betaValues[0]) ? betaValues[0]! : 0.9,
    beta2: Number.isFinite(betaValues[1]) ? betaValues[1]! : 0.999,
    eps: get('eps') ?? (kind === 'rmsprop' ? 1e-8 : 1e-8),
    weightDecay: get('weight_decay') ?? (kind === 'adamw' ? 0.01 : 0),
    alpha: get('alpha') ?? 0.99,
  };
  const groups = groupDecay(doc, analysis, opt, optimizer.weightDecay);
  if (groups === 'unknown') assumptions.push('the optimizer\'s param groups are not split by parameter shape or name: the optimizer-level weight decay is applied to every parameter');
  const withGroups: OptimizerSpec = groups && groups !== 'unknown' ? { ...optimizer, decayByShape: groups } : optimizer;
  const schedule = scheduleSpec(doc, analysis, assumptions);
  const loader = model.dataLoaders.find((d) => d.role === 'train') ?? model.dataLoaders[0];
  let batchSize = num(loader?.hyper.get('batch_size'));
  if (batchSize === undefined) { batchSize = 64; assumptions.push('batch size not found: 64 assumed'); }
  return { spec: { layers, inputDim, ...(inputShape ? { inputShape } : {}), ...(inputSeq ? { inputSeq } : {}), ...(tokens ? { tokens } : {}), outputDim: width, loss, optimizer: withGroups, batchSize, clipNorm: clipNorm(analysis), ...(schedule ? { schedule } : {}), assumptions } };
}

/** A Keras script's surrogate: its model, `compile` and `fit`. */
function kerasSpec(doc: ParsedDocument, analysis: AnalysisResult, assumptions: string[]): SurrogateResult {
  const keras = kerasModel(doc, analysis);
  if (!keras) return { error: 'cannot rebuild the model: no keras.Sequential or functional keras.Model found in the script' };
  const shapes = inferShapes(keras.layers, keras.input, true);
  if ('error' in shapes) return shapes;
  const { inputDim, inputShape, inputSeq, tokens, width } = shapes;
  const { loss, optimizer, batchSize } = kerasTraining(doc, analysis, keras.softmaxOutput, assumptions);
  if (loss.kind === 'cross_entropy' && width < 2) return { error: `cannot rebuild: cross-entropy over ${width} output(s)` };
  for (const s of analysis.model.schedulers) assumptions.push(`${s.className} (line ${doc.lines.positionAt(s.call.node.start).line + 1}) is not applied: Keras schedules are not rebuilt; the surrogate trains at the base learning rate`);
  return { spec: { keras: true, layers: keras.layers, inputDim, ...(inputShape ? { inputShape } : {}), ...(inputSeq ? { inputSeq } : {}), ...(tokens ? { tokens } : {}), outputDim: width, loss, optimizer, batchSize, clipNorm: null, assumptions } };
}

/**
 * The first scheduler the training loop steps, with whether it steps per optimizer step or per
 * epoch; one it cannot rebuild (or a second one) becomes an assumption the run states.
 */
function scheduleSpec(doc: ParsedDocument, analysis: AnalysisResult, assumptions: string[]): ScheduleSpec | undefined {
  let out: ScheduleSpec | undefined;
  for (const sch of analysis.model.schedulers) {
    const line = doc.lines.positionAt(sch.call.node.start).line + 1;
    const where = `${sch.className} (line ${line})`;
    const steps = analysis.model.trainingLoops.flatMap((t) => t.events).filter((e) => e.kind === 'scheduler_step' && sch.boundTo.includes(e.call.receiver ?? ''));
    if (steps.length === 0) { assumptions.push(`${where} is never stepped in the training loop: the surrogate trains at the base learning rate`); continue; }
    if (out) { assumptions.push(`${where} is not applied: the surrogate applies one schedule (${out.className})`); continue; }
    const stepLoops = new Set(analysis.model.trainingLoops.flatMap((t) => t.events).filter((e) => e.kind === 'step').map((e) => effectiveLoop(e.call, e.via)));
    const per = steps.some((e) => stepLoops.has(effectiveLoop(e.call, e.via))) ? 'step' : 'epoch';
    const shape = scheduleShape(sch.className, (name) => hyperValue(sch.hyper.get(name)));
    if (typeof shape === 'string') { assumptions.push(`${where}: ${shape}; the surrogate trains at the base learning rate`); continue; }
    out = { className: sch.className, line, per, shape };
  }
  return out;
}


/** `clip_grad_norm_(params, max_norm)` in the script: its max norm, when it resolves to a number. */
function clipNorm(analysis: AnalysisResult): number | null {
  for (const t of analysis.model.techniques) {
    if (t.kind !== 'gradient_clipping' || !/clip_grad_norm_?$/.test(t.call.callee)) continue;
    const arg = t.call.keywords.get('max_norm') ?? t.call.args[1];
    const v = arg ? analysis.values.resolve(arg, undefined).value : undefined;
    if (v?.kind === 'number' && v.value > 0) return v.value;
  }
  return null;
}

/**
 * Weight decay per param group, when the groups split parameters the usual way: by shape
 * (`[p for n, p in model.named_parameters() if p.ndim > 1]`) or by name (`'bias' in n`,
 * `'norm' in n`). Undefined without groups; 'unknown' for groups split some other way.
 */
function groupDecay(doc: ParsedDocument, analysis: AnalysisResult, opt: OptimizerModel, fallback: number): { matrices: number; vectors: number } | 'unknown' | undefined {
  const groups = opt.paramGroups;
  if (!groups || groups.length < 2) return undefined;
  let matrices: number | undefined;
  let vectors: number | undefined;
  for (const g of groups) {
    const decay = num(g.hyper.get('weight_decay')) ?? fallback;
    let source = g.paramsNode ? doc.text.slice(g.paramsNode.start, g.paramsNode.end) : '';
    if (g.paramsNode?.type === 'identifier') {
      const assigned = (analysis.facts.assignmentsByTarget.get(source) ?? []).filter((a) => a.node.start < g.node.start).at(-1);
      if (assigned?.value) source = doc.text.slice(assigned.value.start, assigned.value.end);
    }
    const compact = source.replace(/\s+/g, '');
    if (/\.(ndim|dim\(\))(>1|>=2|!=1)/.test(compact) || /if(not'bias'in|'bias'notin)\w+/.test(compact)) matrices = decay;
    else if (/\.(ndim|dim\(\))(<=1|<2|==1)/.test(compact) || /if'(bias|norm)'in\w+/.test(compact)) vectors = decay;
    else return 'unknown';
  }
  return matrices !== undefined && vectors !== undefined ? { matrices, vectors } : 'unknown';
}

/**
 * A hyperparameter as the surrogate reads it: undefined when the script does not pass it (and
 * the library default is not catalogued), null when it passes one that is not known statically.
 */
export function hyperValue(h: Hyperparameter | undefined): number | readonly number[] | string | boolean | null | undefined {
  if (!h) return undefined;
  const v = h.resolved.value;
  if (v?.kind === 'number' || v?.kind === 'bool' || v?.kind === 'string') return v.value;
  if (v?.kind === 'sequence') {
    const items = v.items.map((i) => (i.value?.kind === 'number' ? i.value.value : Number.NaN));
    return items.every(Number.isFinite) ? items : null;
  }
  return h.node ? null : undefined;
}

/** A layer's numeric argument (a sequence of equal numbers, as `(1, 1)` or `(3, 3)`, reads as one). */
export function layerNumber(l: LayerModel, key: string): number | undefined {
  const v = hyperValue(l.hyper.get(key));
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => x === v[0])) return v[0] as number;
  return undefined;
}

/** One layer constructor as the surrogate builds it (the module path is `name`). */
function layerSpec(l: LayerModel, name: string, line: number): LayerSpec {
  // A value the script passes but that is not known statically is an error, never the default.
  const n = (k: string): number | undefined => {
    const v = layerNumber(l, k);
    if (v === undefined && l.hyper.get(k)?.node) throw new RebuildError(`cannot rebuild ${l.className} at line ${line}: its ${k} is not known statically`);
    return v;
  };
  const int = (k: string, fallback?: number): number => {
    const v = n(k) ?? fallback;
    if (v === undefined) throw new RebuildError(`cannot rebuild ${l.className} at line ${line}: its ${k} is not known statically`);
    return v;
  };
  if (l.className === 'Linear') return { kind: 'linear', name, line, inFeatures: int('in_features'), outFeatures: int('out_features'), bias: (n('bias') ?? 1) !== 0 };
  if (ACTIVATIONS[l.className]) return { kind: 'activation', name, line, fn: ACTIVATIONS[l.className]!, ...(l.className === 'LeakyReLU' ? { slope: n('negative_slope') ?? 0.01 } : {}) };
  if (l.className === 'Dropout' || l.className === 'Dropout2d') return { kind: 'dropout', name, line, p: n('p') ?? 0.5 };
  if (l.className === 'LayerNorm') return { kind: 'layernorm', name, line, features: int('normalized_shape'), eps: n('eps') ?? 1e-5 };
  if (l.className === 'Flatten') return { kind: 'flatten', name, line };
  if (l.className === 'Conv2d') {
    return { kind: 'conv2d', name, line, inChannels: int('in_channels'), outChannels: int('out_channels'), kernel: int('kernel_size'), stride: int('stride', 1), padding: int('padding', 0), bias: (n('bias') ?? 1) !== 0 };
  }
  if (l.className === 'MaxPool2d' || l.className === 'AvgPool2d') {
    const k = int('kernel_size');
    return { kind: 'pool2d', name, line, mode: l.className === 'MaxPool2d' ? 'max' : 'avg', kernel: k, stride: n('stride') ?? k };
  }
  if (l.className === 'BatchNorm2d' || l.className === 'BatchNorm1d') return { kind: 'batchnorm', name, line, features: int('num_features'), eps: n('eps') ?? 1e-5 };
  if (l.className === 'Conv1d') {
    return { kind: 'conv1d', name, line, inChannels: int('in_channels'), outChannels: int('out_channels'), kernel: int('kernel_size'), stride: int('stride', 1), padding: int('padding', 0), bias: (n('bias') ?? 1) !== 0 };
  }
  if (l.className === 'MaxPool1d' || l.className === 'AvgPool1d') {
    const k = int('kernel_size');
    return { kind: 'pool1d', name, line, mode: l.className === 'MaxPool1d' ? 'max' : 'avg', kernel: k, stride: n('stride') ?? k };
  }
  if (/^Adaptive(Avg|Max)Pool[12]d$/.test(l.className)) {
    if (n('output_size') !== 1) throw new RebuildError(`cannot rebuild ${l.className} at line ${line}: the embedded engine rebuilds output_size 1 (global pooling) only`);
    return { kind: 'globalpool', name, line, mode: l.className.includes('Avg') ? 'avg' : 'max' };
  }
  if (l.className === 'Embedding') return { kind: 'embedding', name, line, vocab: int('num_embeddings'), dim: int('embedding_dim') };
  throw new RebuildError(`cannot rebuild ${l.className} at line ${line}: the embedded engine rebuilds Linear, Conv1d, Conv2d, pooling, BatchNorm, LayerNorm, Embedding, Dropout, Flatten and activation layers`);
}

const FUNCTIONAL_ACTIVATIONS: Readonly<Record<string, Activation>> = {
  relu: 'relu', tanh: 'tanh', sigmoid: 'sigmoid', gelu: 'gelu', silu: 'silu', elu: 'elu', leaky_relu: 'leaky_relu', softplus: 'softplus',
};

/**
 * The layers of an nn.Module subclass in the order its `forward` applies them: a chain of
 * `x = …` statements and a `return`, each a nesting of `self.<layer>(…)`, functional activations
 * and pooling (`F.relu`, `torch.tanh`, `F.max_pool2d(x, 2)`, `x.relu()`) and flattening
 * (`torch.flatten(x, 1)`, `x.flatten(1)`, `x.view(x.size(0), -1)`). Anything else (a residual
 * sum, a loop, a concatenation) is an error that quotes it.
 */
function moduleForward(doc: ParsedDocument, analysis: AnalysisResult, className: string, lineOf: (l: LayerModel) => number): LayerSpec[] {
  const cls = analysis.model.moduleClasses.find((c) => c.name === className);
  const forward = cls?.methods.get('forward');
  const lineAt = (node: SyntaxNode): number => doc.lines.positionAt(node.start).line + 1;
  if (!cls || !forward?.body) throw new RebuildError(`cannot rebuild ${className}: its forward() was not found`);
  const where = `${className}.forward (line ${lineAt(forward.node)})`;
  const text = (node: SyntaxNode): string => doc.text.slice(node.start, node.end);
  const attrLayers = new Map<string, LayerModel[]>();
  for (const l of analysis.model.layers) if (l.boundTo?.startsWith('self.')) attrLayers.set(l.boundTo.slice(5), [l]);
  for (const sq of analysis.model.sequences) if (sq.container === 'sequential' && sq.name.startsWith('self.')) attrLayers.set(sq.name.slice(5), [...sq.layers]);
  let current = forward.params.find((p) => p.name !== 'self')?.name;
  if (!current) throw new RebuildError(`cannot rebuild ${where}: it takes no input`);
  const out: LayerSpec[] = [];
  let fn = 0;
  const refuse = (node: SyntaxNode): never => { throw new RebuildError(`cannot rebuild ${where}: line ${lineAt(node)} does \`${text(node).slice(0, 80)}\`, which the embedded engine does not follow`); };
  const intArg = (node: SyntaxNode | undefined): number | undefined => (node && node.type === 'integer' ? Number(text(node)) : undefined);
  /** Appends the ops `node` applies to the running value, innermost first. */
  const apply = (node: SyntaxNode): void => {
    const e = unparenthesize(node);
    if (e.type === 'identifier' && text(e) === current) return;
    if (e.type !== 'call') refuse(e);
    const callee = childByField(e, 'function')!;
    const args = (childByField(e, 'arguments')?.children ?? []).filter((c) => c.named && c.type !== 'comment');
    const positional = args.filter((a) => a.type !== 'keyword_argument');
    const keyword = (k: string): SyntaxNode | undefined => args.find((a) => a.type === 'keyword_argument' && text(childByField(a, 'name')!) === k)?.children.find((c) => c.field === 'value');
    const name = text(callee);
    const self = /^self\.(\w+)$/.exec(name);
    if (self) {
      const layers = attrLayers.get(self[1]!);
      if (!layers || positional.length !== 1) refuse(e);
      apply(positional[0]!);
      layers!.forEach((l, i) => out.push(layerSpec(l, layers!.length > 1 ? `${self[1]}.${i}` : self[1]!, lineOf(l))));
      return;
    }
    const fnName = /^(?:F|torch|torch\.nn\.functional|nn\.functional)\.(\w+)$/.exec(name)?.[1];
    if (fnName && FUNCTIONAL_ACTIVATIONS[fnName] && positional.length >= 1) {
      apply(positional[0]!);
      out.push({ kind: 'activation', name: `forward.${fn++}`, line: lineAt(e), fn: FUNCTIONAL_ACTIVATIONS[fnName]! });
      return;
    }
    if (fnName && (fnName === 'max_pool2d' || fnName === 'avg_pool2d') && positional.length >= 1) {
      const k = intArg(positional[1] ?? keyword('kernel_size'));
      if (k === undefined) refuse(e);
      apply(positional[0]!);
      out.push({ kind: 'pool2d', name: `forward.${fn++}`, line: lineAt(e), mode: fnName === 'max_pool2d' ? 'max' : 'avg', kernel: k!, stride: intArg(positional[2] ?? keyword('stride')) ?? k! });
      return;
    }
    const ints = (nodes: readonly (SyntaxNode | undefined)[]): number[] | undefined => {
      const out: number[] = [];
      for (const n of nodes) {
        if (!n) continue;
        const v = unparenthesize(n);
        const items = v.type === 'tuple' || v.type === 'list' ? v.children.filter((c) => c.named) : [v];
        for (const i of items) { const t = text(i); if (!/^-?\d+$/.test(t)) return undefined; out.push(Number(t)); }
      }
      return out;
    };
    const isSwap = (axes: number[] | undefined): boolean => !!axes && (axes.join() === '1,2' || axes.join() === '2,1' || axes.join() === '0,2,1' || axes.join() === '-1,-2' || axes.join() === '-2,-1' || axes.join() === '1,-1' || axes.join() === '-1,1');
    if ((fnName === 'transpose' && positional.length === 3) || (fnName === 'permute' && positional.length === 2)) {
      if (!isSwap(ints(positional.slice(1)))) refuse(e);
      apply(positional[0]!);
      out.push({ kind: 'transpose', name: `forward.${fn++}`, line: lineAt(e) });
      return;
    }
    if ((fnName === 'mean' || fnName === 'amax') && positional.length >= 1) {
      const axes = ints([positional[1] ?? keyword('dim')]);
      if (!axes?.length || keyword('keepdim')) refuse(e);
      apply(positional[0]!);
      out.push({ kind: 'globalpool', name: `forward.${fn++}`, line: lineAt(e), mode: fnName === 'mean' ? 'avg' : 'max', axes: axes! });
      return;
    }
    if (fnName === 'flatten' && positional.length >= 1) {
      apply(positional[0]!);
      out.push({ kind: 'flatten', name: `forward.${fn++}`, line: lineAt(e) });
      return;
    }
    if (callee.type === 'attribute') {
      const method = text(childByField(callee, 'attribute')!);
      const object = childByField(callee, 'object')!;
      if (['flatten', 'view', 'reshape'].includes(method)) {
        // x.flatten(1), x.view(x.size(0), -1), x.reshape(len(x), -1): keep the batch axis, flatten the rest.
        const flat = method === 'flatten' || (positional.length === 2 && text(positional[1]!) === '-1');
        if (!flat) refuse(e);
        apply(object);
        out.push({ kind: 'flatten', name: `forward.${fn++}`, line: lineAt(e) });
        return;
      }
      if (method === 'transpose' || method === 'permute') {
        if (!isSwap(ints(positional))) refuse(e);
        apply(object);
        out.push({ kind: 'transpose', name: `forward.${fn++}`, line: lineAt(e) });
        return;
      }
      if (method === 'mean' || method === 'amax') {
        const axes = ints([positional[0] ?? keyword('dim')]);
        if (!axes?.length || keyword('keepdim')) refuse(e);
        apply(object);
        out.push({ kind: 'globalpool', name: `forward.${fn++}`, line: lineAt(e), mode: method === 'mean' ? 'avg' : 'max', axes: axes! });
        return;
      }
      if (FUNCTIONAL_ACTIVATIONS[method] && positional.length === 0) {
        apply(object);
        out.push({ kind: 'activation', name: `forward.${fn++}`, line: lineAt(e), fn: FUNCTIONAL_ACTIVATIONS[method]! });
        return;
      }
    }
    refuse(e);
  };
  for (const stmt of forward.body.children.filter((c) => c.named && c.type !== 'comment')) {
    if (stmt.type === 'expression_statement' && stmt.children[0]?.type === 'string') continue; // docstring
    if (stmt.type === 'return_statement') {
      const value = stmt.children.find((c) => c.named);
      if (!value) refuse(stmt);
      apply(value!);
      return out;
    }
    const assign = stmt.type === 'expression_statement' ? stmt.children[0] : undefined;
    if (assign?.type !== 'assignment') refuse(stmt);
    const target = childByField(assign!, 'left')!;
    if (target.type !== 'identifier') refuse(stmt);
    apply(childByField(assign!, 'right')!);
    current = text(target);
  }
  throw new RebuildError(`cannot rebuild ${where}: it does not return`);
}

/**
 * A value's shape between layers, without the batch axis. Sequences are kept channels last;
 * `channelsFirst` says whether the script sees them as PyTorch's (N, C, T) (what Conv1d,
 * BatchNorm1d and pooling take) or as (N, T, C) (what Linear, LayerNorm and an Embedding give).
 */
export type Shape =
  | { readonly kind: 'image'; readonly h: number; readonly w: number; readonly c: number }
  | { readonly kind: 'flat'; readonly f: number }
  | { readonly kind: 'seq'; readonly t: number; readonly c: number; readonly channelsFirst: boolean }
  | { readonly kind: 'tokens'; readonly t: number };

const describeShape = (s: Shape): string =>
  s.kind === 'image' ? `a ${s.h}×${s.w}×${s.c} image` : s.kind === 'flat' ? `${s.f} features` : s.kind === 'seq' ? `a sequence of ${s.t}×${s.c}` : `${s.t} token ids`;

/** Walks the layers with an input shape; the error names the first layer that does not fit. */
export function propagate(layers: readonly LayerSpec[], input: Shape, channelsLast = false): { shape: Shape } | { error: string } {
  let s = input;
  for (const l of layers) {
    const bad = (why: string) => ({ error: `cannot rebuild the model: ${l.kind} at line ${l.line} ${why}` });
    // Keras is channels last throughout: every layer takes a sequence as (N, T, C).
    if (channelsLast && s.kind === 'seq') s = { ...s, channelsFirst: l.kind === 'conv1d' || l.kind === 'pool1d' || l.kind === 'batchnorm' || (l.kind === 'globalpool' && !l.axes) };
    if (s.kind === 'tokens' && l.kind !== 'embedding') return bad('gets token ids; only an Embedding takes those');
    const out = (x: number, k: number, stride: number, pad: number): number => Math.floor((x + 2 * pad - k) / stride) + 1;
    switch (l.kind) {
      case 'linear':
        if (s.kind === 'image') return bad('gets an image; a Flatten is missing before it');
        if (s.kind === 'seq' && s.channelsFirst) return bad('would mix the time axis of an (N, C, T) sequence; the embedded engine does not rebuild that');
        if ((s.kind === 'seq' ? s.c : (s as { f: number }).f) !== l.inFeatures) return bad(`takes ${l.inFeatures} features but gets ${describeShape(s)}`);
        s = s.kind === 'seq' ? { ...s, c: l.outFeatures } : { kind: 'flat', f: l.outFeatures };
        break;
      case 'conv2d': {
        if (s.kind !== 'image') return bad(`gets ${describeShape(s)}, not an image`);
        if (s.c !== l.inChannels) return bad(`takes ${l.inChannels} channels but gets ${s.c}`);
        if (out(s.h, l.kernel, l.stride, l.padding) < 1 || out(s.w, l.kernel, l.stride, l.padding) < 1) return bad(`gets a ${s.h}×${s.w} input, smaller than its kernel`);
        s = { kind: 'image', h: out(s.h, l.kernel, l.stride, l.padding), w: out(s.w, l.kernel, l.stride, l.padding), c: l.outChannels };
        break;
      }
      case 'conv1d':
        if (s.kind !== 'seq' || !s.channelsFirst) return bad(`gets ${describeShape(s)}${s.kind === 'seq' ? ' as (N, T, C); a transpose(1, 2) is missing before it' : ', not an (N, C, T) sequence'}`);
        if (s.c !== l.inChannels) return bad(`takes ${l.inChannels} channels but gets ${s.c}`);
        if (out(s.t, l.kernel, l.stride, l.padding) < 1) return bad(`gets a length-${s.t} input, shorter than its kernel`);
        s = { kind: 'seq', t: out(s.t, l.kernel, l.stride, l.padding), c: l.outChannels, channelsFirst: true };
        break;
      case 'pool2d':
        if (s.kind !== 'image') return bad(`gets ${describeShape(s)}, not an image`);
        if (out(s.h, l.kernel, l.stride, 0) < 1 || out(s.w, l.kernel, l.stride, 0) < 1) return bad(`gets a ${s.h}×${s.w} input, smaller than its window`);
        s = { kind: 'image', h: out(s.h, l.kernel, l.stride, 0), w: out(s.w, l.kernel, l.stride, 0), c: s.c };
        break;
      case 'pool1d':
        if (s.kind !== 'seq' || !s.channelsFirst) return bad(`gets ${describeShape(s)}, not an (N, C, T) sequence`);
        if (out(s.t, l.kernel, l.stride, 0) < 1) return bad(`gets a length-${s.t} input, shorter than its window`);
        s = { ...s, t: out(s.t, l.kernel, l.stride, 0) };
        break;
      case 'globalpool': {
        if (s.kind === 'flat') return bad('gets flat features; there is nothing to pool');
        // `x.mean(dim)` as PyTorch sees it: (N, T, C), (N, C, T) or (N, C, H, W).
        const rank = s.kind === 'image' ? 4 : 3;
        const want = s.kind === 'image' ? [2, 3] : [s.kind === 'seq' && s.channelsFirst ? 2 : 1];
        const axes = l.axes?.map((a) => (a < 0 ? a + rank : a)).sort();
        if (axes && axes.join() !== want.join()) return bad(`reduces axis ${l.axes!.join(', ')} of ${describeShape(s)}; the embedded engine pools over positions only`);
        s = { kind: 'flat', f: (s as { c: number }).c };
        break;
      }
      case 'batchnorm': {
        if (s.kind === 'seq' && !s.channelsFirst) return bad('normalizes the channels of (N, C, T) but gets (N, T, C)');
        const c = s.kind === 'flat' ? s.f : (s as { c: number }).c;
        if (c !== l.features) return bad(`normalizes ${l.features} features but gets ${c}`);
        break;
      }
      case 'layernorm':
        if (!(s.kind === 'flat' && s.f === l.features) && !(s.kind === 'seq' && !s.channelsFirst && s.c === l.features)) return bad(`normalizes ${l.features} features but gets ${describeShape(s)}`);
        break;
      case 'embedding':
        if (s.kind !== 'tokens') return bad(`gets ${describeShape(s)}, not token ids`);
        s = { kind: 'seq', t: s.t, c: l.dim, channelsFirst: false };
        break;
      case 'transpose':
        if (s.kind !== 'seq') return bad(`swaps the axes of ${describeShape(s)}; the embedded engine follows it on sequences only`);
        s = { ...s, channelsFirst: !s.channelsFirst };
        break;
      case 'flatten':
        if (s.kind === 'image') s = { kind: 'flat', f: s.h * s.w * s.c };
        else if (s.kind === 'seq') s = { kind: 'flat', f: s.t * s.c };
        break;
      default:
        break;
    }
  }
  return { shape: s };
}

export interface InputShapes {
  readonly inputDim: number;
  readonly inputShape?: [number, number, number];
  readonly inputSeq?: [number, number];
  readonly tokens?: { readonly vocab: number };
  readonly width: number;
  readonly assumption?: string;
}

/** The spec's input fields for a shape that gives flat outputs. */
function inputFields(input: Shape, output: Shape, vocab: number | undefined): InputShapes | { error: string } {
  if (output.kind !== 'flat') return { error: `cannot rebuild the model: its output is ${describeShape(output)}, not flat (a Flatten or a pooling is missing at the end)` };
  switch (input.kind) {
    case 'flat': return { inputDim: input.f, width: output.f };
    case 'image': return { inputDim: input.h * input.w * input.c, inputShape: [input.h, input.w, input.c], width: output.f };
    case 'seq': return { inputDim: input.t * input.c, inputSeq: [input.t, input.c], width: output.f };
    case 'tokens': return { inputDim: input.t, tokens: { vocab: vocab! }, width: output.f };
  }
}

/** Sequence length the surrogate uses when nothing in the model fixes it (global pooling over time). */
export const DEFAULT_SEQUENCE_LENGTH = 32;

/**
 * The input shape: a Linear stack takes its first Linear's width; a convolutional one a square
 * image (or a signal) with the first convolution's channels, of the size that makes the first
 * Linear after Flatten fit (the script's image size is rarely written where the model is); an
 * Embedding model token ids, as many as make the layers fit. When every size fits (global
 * pooling), a default is used and said. `known` is an input shape the script states (Keras).
 */
export function inferShapes(layers: readonly LayerSpec[], known?: Shape, channelsLast = false): InputShapes | { error: string } {
  const first = layers.find((l) => l.kind === 'linear' || l.kind === 'conv2d' || l.kind === 'conv1d' || l.kind === 'embedding');
  if (!first) return { error: 'cannot rebuild the model: it has no Linear, Conv1d, Conv2d or Embedding layer' };
  const vocab = first.kind === 'embedding' ? first.vocab : undefined;
  if (known) {
    const r = propagate(layers, known, channelsLast);
    return 'error' in r ? r : inputFields(known, r.shape, vocab);
  }
  if (first.kind === 'linear') {
    const input: Shape = { kind: 'flat', f: first.inFeatures };
    const r = propagate(layers, input);
    return 'error' in r ? r : inputFields(input, r.shape, vocab);
  }
  const candidate = (size: number): Shape =>
    first.kind === 'conv2d' ? { kind: 'image', h: size, w: size, c: first.inChannels }
      : first.kind === 'conv1d' ? { kind: 'seq', t: size, c: first.inChannels, channelsFirst: true }
        : { kind: 'tokens', t: size };
  const fits = (size: number): boolean => { const r = propagate(layers, candidate(size)); return 'shape' in r && r.shape.kind === 'flat'; };
  let smallest: number | undefined;
  for (let size = 1; size <= 512 && smallest === undefined; size++) if (fits(size)) smallest = size;
  if (smallest === undefined) {
    const r = propagate(layers, candidate(first.kind === 'conv2d' ? 32 : DEFAULT_SEQUENCE_LENGTH));
    return { error: 'error' in r ? r.error : `cannot rebuild the model: no input size makes its layers fit (${first.kind} at line ${first.line})` };
  }
  // Flooring lets a few neighbouring sizes fit (the smallest is taken); a much larger one fits
  // only when the model pools globally, and then the size is the surrogate's choice.
  const global = fits(4 * smallest + 64);
  const size = !global ? smallest : first.kind === 'conv2d' ? 32 : DEFAULT_SEQUENCE_LENGTH;
  const input = candidate(size);
  const out = propagate(layers, input) as { shape: Shape };
  const fields = inputFields(input, out.shape, vocab);
  if ('error' in fields || !global) return fields;
  return { ...fields, assumption: `the model pools over its whole input, so its input size is not fixed: ${describeShape(input)} assumed` };
}

export class RebuildError extends Error {}

/** surrogateSpec, with a layer it cannot rebuild reported as the result's error. */
export function trySurrogateSpec(doc: ParsedDocument, analysis: AnalysisResult): SurrogateResult {
  try {
    return surrogateSpec(doc, analysis);
  } catch (e) {
    if (e instanceof RebuildError) return { error: e.message };
    throw e;
  }
}

export function parameterCount(spec: SurrogateSpec): number {
  let n = 0;
  for (const l of spec.layers) {
    if (l.kind === 'linear') n += l.inFeatures * l.outFeatures + (l.bias ? l.outFeatures : 0);
    if (l.kind === 'layernorm' || l.kind === 'batchnorm') n += 2 * l.features;
    if (l.kind === 'conv2d') n += l.outChannels * l.inChannels * l.kernel * l.kernel + (l.bias ? l.outChannels : 0);
    if (l.kind === 'conv1d') n += l.outChannels * l.inChannels * l.kernel + (l.bias ? l.outChannels : 0);
    if (l.kind === 'embedding') n += l.vocab * l.dim;
  }
  return n;
}
