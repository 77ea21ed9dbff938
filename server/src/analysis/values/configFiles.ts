import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { num, type PyValue, type Resolved } from './pyValue';

/**
 * How the analysis reads configuration files the script loads by a literal path. The host
 * resolves the path (relative to the script, then the workspace) and returns the text; the
 * analysis itself does no I/O.
 */
export interface FileReader {
  read(path: string): { readonly path: string; readonly text: string } | undefined;
}

export const NO_FILES: FileReader = { read: () => undefined };

/** Parses YAML or JSON text into a mapping whose every entry knows its line in the file. */
export function parseConfigText(path: string, text: string): Resolved | undefined {
  const lineCounter = new LineCounter();
  let doc;
  try {
    doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  } catch {
    return undefined;
  }
  if (doc.errors.length > 0) return undefined;
  const convert = (node: unknown, keyPath: string): Resolved => {
    const offset = (node as YamlNode | undefined)?.range?.[0] ?? 0;
    const pos = lineCounter.linePos(offset);
    const base = { source: 'config' as const, origin: { file: path, line: pos.line - 1, character: pos.col - 1 }, detail: `${path}: ${keyPath || '(root)'}` };
    if (isMap(node)) {
      const entries = new Map<string, Resolved>();
      for (const item of node.items) {
        const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
        const child = item.value ?? null;
        const at = convert(child ?? item.key, keyPath ? `${keyPath}.${key}` : key);
        entries.set(key, child === null ? { ...at, value: { kind: 'none' } } : at);
      }
      return { ...base, value: { kind: 'mapping', entries } };
    }
    if (isSeq(node)) {
      return { ...base, value: { kind: 'sequence', items: node.items.map((i, k) => convert(i, `${keyPath}[${k}]`)) } };
    }
    if (isScalar(node)) return { ...base, value: scalar(node.value) };
    return { ...base, value: undefined };
  };
  return convert(doc.contents, '');
}

function scalar(v: unknown): PyValue | undefined {
  if (v === null || v === undefined) return { kind: 'none' };
  if (typeof v === 'number') return num(v);
  if (typeof v === 'boolean') return { kind: 'bool', value: v };
  if (typeof v === 'string') {
    // YAML 1.2 reads `1e-4` as a string; PyYAML reads it as a string too, but OmegaConf and
    // most loaders' users mean a number. Numbers written with a dot or exponent are taken as
    // numbers; anything else stays a string.
    if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v.trim())) return num(Number(v), false);
    return { kind: 'string', value: v };
  }
  return undefined;
}
