import type { RuleSpec } from './ruleSpec';

export const LOOP_RULES: readonly RuleSpec[] = [];
