import type { RuleSpec } from './ruleSpec';

export const DATA_RULES: readonly RuleSpec[] = [];
