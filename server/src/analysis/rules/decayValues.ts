import { calledScriptFunction } from '../model/extractModel';
import type { OptimizerModel } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, unparenthesize, walk } from '../syntax/syntaxNode';
import { asNumber } from '../values/pyValue';
import { describe, numberOf } from './ruleHelpers';
import type { RuleContext } from './ruleSpec';

/** One decay value an optimizer applies, with where it was set (for the message and the anchor). */
export interface DecayValue {
  readonly value: number | undefined;
  readonly text: string;
  readonly anchor: SyntaxNode;
}

/**
 * The decay an optimizer really applies, group by group: its param-group dicts (written inline,
 * or built by a script function such as `param_groups(model, wd)`, read at this call site), else
 * its own `weight_decay`.
 */
export function effectiveDecay(ctx: RuleContext, opt: OptimizerModel): DecayValue[] {
  const key = opt.api.decayKey;
  const top = opt.hyper.get(key);
  if (opt.paramGroups) {
    return opt.paramGroups.map((g) => {
      const h = g.hyper.get(key) ?? top;
      return { value: numberOf(h), text: h ? describe(h) : 'unknown', anchor: g.hyper.get(key)?.anchor ?? h?.anchor ?? opt.call.node };
    });
  }
  const p = opt.paramsNode ? unparenthesize(opt.paramsNode) : undefined;
  const builder = p?.type === 'call' ? ctx.facts.callByNode.get(p) : undefined;
  const fn = builder ? calledScriptFunction(ctx.facts, builder) : undefined;
  if (builder && fn?.body) {
    const out: DecayValue[] = [];
    walk(fn.body, (n) => {
      if (n.type !== 'pair') return;
      const k = childByField(n, 'key');
      const v = childByField(n, 'value');
      if (!k || !v || !/^['"]weight_decay['"]$/.test(ctx.text_(k))) return;
      const name = v.type === 'identifier' ? ctx.text_(v) : undefined;
      const params = fn.params.filter((q) => !q.splat);
      const index = name ? params.findIndex((q) => q.name === name) : -1;
      const offset = fn.cls && params[0]?.name === 'self' ? 1 : 0;
      const arg = index >= 0 ? builder.keywords.get(name!) ?? builder.args[index - offset] : undefined;
      const r = arg ? ctx.values.resolve(arg, builder.fn) : ctx.values.resolve(v, fn);
      out.push({ value: asNumber(r), text: describe(r), anchor: arg ?? builder.node });
    });
    if (out.length > 0) return out;
  }
  return top ? [{ value: numberOf(top), text: describe(top), anchor: top.anchor }] : [];
}

