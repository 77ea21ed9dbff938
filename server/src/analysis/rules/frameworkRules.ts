import type { RuleSpec } from './ruleSpec';

export const FRAMEWORK_RULES: readonly RuleSpec[] = [];
