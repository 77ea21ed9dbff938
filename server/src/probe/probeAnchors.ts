/**
 * Where each probe finding goes in the script (table in probes.md): the learning rate, the batch
 * size, the optimizer, the loss, weight decay, and each layer's definition by its module path.
 * Computed from the current text, so a finding from an older run still lands on the right line.
 */
import type { AnalysisResult } from '../analysis/analyze';
import type { ParsedDocument } from '../analysis/document';
import type { Hyperparameter } from '../analysis/model/trainingScript';
import type { SyntaxNode } from '../analysis/syntax/syntaxNode';
import { formatValue } from '../analysis/values/pyValue';

export interface Anchor {
  /** 1-based line, 0-based columns (UTF-16), on one line. */
  readonly line: number;
  readonly column: number;
  readonly endColumn: number;
  /** The value as the script sets it and where it came from: `0.1 (--lr default)`. */
  readonly detail?: string;
}

export interface ProbeAnchors {
  readonly lr?: Anchor;
  readonly batchSize?: Anchor;
  readonly optimizer?: Anchor;
  readonly loss?: Anchor;
  readonly weightDecay?: Anchor;
  /** Module path (`features.0`, `fc1`) → the layer's constructor call. */
  readonly layers: ReadonlyMap<string, Anchor>;
}

export function probeAnchors(doc: ParsedDocument, analysis: AnalysisResult): ProbeAnchors {
  const at = (node: SyntaxNode, detail?: string): Anchor => {
    const start = doc.lines.positionAt(node.start);
    const end = doc.lines.positionAt(node.end);
    const endColumn = end.line === start.line ? end.character : doc.text.indexOf('\n', node.start) - (node.start - start.character);
    return { line: start.line + 1, column: start.character, endColumn: Math.max(endColumn, start.character + 1), detail };
  };
  // `0.4 (--lr default)`: the value as resolved, else the expression as written, and its provenance.
  const hyper = (h: Hyperparameter | undefined): Anchor | undefined => {
    if (!h) return undefined;
    const written = h.node ? doc.text.slice(h.node.start, h.node.end) : 'default';
    const value = h.resolved.value ? formatValue(h.resolved.value) : written;
    return at(h.anchor, value === h.resolved.detail ? value : `${value} (${h.resolved.detail})`);
  };
  const opt = analysis.model.optimizers[0];
  const trainLoader = analysis.model.dataLoaders.find((d) => d.role === 'train') ?? analysis.model.dataLoaders[0];
  const layers = new Map<string, Anchor>();
  for (const layer of analysis.model.layers) {
    if (layer.boundTo?.startsWith('self.')) layers.set(layer.boundTo.slice(5), at(layer.call.node));
  }
  for (const seq of analysis.model.sequences) {
    if (seq.container !== 'sequential') continue;
    const call = analysis.facts.callByNode.get(seq.node);
    const prefix = seq.name.startsWith('self.') ? `${seq.name.slice(5)}.` : '';
    for (const layer of seq.layers) {
      const index = call?.args.findIndex((a) => a === layer.call.node || (a.start <= layer.call.node.start && layer.call.node.end <= a.end)) ?? -1;
      if (index >= 0) layers.set(`${prefix}${index}`, at(layer.call.node));
    }
  }
  return {
    lr: hyper(opt?.hyper.get('lr')),
    batchSize: hyper(trainLoader?.hyper.get('batch_size')),
    optimizer: opt ? at(opt.call.node) : undefined,
    loss: analysis.model.losses[0] ? at(analysis.model.losses[0].call.node) : undefined,
    weightDecay: hyper(opt?.hyper.get('weight_decay')),
    layers,
  };
}

/** The anchor of a layer the harness names by module path: exact, or the longest dotted suffix. */
export function layerAnchor(anchors: ProbeAnchors, moduleName: string): Anchor | undefined {
  const exact = anchors.layers.get(moduleName);
  if (exact) return exact;
  let best: { key: string; anchor: Anchor } | undefined;
  for (const [key, anchor] of anchors.layers) {
    if (!key.includes('.') && !/^[A-Za-z_]/.test(key)) continue;
    if (moduleName.endsWith(`.${key}`) && (!best || key.length > best.key.length)) best = { key, anchor };
  }
  return best?.anchor;
}
