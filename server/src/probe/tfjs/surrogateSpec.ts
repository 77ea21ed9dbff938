/**
 * The surrogate the embedded engine trains: the script's model, loss, optimizer and batch size
 * as the static analysis resolved them, as plain data. Pure. What cannot be rebuilt is an error
 * that names the layer and its line, so the user knows to use the Python engine.
 */
import type { AnalysisResult } from '../../analysis/analyze';
import type { Hyperparameter, LayerModel } from '../../analysis/model/trainingScript';
import type { ParsedDocument } from '../../analysis/document';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'gelu' | 'silu' | 'elu' | 'leaky_relu' | 'softplus' | 'identity';

export type LayerSpec =
  | { readonly kind: 'linear'; readonly name: string; readonly line: number; readonly inFeatures: number; readonly outFeatures: number; readonly bias: boolean }
  | { readonly kind: 'activation'; readonly name: string; readonly line: number; readonly fn: Activation; readonly slope?: number }
  | { readonly kind: 'dropout'; readonly name: string; readonly line: number; readonly p: number }
  | { readonly kind: 'layernorm'; readonly name: string; readonly line: number; readonly features: number; readonly eps: number }
  | { readonly kind: 'flatten'; readonly name: string; readonly line: number };

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
  /** RMSprop's smoothing constant. */
  readonly alpha: number;
}

export interface SurrogateSpec {
  readonly layers: readonly LayerSpec[];
  readonly inputDim: number;
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
  const seq = model.sequences.find((s) => s.container === 'sequential') ?? model.sequences[0];
  if (!seq) return { error: 'cannot rebuild the model: no nn.Sequential or layer stack found in the script' };
  if (seq.container !== 'sequential') {
    return { error: `cannot rebuild ${seq.name} (line ${doc.lines.positionAt(seq.node.start).line + 1}): the embedded engine rebuilds nn.Sequential models; a module with its own forward() needs the Python engine` };
  }
  const assumptions: string[] = [];
  const layers: LayerSpec[] = [];
  let width: number | undefined;
  let inputDim: number | undefined;
  seq.layers.forEach((l, i) => {
    const name = String(i);
    const line = lineOf(l);
    if (l.className === 'Linear') {
      const inF = num(l.hyper.get('in_features'));
      const outF = num(l.hyper.get('out_features'));
      if (inF === undefined || outF === undefined) throw new RebuildError(`cannot rebuild Linear at line ${line}: its sizes are not known statically`);
      if (width !== undefined && width !== inF) throw new RebuildError(`cannot rebuild Linear at line ${line}: it takes ${inF} features but the layer before gives ${width}`);
      inputDim ??= inF;
      width = outF;
      layers.push({ kind: 'linear', name, line, inFeatures: inF, outFeatures: outF, bias: (num(l.hyper.get('bias')) ?? 1) !== 0 });
    } else if (ACTIVATIONS[l.className]) {
      layers.push({ kind: 'activation', name, line, fn: ACTIVATIONS[l.className]!, ...(l.className === 'LeakyReLU' ? { slope: num(l.hyper.get('negative_slope')) ?? 0.01 } : {}) });
    } else if (l.className === 'Dropout') {
      layers.push({ kind: 'dropout', name, line, p: num(l.hyper.get('p')) ?? 0.5 });
    } else if (l.className === 'LayerNorm' && width !== undefined) {
      layers.push({ kind: 'layernorm', name, line, features: width, eps: num(l.hyper.get('eps')) ?? 1e-5 });
    } else if (l.className === 'Flatten' && width === undefined) {
      layers.push({ kind: 'flatten', name, line });
    } else {
      throw new RebuildError(`cannot rebuild ${l.className} at line ${line}: the embedded engine rebuilds Linear, activation, Dropout, LayerNorm and Flatten layers`);
    }
  });
  if (inputDim === undefined || width === undefined) return { error: `cannot rebuild ${seq.name}: it has no Linear layer` };

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
  const loader = model.dataLoaders.find((d) => d.role === 'train') ?? model.dataLoaders[0];
  let batchSize = num(loader?.hyper.get('batch_size'));
  if (batchSize === undefined) { batchSize = 64; assumptions.push('batch size not found: 64 assumed'); }
  return { spec: { layers, inputDim, outputDim: width, loss, optimizer, batchSize, clipNorm: null, assumptions } };
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
    if (l.kind === 'layernorm') n += 2 * l.features;
  }
  return n;
}
