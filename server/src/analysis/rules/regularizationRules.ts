import type { Fix, TextEdit } from '../findings';
import type { CallInfo, ClassInfo, FunctionInfo } from '../facts/scriptFacts';
import type { Hyperparameter, LayerModel, OptimizerModel } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, unparenthesize } from '../syntax/syntaxNode';
import { asBool, asNumber, asString, formatNumber, type Resolved } from '../values/pyValue';
import { deleteItem, setKeyword } from './argumentEdits';
import { effectiveDecay } from './decayValues';
import { isLayerClass, kerasActivation, layerFlow, type FlowOp, type LayerFlow } from './layerFlow';
import { stepLoops } from './loopIteration';
import { describe, numberOf } from './ruleHelpers';
import type { RuleContext, RuleSpec } from './ruleSpec';
import { datasetSize, loaderDataset, trainingLoaders } from './trainingData';

// ------------------------------------------------------------------ shared

function flowOf(ctx: RuleContext): LayerFlow {
  return layerFlow(ctx.model, ctx.facts, ctx.text);
}

function lineOf(ctx: RuleContext, node: SyntaxNode): number {
  return ctx.lines.positionAt(node.start).line + 1;
}

function short(ctx: RuleContext, node: SyntaxNode, max = 50): string {
  const t = ctx.text_(node).replace(/\s+/g, ' ');
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}

/** `Dropout(p=0.3)` at line 12 → "Dropout (line 12)". */
function opLabel(ctx: RuleContext, op: FlowOp): string {
  return `${op.layer ? op.layer.className : op.name} (line ${lineOf(ctx, op.anchor)})`;
}

/** A numeric literal that a fix may rewrite in place. */
function isNumberLiteral(node: SyntaxNode | undefined): node is SyntaxNode {
  return !!node && (node.type === 'float' || node.type === 'integer');
}

function complementFix(ctx: RuleContext, h: Hyperparameter, title: string): Fix[] {
  const v = numberOf(h);
  if (v === undefined || v <= 0 || v >= 1 || !isNumberLiteral(h.node)) return [];
  return [{ title, safe: false, edits: [ctx.replace(h.node, formatNumber(1 - v))] }];
}

/** The dropout probability of a dropout layer (`p` in PyTorch, `rate` in Keras). */
function dropoutRate(layer: LayerModel): Hyperparameter | undefined {
  return layer.hyper.get(layer.framework === 'keras' ? 'rate' : 'p');
}

const TORCH_F = /^torch\.nn\.functional\.(dropout|dropout1d|dropout2d|dropout3d|alpha_dropout|feature_alpha_dropout)$|^torch\.(dropout|alpha_dropout|feature_dropout)$/;
const FUNCTIONAL_TRAINING_DEFAULT: Readonly<Record<string, boolean>> = {
  dropout: true, dropout1d: true, dropout2d: true, dropout3d: true, alpha_dropout: false, feature_alpha_dropout: false,
};

function functionalDropouts(ctx: RuleContext): CallInfo[] {
  const out: CallInfo[] = [];
  for (const name of ['dropout', 'dropout1d', 'dropout2d', 'dropout3d', 'alpha_dropout', 'feature_alpha_dropout', 'feature_dropout']) {
    for (const c of ctx.facts.callsByName.get(name) ?? []) if (TORCH_F.test(c.qualified)) out.push(c);
  }
  return out;
}

/** Swaps two adjacent items (or statements) by rewriting each with the other's text. */
function swap(ctx: RuleContext, a: SyntaxNode, b: SyntaxNode): TextEdit[] {
  return [ctx.replace(a, ctx.text_(b)), ctx.replace(b, ctx.text_(a))];
}

// ------------------------------------------------------------------ REG001

/** Ops that pass dropout's training-time variance on unchanged in kind: activations, pooling, reshapes. */
const PASS_THROUGH = new Set(['activation', 'pool', 'flatten']);

/** Batch norm and instance norm: both subtract a per-channel mean estimated from the data. */
function isBatchNorm(op: FlowOp): boolean {
  return op.kind === 'batchnorm' || (op.kind === 'groupnorm' && /InstanceNorm/.test(op.layer?.className ?? ''));
}

/** Edits that run `bn` before `drop` where the reader can rewrite the order exactly. */
function reorderEdits(ctx: RuleContext, drop: FlowOp, bn: FlowOp): TextEdit[] | undefined {
  if (drop.container === 'sequential' && bn.container === 'sequential' && drop.items && bn.items === drop.items && bn.index === drop.index! + 1) {
    return swap(ctx, drop.items[drop.index!]!, drop.items[bn.index!]!);
  }
  const outer = bn.application;
  const inner = drop.application;
  if (!outer || !inner || outer.args.length !== 1 || inner.args.length < 1 || outer.keywords.size > 0) return undefined;
  // self.bn(self.drop(x)) → self.drop(self.bn(x))
  if (unparenthesize(outer.args[0]!) === inner.node && inner.args.length === 1 && inner.keywords.size === 0) {
    const outerFn = childByField(outer.node, 'function');
    const innerFn = childByField(inner.node, 'function');
    if (!outerFn || !innerFn) return undefined;
    return [ctx.replace(outer.node, `${ctx.text_(innerFn)}(${ctx.text_(outerFn)}(${ctx.text_(inner.args[0])}))`)];
  }
  // x = self.drop(x) / x = self.bn(x) as consecutive one-line statements: swap them.
  const s1 = inner.statement;
  const s2 = outer.statement;
  const siblings = s1.parent?.children.filter((c) => c.named && c.type !== 'comment') ?? [];
  const i = siblings.indexOf(s1);
  if (i < 0 || siblings[i + 1] !== s2 || ctx.text_(s1).includes('\n') || ctx.text_(s2).includes('\n')) return undefined;
  const target = (s: SyntaxNode) => {
    const asg = s.children.find((c) => c.named);
    return asg?.type === 'assignment' ? ctx.text_(childByField(asg, 'left')) : undefined;
  };
  const arg = (c: CallInfo) => (c.args[0] ? ctx.text_(unparenthesize(c.args[0])) : undefined);
  const t = target(s1);
  if (!t || t !== target(s2) || arg(inner) !== t || arg(outer) !== t) return undefined;
  return swap(ctx, s1, s2);
}

