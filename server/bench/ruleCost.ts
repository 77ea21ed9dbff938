/** Development aid: time per rule on the 1,500- and 10,000-line synthetic scripts. */
import { RULES } from '../src/analysis/catalogue';
import { ParsedDocument } from '../src/analysis/document';
import { collectFacts } from '../src/analysis/facts/collectFacts';
import { extractModel } from '../src/analysis/model/extractModel';
import { RuleContext } from '../src/analysis/rules/ruleSpec';
import { NO_FILES } from '../src/analysis/values/configFiles';
import { ValueResolver } from '../src/analysis/values/valueResolver';
import { loadPythonParser } from '../src/host/parserLoader';
import { syntheticScript } from './syntheticScript';

(async () => {
  const parser = await loadPythonParser();
  for (const lines of [1500, 10000]) {
    const doc = ParsedDocument.parse(parser, syntheticScript(lines));
    const cost = new Map<string, number>();
    let facts = 0;
    let model = 0;
    const runs = 10;
    const warmup = 5;
    for (let i = 0; i < runs + warmup; i++) {
      if (i === warmup) { cost.clear(); facts = 0; model = 0; }
      let t = performance.now();
      const f = collectFacts(doc.root, doc.text);
      facts += performance.now() - t;
      t = performance.now();
      const values = new ValueResolver(f, doc.text, doc.lines, NO_FILES);
      const m = extractModel({ facts: f, text: doc.text, values });
      model += performance.now() - t;
      const ctx = new RuleContext(m, f, values, doc.text, doc.lines, {});
      for (const r of RULES) {
        t = performance.now();
        r.check(ctx.forRule(r));
        cost.set(r.id, (cost.get(r.id) ?? 0) + performance.now() - t);
      }
    }
    const top = [...cost].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([id, ms]) => `${id} ${(ms / runs).toFixed(2)}`);
    const total = [...cost.values()].reduce((a, b) => a + b, 0) / runs;
    console.log(`${lines} lines: facts ${(facts / runs).toFixed(1)} ms, model ${(model / runs).toFixed(1)} ms, rules ${total.toFixed(1)} ms; slowest: ${top.join(', ')}`);
  }
})();
