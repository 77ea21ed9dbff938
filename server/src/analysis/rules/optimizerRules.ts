import type { RuleSpec } from './ruleSpec';

export const OPTIMIZER_RULES: readonly RuleSpec[] = [];
