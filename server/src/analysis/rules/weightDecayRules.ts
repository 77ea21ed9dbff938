import type { FunctionInfo, LoopInfo } from '../facts/scriptFacts';
import type { Hyperparameter, OptimizerModel } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, unparenthesize, walk } from '../syntax/syntaxNode';
import { asBool, asNumber, asString, isNone } from '../values/pyValue';
import { deleteItem, setKeyword } from './argumentEdits';
import { effectiveDecay } from './decayValues';
import { stepLoops } from './loopIteration';
import { describe, numberOf } from './ruleHelpers';
import type { RuleContext, RuleSpec } from './ruleSpec';
import { ownsLines } from './statementEdits';

/** Decay applied to the hyperparameter or param group that sets it, with its anchor node. */
function decaySites(opt: OptimizerModel): { hyper: Hyperparameter; value: number; anchor: SyntaxNode }[] {
  const key = opt.api.decayKey;
  const out: { hyper: Hyperparameter; value: number; anchor: SyntaxNode }[] = [];
  const top = opt.hyper.get(key);
  if (opt.paramGroups) {
    for (const g of opt.paramGroups) {
      const h = g.hyper.get(key) ?? top;
      const v = numberOf(h);
      if (h && v !== undefined) out.push({ hyper: h, value: v, anchor: g.hyper.get(key)?.anchor ?? h.anchor });
    }
    return out;
  }
  const v = numberOf(top);
  if (top && v !== undefined) out.push({ hyper: top, value: v, anchor: top.anchor });
  return out;
}

/** `model.parameters()` / `self.parameters()` / `net.parameters()`: every tensor, 1-D ones included. */
function decaysEverything(ctx: RuleContext, opt: OptimizerModel): boolean {
  const p = opt.paramsNode;
  if (!p || opt.paramGroups) return false;
  return /^[\w.]*\.?parameters\(\s*\)$/.test(ctx.text_(p).replace(/\s+/g, ''));
}

const WD001: RuleSpec = {
  id: 'WD001', title: 'Coupled weight decay in an adaptive optimizer', family: 'WD', severity: 'warning', fix: 'unsafe',
  reference: 'Decoupled Weight Decay Regularization (Loshchilov & Hutter)',
  check(ctx) {
    for (const opt of ctx.model.optimizers) {
      if (!opt.api.coupledDecay || !opt.api.adaptive) continue;
      // Adam/NAdam/RAdam(decoupled_weight_decay=True) decay like AdamW.
      if (asBool(opt.hyper.get('decoupled_weight_decay')?.resolved) === true) continue;
      for (const site of decaySites(opt)) {
        if (site.value <= 0 || site.hyper.resolved.source === 'default') continue;
        const name = opt.api.className;
        const fixes = name === 'Adam' && opt.call.callee.endsWith('Adam')
          ? [{
            title: 'Switch to AdamW (decoupled decay; changes training dynamics: retune weight_decay, typically 0.01–0.1)',
            safe: false,
            edits: [ctx.replace(calleeNameNode(opt), 'AdamW')],
          }]
          : [];
        ctx.report({
          node: site.anchor,
          message: `${name} adds weight_decay=${describe(site.hyper)} to the gradient, where its adaptive 1/√v scaling shrinks the decay for parameters with large gradients: this is L2 regularization, not weight decay. Use AdamW (decoupled decay).`,
          related: [{ node: opt.call.node, message: `${name} optimizer` }],
          fixes,
        });
      }
    }
  },
};

function calleeNameNode(opt: OptimizerModel): SyntaxNode {
  const fn = opt.call.node.children.find((c) => c.field === 'function')!;
  if (fn.type === 'attribute') return fn.children.find((c) => c.field === 'attribute') ?? fn;
  return fn;
}

