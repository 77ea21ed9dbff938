/**
 * The surrogate of a Keras script: a `keras.Sequential([...])` list or a functional chain
 * (`inputs = keras.Input(shape=…)`, `x = layers.Dense(…)(x)` …, `keras.Model(inputs, outputs)`),
 * and the optimizer, loss and batch size of `compile` and `fit`. Keras layers do not state their
 * input sizes, so the layers are built walking the shapes from the model's stated input
 * (`keras.Input(shape=…)` or the first layer's `input_shape=`). Pure; what cannot be rebuilt is a
 * RebuildError naming the layer and its line.
 */
import type { AnalysisResult } from '../../analysis/analyze';
import type { ParsedDocument } from '../../analysis/document';
import type { CallInfo } from '../../analysis/facts/scriptFacts';
import { sequentialItemNodes } from '../../analysis/model/extractModel';
import type { LayerModel } from '../../analysis/model/trainingScript';
import { childByField, unparenthesize, type SyntaxNode } from '../../analysis/syntax/syntaxNode';
import type { Resolved } from '../../analysis/values/pyValue';
import { layerNumber, RebuildError, type Activation, type LayerSpec, type OptimizerKind, type OptimizerSpec, type Shape, type SurrogateSpec } from './surrogateSpec';

export interface KerasModel {
  readonly layers: LayerSpec[];
  readonly input: Shape;
  /** The model's name and line, for messages. */
  readonly where: string;
  /** The last layer applies softmax: the loss then takes probabilities, not logits. */
  readonly softmaxOutput: boolean;
}

const KERAS_ACTIVATIONS: Readonly<Record<string, Activation>> = {
  relu: 'relu', tanh: 'tanh', sigmoid: 'sigmoid', gelu: 'gelu', swish: 'silu', silu: 'silu', elu: 'elu', softplus: 'softplus', leaky_relu: 'leaky_relu', linear: 'identity',
};

const isInputCall = (c: CallInfo | undefined): boolean => !!c && (c.name === 'Input' || c.name === 'InputLayer') && /keras|layers/.test(c.qualified);