const REG001: RuleSpec = {
  id: 'REG001', title: 'Dropout directly before batch normalization', family: 'REG', severity: 'warning', fix: 'unsafe',
  reference: 'Understanding the Disharmony between Dropout and Batch Normalization by Variance Shift (Li et al., CVPR 2019)',
  check(ctx) {
    const ops = flowOf(ctx).ops;
    const consumers = new Map<FlowOp, FlowOp[]>();
    for (const op of ops) {
      if (!op.input) continue;
      const list = consumers.get(op.input);
      if (list) list.push(op);
      else consumers.set(op.input, [op]);
    }
    /** Would dropout placed right after `from` still reach a batch norm (so that the swap fix does not settle it)? */
    const reachesNorm = (from: FlowOp, weights: number, depth = 0): boolean => {
      if (depth > 8) return true;
      for (const next of consumers.get(from) ?? []) {
        if (isBatchNorm(next)) return true;
        const w = next.kind === 'linear' || next.kind === 'conv' ? weights + 1 : weights;
        if (w > 1 || (!PASS_THROUGH.has(next.kind) && next.kind !== 'linear' && next.kind !== 'conv')) continue;
        if (reachesNorm(next, w, depth + 1)) return true;
      }
      return false;
    };
    for (const bn of ops) {
      if (!isBatchNorm(bn)) continue;
      // Walk back over what keeps dropout's variance shift: activations, pooling, reshapes and one weight layer.
      let drop = bn.input;
      let weights = 0;
      const between: FlowOp[] = [];
      while (drop && drop.kind !== 'dropout') {
        if (drop.kind === 'linear' || drop.kind === 'conv') weights++;
        else if (!PASS_THROUGH.has(drop.kind)) break;
        if (weights > 1) break;
        between.push(drop);
        drop = drop.input;
      }
      if (drop?.kind !== 'dropout' || weights > 1 || drop.owner !== bn.owner) continue;
      const rate = drop.layer ? dropoutRate(drop.layer) : undefined;
      if (rate && numberOf(rate) === 0) continue;
      const edits = between.length === 0 && !reachesNorm(bn, 0) ? reorderEdits(ctx, drop, bn) : undefined;
      const via = between.length > 0 ? ` through ${between.reverse().map((o) => o.layer?.className ?? o.name).join(' → ')}` : ' directly';
      ctx.report({
        node: drop.application && !drop.layer ? drop.application.node : drop.anchor,
        message: `${drop.layer?.className ?? drop.name}${rate ? ` (${rate.name}=${describe(rate)})` : ''} feeds ${opLabel(ctx, bn)}${via}. Dropout rescales the surviving activations by 1/(1−p) during training only, so the batch norm's running variance is estimated on a different distribution than the one it normalizes at test time (variance shift). Apply dropout after the last batch norm (e.g. only before the classifier).`,
        related: [{ node: bn.application?.node ?? bn.anchor, message: 'the batch norm it feeds' }],
        fixes: edits ? [{ title: 'Apply batch norm before dropout (changes training dynamics)', safe: false, edits }] : [],
      });
    }
  },
};

// ------------------------------------------------------------------ REG002

/** Library arguments that set a dropout probability (layers, HF configs, PEFT). */
const DROPOUT_KEYWORDS = /^(dropout|recurrent_dropout|attention_dropout|hidden_dropout|hidden_dropout_prob|attention_probs_dropout_prob|activation_dropout|classifier_dropout|resid_pdrop|embd_pdrop|attn_pdrop|summary_first_dropout|lora_dropout|dropout_rate|dropout_p)$/;

function isLibraryCall(ctx: RuleContext, call: CallInfo): boolean {
  if (ctx.facts.classesByName.has(call.callee) || ctx.facts.functionsByName.has(call.callee)) return false;
  return /^(torch|transformers|peft|keras|tensorflow|timm)\./.test(call.qualified) && (/Config$/.test(call.name) || /^[A-Z]/.test(call.name));
}

const REG002: RuleSpec = {
  id: 'REG002', title: 'Dropout probability above 0.5', family: 'REG', severity: 'warning', fix: 'unsafe',
  reference: 'Dropout: A Simple Way to Prevent Neural Networks from Overfitting (Srivastava et al., 2014); UMLAUT',
  options: { max_dropout: 0.5 },
  check(ctx) {
    const max = ctx.option<number>('max_dropout');
    const keep = 0.9;
    const report = (h: Hyperparameter, what: string) => {
      const v = numberOf(h);
      if (v === undefined || v <= max || v > 1) return;
      const hint = v >= keep
        ? ` A value this high usually means a keep probability (TensorFlow 1's keep_prob) was passed where ${what} expects the probability of dropping: ${formatNumber(1 - v)} was probably meant.`
        : ' Values above 0.5 are rare outside the input layer and slow training down markedly.';
      ctx.report({
        node: h.anchor,
        message: `${what} has ${h.name}=${describe(h)} (> ${max}): it zeroes ${Math.round(v * 100)}% of the activations at every training step, so only ${Math.round((1 - v) * 100)}% of the units carry signal.${hint}`,
        fixes: complementFix(ctx, h, `Use ${h.name}=${formatNumber(1 - v)} (1 − p, if a keep probability was meant; changes training dynamics)`),
      });
    };
    for (const layer of ctx.model.layers) {
      if (layer.kind === 'dropout') {
        const h = dropoutRate(layer);
        if (h && h.node) report(h, layer.className);
        continue;
      }
      for (const [key, node] of layer.call.keywords) {
        if (!DROPOUT_KEYWORDS.test(key)) continue;
        report({ name: key, owner: layer.className, resolved: ctx.values.resolve(node, layer.call.fn), node, argument: layer.call.keywordNodes.get(key), anchor: layer.call.keywordNodes.get(key) ?? node }, layer.className);
      }
    }
    const layerCalls = new Set(ctx.model.layers.map((l) => l.call));
    for (const call of ctx.facts.calls) {
      if (call.keywords.size === 0 || layerCalls.has(call)) continue;
      for (const [key, node] of call.keywords) {
        if (!DROPOUT_KEYWORDS.test(key) || !isLibraryCall(ctx, call)) continue;
        report({ name: key, owner: call.name, resolved: ctx.values.resolve(node, call.fn), node, argument: call.keywordNodes.get(key), anchor: call.keywordNodes.get(key) ?? node }, call.name);
      }
    }
    // Flax linen: nn.Dropout(rate=…) / nn.Dropout(0.5).
    for (const call of ctx.facts.callsByName.get('Dropout') ?? []) {
      if (!/^flax\./.test(call.qualified)) continue;
      const node = call.keywords.get('rate') ?? call.args[0];
      if (!node) continue;
      report({ name: 'rate', owner: 'Dropout', resolved: ctx.values.resolve(node, call.fn), node, argument: call.keywordNodes.get('rate') ?? node, anchor: call.keywordNodes.get('rate') ?? node }, 'flax nn.Dropout');
    }
    for (const call of functionalDropouts(ctx)) {
      const node = call.keywords.get('p') ?? call.args[1];
      if (!node) continue;
      report({ name: 'p', owner: call.name, resolved: ctx.values.resolve(node, call.fn), node, argument: call.keywordNodes.get('p') ?? node, anchor: call.keywordNodes.get('p') ?? node }, `${call.callee}()`);
    }
  },
};

// ------------------------------------------------------------------ REG003

function biasOf(layer: LayerModel): { on: boolean; hyper: Hyperparameter | undefined; key: string; positional: number | undefined } | undefined {
  if (layer.framework === 'pytorch') {
    const h = layer.hyper.get('bias');
    const on = h ? asBool(h.resolved) : undefined;
    if (on === undefined) return undefined;
    return { on, hyper: h, key: 'bias', positional: layer.kind === 'linear' ? 2 : 7 };
  }
  const h = layer.hyper.get('use_bias');
  if (h) {
    const on = asBool(h.resolved);
    return on === undefined ? undefined : { on, hyper: h, key: 'use_bias', positional: layer.kind === 'linear' ? 2 : undefined };
  }
  if (layer.call.hasSplat || (layer.kind === 'conv' && layer.call.args.length > 8)) return undefined;
  return { on: true, hyper: undefined, key: 'use_bias', positional: undefined };
}

