import type { AnalysisResult } from '../analysis/analyze';
import type { Hyperparameter } from '../analysis/model/trainingScript';
import type { LineIndex } from '../analysis/positions';
import type { SyntaxNode } from '../analysis/syntax/syntaxNode';
import type { PyValue } from '../analysis/values/pyValue';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function valueToJson(v: PyValue | undefined): Json {
  if (!v) return null;
  switch (v.kind) {
    case 'number': return v.value;
    case 'string': return v.value;
    case 'bool': return v.value;
    case 'none': return null;
    case 'sequence': return v.items.map((i) => valueToJson(i.value));
    case 'mapping': return Object.fromEntries([...v.entries].map(([k, e]) => [k, valueToJson(e.value)]));
  }
}

/** The training-script model as `regscope inspect --format json` prints it (lines 1-based). */
export function modelRecord(file: string, r: AnalysisResult, lines: LineIndex): Json {
  const at = (n: SyntaxNode) => {
    const p = lines.positionAt(n.start);
    return { line: p.line + 1, column: p.character + 1 };
  };
  const hp = (h: Hyperparameter): Json => ({
    name: h.name,
    owner: h.owner,
    value: valueToJson(h.resolved.value),
    known: h.resolved.value !== undefined,
    ...at(h.anchor),
    source: h.resolved.source,
    detail: h.resolved.detail,
    origin: { file: h.resolved.origin.file ?? file, line: h.resolved.origin.line + 1 },
  });
  const hmap = (m: ReadonlyMap<string, Hyperparameter>) => [...m.values()].map(hp);
  const m = r.model;
  return {
    file,
    frameworks: [...m.frameworks],
    optimizers: m.optimizers.map((o) => ({
      class: o.api.className, framework: o.api.framework, family: o.api.family, coupledDecay: o.api.coupledDecay,
      ...at(o.call.node), boundTo: [...o.boundTo],
      params: o.paramsNode ? lines.text.slice(o.paramsNode.start, o.paramsNode.end).slice(0, 200) : null,
      paramGroups: o.paramGroups?.map((g) => ({ ...at(g.node), params: g.paramsNode ? lines.text.slice(g.paramsNode.start, g.paramsNode.end).slice(0, 200) : null, hyperparameters: hmap(g.hyper) })) ?? null,
      hyperparameters: hmap(o.hyper),
    })),
    schedulers: m.schedulers.map((s) => ({ class: s.className, kind: s.kind, ...at(s.call.node), boundTo: [...s.boundTo], hyperparameters: hmap(s.hyper) })),
    losses: m.losses.map((l) => ({ class: l.className, framework: l.framework, ...at(l.call.node), boundTo: [...l.boundTo], hyperparameters: hmap(l.hyper) })),
    layers: m.sequences.map((s) => ({ container: s.container, name: s.name, ...at(s.node), layers: s.layers.map((l) => ({ class: l.className, kind: l.kind, ...at(l.call.node), boundTo: l.boundTo ?? null })) })),
    loops: m.trainingLoops.map((l) => ({
      kind: l.loop.kind, ...at(l.loop.node), stepLoop: l.isStepLoop,
      function: l.loop.fn?.name ?? null,
      events: l.events.map((e) => ({ kind: e.kind, call: lines.text.slice(e.call.node.start, e.call.node.end).slice(0, 120), ...at(e.call.node) })),
    })),
    dataLoaders: m.dataLoaders.map((d) => ({ ...at(d.call.node), role: d.role, boundTo: [...d.boundTo], hyperparameters: hmap(d.hyper) })),
    frameworkLoops: m.frameworkLoops.map((f) => ({ framework: f.framework, call: f.call.callee, ...at(f.call.node) })),
    techniques: m.techniques.map((t) => ({ kind: t.kind, detail: t.detail, ...at(t.call.node) })),
    hyperparameters: m.hyperparameters.map(hp),
    notices: [...r.notices],
  };
}
