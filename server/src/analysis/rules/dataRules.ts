import type { CallInfo } from '../facts/scriptFacts';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { asBool } from '../values/pyValue';
import { setKeyword } from './argumentEdits';
import { describe } from './ruleHelpers';
import type { RuleContext, RuleSpec } from './ruleSpec';
import { isIterableDataset, loaderDataset, trainingLoaders } from './trainingData';

const RANDOM_DRAW = /^(torch\.(randint|rand|randn|randperm|multinomial)|random\.\w+|numpy\.random\.\w+)$/;

/**
 * A dataset of the script's own whose `__getitem__` draws a random sample (a random crop offset
 * into a token stream, as character-level LM scripts do): the order of indices does not matter.
 */
function samplesRandomly(ctx: RuleContext, dataset: SyntaxNode, call: CallInfo): boolean {
  let node: SyntaxNode | undefined = dataset;
  if (node.type === 'identifier') node = ctx.facts.assignmentsByTarget.get(ctx.text_(node))?.find((a) => a.fn === call.fn || a.fn === undefined)?.value;
  const ctor = node?.type === 'call' ? ctx.facts.callByNode.get(node) : undefined;
  const getitem = ctor ? ctx.facts.classesByName.get(ctor.callee)?.methods.get('__getitem__') : undefined;
  if (!getitem) return false;
  return (ctx.facts.callsByFunction.get(getitem) ?? []).some((c) => RANDOM_DRAW.test(c.qualified));
}

/**
 * Truncated backpropagation through time: the loop carries a recurrent state from one batch to
 * the next (`hidden = repackage_hidden(hidden)`, `h = h.detach()`), so batches must stay in order.
 */
function carriesState(ctx: RuleContext): boolean {
  if (ctx.facts.callsByName.has('repackage_hidden') || ctx.facts.callsByName.has('detach_hidden')) return true;
  return ctx.facts.assignments.some((a) => a.loops.length > 0 && /^(h|hx|hidden|state|states|memory|mems|carry)(_\w+)?$/.test(a.targetText)
    && !!a.value && /\.detach\(\)/.test(ctx.text_(a.value)));
}

const DATA001: RuleSpec = {
  id: 'DATA001', title: 'Training DataLoader without shuffling', family: 'DATA', severity: 'warning', fix: 'unsafe',
  reference: 'Bottou, Stochastic Gradient Descent Tricks (2012); PyTorch DataLoader documentation',
  check(ctx) {
    for (const d of trainingLoaders(ctx)) {
      const call = d.call;
      if (call.hasSplat || call.keywords.has('sampler') || call.keywords.has('batch_sampler') || call.args.length > 3) continue;
      const shuffle = d.hyper.get('shuffle');
      if (!shuffle || asBool(shuffle.resolved) !== false) continue;
      const dataset = loaderDataset(d);
      if (!dataset || isIterableDataset(ctx, dataset, call.fn) || samplesRandomly(ctx, dataset, call) || carriesState(ctx)) continue;
      const name = d.boundTo[0] ?? 'this DataLoader';
      const edit = setKeyword(ctx, call, 'shuffle', 'True', 2);
      ctx.report({
        node: call.node,
        message: `${name} feeds the training loop with shuffle=${describe(shuffle)} and no sampler: every epoch visits the samples in the same order, so batches are correlated (sorted or grouped data trains badly) and SGD's i.i.d. assumption breaks. Pass shuffle=True (or a RandomSampler / DistributedSampler).`,
        fixes: edit ? [{ title: 'Shuffle the training data (shuffle=True; changes the order samples train in)', safe: false, edits: [edit] }] : [],
      });
    }
  },
};

export const DATA_RULES: readonly RuleSpec[] = [DATA001];
