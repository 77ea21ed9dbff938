import type { RuleSpec } from './ruleSpec';

export const SEED_RULES: readonly RuleSpec[] = [];