const REG003: RuleSpec = {
  id: 'REG003', title: 'Bias on a layer directly followed by batch normalization', family: 'REG', severity: 'hint', fix: 'unsafe',
  reference: 'NeuraLint (f005); Batch Normalization (Ioffe & Szegedy, 2015)',
  check(ctx) {
    for (const bn of flowOf(ctx).ops) {
      const prev = bn.input;
      if (!isBatchNorm(bn) || !prev?.layer || (prev.kind !== 'linear' && prev.kind !== 'conv') || prev.layer.className === 'Bilinear' || prev.owner !== bn.owner) continue;
      const layer = prev.layer;
      if (layer.framework === 'keras' && kerasActivation(layer, ctx.values, ctx.text) !== 'linear') continue;
      const bias = biasOf(layer);
      if (!bias?.on) continue;
      const explicit = bias.hyper?.node ? bias.hyper : undefined;
      const edit = setKeyword(ctx, layer.call, bias.key, 'False', bias.positional);
      ctx.report({
        node: explicit ? explicit.anchor : layer.call.node,
        message: `${layer.className} has a bias (${bias.key}=${explicit ? describe(explicit) : 'True by default'}) and feeds ${opLabel(ctx, bn)} directly: ${bn.kind === 'batchnorm' ? 'batch norm subtracts the per-channel batch mean' : 'instance norm subtracts the per-sample, per-channel mean'}, which cancels a per-channel bias exactly, so the bias is a wasted parameter. Use ${bias.key}=False; the norm's own shift (beta) plays its role.`,
        related: [{ node: bn.application?.node ?? bn.anchor, message: 'the batch norm that follows' }],
        fixes: edit ? [{ title: `Drop the redundant bias (${bias.key}=False; changes the parameter set)`, safe: false, edits: [edit] }] : [],
      });
    }
  },
};

// ------------------------------------------------------------------ REG004

const REG004: RuleSpec = {
  id: 'REG004', title: 'Batch-norm momentum written in the other framework\'s convention', family: 'REG', severity: 'warning', fix: 'unsafe',
  reference: 'PyTorch BatchNorm2d documentation (momentum); Keras BatchNormalization documentation',
  options: { max_momentum: 0.5 },
  check(ctx) {
    const max = ctx.option<number>('max_momentum');
    for (const layer of ctx.model.layers) {
      if (layer.kind !== 'batchnorm') continue;
      const m = layer.hyper.get('momentum');
      const v = numberOf(m);
      if (!m || !m.node || v === undefined || v < 0 || v > 1) continue;
      if (layer.framework === 'pytorch' && v > max) {
        ctx.report({
          node: m.anchor,
          message: `${layer.className} momentum=${describe(m)}: in PyTorch momentum is the weight of the NEW batch statistic (running = (1 − m)·running + m·batch, default 0.1), the opposite of Keras (default 0.99). At ${formatNumber(v)} the running mean and variance follow the last batch or two, so evaluation uses noisy statistics. ${formatNumber(1 - v)} was probably meant.`,
          fixes: complementFix(ctx, m, `Use momentum=${formatNumber(1 - v)} (PyTorch convention; changes training dynamics)`),
        });
      } else if (layer.framework === 'keras' && v < 1 - max) {
        ctx.report({
          node: m.anchor,
          message: `${layer.className} momentum=${describe(m)}: in Keras momentum is the weight of the OLD running statistic (running = m·running + (1 − m)·batch, default 0.99), the opposite of PyTorch (default 0.1). At ${formatNumber(v)} the moving mean and variance follow the last batch or two, so inference uses noisy statistics. ${formatNumber(1 - v)} was probably meant.`,
          fixes: complementFix(ctx, m, `Use momentum=${formatNumber(1 - v)} (Keras convention; changes training dynamics)`),
        });
      }
    }
  },
};

// ------------------------------------------------------------------ REG005

const REG005: RuleSpec = {
  id: 'REG005', title: 'Batch norm with tiny batches or a last batch of one', family: 'REG', severity: 'warning', fix: 'unsafe',
  reference: 'Group Normalization (Wu & He, 2018); PyTorch BatchNorm documentation',
  options: { small_batch: 4 },
  check(ctx) {
    const maxBatch = ctx.option<number>('small_batch');
    // SyncBatchNorm computes its statistics over all devices' batches.
    const bn = ctx.model.layers.find((l) => l.framework === 'pytorch' && l.kind === 'batchnorm' && l.className !== 'SyncBatchNorm');
    if (!bn) return;
    for (const d of trainingLoaders(ctx)) {
      const call = d.call;
      if (call.hasSplat || call.keywords.has('batch_sampler') || call.keywords.has('sampler') && !call.keywords.has('batch_size')) continue;
      const batch = d.hyper.get('batch_size');
      const b = numberOf(batch);
      if (!batch || b === undefined || !Number.isInteger(b) || b < 1) continue;
      if (b <= maxBatch) {
        ctx.report({
          node: call.node,
          message: `${d.boundTo[0] ?? 'This DataLoader'} trains with batch_size=${describe(batch)} (≤ ${maxBatch}) while the model uses batch normalization (${bn.className}, line ${lineOf(ctx, bn.call.node)}): per-batch mean and variance from ${b} sample${b === 1 ? '' : 's'} are so noisy that training is unstable and the running statistics do not match test time${b === 1 ? ' (and BatchNorm1d raises an error on a batch of one)' : ''}. Use GroupNorm/LayerNorm, freeze the batch norms (eval mode), or a larger batch.`,
          related: [{ node: bn.call.node, message: 'batch normalization layer' }],
        });
        continue;
      }
      const dropLast = d.hyper.get('drop_last');
      if (!dropLast || asBool(dropLast.resolved) !== false) continue;
      const size = datasetSize(ctx, loaderDataset(d), call.fn);
      if (!size || size.n % b !== 1) continue;
      const edit = setKeyword(ctx, call, 'drop_last', 'True');
      ctx.report({
        node: call.node,
        message: `${size.n} training samples (${size.detail}) in batches of ${describe(batch)} leave a last batch of ONE sample every epoch (drop_last=${describe(dropLast)}), and the model uses batch normalization (${bn.className}, line ${lineOf(ctx, bn.call.node)}): for (N, C) inputs BatchNorm raises "Expected more than 1 value per channel when training" on it, and for images its statistics come from one sample only. Pass drop_last=True.`,
        related: [{ node: bn.call.node, message: 'batch normalization layer' }],
        fixes: edit ? [{ title: 'Drop the incomplete last batch (drop_last=True; changes which samples train)', safe: false, edits: [edit] }] : [],
      });
    }
  },
};

// ------------------------------------------------------------------ REG006 / REG007

interface SmoothingSite { call: CallInfo; key: string; node: SyntaxNode; anchor: SyntaxNode; resolved: Resolved }

const smoothingCache = new WeakMap<object, SmoothingSite[]>();

/** Every label-smoothing value the script sets (loss arguments, TrainingArguments, timm, optax). */
function smoothingSites(ctx: RuleContext): SmoothingSite[] {
  const hit = smoothingCache.get(ctx.model);
  if (hit) return hit;
  const out: SmoothingSite[] = [];
  smoothingCache.set(ctx.model, out);
  for (const call of ctx.facts.callsByName.get('smooth_labels') ?? []) {
    const node = call.keywords.get('alpha') ?? call.args[1];
    if (call.qualified === 'optax.smooth_labels' && node) {
      out.push({ call, key: 'alpha', node, anchor: call.keywordNodes.get('alpha') ?? node, resolved: ctx.values.resolve(node, call.fn) });
    }
  }
  for (const call of ctx.facts.calls) {
    for (const key of ['label_smoothing', 'label_smoothing_factor', 'smoothing']) {
      const node = call.keywords.get(key);
      if (!node) continue;
      if (key === 'smoothing' && !/LabelSmoothing|SoftTarget|Smooth/i.test(call.name)) continue;
      out.push({ call, key, node, anchor: call.keywordNodes.get(key) ?? node, resolved: ctx.values.resolve(node, call.fn) });
    }
  }
  return out;
}

