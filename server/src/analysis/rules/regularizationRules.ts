import type { RuleSpec } from './ruleSpec';

export const REGULARIZATION_RULES: readonly RuleSpec[] = [];
