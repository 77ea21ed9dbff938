import type { Hyperparameter, OptimizerModel } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { describe, numberOf } from './ruleHelpers';
import type { RuleContext, RuleSpec } from './ruleSpec';

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
          message: `${name} adds weight_decay=${describe(site.hyper)} to the gradient, where Adam's 1/√v scaling shrinks it for parameters with large gradients: this is L2 regularization, not weight decay. Use AdamW (decoupled decay).`,
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
      const decayText = decay.node ? ctx.text_(decay.node) : String(value);
      const groups = `[{"params": [p for p in ${model}.parameters() if p.ndim >= 2], "weight_decay": ${decayText}}, {"params": [p for p in ${model}.parameters() if p.ndim < 2], "weight_decay": 0.0}]`;
      ctx.report({
        node: params,
        message: `weight_decay=${describe(decay)} is applied to every parameter of ${model}, biases and normalization gains included; decaying them pulls LayerNorm/BatchNorm scales toward 0 and rarely helps. Exclude tensors with ndim < 2 (and usually embeddings).`,
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

export const WEIGHT_DECAY_RULES: readonly RuleSpec[] = [WD001, WD002, WD003, WD004];