const REG006: RuleSpec = {
  id: 'REG006', title: 'Label smoothing outside the usual range', family: 'REG', severity: 'warning', fix: 'none',
  reference: 'Rethinking the Inception Architecture for Computer Vision (Szegedy et al., 2016)',
  options: { max_label_smoothing: 0.3 },
  check(ctx) {
    const max = ctx.option<number>('max_label_smoothing');
    for (const s of smoothingSites(ctx)) {
      const v = asNumber(s.resolved);
      if (v === undefined || (v >= 0 && v <= max)) continue;
      const why = v < 0
        ? 'a negative value pushes probability mass away from the other classes and is not label smoothing'
        : `the target then puts only 1 − ε + ε/K on the true class (${formatNumber(1 - v)}–${formatNumber(1 - v / 2)} here, depending on the number of classes K), so the model is trained to be under-confident and top-1 accuracy usually drops`;
      ctx.report({
        node: s.anchor,
        message: `${s.key}=${describe(s.resolved)} is outside [0, ${max}]: ${why}. The usual value is 0.1 (Inception, ViT/DeiT recipes).`,
      });
    }
  },
};

const REG007: RuleSpec = {
  id: 'REG007', title: 'Label smoothing in a distillation setup', family: 'REG', severity: 'information', fix: 'none',
  reference: 'When Does Label Smoothing Help? (Müller, Kornblith & Hinton, 2019)',
  check(ctx) {
    const distills = ctx.model.techniques.some((t) => t.kind === 'distillation');
    if (!distills || !/teacher/i.test(ctx.text)) return;
    for (const s of smoothingSites(ctx)) {
      const v = asNumber(s.resolved);
      if (v === undefined || v <= 0) continue;
      const where = `${s.call.fn?.name ?? ''} ${s.call.loops.map((l) => ctx.text_(l.iter)).join(' ')} ${ctx.text_(s.call.statement)}`;
      // Only the teacher's smoothing hurts distillation (Müller et al.); smoothing the student's
      // hard-label term, as DeiT does, is a normal recipe and stays silent.
      if (!/teacher/i.test(where)) continue;
      ctx.report({
        node: s.anchor,
        message: `${s.key}=${describe(s.resolved)} on the loss that trains the teacher of a distillation. A teacher trained with label smoothing makes a worse teacher: smoothing erases the relative similarities between wrong classes from its logits, which is exactly the "dark knowledge" distillation transfers (Müller et al. 2019). Train the teacher without label smoothing.`,
      });
    }
  },
};

// ------------------------------------------------------------------ REG008 / REG009 (outputs and losses)

const CE = /^(CrossEntropyLoss|cross_entropy)$/;
const NLL = /^(NLLLoss|nll_loss)$/;
const BCE_LOGITS = /^(BCEWithLogitsLoss|binary_cross_entropy_with_logits)$/;
const KERAS_PROB_LOSSES: Readonly<Record<string, string>> = {
  categorical_crossentropy: 'CategoricalCrossentropy', sparse_categorical_crossentropy: 'SparseCategoricalCrossentropy', binary_crossentropy: 'BinaryCrossentropy',
};

function isSoftmax(op: FlowOp): 'softmax' | 'log_softmax' | undefined {
  if (op.kind !== 'softmax') return undefined;
  return /log/i.test(op.layer?.className ?? op.name) ? 'log_softmax' : 'softmax';
}

function isSigmoid(op: FlowOp): boolean {
  return op.kind === 'activation' && /^(sigmoid|Sigmoid|expit)$/.test(op.layer?.className ?? op.name);
}

/** The expression an op transforms (its input argument), for a fix that removes the op. */
function opInputNode(op: FlowOp): SyntaxNode | undefined {
  const app = op.application;
  if (!app) return undefined;
  const fnNode = childByField(app.node, 'function');
  if (!op.layer && app.receiverNode && fnNode?.type === 'attribute' && app.args.length <= 1 && !/^(torch|tensorflow|keras|jax)\b/.test(app.qualified)) {
    return app.receiverNode; // x.softmax(dim=1)
  }
  return app.args[0] ?? app.keywords.get('input') ?? app.keywords.get('x');
}

function removeOpFix(ctx: RuleContext, op: FlowOp, title: string): Fix[] {
  if (op.application) {
    const input = opInputNode(op);
    if (!input) return [];
    const text = ctx.text_(input);
    const needsParens = input.type !== 'identifier' && input.type !== 'call' && input.type !== 'attribute' && input.type !== 'subscript' && input.type !== 'parenthesized_expression';
    // Inside a module (its forward) the model's outputs change for every other caller, e.g.
    // inference code that expects probabilities: then the fix is not behaviour-preserving.
    const safe = op.application.cls === undefined;
    return [{ title: safe ? title : `${title} (changes what the model returns)`, safe, edits: [ctx.replace(op.application.node, needsParens ? `(${text})` : text)] }];
  }
  if (op.items && op.index !== undefined && op.index === op.items.length - 1) {
    const edit = deleteItem(ctx, op.items, op.index);
    return edit ? [{ title: `${title} (changes what the model returns)`, safe: false, edits: [edit] }] : [];
  }
  return [];
}

function opNode(op: FlowOp): SyntaxNode {
  return op.application?.node ?? op.anchor;
}

/** Keras losses applied to a model's output: from `compile(loss=...)` and from custom loops. */
interface KerasLossUse {
  readonly output: FlowOp | undefined;
  readonly lossName: string;
  /** The `from_logits=` argument, the loss call, or the `loss=` string. */
  readonly anchor: SyntaxNode;
  readonly fromLogits: boolean | undefined;
  readonly fromLogitsNode: SyntaxNode | undefined;
  readonly call: CallInfo | undefined;
  readonly lossString: SyntaxNode | undefined;
}

function kerasLossUses(ctx: RuleContext, flow: LayerFlow): KerasLossUse[] {
  const out: KerasLossUse[] = [];
  const fromCall = (output: FlowOp | undefined, call: CallInfo): KerasLossUse | undefined => {
    if (!/^(CategoricalCrossentropy|SparseCategoricalCrossentropy|BinaryCrossentropy)$/.test(call.name)) return undefined;
    const node = call.keywords.get('from_logits');
    const fl = node ? asBool(ctx.values.resolve(node, call.fn)) : call.hasSplat ? undefined : false;
    return { output, lossName: call.name, anchor: call.keywordNodes.get('from_logits') ?? call.node, fromLogits: fl, fromLogitsNode: node, call, lossString: undefined };
  };
  for (const c of flow.compiles) {
    const arg = c.lossArg ? unparenthesize(c.lossArg) : undefined;
    if (!arg) continue;
    if (arg.type === 'string') {
      const s = asString(ctx.values.resolve(arg, c.call.fn));
      const cls = s ? KERAS_PROB_LOSSES[s] : undefined;
      if (cls) out.push({ output: c.output, lossName: cls, anchor: c.call.keywordNodes.get('loss') ?? arg, fromLogits: false, fromLogitsNode: undefined, call: undefined, lossString: arg });
      continue;
    }
    let lossCall = arg.type === 'call' ? ctx.facts.callByNode.get(arg) : undefined;
    if (!lossCall && arg.type === 'identifier') lossCall = ctx.model.losses.find((l) => l.framework === 'keras' && l.boundTo.includes(ctx.text_(arg)))?.call;
    const use = lossCall ? fromCall(c.output, lossCall) : undefined;
    if (use) out.push(use);
  }
  for (const l of flow.losses) {
    if (l.framework !== 'keras' || !l.constructor) continue;
    const use = fromCall(l.input, l.constructor);
    if (use) out.push(use);
  }
  return out;
}

