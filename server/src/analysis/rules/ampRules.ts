import type { RuleSpec } from './ruleSpec';

export const AMP_RULES: readonly RuleSpec[] = [];
