import type { ClassInfo, ScriptFacts } from '../facts/scriptFacts';
import { asNumber } from '../values/pyValue';
import { describe } from './ruleHelpers';
import type { RuleContext, RuleSpec } from './ruleSpec';

const HF_TRAINER = /(^|\.)(Trainer|Seq2SeqTrainer|SFTTrainer|DPOTrainer|ORPOTrainer|KTOTrainer|CPOTrainer|RewardTrainer|GRPOTrainer|PPOTrainer)$/;

/** A subclass of the Hugging Face (or TRL) Trainer, directly or through one of the script's own classes. */
function isHfTrainerClass(facts: ScriptFacts, cls: ClassInfo, depth = 0): boolean {
  const hfImported = [...facts.importBindings.values()].some((v) => /^(transformers|trl)(\.|$)/.test(v));
  for (const b of cls.qualifiedBases) {
    if (HF_TRAINER.test(b) && (/^(transformers|trl)\./.test(b) || (hfImported && !facts.classesByName.has(b)))) return true;
    const own = facts.classesByName.get(b);
    if (own && own !== cls && depth < 3 && isHfTrainerClass(facts, own, depth + 1)) return true;
  }
  return false;
}

/** `gradient_accumulation_steps=` wherever the script sets it (TrainingArguments, SFTConfig …). */
function accumulation(ctx: RuleContext): { text: string; value: number | undefined } | undefined {
  let unknown: string | undefined;
  for (const call of ctx.facts.calls) {
    const node = call.keywords.get('gradient_accumulation_steps');
    if (!node) continue;
    const r = ctx.values.resolve(node, call.fn);
    const v = asNumber(r);
    if (v !== undefined && v > 1) return { text: `gradient_accumulation_steps=${describe(r)}`, value: v };
    if (v === undefined) unknown ??= `gradient_accumulation_steps=${ctx.text_(node)} (value not known statically: ${r.detail})`;
  }
  return unknown ? { text: unknown, value: undefined } : undefined;
}

const FW001: RuleSpec = {
  id: 'FW001', title: 'compute_loss override ignores num_items_in_batch under gradient accumulation', family: 'FW', severity: 'warning', fix: 'none',
  reference: 'Hugging Face, "Fixing Gradient Accumulation" (2024); transformers Trainer.compute_loss',
  check(ctx) {
    let acc: ReturnType<typeof accumulation> | null = null;
    for (const cls of ctx.facts.classes) {
      const fn = cls.methods.get('compute_loss');
      if (!fn || !isHfTrainerClass(ctx.facts, cls)) continue;
      // The class asks Trainer to divide by the accumulation steps itself (TRL's workaround).
      if ((ctx.facts.assignmentsByTarget.get('self.model_accepts_loss_kwargs') ?? []).some((a) => a.cls === cls)) continue;
      // A compute_loss_func handed to this trainer takes over the loss.
      if ((ctx.facts.callsByName.get(cls.name) ?? []).some((c) => c.keywords.has('compute_loss_func'))) continue;
      const kwargs = fn.params.find((p) => p.splat && ctx.text_(p.node).trimStart().startsWith('**'));
      const declared = fn.params.some((p) => p.name === 'num_items_in_batch');
      const body = fn.body ? ctx.text_(fn.body) : '';
      // The override uses the count (or hands it on: `super().compute_loss(..., **kwargs)`).
      if (/\bnum_items_in_batch\b/.test(body) || (kwargs && new RegExp(`\\*\\*\\s*${kwargs.name}\\b`).test(body))) continue;
      if (acc === null) acc = accumulation(ctx);
      if (!acc) return;
      const signature = declared
        ? 'takes num_items_in_batch but never uses it'
        : kwargs
          ? `swallows num_items_in_batch in **${kwargs.name} and ignores it`
          : 'has no num_items_in_batch parameter (nor **kwargs)';
      const typeError = declared || kwargs ? '' : ' transformers ≥ 4.46 also passes num_items_in_batch= to this method, which then fails with a TypeError.';
      ctx.report({
        node: fn.node,
        range: ctx.firstLineRange(fn.node),
        message: `${cls.name}.compute_loss() ${signature} while ${acc.text}: the loss it returns is a mean over each micro-batch, so the accumulated gradient is a mean of per-micro-batch means, which weighs tokens of short and long micro-batches differently (the 2024 gradient-accumulation bug); and for models whose forward accepts loss kwargs, recent Trainer versions skip their own division by the accumulation steps, so the loss and gradient are also scaled up by them.${typeError} Compute the summed loss and divide it by num_items_in_batch when it is given.`,
      });
    }
  },
};

export const FRAMEWORK_RULES: readonly RuleSpec[] = [FW001];