/** Keras module prefix usable in a fix (`keras`, `tf.keras`), from the file's imports. */
function kerasPrefix(ctx: RuleContext): string | undefined {
  for (const [local, full] of ctx.facts.importBindings) if (full === 'keras' || full === 'tensorflow.keras') return local;
  for (const [local, full] of ctx.facts.importBindings) if (full === 'tensorflow') return `${local}.keras`;
  return undefined;
}

const REG008: RuleSpec = {
  id: 'REG008', title: 'Probabilities fed to a loss that expects logits (or the reverse)', family: 'REG', severity: 'error', fix: 'safe',
  reference: 'PyTorch CrossEntropyLoss / BCEWithLogitsLoss documentation; Keras losses (from_logits); UMLAUT',
  check(ctx) {
    const flow = flowOf(ctx);
    for (const use of flow.losses) {
      const op = use.input;
      if (use.framework !== 'pytorch' || !op) continue;
      const sm = isSoftmax(op);
      let message: string | undefined;
      let fixTitle = '';
      if (CE.test(use.loss) && sm === 'softmax') {
        message = `${use.loss} applies log_softmax to its input itself, but receives the output of a softmax: it computes log(softmax(softmax(z))), which squashes all inputs into [0, 1], so the loss barely changes and gradients nearly vanish. Pass the raw logits.`;
        fixTitle = 'Pass logits to the loss (remove the softmax)';
      } else if (NLL.test(use.loss) && sm === 'softmax') {
        message = `${use.loss} expects log-probabilities but receives softmax probabilities: it then minimizes −p(y) instead of −log p(y), a different and badly scaled objective. Use log_softmax (or CrossEntropyLoss on the logits).`;
      } else if (BCE_LOGITS.test(use.loss) && isSigmoid(op)) {
        message = `${use.loss} applies the sigmoid itself, but receives sigmoid output: it computes sigmoid(sigmoid(z)), which lies in [0.5, 0.73], so predictions can never be confident and gradients are tiny. Pass the raw logits (or keep the sigmoid and use BCELoss).`;
        fixTitle = 'Pass logits to the loss (remove the sigmoid)';
      }
      if (!message) continue;
      ctx.report({
        node: opNode(op),
        message,
        related: [{ node: use.call.node, message: `the ${use.loss} call` }],
        fixes: fixTitle ? removeOpFix(ctx, op, fixTitle) : [],
      });
    }
    for (const use of kerasLossUses(ctx, flow)) {
      const last = use.output;
      if (!last?.layer || use.fromLogits === undefined) continue;
      const act = kerasActivation(last.layer, ctx.values, ctx.text);
      if (!act) continue;
      const binary = use.lossName === 'BinaryCrossentropy';
      const probs = binary ? act === 'sigmoid' : act === 'softmax';
      if (use.fromLogits && probs) {
        ctx.report({
          node: use.anchor,
          message: `${use.lossName}(from_logits=True) treats the model's outputs as logits, but its last layer (${last.layer.className}, line ${lineOf(ctx, last.anchor)}) already applies ${act}: the loss applies ${binary ? 'the sigmoid' : 'softmax'} a second time, squashing the predictions and the gradients. Set from_logits=False (or remove the activation).`,
          related: [{ node: last.anchor, message: `output layer with activation ${act}` }],
          fixes: use.fromLogitsNode ? [{ title: 'Treat the outputs as probabilities (from_logits=False)', safe: true, edits: [ctx.replace(use.fromLogitsNode, 'False')] }] : [],
        });
      } else if (!use.fromLogits && act === 'linear' && (last.kind === 'linear')) {
        let fixes: Fix[] = [];
        if (use.call) {
          const edit = setKeyword(ctx, use.call, 'from_logits', 'True');
          if (edit) fixes = [{ title: 'Treat the outputs as logits (from_logits=True)', safe: true, edits: [edit] }];
        } else if (use.lossString) {
          const prefix = kerasPrefix(ctx);
          if (prefix) fixes = [{ title: 'Treat the outputs as logits (from_logits=True)', safe: true, edits: [ctx.replace(use.lossString, `${prefix}.losses.${use.lossName}(from_logits=True)`)] }];
        }
        ctx.report({
          node: use.anchor,
          message: `${use.lossName} with from_logits=False expects probabilities, but the model's last layer (${last.layer.className}, line ${lineOf(ctx, last.anchor)}) has no activation and outputs logits: Keras clips them into [ε, 1 − ε]${binary ? '' : ' and renormalizes them'} before the log, so negative logits are treated as ~0 and the gradients are wrong. Use from_logits=True.`,
          related: [{ node: last.anchor, message: 'linear output layer' }],
          fixes,
        });
      }
    }
  },
};

/** Linear, Conv, Dense, Conv2D: a layer whose only computation is a linear map. */
function isWeightLayer(op: FlowOp): boolean {
  return !!op.layer && (op.kind === 'linear' || op.kind === 'conv') && op.layer.className !== 'Bilinear';
}

/** Dropout, batch norm, flatten/reshape and average pooling are linear maps at inference. */
function isLinearAtInference(op: FlowOp): boolean {
  if (op.kind === 'dropout' || op.kind === 'flatten') return true;
  if (op.kind === 'batchnorm') return true;
  return op.kind === 'pool' && /Avg|Average/.test(op.layer?.className ?? op.name);
}

/** Dimensions of a torch Linear / Keras Dense for the bottleneck test. */
function linearDims(ctx: RuleContext, layer: LayerModel): { in?: number; out?: number } {
  const get = (name: string) => {
    const h = layer.hyper.get(name);
    return h ? numberOf(h) : undefined;
  };
  if (layer.framework === 'pytorch') {
    return layer.kind === 'conv' ? { in: get('in_channels'), out: get('out_channels') } : { in: get('in_features'), out: get('out_features') };
  }
  if (layer.kind === 'conv') {
    const f = layer.call.keywords.get('filters') ?? layer.call.args[0];
    return { out: f ? asNumber(ctx.values.resolve(f, layer.call.fn)) : undefined };
  }
  return { out: get('units') };
}

