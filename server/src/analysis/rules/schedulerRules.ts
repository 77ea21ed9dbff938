import type { RuleSpec } from './ruleSpec';

export const SCHEDULER_RULES: readonly RuleSpec[] = [];
