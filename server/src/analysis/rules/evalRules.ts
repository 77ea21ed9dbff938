import type { RuleSpec } from './ruleSpec';

export const EVAL_RULES: readonly RuleSpec[] = [];