const REG009: RuleSpec = {
  id: 'REG009', title: 'Stacked linear layers without a nonlinearity, or an activation on the logits', family: 'REG', severity: 'warning', fix: 'none',
  reference: 'UMLAUT (Schoop et al., 2021); NeuraLint (f009, f017)',
  check(ctx) {
    const flow = flowOf(ctx);
    for (const b of flow.ops) {
      if (!isWeightLayer(b)) continue;
      let a = b.input;
      const between: string[] = [];
      while (a && isLinearAtInference(a)) {
        between.push(a.layer?.className ?? a.name);
        a = a.input;
      }
      if (!a || !isWeightLayer(a) || a.owner !== b.owner) continue;
      if (a.layer!.framework === 'keras' && kerasActivation(a.layer!, ctx.values, ctx.text) !== 'linear') continue;
      // Depthwise (grouped) convolutions are followed by a pointwise one on purpose (separable convolution).
      if (a.kind === 'conv' && (numberOf(a.layer!.hyper.get('groups')) ?? 1) > 1) continue;
      if (a.layer!.className.startsWith('DepthwiseConv') || a.layer!.className.startsWith('SeparableConv')) continue;
      const da = linearDims(ctx, a.layer!);
      const db = linearDims(ctx, b.layer!);
      // A deliberate low-rank bottleneck (d → r → d' with r smaller than both) is a factorization, not a mistake.
      if (da.out !== undefined && db.out !== undefined && da.out < db.out && (da.in === undefined || da.out < da.in)) continue;
      const via = between.length > 0 ? ` with only ${between.reverse().join(', ')} in between` : ' with no activation in between';
      ctx.report({
        node: b.anchor,
        message: `${b.layer!.className} (line ${lineOf(ctx, b.anchor)}) follows ${a.layer!.className} (line ${lineOf(ctx, a.anchor)})${via}: at inference that is a composition of linear maps, which collapses into one, so the extra layer adds parameters but no expressive power. Insert a nonlinearity (ReLU/GELU) between them, or merge them.`,
        related: [{ node: a.anchor, message: 'the weight layer before it' }],
      });
    }
    // An activation applied to what the loss treats as logits.
    for (const use of flow.losses) {
      let op = use.input;
      while (op?.kind === 'dropout') op = op.input;
      if (use.framework !== 'pytorch' || !op || op.kind !== 'activation') continue;
      if (!CE.test(use.loss) && !BCE_LOGITS.test(use.loss)) continue;
      if (BCE_LOGITS.test(use.loss) && isSigmoid(op)) continue; // REG008
      const act = op.layer?.className ?? op.name;
      ctx.report({
        node: op.anchor,
        message: `${act} is applied to the model's output, which ${use.loss} (line ${lineOf(ctx, use.call.node)}) treats as logits: ${/relu/i.test(act) ? 'ReLU clamps every negative logit to 0, so the model cannot push wrong classes down and dead outputs stop learning' : `${act} squashes the logits into a narrow range, capping how confident the predictions can get`}. Remove the activation after the last layer.`,
        related: [{ node: use.call.node, message: `the ${use.loss} call` }],
      });
    }
    for (const use of kerasLossUses(ctx, flow)) {
      const last = use.output;
      if (!last?.layer || !use.fromLogits) continue;
      const act = kerasActivation(last.layer, ctx.values, ctx.text);
      if (!act || act === 'linear' || act === 'softmax' || act === 'sigmoid') continue;
      const node = last.layer.call.keywordNodes.get('activation') ?? last.anchor;
      ctx.report({
        node,
        message: `The last layer (${last.layer.className}) applies ${act} to what ${use.lossName}(from_logits=True) treats as logits: the activation restricts the logits' range (ReLU makes every negative logit 0). Use no activation on the output layer.`,
        related: [{ node: use.anchor, message: `${use.lossName}(from_logits=True)` }],
      });
    }
  },
};

// ------------------------------------------------------------------ REG010

function paramCount(ctx: RuleContext, layer: LayerModel): number {
  if (layer.framework !== 'pytorch') return 0;
  const n = (name: string) => numberOf(layer.hyper.get(name));
  const arg = (i: number, key: string) => {
    const node = layer.call.keywords.get(key) ?? layer.call.args[i];
    return node ? asNumber(ctx.values.resolve(node, layer.call.fn)) : undefined;
  };
  const bias = asBool(layer.hyper.get('bias')?.resolved) !== false;
  switch (layer.kind) {
    case 'linear': {
      const i = n('in_features');
      const o = n('out_features');
      return i && o && layer.className === 'Linear' ? i * o + (bias ? o : 0) : 0;
    }
    case 'conv': {
      const i = n('in_channels');
      const o = n('out_channels');
      const kNode = layer.hyper.get('kernel_size');
      const k = kNode ? asNumber(kNode.resolved) : undefined;
      const dims = /([123])d$/i.exec(layer.className)?.[1];
      const groups = numberOf(layer.hyper.get('groups')) ?? 1;
      return i && o && k && dims ? (i / groups) * o * k ** Number(dims) + (bias ? o : 0) : 0;
    }
    case 'embedding': {
      const v = arg(0, 'num_embeddings');
      const d = arg(1, 'embedding_dim');
      return v && d ? v * d : 0;
    }
    case 'batchnorm':
    case 'layernorm': {
      const c = arg(0, layer.kind === 'batchnorm' ? 'num_features' : 'normalized_shape');
      return c ? 2 * c : 0;
    }
    default:
      return 0;
  }
}

const REG010: RuleSpec = {
  id: 'REG010', title: 'No regularization on a model far larger than its data', family: 'REG', severity: 'information', fix: 'none',
  reference: 'Understanding deep learning requires rethinking generalization (Zhang et al., 2017); Early-learning regularization (Liu et al., 2020)',
  options: { params_per_example: 100 },
  check(ctx) {
    const ratio = ctx.option<number>('params_per_example');
    const m = ctx.model;
    if (!m.frameworks.includes('pytorch') || m.frameworks.includes('keras')) return;
    if (m.layers.some((l) => l.kind === 'dropout') || functionalDropouts(ctx).length > 0) return;
    if (m.techniques.some((t) => ['augmentation', 'label_smoothing', 'early_stopping', 'mixup', 'cutmix', 'distillation'].includes(t.kind))) return;
    if (/from_pretrained|load_state_dict|pretrained\s*=\s*True|weights\s*=|kernel_regularizer|l2_?(reg|penalty|lambda)|\bweight_decay\s*=\s*[^0\s]/.test(ctx.text.replace(/weight_decay\s*=\s*0(\.0*)?\b/g, ''))) return;
    for (const call of ctx.facts.calls) {
      for (const [key, node] of call.keywords) {
        if (/dropout|pdrop/.test(key) && asNumber(ctx.values.resolve(node, call.fn)) !== 0) return;
      }
    }
    const loaders = trainingLoaders(ctx);
    if (loaders.length === 0 || stepLoops(m).length === 0) return;
    const sizes = loaders.map((d) => datasetSize(ctx, loaderDataset(d), d.call.fn));
    if (sizes.some((s) => !s)) return;
    const data = sizes.reduce((a, b) => (b!.n > a!.n ? b : a))!;
    const flow = flowOf(ctx);
    for (const opt of m.optimizers) {
      if (opt.api.framework !== 'pytorch') continue;
      if (!decaysNothing(ctx, opt)) continue;
      const owner = opt.paramsNode ? /^([\w.]+)\.parameters\(\s*\)$/.exec(ctx.text_(opt.paramsNode).replace(/\s+/g, ''))?.[1] : undefined;
      const layers = owner ? flow.modelLayers(owner, opt.call.fn, opt.call.cls) : undefined;
      if (!layers || layers.length === 0) continue;
      const params = layers.reduce((s, l) => s + paramCount(ctx, l), 0);
      if (params < ratio * data.n) continue;
      ctx.report({
        node: opt.call.node,
        message: `${owner} has at least ${params.toLocaleString('en-US')} parameters for ${data.n.toLocaleString('en-US')} training samples (${data.detail}): about ${Math.round(params / data.n).toLocaleString('en-US')} per sample, and the script uses no regularization at all: no weight decay, no dropout, no augmentation, no label smoothing, no early stopping. A model this much larger than its data can memorize it; validation loss will typically rise after a short while. Add weight decay and early stopping on a validation split at least, or shrink the model.`,
      });
    }
  },
};

