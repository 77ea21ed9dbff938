// Rewrites the rule list in README.md from the rule catalogue.
import * as fs from 'node:fs';
import { withRuleTable } from '../server/src/analysis/ruleTable';

const readme = fs.readFileSync('README.md', 'utf8');
fs.writeFileSync('README.md', withRuleTable(readme));