const WD002: RuleSpec = {
  id: 'WD002', title: 'Weight decay applied to biases and normalization parameters', family: 'WD', severity: 'warning', fix: 'unsafe',
  reference: 'nanoGPT configure_optimizers; timm param_groups_weight_decay',
  options: { min_sgd_decay: 1e-3 },
  check(ctx) {
    const minSgd = ctx.option<number>('min_sgd_decay');
    for (const opt of ctx.model.optimizers) {
      if (opt.api.framework !== 'pytorch' || !decaysEverything(ctx, opt)) continue;
      const decay = opt.hyper.get(opt.api.decayKey);
      const value = numberOf(decay);
      if (!decay || value === undefined || value <= 0) continue;
      // A library default the script never chose (AdamW's 0.01) is not worth a warning, and
      // SGD with the classic ResNet decay (1e-4 to 5e-4) on everything is the standard recipe:
      // the gain from exempting biases and norms there is small.
      if (decay.resolved.source === 'default') continue;
      if (opt.api.family === 'sgd' && value < minSgd) continue;
      const params = opt.paramsNode!;
      const model = ctx.text_(params).replace(/\.parameters\(\s*\)$/, '') || 'model';
      const normKinds = new Set(ctx.model.layers.filter((l) => l.kind === 'batchnorm' || l.kind === 'layernorm' || l.kind === 'groupnorm').map((l) => l.className));
      const norms = normKinds.size > 0 ? [...normKinds].join('/') : ctx.model.frameworks.includes('huggingface') ? 'LayerNorm' : '';
      const decayText = decay.node ? ctx.text_(decay.node) : String(value);
      const groups = `[{"params": [p for p in ${model}.parameters() if p.ndim >= 2], "weight_decay": ${decayText}}, {"params": [p for p in ${model}.parameters() if p.ndim < 2], "weight_decay": 0.0}]`;
      ctx.report({
        node: params,
        message: norms
          ? `weight_decay=${describe(decay)} is applied to every parameter of ${model}, biases and normalization gains included; decaying the gains pulls the ${norms} scales toward 0 (fighting the normalization) and decaying biases rarely helps. Exclude tensors with ndim < 2.`
          : `weight_decay=${describe(decay)} is applied to every parameter of ${model}, biases included; decaying biases rarely helps and the usual recipe (GPT-2/nanoGPT, timm, Hugging Face) exempts tensors with ndim < 2. Exclude them.`,
        fixes: [{
          title: 'Split into decay / no-decay param groups (ndim < 2 not decayed; changes training dynamics)',
          safe: false,
          edits: [ctx.replace(params, groups)],
        }],
      });
    }
  },
};

const WD003: RuleSpec = {
  id: 'WD003', title: 'AdamW with an SGD-sized weight decay', family: 'WD', severity: 'information', fix: 'none',
  reference: 'Language Models are Few-Shot Learners (GPT-3); DeiT training recipe',
  options: { min_adamw_decay: 1e-4 },
  check(ctx) {
    const min = ctx.option<number>('min_adamw_decay');
    for (const opt of ctx.model.optimizers) {
      if (opt.api.family !== 'adamw') continue;
      for (const site of decaySites(opt)) {
        if (site.value <= 0 || site.value > min || site.hyper.resolved.source === 'default') continue;
        ctx.report({
          node: site.anchor,
          message: `AdamW weight_decay=${describe(site.hyper)} is an SGD-style value; AdamW multiplies decay by the learning rate, so with lr ≈ 1e-3 this barely regularizes. Usual AdamW values are 0.01–0.1.`,
        });
      }
    }
  },
};

const WD004: RuleSpec = {
  id: 'WD004', title: 'SGD with a very large weight decay', family: 'WD', severity: 'information', fix: 'none',
  reference: 'Deep Residual Learning for Image Recognition (ResNet recipe: 1e-4 to 5e-4)',
  options: { max_sgd_decay: 1e-2 },
  check(ctx) {
    const max = ctx.option<number>('max_sgd_decay');
    for (const opt of ctx.model.optimizers) {
      if (opt.api.family !== 'sgd' || opt.api.framework !== 'pytorch') continue;
      for (const site of decaySites(opt)) {
        if (site.value < max) continue;
        ctx.report({
          node: site.anchor,
          message: `SGD weight_decay=${describe(site.hyper)} is ≥ ${max}; typical values are 1e-4–5e-4 (CNNs). Decay this strong dominates the gradient and under-fits.`,
        });
      }
    }
  },
};


// ------------------------------------------------------------------ WD005–WD009