/** Every group of the optimizer has a decay of exactly 0 (AdamW's default 0.01 is decay). */
function decaysNothing(ctx: RuleContext, opt: OptimizerModel): boolean {
  const decays = effectiveDecay(ctx, opt);
  return decays.length > 0 && decays.every((d) => d.value === 0);
}

// ------------------------------------------------------------------ REG011

const REG011: RuleSpec = {
  id: 'REG011', title: 'Mixup/CutMix alpha far above common values', family: 'REG', severity: 'information', fix: 'none',
  reference: 'MixUp as Locally Linear Out-of-Manifold Regularization (Guo et al., 2019); mixup (Zhang et al., 2018)',
  options: { max_alpha: 1.0 },
  check(ctx) {
    const max = ctx.option<number>('max_alpha');
    const check = (key: string, node: SyntaxNode, what: string, anchor: SyntaxNode, fn: FunctionInfo | undefined) => {
      const r = ctx.values.resolve(node, fn);
      const v = asNumber(r);
      if (v === undefined || v <= max) return;
      ctx.report({
        node: anchor,
        message: `${what} ${key}=${describe(r)} (> ${max}): λ ~ Beta(${formatNumber(v)}, ${formatNumber(v)}) concentrates near 0.5, so nearly every training input is an even blend of two images. Such mixes fall off the data manifold and can collide with real inputs of a third class (manifold intrusion), which underfits and hurts accuracy. Common values: mixup 0.1–0.4 (ImageNet) up to 1.0 (CIFAR), CutMix 1.0.`,
      });
    };
    const names = ['Mixup', 'FastCollateMixup', 'MixUp', 'CutMix', 'RandomMixUp', 'RandomCutMix', 'beta', 'Beta'];
    for (const name of ctx.facts.callsByName.keys()) if (/mix_?up|cut_?mix/i.test(name)) names.push(name);
    const calls = [...new Set(names)].flatMap((n) => ctx.facts.callsByName.get(n) ?? []);
    for (const call of calls) {
      if (/^(Mixup|FastCollateMixup)$/.test(call.name) && /timm/.test(call.qualified)) {
        ['mixup_alpha', 'cutmix_alpha'].forEach((key, i) => {
          const node = call.keywords.get(key) ?? call.args[i];
          if (node) check(key, node, `timm ${call.name}`, call.keywordNodes.get(key) ?? node, call.fn);
        });
      } else if (/^(MixUp|CutMix|RandomMixUp|RandomCutMix)$/.test(call.name) && /torchvision/.test(call.qualified)) {
        const node = call.keywords.get('alpha');
        if (node) check('alpha', node, `torchvision ${call.name}`, call.keywordNodes.get('alpha')!, call.fn);
      } else if (!call.receiver && /mix_?up|cut_?mix/i.test(call.callee)) {
        const fn = ctx.facts.functionsByName.get(call.callee);
        const def = fn?.length === 1 ? fn[0]! : undefined;
        const params = def?.params.filter((p) => !p.splat) ?? [];
        const index = params.findIndex((p) => p.name === 'alpha');
        const node = call.keywords.get('alpha') ?? (index >= 0 ? call.args[index] : undefined);
        if (node) check('alpha', node, `${call.callee}()`, call.keywordNodes.get('alpha') ?? node, call.fn);
      } else if (/^(numpy\.random\.beta|torch\.distributions\.Beta|torch\.distributions\.beta\.Beta)$/.test(call.qualified) || (call.name === 'beta' && /(^|\.)(rng|generator|random)$/.test(call.receiver ?? ''))) {
        // Hand-written mixup: lam = np.random.beta(a, a). A parameter is judged where the function is called.
        const a = call.args[0] ?? call.keywords.get('a') ?? call.keywords.get('concentration1');
        if (!a) continue;
        // In a function named mixup/cutmix the alpha is judged at its call sites (above).
        if (call.fn && /mix_?up|cut_?mix/i.test(call.fn.name) && a.type === 'identifier' && call.fn.params.some((p) => p.name === ctx.text_(a))) continue;
        const enclosing = `${call.fn?.name ?? ''} ${ctx.text_(call.statement)}`;
        if (!/mix|lam/i.test(enclosing)) continue;
        check(a.type === 'identifier' ? ctx.text_(a) : 'alpha', a, `The Beta draw of the mixing coefficient ${short(ctx, call.node)} has`, a, call.fn);
      }
    }
  },
};

// ------------------------------------------------------------------ REG012

const REG012: RuleSpec = {
  id: 'REG012', title: 'Batch-norm eps large enough to be a misplaced momentum', family: 'REG', severity: 'warning', fix: 'unsafe',
  reference: 'PyTorch BatchNorm2d signature (num_features, eps, momentum, …)',
  options: { max_eps: 0.01 },
  check(ctx) {
    const max = ctx.option<number>('max_eps');
    for (const layer of ctx.model.layers) {
      if (layer.framework !== 'pytorch' || layer.kind !== 'batchnorm') continue;
      const eps = layer.hyper.get('eps');
      const v = numberOf(eps);
      if (!eps?.node || v === undefined || v < max) continue;
      const positional = layer.call.args[1] === eps.node;
      const fixes: Fix[] = positional && layer.call.args.length === 2 && !layer.call.keywords.has('momentum') && v > 0 && v < 1
        ? [{ title: `Pass it as Keras-style momentum: momentum=${formatNumber(1 - v)} in PyTorch's convention, default eps (changes training dynamics)`, safe: false, edits: [ctx.replace(eps.node, `momentum=${formatNumber(1 - v)}`)] }]
        : [];
      ctx.report({
        node: eps.anchor,
        message: `${layer.className} eps=${describe(eps)}${positional ? ' (the second positional argument is eps, not momentum)' : ''}: eps is added to the variance before the square root (default 1e-5), so at ${formatNumber(v)} low-variance channels are barely normalized. This usually comes from porting Keras' BatchNormalization(momentum=${formatNumber(v)}) positionally; the PyTorch equivalent is momentum=${v < 1 ? formatNumber(1 - v) : '0.1'} with the default eps.`,
        fixes,
      });
    }
  },
};

// ------------------------------------------------------------------ REG013

const BN_BACKBONES = /\b(resnet\w*|resnext\w*|wide_resnet\w*|efficientnet\w*|mobilenet\w*|densenet\w*|regnet\w*|inception\w*|googlenet|vgg\d+_bn|shufflenet\w*|mnasnet\w*|BatchNorm\w*)\b/i;

