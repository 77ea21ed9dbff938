/**
 * The surrogate the embedded engine trains: the script's model, loss, optimizer and batch size
 * as the static analysis resolved them, as plain data. Pure. What cannot be rebuilt is an error
 * that names the layer and its line, so the user knows to use the Python engine.
 */
import type { AnalysisResult } from '../../analysis/analyze';
import type { Hyperparameter, LayerModel, OptimizerModel } from '../../analysis/model/trainingScript';
import { childByField, unparenthesize, type SyntaxNode } from '../../analysis/syntax/syntaxNode';
import type { ParsedDocument } from '../../analysis/document';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'gelu' | 'silu' | 'elu' | 'leaky_relu' | 'softplus' | 'identity';

export type LayerSpec =
  | { readonly kind: 'linear'; readonly name: string; readonly line: number; readonly inFeatures: number; readonly outFeatures: number; readonly bias: boolean }
  | { readonly kind: 'activation'; readonly name: string; readonly line: number; readonly fn: Activation; readonly slope?: number }
  | { readonly kind: 'dropout'; readonly name: string; readonly line: number; readonly p: number }
  | { readonly kind: 'layernorm'; readonly name: string; readonly line: number; readonly features: number; readonly eps: number }
  | { readonly kind: 'flatten'; readonly name: string; readonly line: number }
  | { readonly kind: 'conv2d'; readonly name: string; readonly line: number; readonly inChannels: number; readonly outChannels: number; readonly kernel: number; readonly stride: number; readonly padding: number; readonly bias: boolean }
  | { readonly kind: 'pool2d'; readonly name: string; readonly line: number; readonly mode: 'max' | 'avg'; readonly kernel: number; readonly stride: number }
  | { readonly kind: 'batchnorm'; readonly name: string; readonly line: number; readonly features: number; readonly eps: number };

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
}