/** The model a Keras script trains: its Sequential, else its functional `keras.Model(inputs, outputs)`. */
export function kerasModel(doc: ParsedDocument, analysis: AnalysisResult): KerasModel | undefined {
  const text = (n: SyntaxNode): string => doc.text.slice(n.start, n.end);
  const lineAt = (n: SyntaxNode): number => doc.lines.positionAt(n.start).line + 1;
  const layerByCall = new Map(analysis.model.layers.filter((l) => l.framework === 'keras').map((l) => [l.call.node, l]));
  const resolve = (n: SyntaxNode | undefined, call: CallInfo): Resolved['value'] => (n ? analysis.values.resolve(n, call.fn).value : undefined);
  const shapeOf = (call: CallInfo, key: string): number[] | undefined => {
    const v = resolve(call.keywords.get(key) ?? (key === 'shape' ? call.args[0] : undefined), call);
    if (v?.kind === 'number') return [v.value];
    if (v?.kind !== 'sequence') return undefined;
    const dims = v.items.map((i) => (i.value?.kind === 'number' ? i.value.value : Number.NaN));
    return dims.every(Number.isFinite) ? dims : undefined;
  };
  const inputShape = (dims: number[] | undefined, at: SyntaxNode, tokens: boolean): Shape => {
    if (!dims) throw new RebuildError(`cannot rebuild the Keras model (line ${lineAt(at)}): its input shape is not known statically`);
    if (tokens && dims.length === 1) return { kind: 'tokens', t: dims[0]! };
    if (dims.length === 1) return { kind: 'flat', f: dims[0]! };
    if (dims.length === 2) return { kind: 'seq', t: dims[0]!, c: dims[1]!, channelsFirst: true };
    if (dims.length === 3) return { kind: 'image', h: dims[0]!, w: dims[1]!, c: dims[2]! };
    throw new RebuildError(`cannot rebuild the Keras model (line ${lineAt(at)}): an input of shape (${dims.join(', ')}) is not rebuilt`);
  };

  // Sequential: the list's items in order, an Input first or `input_shape=` on the first layer.
  const seq = analysis.model.sequences.find((s) => s.container === 'keras');
  if (seq) {
    const call = analysis.facts.callByNode.get(seq.node)!;
    const items = (sequentialItemNodes(call, analysis.facts, doc.text, true) ?? []).map((n) => analysis.facts.callByNode.get(unparenthesize(n)));
    const where = `${seq.name} (line ${lineAt(seq.node)})`;
    let input: Shape | undefined;
    const layers: LayerModel[] = [];
    for (const [i, c] of items.entries()) {
      if (isInputCall(c)) { input = inputShape(shapeOf(c!, c!.name === 'Input' ? 'shape' : 'input_shape'), c!.node, false); continue; }
      const l = c ? layerByCall.get(c.node) : undefined;
      if (!l) throw new RebuildError(`cannot rebuild ${where}: its item ${i + 1}${c ? ` (${c.callee || c.name}, line ${lineAt(c.node)})` : ''} is not a Keras layer the embedded engine knows`);
      if (!input && layers.length === 0) {
        const dims = shapeOf(l.call, 'input_shape') ?? (l.call.keywords.has('input_dim') ? shapeOf(l.call, 'input_dim') : undefined);
        const length = shapeOf(l.call, 'input_length');
        if (l.className === 'Embedding' && (dims || length)) input = { kind: 'tokens', t: (length ?? dims)![0]! };
        else if (dims) input = inputShape(dims, l.call.node, false);
      }
      layers.push(l);
    }
    if (!input) throw new RebuildError(`cannot rebuild ${where}: its input shape is not stated; start the list with keras.Input(shape=…) or give the first layer input_shape=`);
    return build(where, layers, input);
  }

  // Functional: follow `outputs` back through `layer(x)` calls to the Input.
  const modelCall = analysis.facts.calls.find((c) => c.name === 'Model' && /keras/.test(c.qualified) && (c.keywords.has('outputs') || c.args.length >= 2));
  if (!modelCall) return undefined;
  const where = `the Keras model at line ${lineAt(modelCall.node)}`;
  const chain: LayerModel[] = [];
  let node: SyntaxNode | undefined = modelCall.keywords.get('outputs') ?? modelCall.args[1];
  let input: Shape | undefined;
  const boundLayer = (name: string, before: number): LayerModel | undefined => {
    const a = (analysis.facts.assignmentsByTarget.get(name) ?? []).filter((x) => x.node.start < before).at(-1);
    return a?.value ? layerByCall.get(unparenthesize(a.value)) : undefined;
  };
  for (let guard = 0; node && guard < 200; guard++) {
    const e: SyntaxNode = unparenthesize(node);
    if (e.type === 'identifier') {
      // The assignment that reaches this use: the last one that ends before it (`x = f(x)` reads the previous x).
      const a = (analysis.facts.assignmentsByTarget.get(text(e)) ?? []).filter((x) => x.node.end <= e.start).at(-1);
      if (!a?.value) throw new RebuildError(`cannot rebuild ${where}: \`${text(e)}\` is not assigned before it`);
      node = a.value;
      continue;
    }
    const outer = e.type === 'call' ? analysis.facts.callByNode.get(e) : undefined;
    if (isInputCall(outer)) { input = inputShape(shapeOf(outer!, 'shape'), outer!.node, false); break; }
    const fn = e.type === 'call' ? unparenthesize(childByField(e, 'function')!) : undefined;
    // `layers.Dense(10)(x)`, or `dense(x)` with `dense = layers.Dense(10)` earlier.
    const layer = fn ? layerByCall.get(fn) ?? (fn.type === 'identifier' ? boundLayer(text(fn), e.start) : undefined) : undefined;
    const args = (childByField(e, 'arguments')?.children ?? []).filter((c) => c.named && c.type !== 'comment' && c.type !== 'keyword_argument');
    if (!layer || args.length !== 1) throw new RebuildError(`cannot rebuild ${where}: line ${lineAt(e)} does \`${text(e).slice(0, 80)}\`, which the embedded engine does not follow (it rebuilds a chain of layers)`);
    chain.push(layer);
    node = args[0];
  }
  if (!input) throw new RebuildError(`cannot rebuild ${where}: its outputs do not lead back to a keras.Input`);
  chain.reverse();
  if (chain[0]?.className === 'Embedding' && input.kind === 'flat') input = { kind: 'tokens', t: input.f };
  return build(where, chain, input);

  function build(where: string, layers: readonly LayerModel[], input: Shape): KerasModel {
    const out: LayerSpec[] = [];
    let s = input;
    let softmaxOutput = false;
    for (const [i, l] of layers.entries()) {
      const specs = kerasLayer(l, `${i}`, lineAt(l.call.node), s, i === layers.length - 1);
      for (const sp of specs.layers) {
        out.push(sp);
        s = step(sp, s);
      }
      softmaxOutput ||= specs.softmax;
    }
    return { layers: out, input, where, softmaxOutput };
  }

  /** Shape after one layer, for sizing the next (the spec's own check runs later on the whole list). */
  function step(l: LayerSpec, s: Shape): Shape {
    switch (l.kind) {
      case 'linear': return s.kind === 'seq' ? { ...s, c: l.outFeatures } : { kind: 'flat', f: l.outFeatures };
      case 'conv2d': {
        const o = (x: number): number => Math.floor((x + 2 * l.padding - l.kernel) / l.stride) + 1;
        return s.kind === 'image' ? { kind: 'image', h: o(s.h), w: o(s.w), c: l.outChannels } : s;
      }
      case 'conv1d': return s.kind === 'seq' ? { ...s, t: Math.floor((s.t + 2 * l.padding - l.kernel) / l.stride) + 1, c: l.outChannels } : s;
      case 'pool2d': return s.kind === 'image' ? { ...s, h: Math.floor((s.h - l.kernel) / l.stride) + 1, w: Math.floor((s.w - l.kernel) / l.stride) + 1 } : s;
      case 'pool1d': return s.kind === 'seq' ? { ...s, t: Math.floor((s.t - l.kernel) / l.stride) + 1 } : s;
      case 'globalpool': return s.kind === 'image' || s.kind === 'seq' ? { kind: 'flat', f: s.c } : s;
      case 'embedding': return s.kind === 'tokens' ? { kind: 'seq', t: s.t, c: l.dim, channelsFirst: true } : s;
      case 'flatten': return s.kind === 'image' ? { kind: 'flat', f: s.h * s.w * s.c } : s.kind === 'seq' ? { kind: 'flat', f: s.t * s.c } : s;
      default: return s;
    }
  }

  /** One Keras layer as surrogate layers (a Dense with `activation=` is two). */
  function kerasLayer(l: LayerModel, name: string, line: number, s: Shape, last: boolean): { layers: LayerSpec[]; softmax: boolean } {
    // The analysis read keywords and positionals (extractModel.layerHyper); a value the script
    // passes but that is not known statically is an error, never the default.
    const arg = (key: string): Resolved['value'] => l.hyper.get(key)?.resolved.value;
    const n = (key: string, fallback?: number): number => {
      const v = layerNumber(l, key);
      if (v !== undefined) return v;
      if (!l.hyper.get(key)?.node && fallback !== undefined) return fallback;
      throw new RebuildError(`cannot rebuild ${l.className} at line ${line}: its ${key} is not known statically`);
    };
    const channels = (): number => {
      if (s.kind === 'flat') return s.f;
      if (s.kind === 'tokens') throw new RebuildError(`cannot rebuild ${l.className} at line ${line}: it gets token ids; only an Embedding takes those`);
      return s.c;
    };
    const activation = (value: Resolved['value'], at: string): { layers: LayerSpec[]; softmax: boolean } => {
      if (value === undefined || value.kind === 'none') return { layers: [], softmax: false };
      const fn = value.kind === 'string' ? value.value : '?';
      if (fn === 'softmax' && last) return { layers: [], softmax: true };
      const a = KERAS_ACTIVATIONS[fn];
      if (!a) throw new RebuildError(`cannot rebuild ${l.className} at line ${line}: activation ${value.kind === 'string' ? `'${fn}'` : 'given as an object'} is not rebuilt${fn === 'softmax' ? ' before the last layer' : ''}`);
      return { layers: a === 'identity' ? [] : [{ kind: 'activation', name: at, line, fn: a }], softmax: false };
    };
    const padding = (k: number): number => {
      const p = arg('padding');
      return p?.kind === 'string' && p.value === 'same' ? Math.floor((k - 1) / 2) : 0;
    };
    const withAct = (main: LayerSpec): { layers: LayerSpec[]; softmax: boolean } => {
      const act = activation(arg('activation'), `${name}.activation`);
      return { layers: [main, ...act.layers], softmax: act.softmax };
    };
    switch (l.className) {
      case 'Dense':
        return withAct({ kind: 'linear', name, line, inFeatures: channels(), outFeatures: n('units'), bias: n('use_bias', 1) !== 0 });
      case 'Conv2D': {
        const k = n('kernel_size');
        return withAct({ kind: 'conv2d', name, line, inChannels: channels(), outChannels: n('filters'), kernel: k, stride: n('strides', 1), padding: padding(k), bias: n('use_bias', 1) !== 0 });
      }
      case 'Conv1D': {
        const k = n('kernel_size');
        return withAct({ kind: 'conv1d', name, line, inChannels: channels(), outChannels: n('filters'), kernel: k, stride: n('strides', 1), padding: padding(k), bias: n('use_bias', 1) !== 0 });
      }
      case 'MaxPooling2D': case 'AveragePooling2D': case 'MaxPooling1D': case 'AveragePooling1D': {
        const k = n('pool_size', 2);
        const mode = l.className.startsWith('Max') ? 'max' : 'avg';
        return { layers: [l.className.endsWith('2D') ? { kind: 'pool2d', name, line, mode, kernel: k, stride: n('strides', k) } : { kind: 'pool1d', name, line, mode, kernel: k, stride: n('strides', k) }], softmax: false };
      }
      case 'GlobalAveragePooling2D': case 'GlobalAveragePooling1D': case 'GlobalMaxPooling2D': case 'GlobalMaxPooling1D':
        return { layers: [{ kind: 'globalpool', name, line, mode: l.className.includes('Max') ? 'max' : 'avg' }], softmax: false };
      case 'Flatten': return { layers: [{ kind: 'flatten', name, line }], softmax: false };
      case 'Dropout': return { layers: [{ kind: 'dropout', name, line, p: n('rate') }], softmax: false };
      case 'BatchNormalization': return { layers: [{ kind: 'batchnorm', name, line, features: channels(), eps: n('epsilon', 1e-3) }], softmax: false };
      case 'LayerNormalization': return { layers: [{ kind: 'layernorm', name, line, features: channels(), eps: n('epsilon', 1e-3) }], softmax: false };
      case 'Embedding': return { layers: [{ kind: 'embedding', name, line, vocab: n('input_dim'), dim: n('output_dim') }], softmax: false };
      case 'Activation': return activation(arg('activation'), name);
      case 'ReLU': return { layers: [{ kind: 'activation', name, line, fn: 'relu' }], softmax: false };
      case 'ELU': return { layers: [{ kind: 'activation', name, line, fn: 'elu' }], softmax: false };
      case 'LeakyReLU': {
        // Keras 3 calls it negative_slope (default 0.3); tf.keras 2 called it alpha.
        const slope = l.hyper.has('alpha') ? n('alpha') : n('negative_slope', 0.3);
        return { layers: [{ kind: 'activation', name, line, fn: 'leaky_relu', slope }], softmax: false };
      }
      case 'Softmax':
        if (last) return { layers: [], softmax: true };
        break;
      default: break;
    }
    throw new RebuildError(`cannot rebuild ${l.className} at line ${line}: the embedded engine rebuilds Dense, Conv1D, Conv2D, pooling, BatchNormalization, LayerNormalization, Embedding, Dropout, Flatten and activation layers`);
  }
}

