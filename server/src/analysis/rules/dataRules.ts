import { asBool } from '../values/pyValue';
import { setKeyword } from './argumentEdits';
import { describe } from './ruleHelpers';
import type { RuleSpec } from './ruleSpec';
import { isIterableDataset, loaderDataset, trainingLoaders } from './trainingData';

const DATA001: RuleSpec = {
  id: 'DATA001', title: 'Training DataLoader without shuffling', family: 'DATA', severity: 'warning', fix: 'safe',
  reference: 'Bottou, Stochastic Gradient Descent Tricks (2012); PyTorch DataLoader documentation',
  check(ctx) {
    for (const d of trainingLoaders(ctx)) {
      const call = d.call;
      if (call.hasSplat || call.keywords.has('sampler') || call.keywords.has('batch_sampler') || call.args.length > 3) continue;
      const shuffle = d.hyper.get('shuffle');
      if (!shuffle || asBool(shuffle.resolved) !== false) continue;
      const dataset = loaderDataset(d);
      if (!dataset || isIterableDataset(ctx, dataset, call.fn)) continue;
      const name = d.boundTo[0] ?? 'this DataLoader';
      const edit = setKeyword(ctx, call, 'shuffle', 'True', 2);
      ctx.report({
        node: call.node,
        message: `${name} feeds the training loop with shuffle=${describe(shuffle)} and no sampler: every epoch visits the samples in the same order, so batches are correlated (sorted or grouped data trains badly) and SGD's i.i.d. assumption breaks. Pass shuffle=True (or a RandomSampler / DistributedSampler).`,
        fixes: edit ? [{ title: 'Shuffle the training data (shuffle=True)', safe: true, edits: [edit] }] : [],
      });
    }
  },
};

export const DATA_RULES: readonly RuleSpec[] = [DATA001];