export interface SurrogateSpec {
  readonly layers: readonly LayerSpec[];
  /** Flattened input width; for image models H·W·C of `inputShape`. */
  readonly inputDim: number;
  /** [H, W, C] for models that start with a convolution (inferred from the first Linear after Flatten). */
  readonly inputShape?: readonly [number, number, number];
  readonly outputDim: number;
  readonly loss: { readonly kind: 'cross_entropy'; readonly labelSmoothing: number } | { readonly kind: 'mse' };
  readonly optimizer: OptimizerSpec;
  readonly batchSize: number;
  readonly clipNorm: number | null;
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
  const seq = model.sequences.find((s) => s.container === 'sequential') ?? model.sequences.find((s) => s.container === 'module') ?? model.sequences[0];
  if (!seq) return { error: 'cannot rebuild the model: no nn.Sequential or nn.Module layer stack found in the script' };
  const assumptions: string[] = [];
  let layers: LayerSpec[];
  if (seq.container === 'sequential') {
    layers = seq.layers.map((l, i) => layerSpec(l, String(i), lineOf(l)));
  } else if (seq.container === 'module') {
    layers = moduleForward(doc, analysis, seq.name, lineOf);
  } else {
    return { error: `cannot rebuild ${seq.name} (line ${doc.lines.positionAt(seq.node.start).line + 1}): Keras models are not rebuilt yet; use the Python engine` };
  }
  const shapes = inferShapes(layers);
  if ('error' in shapes) return shapes;
  const { inputDim, inputShape, width } = shapes;

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
  for (const sch of model.schedulers) assumptions.push(`${sch.className} (line ${doc.lines.positionAt(sch.call.node.start).line + 1}) is not applied: the surrogate trains at the base learning rate`);
  const loader = model.dataLoaders.find((d) => d.role === 'train') ?? model.dataLoaders[0];
  let batchSize = num(loader?.hyper.get('batch_size'));
  if (batchSize === undefined) { batchSize = 64; assumptions.push('batch size not found: 64 assumed'); }
  return { spec: { layers, inputDim, ...(inputShape ? { inputShape } : {}), outputDim: width, loss, optimizer: withGroups, batchSize, clipNorm: clipNorm(analysis), assumptions } };
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

/** One layer constructor as the surrogate builds it (the module path is `name`). */
function layerSpec(l: LayerModel, name: string, line: number): LayerSpec {
  const n = (k: string): number | undefined => num(l.hyper.get(k));
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
  throw new RebuildError(`cannot rebuild ${l.className} at line ${line}: the embedded engine rebuilds Linear, Conv2d, pooling, BatchNorm, LayerNorm, Dropout, Flatten and activation layers`);
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

type Shape = { readonly kind: 'image'; readonly h: number; readonly w: number; readonly c: number } | { readonly kind: 'flat'; readonly f: number };

/** Walks the layers with an input shape; the error names the first layer that does not fit. */
function propagate(layers: readonly LayerSpec[], input: Shape): { shape: Shape } | { error: string } {
  let s = input;
  for (const l of layers) {
    const bad = (why: string) => ({ error: `cannot rebuild the model: ${l.kind} at line ${l.line} ${why}` });
    switch (l.kind) {
      case 'linear':
        if (s.kind !== 'flat') return bad('gets an image; a Flatten is missing before it');
        if (s.f !== l.inFeatures) return bad(`takes ${l.inFeatures} features but gets ${s.f}`);
        s = { kind: 'flat', f: l.outFeatures };
        break;
      case 'conv2d': {
        if (s.kind !== 'image') return bad('gets a flat input');
        if (s.c !== l.inChannels) return bad(`takes ${l.inChannels} channels but gets ${s.c}`);
        const size = (x: number): number => Math.floor((x + 2 * l.padding - l.kernel) / l.stride) + 1;
        if (size(s.h) < 1) return bad(`gets a ${s.h}×${s.w} input, smaller than its kernel`);
        s = { kind: 'image', h: size(s.h), w: size(s.w), c: l.outChannels };
        break;
      }
      case 'pool2d': {
        if (s.kind !== 'image') return bad('gets a flat input');
        const size = (x: number): number => Math.floor((x - l.kernel) / l.stride) + 1;
        if (size(s.h) < 1) return bad(`gets a ${s.h}×${s.w} input, smaller than its window`);
        s = { kind: 'image', h: size(s.h), w: size(s.w), c: s.c };
        break;
      }
      case 'batchnorm':
        if ((s.kind === 'image' ? s.c : s.f) !== l.features) return bad(`normalizes ${l.features} features but gets ${s.kind === 'image' ? s.c : s.f}`);
        break;
      case 'layernorm':
        if (s.kind !== 'flat' || l.features !== s.f) return bad('does not match the features before it');
        break;
      case 'flatten':
        if (s.kind === 'image') s = { kind: 'flat', f: s.h * s.w * s.c };
        break;
      default:
        break;
    }
  }
  return { shape: s };
}

/**
 * The input shape: a Linear stack takes its first Linear's width; a convolutional one a square
 * image with the first convolution's channels, of the side that makes the first Linear after
 * Flatten fit (the script's image size is rarely written where the model is).
 */
function inferShapes(layers: LayerSpec[]): { inputDim: number; inputShape?: [number, number, number]; width: number } | { error: string } {
  const first = layers.find((l) => l.kind === 'linear' || l.kind === 'conv2d');
  if (!first) return { error: 'cannot rebuild the model: it has no Linear or Conv2d layer' };
  if (first.kind === 'linear') {
    const r = propagate(layers, { kind: 'flat', f: first.inFeatures });
    if ('error' in r) return r;
    if (r.shape.kind !== 'flat') return { error: 'cannot rebuild the model: its output is not flat' };
    return { inputDim: first.inFeatures, width: r.shape.f };
  }
  for (let side = 1; side <= 512; side++) {
    const r = propagate(layers, { kind: 'image', h: side, w: side, c: first.inChannels });
    if ('shape' in r && r.shape.kind === 'flat') return { inputDim: side * side * first.inChannels, inputShape: [side, side, first.inChannels], width: r.shape.f };
  }
  return { error: `cannot rebuild the model: no square input size makes its layers fit (conv2d at line ${first.line})` };
}

class RebuildError extends Error {}

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
  }
  return n;
}