/** Keras's loss, optimizer and batch size from `model.compile(...)` and `model.fit(...)`. */
export function kerasTraining(doc: ParsedDocument, analysis: AnalysisResult, softmaxOutput: boolean, assumptions: string[]): Pick<SurrogateSpec, 'loss' | 'optimizer' | 'batchSize'> {
  const lineAt = (n: SyntaxNode): number => doc.lines.positionAt(n.start).line + 1;
  const compile = analysis.facts.callsByName.get('compile')?.find((c) => c.receiver !== undefined);
  if (!compile) throw new RebuildError('cannot rebuild the Keras training: no model.compile(...) found');
  const value = (n: SyntaxNode | undefined, call: CallInfo): Resolved['value'] => (n ? analysis.values.resolve(n, call.fn).value : undefined);
  // Loss: a string or a keras.losses object; softmax outputs are folded back into logits.
  const lossNode = compile.keywords.get('loss') ?? compile.args[1];
  const lossValue = value(lossNode, compile);
  const lossObject = lossNode ? analysis.model.losses.find((l) => l.call.node === unparenthesize(lossNode) || l.boundTo.includes(doc.text.slice(lossNode.start, lossNode.end))) : undefined;
  const lossName = lossValue?.kind === 'string' ? lossValue.value : lossObject?.className ?? '';
  let loss: SurrogateSpec['loss'];
  if (/^(sparse_)?categorical_crossentropy$|^(Sparse)?CategoricalCrossentropy$/.test(lossName)) {
    const smoothing = lossObject ? value(lossObject.call.keywords.get('label_smoothing'), lossObject.call) : undefined;
    const fromLogits = lossObject ? value(lossObject.call.keywords.get('from_logits'), lossObject.call) : undefined;
    const logits = fromLogits?.kind === 'bool' && fromLogits.value;
    if (!logits && !softmaxOutput) assumptions.push('the loss takes probabilities (from_logits=False) but the last layer has no softmax: the surrogate treats the outputs as logits');
    if (logits && softmaxOutput) assumptions.push('the last layer applies softmax and the loss applies it again (from_logits=True): the surrogate applies it once');
    loss = { kind: 'cross_entropy', labelSmoothing: smoothing?.kind === 'number' ? smoothing.value : 0 };
  } else if (/^(mse|mean_squared_error|MeanSquaredError)$/.test(lossName)) {
    loss = { kind: 'mse' };
  } else {
    throw new RebuildError(`cannot rebuild the loss ${lossName || (lossNode ? doc.text.slice(lossNode.start, lossNode.end) : 'of model.compile')} at line ${lineAt(lossNode ?? compile.node)}: the embedded engine knows categorical cross-entropy and mean squared error`);
  }
  // Optimizer: a keras.optimizers object or a name with Keras's defaults.
  const optNode = compile.keywords.get('optimizer') ?? compile.args[0];
  const optValue = value(optNode, compile);
  const opt = optNode ? analysis.model.optimizers.find((o) => o.api.framework === 'keras' && (o.call.node === unparenthesize(optNode) || o.boundTo.includes(doc.text.slice(optNode.start, optNode.end)))) : undefined;
  const className = opt?.api.className ?? (optValue?.kind === 'string' ? ({ sgd: 'SGD', adam: 'Adam', adamw: 'AdamW', rmsprop: 'RMSprop' } as Record<string, string>)[optValue.value.toLowerCase()] ?? optValue.value : 'rmsprop');
  if (!optNode) assumptions.push('model.compile gives no optimizer: Keras\'s default RMSprop assumed');
  const kinds: Readonly<Record<string, OptimizerKind>> = { SGD: 'sgd', Adam: 'adam', AdamW: 'adamw', RMSprop: 'rmsprop', rmsprop: 'rmsprop' };
  const kind = kinds[className];
  if (!kind) throw new RebuildError(`cannot rebuild the optimizer ${className} at line ${lineAt(optNode ?? compile.node)}: the embedded engine knows SGD, Adam, AdamW and RMSprop`);
  const get = (key: string, fallback: number): number => {
    const v = opt?.hyper.get(key)?.resolved.value;
    if (v?.kind === 'number') return v.value;
    if (v?.kind === 'bool') return v.value ? 1 : 0;
    if (opt?.hyper.get(key)?.node && v?.kind !== 'none') throw new RebuildError(`cannot rebuild the optimizer at line ${lineAt(opt.call.node)}: its ${key} is not known statically`);
    return fallback;
  };
  const lr = get('learning_rate', kind === 'sgd' ? 0.01 : 1e-3);
  if (kind === 'rmsprop' && get('momentum', 0) !== 0) assumptions.push('RMSprop\'s momentum is not applied by the surrogate');
  const optimizer: OptimizerSpec = {
    kind, className: opt?.api.className ?? className, lr,
    momentum: get('momentum', 0), dampening: 0, nesterov: get('nesterov', 0) !== 0,
    beta1: get('beta_1', 0.9), beta2: get('beta_2', 0.999), eps: get('epsilon', 1e-7),
    weightDecay: get('weight_decay', kind === 'adamw' ? 0.004 : 0), alpha: get('rho', 0.9),
    // Keras decays every optimizer's weights decoupled (θ ← θ − lr·wd·θ) and adds ε to √v before bias correction.
    decoupledDecay: true, epsBeforeCorrection: kind === 'adam' || kind === 'adamw',
  };
  const fit = analysis.facts.callsByName.get('fit')?.find((c) => c.receiver !== undefined);
  const bs = fit ? value(fit.keywords.get('batch_size'), fit) : undefined;
  const batchSize = bs?.kind === 'number' ? bs.value : 32;
  if (bs?.kind !== 'number') assumptions.push('model.fit gives no batch_size: Keras\'s default 32 assumed');
  return { loss, optimizer, batchSize };
}
