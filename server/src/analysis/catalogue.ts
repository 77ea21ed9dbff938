import { AMP_RULES } from './rules/ampRules';
import { DATA_RULES } from './rules/dataRules';
import { EVAL_RULES } from './rules/evalRules';
import { FRAMEWORK_RULES } from './rules/frameworkRules';
import { LOOP_RULES } from './rules/loopRules';
import { OPTIMIZER_RULES } from './rules/optimizerRules';
import { REGULARIZATION_RULES } from './rules/regularizationRules';
import type { RuleSpec } from './rules/ruleSpec';
import { SCHEDULER_RULES } from './rules/schedulerRules';
import { SEED_RULES } from './rules/seedRules';
import { WEIGHT_DECAY_RULES } from './rules/weightDecayRules';

/** Every static rule, in catalogue order. Ids are unique (a test checks). */
export const RULES: readonly RuleSpec[] = [
  ...WEIGHT_DECAY_RULES,
  ...OPTIMIZER_RULES,
  ...SCHEDULER_RULES,
  ...LOOP_RULES,
  ...AMP_RULES,
  ...EVAL_RULES,
  ...REGULARIZATION_RULES,
  ...DATA_RULES,
  ...FRAMEWORK_RULES,
  ...SEED_RULES,
];

export const RULES_BY_ID: ReadonlyMap<string, RuleSpec> = new Map(RULES.map((r) => [r.id, r]));

export const DOCS_BASE_URL = 'https://github.com/regscope/regscope/blob/main/docs/rules/';

export function docsUrl(id: string): string {
  return `${DOCS_BASE_URL}${id}.md`;
}