const SQUARED = /\.pow\(\s*2(?:\.0)?\s*\)|\*\*\s*2(?:\.0)?(?![\d.])|\bsquare\(|\bnorm\(/;
const L1_ONLY = /\babs\(|\bnorm\([^()]*\b(?:p|ord)\s*=\s*1(?:\.0)?\b|\.norm\(\s*1(?:\.0)?\s*[,)]|\bnorm\([^(),]+,\s*1(?:\.0)?\s*[,)]/;
/** A penalty on a difference (distance to reference weights, orthogonality `W·Wᵀ − I`) is not weight decay. */
const DIFFERENCE_SQUARED = /\([^()]*[\w\])]\s*-\s*[^()]*\)\s*(?:\.pow\(|\*\*|\.norm\(|\.square\()|\bnorm\([^()]*[\w\])]\s*-\s|mse_loss\(/;

/**
 * The text an added loss term stands for: itself plus, one level deep, what the names in it are
 * assigned in the same function (and the loops those assignments sit in), so that
 * `l2 = sum(p.pow(2).sum() for p in model.parameters())` … `loss + lam * l2` is seen whole.
 */
function expandedTerm(ctx: RuleContext, term: SyntaxNode, fn: FunctionInfo | undefined): string {
  let out = ctx.text_(term);
  const names = new Set<string>();
  walk(term, (n) => {
    if (n.type === 'identifier') names.add(ctx.text_(n));
  });
  for (const name of names) {
    for (const a of ctx.facts.assignmentsByTarget.get(name) ?? []) {
      if (a.fn !== fn || !a.value || a.node.start > term.start) continue;
      out += ` ${ctx.text_(a.value)}`;
      for (const l of a.loops) if (l.iter) out += ` ${ctx.text_(l.iter)}`;
    }
  }
  return out;
}

function isL2Penalty(text: string): boolean {
  const params = /\.(?:named_)?parameters\s*\(|\.weight\b|\bweights\b/.test(text);
  return params && SQUARED.test(text) && !L1_ONLY.test(text) && !DIFFERENCE_SQUARED.test(text);
}

/** Addends of a `+` chain: `a + b + c` → a, b, c. */
function addends(node: SyntaxNode, ctx: RuleContext): SyntaxNode[] {
  const n = unparenthesize(node);
  if (n.type === 'binary_operator' && ctx.text_(childByField(n, 'operator')) === '+') {
    const l = childByField(n, 'left');
    const r = childByField(n, 'right');
    return [...(l ? addends(l, ctx) : []), ...(r ? [r] : [])];
  }
  return [n];
}

/** Names of models whose parameters a text refers to (`student` in `student.parameters()`). */
function ownersIn(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/([\w.]+)\.(?:named_)?parameters\s*\(/g)) out.add(m[1]!);
  return out;
}

function mentionsName(text: string, name: string): boolean {
  return new RegExp(`(^|[^\\w.])${name.replace(/\./g, '\\.')}(?![\\w])`).test(text);
}

/** The PyTorch optimizer(s) a penalty on `owners` concerns. */
function optimizersFor(ctx: RuleContext, owners: Set<string>, fn: FunctionInfo | undefined): OptimizerModel[] {
  const torch = ctx.model.optimizers.filter((o) => o.api.framework === 'pytorch' || o.api.framework === 'huggingface');
  if (owners.size > 0) {
    const matched = torch.filter((o) => {
      const params = o.paramsNode ? ctx.text_(o.paramsNode) : '';
      return [...owners].some((w) => mentionsName(params, w) || mentionsName(params, w.replace(/^self\./, '')));
    });
    if (matched.length > 0) return matched;
  }
  const local = torch.filter((o) => o.call.fn === fn);
  if (local.length === 1) return local;
  return torch.length === 1 ? torch : [];
}

function lossTargets(ctx: RuleContext): Set<string> {
  const out = new Set<string>();
  for (const b of ctx.facts.callsByName.get('backward') ?? []) {
    if (b.receiverNode) {
      const r = unparenthesize(b.receiverNode);
      if (r.type === 'identifier') out.add(ctx.text_(r));
      else walk(r, (n) => { if (n.type === 'identifier') out.add(ctx.text_(n)); });
    }
    for (const a of b.args) if (a.type === 'identifier') out.add(ctx.text_(a));
  }
  return out;
}

/** Strength of a Keras kernel regularizer's L2 part: `L2(1e-4)`, `l2(1e-4)`, `L1L2(l2=…)`, `"l2"`. */
function kerasL2(ctx: RuleContext, node: SyntaxNode, fn: FunctionInfo | undefined): { value: number | undefined; text: string } | undefined {
  const n = unparenthesize(node);
  if (n.type === 'string') {
    const s = asString(ctx.values.resolve(n, fn));
    return s === 'l2' || s === 'l1_l2' ? { value: 0.01, text: `"${s}" (Keras default 0.01)` } : undefined;
  }
  const call = n.type === 'call' ? ctx.facts.callByNode.get(n) : undefined;
  if (!call || !/regularizers|^(L2|l2|L1L2|l1_l2)$/.test(call.qualified)) return undefined;
  let arg: SyntaxNode | undefined;
  let def: number;
  if (call.name === 'L2' || call.name === 'l2') { arg = call.keywords.get('l2') ?? call.args[0]; def = 0.01; }
  else if (call.name === 'L1L2') { arg = call.keywords.get('l2') ?? call.args[1]; def = 0; }
  else if (call.name === 'l1_l2') { arg = call.keywords.get('l2') ?? call.args[1]; def = 0.01; }
  else return undefined;
  if (!arg) return { value: def, text: `${def} (${call.name} default)` };
  const r = ctx.values.resolve(arg, fn);
  return { value: asNumber(r), text: describe(r) };
}

/** Keras optimizers the script compiles with (or every Keras optimizer when no compile names one), with their decay. */
function kerasDecays(ctx: RuleContext): { node: SyntaxNode; value: number | undefined; text: string; name: string; opt: OptimizerModel | undefined }[] {
  const out: { node: SyntaxNode; value: number | undefined; text: string; name: string; opt: OptimizerModel | undefined }[] = [];
  const keras = ctx.model.optimizers.filter((o) => o.api.framework === 'keras');
  const used = new Set<OptimizerModel>();
  let referenced = false;
  for (const c of ctx.facts.callsByName.get('compile') ?? []) {
    const arg = c.keywords.get('optimizer') ?? c.args[0];
    if (!arg) continue;
    const a = unparenthesize(arg);
    referenced = true;
    if (a.type === 'string') {
      const s = asString(ctx.values.resolve(a, c.fn))?.toLowerCase();
      if (s === 'adamw') out.push({ node: c.keywordNodes.get('optimizer') ?? a, value: 0.004, text: '0.004 (Keras AdamW default)', name: 'optimizer="adamw"', opt: undefined });
      continue;
    }
    const opt = keras.find((o) => o.call.node === a || o.boundTo.includes(ctx.text_(a)));
    if (opt) used.add(opt);
  }
  for (const o of keras) {
    if (referenced && !used.has(o) && o.boundTo.length > 0) continue;
    const h = o.hyper.get(o.api.decayKey);
    out.push({ node: o.call.node, value: numberOf(h), text: h ? describe(h) : 'unknown', name: o.api.className, opt: o });
  }
  return out;
}

const WD005: RuleSpec = {
  id: 'WD005', title: 'Weight decay applied twice (optimizer decay plus an L2 term)', family: 'WD', severity: 'warning', fix: 'none',
  reference: 'Decoupled Weight Decay Regularization (Loshchilov & Hutter)',
  check(ctx) {
    // PyTorch: `loss = loss + lam * sum(p.pow(2).sum() for p in model.parameters())` with optimizer decay.
    const targets = lossTargets(ctx);
    for (const a of ctx.facts.assignments) {
      if (!a.value || !a.targetText) continue;
      if (!/loss|objective|cost/i.test(a.targetText) && !targets.has(a.targetText)) continue;
      let terms: SyntaxNode[];
      if (a.op === '+=') terms = [a.value];
      else if (a.op === '=') terms = addends(a.value, ctx).filter((t) => ctx.text_(t) !== a.targetText);
      else continue;
      if (a.op === '=' && addends(a.value, ctx).length < 2) continue;
      const penalty = terms.map((t) => expandedTerm(ctx, t, a.fn)).find(isL2Penalty);
      if (!penalty) continue;
      const opts = optimizersFor(ctx, ownersIn(penalty), a.fn);
      for (const opt of opts) {
        const decays = effectiveDecay(ctx, opt).filter((d) => d.value !== undefined && d.value > 0);
        if (decays.length === 0) continue;
        ctx.report({
          node: a.node,
          message: `This adds an explicit L2 penalty on the parameters to the loss while ${opt.api.className} already applies weight_decay=${decays[0]!.text}: the weights are pulled toward zero twice, so neither value means what its recipe meant${opt.api.adaptive ? `, and the L2 term goes through ${opt.api.className}'s adaptive scaling (coupled, as in WD001)` : ''}. Keep one: drop the loss term and tune weight_decay.`,
          related: [{ node: opt.call.node, message: `${opt.api.className} with weight decay` }],
        });
        break;
      }
    }
    // Keras: kernel_regularizer with an L2 part, compiled with an optimizer that decays.
    const decaying = kerasDecays(ctx).filter((d) => d.value !== undefined && d.value > 0);
    if (decaying.length === 0) return;
    for (const layer of ctx.model.layers) {
      if (layer.framework !== 'keras') continue;
      const reg = layer.call.keywords.get('kernel_regularizer');
      if (!reg) continue;
      const l2 = kerasL2(ctx, reg, layer.call.fn);
      if (!l2 || l2.value === undefined || l2.value <= 0) continue;
      const d = decaying[0]!;
      ctx.report({
        node: layer.call.keywordNodes.get('kernel_regularizer')!,
        message: `kernel_regularizer adds L2=${l2.text} to the loss while the ${d.name} optimizer also decays every weight (weight_decay=${d.text}): this kernel is shrunk twice. Keep one of them (usually the optimizer's decoupled weight_decay) and retune it.`,
        related: [{ node: d.node, message: 'optimizer with weight decay' }],
      });
    }
  },
};

const EXCLUDE_VAR_NAMES = '["bias", "gamma", "beta"]';

const WD006: RuleSpec = {
  id: 'WD006', title: 'Keras weight decay applied to biases and normalization parameters', family: 'WD', severity: 'information', fix: 'unsafe',
  reference: 'Keras documentation: Optimizer.exclude_from_weight_decay',
  check(ctx) {
    if ((ctx.facts.callsByName.get('exclude_from_weight_decay') ?? []).length > 0) return;
    for (const d of kerasDecays(ctx)) {
      if (d.value === undefined || d.value <= 0) continue;
      const name = d.opt?.boundTo[0];
      const stmt = d.opt?.call.statement;
      const inner = stmt?.type === 'expression_statement' ? stmt.children.find((c) => c.named) : undefined;
      const assigns = inner?.type === 'assignment' && childByField(inner, 'right') === d.opt!.call.node;
      const fixes = name && stmt && assigns && ownsLines(ctx, stmt)
        ? [{
          title: 'Exclude biases and normalization parameters from weight decay (changes training dynamics)',
          safe: false,
          edits: [ctx.insertLinesAfter(stmt, [`${name}.exclude_from_weight_decay(var_names=${EXCLUDE_VAR_NAMES})`])],
        }]
        : [];
      ctx.report({
        node: d.node,
        message: `${d.name} decays every trainable variable with weight_decay=${d.text}, biases and the gamma/beta of BatchNormalization/LayerNormalization included; decaying normalization parameters changes the function rather than regularizing it. Call exclude_from_weight_decay(var_names=${EXCLUDE_VAR_NAMES}) on the optimizer before the first fit.`,
        fixes,
      });
    }
  },
};

const WD007: RuleSpec = {
  id: 'WD007', title: 'optax.adamw without a decay mask', family: 'WD', severity: 'information', fix: 'unsafe',
  reference: 'Optax documentation: optax.adamw (mask argument)',
  check(ctx) {
    for (const opt of ctx.model.optimizers) {
      if (opt.api.framework !== 'jax' || opt.api.className !== 'adamw' || opt.call.hasSplat) continue;
      const mask = opt.hyper.get('mask');
      if (!mask || !isNone(mask.resolved)) continue;
      const decay = opt.hyper.get('weight_decay');
      const value = numberOf(decay);
      if (!decay || value === undefined || value <= 0) continue;
      const edit = ctx.facts.importBindings.get('jax') === 'jax'
        ? setKeyword(ctx, opt.call, 'mask', 'lambda params: jax.tree_util.tree_map(lambda p: p.ndim >= 2, params)', 7)
        : undefined;
      ctx.report({
        node: opt.call.node,
        message: `optax.adamw decays every leaf of the parameter tree (mask=${mask.node ? 'None' : 'None by default'}, weight_decay=${describe(decay)}): biases, LayerNorm/BatchNorm scales and embeddings included. Pass mask= with a function that keeps decay only for kernels (ndim >= 2).`,
        fixes: edit ? [{ title: 'Decay only tensors with ndim >= 2 (mask=…; changes training dynamics)', safe: false, edits: [edit] }] : [],
      });
    }
  },
};

const OPTAX_ADAPTIVE_SCALE = /^scale_by_(adam|adamax|amsgrad|belief|rms|stddev|yogi|radam|adadelta|adan|lion|novograd|factored_rms|sm3|rss)$/;
const OPTAX_LR_SCALE = /^(scale_by_learning_rate|scale|scale_by_schedule)$/;
const OPTAX_ADAPTIVE_OPT = /^(adam|adamw|adamax|adamaxw|amsgrad|adabelief|adagrad|adadelta|adafactor|nadam|nadamw|radam|rmsprop|yogi|lion|lamb|novograd|sm3|adan|rprop)$/;
const OPTAX_PLAIN_OPT = /^(sgd|noisy_sgd|lars|fromage|polyak_sgd)$/;

const WD008: RuleSpec = {
  id: 'WD008', title: 'Optax add_decayed_weights in the wrong place in the chain', family: 'WD', severity: 'warning', fix: 'unsafe',
  reference: 'Optax documentation: optax.adamw, optax.add_decayed_weights, optax.chain',
  check(ctx) {
    for (const chain of ctx.facts.callsByName.get('chain') ?? []) {
      if (chain.qualified !== 'optax.chain' || chain.hasSplat || chain.keywords.size > 0) continue;
      const items = chain.args.map((a) => {
        const n = unparenthesize(a);
        const c = n.type === 'call' ? ctx.facts.callByNode.get(n) : undefined;
        const name = c?.qualified.startsWith('optax.') ? c.name : '';
        return { node: a, call: c, name };
      });
      items.forEach((item, d) => {
        if (item.name !== 'add_decayed_weights' || !item.call) return;
        const arg = item.call.keywords.get('weight_decay') ?? item.call.args[0];
        const r = arg ? ctx.values.resolve(arg, chain.fn) : undefined;
        const wd = asNumber(r);
        if (!r || wd === undefined || wd <= 0) return;
        const adaptiveAfter = items.findIndex((x, i) => i > d && (OPTAX_ADAPTIVE_SCALE.test(x.name) || OPTAX_ADAPTIVE_OPT.test(x.name)));
        const scaledBefore = items.findIndex((x, i) => i < d && (OPTAX_LR_SCALE.test(x.name) || OPTAX_ADAPTIVE_OPT.test(x.name) || OPTAX_PLAIN_OPT.test(x.name)));
        if (adaptiveAfter < 0 && scaledBefore < 0) return;
        let message: string;
        if (adaptiveAfter >= 0) {
          const a = items[adaptiveAfter]!;
          message = `add_decayed_weights(${describe(r)}) comes before optax.${a.name}(…) in this chain, so the decay term is treated as part of the gradient and divided by Adam's √v: coupled L2 regularization, not decoupled weight decay. optax.adamw applies it after the adaptive scaling and before the learning rate: chain(scale_by_adam(…), add_decayed_weights(wd), scale_by_learning_rate(lr)).`;
        } else {
          const s = items[scaledBefore]!;
          message = `add_decayed_weights(${describe(r)}) comes after optax.${s.name}(…), which already multiplied the update by −lr: the chain returns −lr·u + wd·θ and every step multiplies the weights by (1 + wd), so they grow instead of decaying. Put the decay before the learning-rate scaling.`;
        }
        ctx.report({ node: item.node, message, related: [{ node: chain.node, message: 'optax.chain' }], fixes: reorderFix(ctx, items, d) });
      });
    }
  },
};

/** Moves the decay to just before the learning-rate scaling that follows the last adaptive scaling. */
function reorderFix(ctx: RuleContext, items: readonly { node: SyntaxNode; name: string }[], d: number) {
  if (items.some((x) => OPTAX_ADAPTIVE_OPT.test(x.name) || OPTAX_PLAIN_OPT.test(x.name))) return [];
  let lastAdaptive = -1;
  items.forEach((x, i) => { if (OPTAX_ADAPTIVE_SCALE.test(x.name)) lastAdaptive = i; });
  const target = items.findIndex((x, i) => i > lastAdaptive && i !== d && OPTAX_LR_SCALE.test(x.name));
  if (target < 0 || target === d + 1) return [];
  const nodes = items.map((x) => x.node);
  const del = deleteItem(ctx, nodes, d);
  if (!del) return [];
  const decay = items[d]!.node;
  const tgt = items[target]!.node;
  const tgtLine = ctx.lines.positionAt(tgt.start);
  const ownLine = /^[ \t]*$/.test(ctx.lines.lineText(tgtLine.line).slice(0, tgtLine.character));
  const text = ctx.text_(decay);
  if (text.includes('\n')) return [];
  const insert = ctx.insertAt(tgt.start, ownLine ? `${text},${ctx.eol()}${ctx.indentOf(tgt)}` : `${text}, `);
  return [{ title: 'Apply the decay after the adaptive scaling, before the learning rate (decoupled; changes training dynamics)', safe: false, edits: [del, insert] }];
}

// ---- WD009

/** A language model trained from scratch: an HF *ForCausalLM built from a config, or a script model whose head maps back to its embedding size. */
function languageModelFromScratch(ctx: RuleContext): string | undefined {
  const loads = (ctx.facts.callsByName.get('from_pretrained') ?? []).some((c) => /(ForCausalLM|LMHeadModel|ForMaskedLM|AutoModel\w*|Model)$/.test(c.receiver ?? ''));
  if (loads) return undefined;
  for (const c of ctx.facts.calls) {
    if (/(ForCausalLM|LMHeadModel|ForMaskedLM)$/.test(c.name) && c.args.length + c.keywords.size > 0) return `${c.name}(config) is trained from scratch`;
    if (c.name === 'from_config' && /(ForCausalLM|LMHeadModel|ForMaskedLM)$/.test(c.receiver ?? '')) return `${c.receiver}.from_config(…) is trained from scratch`;
  }
  for (const cls of ctx.model.moduleClasses) {
    if (!(ctx.facts.callsByName.get(cls.name) ?? []).length) continue;
    const own = ctx.model.layers.filter((l) => l.call.cls === cls && l.framework === 'pytorch');
    for (const emb of own.filter((l) => l.kind === 'embedding')) {
      const vocab = emb.call.args[0] ?? emb.call.keywords.get('num_embeddings');
      if (!vocab) continue;
      const head = own.find((l) => l.kind === 'linear' && sameExpression(ctx, l.call.args[1] ?? l.call.keywords.get('out_features'), vocab, l.call.fn, emb.call.fn));
      if (head) return `${cls.name} (embedding of ${ctx.text_(vocab)} tokens and an output layer back to it) is trained from scratch`;
    }
  }
  return undefined;
}

function sameExpression(ctx: RuleContext, a: SyntaxNode | undefined, b: SyntaxNode, fa: FunctionInfo | undefined, fb: FunctionInfo | undefined): boolean {
  if (!a) return false;
  if (ctx.text_(a) === ctx.text_(b)) return true;
  const x = asNumber(ctx.values.resolve(a, fa));
  const y = asNumber(ctx.values.resolve(b, fb));
  return x !== undefined && x === y;
}

/** How many passes over the data the script makes: num_train_epochs, max_epochs, fit(epochs=), or the `for epoch in range(N)` around the step loop. */
function epochCount(ctx: RuleContext): { value: number; text: string } | undefined {
  for (const name of ['TrainingArguments', 'Seq2SeqTrainingArguments', 'SFTConfig']) {
    for (const c of ctx.facts.callsByName.get(name) ?? []) {
      if (c.hasSplat) return undefined;
      const maxSteps = c.keywords.get('max_steps');
      if (maxSteps && asNumber(ctx.values.resolve(maxSteps, c.fn)) !== -1) return undefined;
      const e = c.keywords.get('num_train_epochs');
      if (!e) return { value: 3, text: '3 (TrainingArguments default num_train_epochs)' };
      const r = ctx.values.resolve(e, c.fn);
      const v = asNumber(r);
      return v === undefined ? undefined : { value: v, text: `num_train_epochs=${describe(r)}` };
    }
  }
  for (const f of ctx.model.frameworkLoops) {
    if (f.framework === 'lightning' && !f.call.keywords.has('max_steps')) {
      const e = f.call.keywords.get('max_epochs');
      const r = e ? ctx.values.resolve(e, f.call.fn) : undefined;
      const v = asNumber(r);
      if (r && v !== undefined) return { value: v, text: `max_epochs=${describe(r)}` };
    }
    if (f.framework === 'keras') {
      const e = f.call.keywords.get('epochs');
      const r = e ? ctx.values.resolve(e, f.call.fn) : undefined;
      const v = asNumber(r);
      if (r && v !== undefined) return { value: v, text: `epochs=${describe(r)}` };
    }
  }
  for (const sl of stepLoops(ctx.model)) {
    const candidates: LoopInfo[] = [];
    for (let l: LoopInfo | undefined = sl.loop; l; l = l.parent) candidates.push(l);
    if (sl.loop.fn) for (const site of ctx.facts.callsByName.get(sl.loop.fn.name) ?? []) if (!site.receiver || site.receiver === 'self') candidates.push(...site.loops);
    for (const l of candidates) {
      const e = epochLoopCount(ctx, l);
      if (e) return e;
    }
  }
  return undefined;
}

function epochLoopCount(ctx: RuleContext, l: LoopInfo): { value: number; text: string } | undefined {
  if (l.kind !== 'for' || !l.iter) return undefined;
  const iter = unparenthesize(l.iter);
  const call = iter.type === 'call' ? ctx.facts.callByNode.get(iter) : undefined;
  if (call?.callee !== 'range' || call.args.length < 1 || call.args.length > 2) return undefined;
  if (!/epoch/i.test(`${ctx.text_(l.target)} ${ctx.text_(iter)}`)) return undefined;
  const stop = ctx.values.resolve(call.args[call.args.length - 1]!, l.fn);
  const start = call.args.length === 2 ? asNumber(ctx.values.resolve(call.args[0]!, l.fn)) : 0;
  const v = asNumber(stop);
  if (v === undefined || start === undefined) return undefined;
  return { value: v - start, text: `\`${ctx.text_(iter)}\` with ${ctx.text_(call.args[call.args.length - 1])}=${describe(stop)}` };
}

const WD009: RuleSpec = {
  id: 'WD009', title: 'Weak weight decay in multi-epoch training on repeated data', family: 'WD', severity: 'information', fix: 'none',
  reference: 'Pre-training under infinite compute (2025); Scaling Data-Constrained Language Models (Muennighoff et al., 2023)',
  options: { min_epochs: 5, max_decay: 0.1 },
  check(ctx) {
    const minEpochs = ctx.option<number>('min_epochs');
    const maxDecay = ctx.option<number>('max_decay');
    const lm = languageModelFromScratch(ctx);
    if (!lm) return;
    const epochs = epochCount(ctx);
    if (!epochs || epochs.value < minEpochs) return;
    const sites: { anchor: SyntaxNode; value: number; text: string }[] = [];
    for (const opt of ctx.model.optimizers) {
      if (opt.api.family !== 'adamw') continue;
      const decays = effectiveDecay(ctx, opt);
      if (decays.length === 0 || decays.some((d) => d.value === undefined)) continue;
      const strongest = decays.reduce((a, b) => (b.value! > a.value! ? b : a));
      sites.push({ anchor: strongest.anchor, value: strongest.value!, text: strongest.text });
    }
    if (ctx.model.optimizers.length === 0 && ctx.model.frameworkLoops.some((f) => f.framework === 'huggingface')) {
      for (const c of ctx.facts.callsByName.get('TrainingArguments') ?? []) {
        const w = c.keywords.get('weight_decay');
        const r = w ? ctx.values.resolve(w, c.fn) : undefined;
        const v = r ? asNumber(r) : 0;
        if (v === undefined) continue;
        sites.push({ anchor: c.keywordNodes.get('weight_decay') ?? c.node, value: v, text: r ? describe(r) : '0.0 (TrainingArguments default)' });
      }
    }
    for (const s of sites) {
      if (s.value > maxDecay) continue;
      ctx.report({
        node: s.anchor,
        message: `${lm} for ${epochs.value} epochs (${epochs.text}) over the same data with weight_decay=${s.text} (≤ ${maxDecay}), the single-pass pretraining value. With data repeated this often, returns from repetition fall off after about 4 epochs and the best-tuned weight decay is far larger (≈30× the standard value in "Pre-training under infinite compute"). Sweep weight decay upward against held-out loss.`,
      });
    }
  },
};

export const WEIGHT_DECAY_RULES: readonly RuleSpec[] = [WD001, WD002, WD003, WD004, WD005, WD006, WD007, WD008, WD009];