/** The object whose parameters a freezing statement switches off, and the statement. */
function freezes(ctx: RuleContext): { target: string; node: SyntaxNode; fn: FunctionInfo | undefined; cls: ClassInfo | undefined }[] {
  const out: { target: string; node: SyntaxNode; fn: FunctionInfo | undefined; cls: ClassInfo | undefined }[] = [];
  for (const a of ctx.facts.assignments) {
    if (!/\.requires_grad$/.test(a.targetText) || !a.value || ctx.text_(a.value) !== 'False') continue;
    const loop = [...a.loops].reverse().find((l) => l.iter && /\.(named_)?parameters\s*\(/.test(ctx.text_(l.iter)));
    const m = loop ? /([\w.]+)\.(?:named_)?parameters\s*\(/.exec(ctx.text_(loop.iter!)) : undefined;
    if (m) out.push({ target: m[1]!, node: a.node, fn: a.fn, cls: a.cls });
  }
  for (const c of ctx.facts.callsByName.get('requires_grad_') ?? []) {
    const arg = c.args[0] ?? c.keywords.get('requires_grad');
    if (!arg || ctx.text_(arg) !== 'False' || !c.receiver || c.receiver.includes('(')) continue;
    out.push({ target: c.receiver, node: c.node, fn: c.fn, cls: c.cls });
  }
  return out;
}

function hasBatchNorm(ctx: RuleContext, flow: LayerFlow, target: string, fn: FunctionInfo | undefined, cls: ClassInfo | undefined): boolean | undefined {
  const direct = flow.modelLayers(target, fn, cls);
  if (direct) return direct.some((l) => l.kind === 'batchnorm');
  // model.backbone → the class of `model`, its `self.backbone`.
  const dot = target.lastIndexOf('.');
  if (dot > 0 && !target.startsWith('self.')) {
    const owner = ctx.facts.assignmentsByTarget.get(target.slice(0, dot))?.find((a) => a.fn === fn || a.fn === undefined);
    const ownerCall = owner?.value && unparenthesize(owner.value).type === 'call' ? ctx.facts.callByNode.get(unparenthesize(owner.value)) : undefined;
    const ownerCls = ownerCall ? ctx.facts.classesByName.get(ownerCall.callee) : undefined;
    if (ownerCls) {
      const sub = flow.modelLayers(`self.${target.slice(dot + 1)}`, ownerCls.methods.get('__init__'), ownerCls);
      if (sub) return sub.some((l) => l.kind === 'batchnorm');
    }
  }
  const bindings = ctx.facts.assignmentsByTarget.get(target) ?? [];
  const value = bindings.find((a) => a.value && (a.fn === fn || a.fn === undefined || target.startsWith('self.')))?.value;
  if (value && BN_BACKBONES.test(ctx.text_(value))) return !/convnext|vit_|swin|deit/i.test(ctx.text_(value));
  return undefined;
}

const REG013: RuleSpec = {
  id: 'REG013', title: 'Frozen backbone whose batch norms still update their statistics', family: 'REG', severity: 'warning', fix: 'none',
  reference: 'PyTorch nn.Module.train / BatchNorm documentation; transfer-learning practice (FrozenBatchNorm2d in torchvision detection models)',
  check(ctx) {
    const list = freezes(ctx);
    if (list.length === 0) return;
    const trains = stepLoops(ctx.model).length > 0 || ctx.model.frameworkLoops.some((f) => f.framework !== 'keras');
    if (!trains) return;
    // Anything that keeps batch norms in eval mode or their statistics frozen.
    if (/isinstance\([^)]*BatchNorm|FrozenBatchNorm|track_running_stats\s*=\s*False|freeze_bn|bn_eval|set_bn_eval|eval_bn|\.modules\(\)[\s\S]{0,200}\.eval\(\)/i.test(ctx.text)) return;
    if (ctx.facts.classes.some((c) => c.methods.has('train') && isLayerClass(c))) return;
    const flow = flowOf(ctx);
    for (const f of list) {
      const last = f.target.split('.').pop()!;
      const evalCalls = [...(ctx.facts.callsByName.get('eval') ?? []), ...(ctx.facts.callsByName.get('train') ?? []).filter((c) => c.args[0] && ctx.text_(c.args[0]) === 'False')];
      if (evalCalls.some((c) => c.receiver === f.target || c.receiver?.endsWith(`.${last}`) || c.receiver === last)) continue;
      if (!hasBatchNorm(ctx, flow, f.target, f.fn, f.cls)) continue;
      ctx.report({
        node: f.node,
        message: `This freezes the parameters of ${f.target}, which contains batch normalization, but nothing keeps its batch norms in eval mode: model.train() puts them in training mode, so every forward pass still overwrites their running mean and variance with statistics of the new data (and normalizes with per-batch statistics), while the frozen weights downstream expect the old ones. Call ${f.target}.eval() after every model.train() (or override train()), or replace the batch norms with FrozenBatchNorm2d.`,
      });
    }
  },
};

// ------------------------------------------------------------------ REG014

const REG014: RuleSpec = {
  id: 'REG014', title: 'Functional dropout that stays on in evaluation', family: 'REG', severity: 'warning', fix: 'safe',
  reference: 'PyTorch torch.nn.functional.dropout documentation (training defaults to True)',
  check(ctx) {
    for (const call of functionalDropouts(ctx)) {
      const fn = call.fn;
      const cls = fn?.cls;
      if (!fn || !cls || !isLayerClass(cls) || /mc|monte|bayes|uncertain|sample/i.test(`${cls.name} ${fn.name}`)) continue;
      const isTorchDropout = /^torch\.(dropout|alpha_dropout|feature_dropout)$/.test(call.qualified);
      const node = call.keywords.get(isTorchDropout ? 'train' : 'training') ?? call.args[2];
      let on: boolean | undefined;
      if (node) on = node.type === 'true' ? true : node.type === 'false' ? false : undefined;
      else if (!isTorchDropout && !call.hasSplat) on = FUNCTIONAL_TRAINING_DEFAULT[call.name];
      if (on !== true) continue;
      const self = fn.params[0]?.name ?? 'self';
      const edit = node ? ctx.replace(node, `${self}.training`) : setKeyword(ctx, call, 'training', `${self}.training`);
      ctx.report({
        node: node ? call.keywordNodes.get('training') ?? call.keywordNodes.get('train') ?? node : call.node,
        message: `${call.callee}() ${node ? 'is called with training=True' : 'defaults to training=True'} inside ${cls.name}.${fn.name}(): functional dropout does not follow the module's train()/eval() mode, so it keeps dropping units at validation and inference time, making evaluation random and biased. Pass training=${self}.training (or use an nn.Dropout layer).`,
        fixes: edit ? [{ title: `Follow the module's mode (training=${self}.training)`, safe: true, edits: [edit] }] : [],
      });
    }
    for (const { call, node } of kerasDropoutTrainingTrue(ctx)) {
      const fn = call.fn;
      if (/mc|monte|bayes|uncertain|sample/i.test(`${call.cls?.name ?? ''} ${fn?.name ?? ''}`)) continue;
      const hasTraining = fn?.params.some((p) => p.name === 'training');
      ctx.report({
        node: call.keywordNodes.get('training') ?? node,
        message: `The dropout layer is called with training=True${fn ? ` in ${fn.name}()` : ''}: it then drops units in evaluate() and predict() too, making inference random and biased. ${hasTraining ? 'Pass the training argument of call() through (training=training).' : 'Leave training unset so that Keras sets it (fit: True; evaluate/predict: False).'}`,
        fixes: hasTraining ? [{ title: 'Follow the training flag (training=training)', safe: true, edits: [ctx.replace(node, 'training')] }] : [],
      });
    }
  },
};

/** Keras: `layers.Dropout(0.5)(x, training=True)` or `self.drop(x, training=True)` with a Keras dropout layer. */
function kerasDropoutTrainingTrue(ctx: RuleContext): { call: CallInfo; node: SyntaxNode }[] {
  const out: { call: CallInfo; node: SyntaxNode }[] = [];
  for (const op of flowOf(ctx).ops) {
    if (op.kind !== 'dropout' || op.layer?.framework !== 'keras' || !op.application) continue;
    const node = op.application.keywords.get('training');
    if (node?.type === 'true') out.push({ call: op.application, node });
  }
  return out;
}

export const REGULARIZATION_RULES: readonly RuleSpec[] = [
  REG001, REG002, REG003, REG004, REG005, REG006, REG007, REG008, REG009, REG010, REG011, REG012, REG013, REG014,
];


