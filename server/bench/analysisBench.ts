/**
 * `npm run bench`: analysis speed and memory on synthetic scripts of 200, 1,500 and 10,000
 * lines. Columns: cold = the first analysis of that text in this process; from scratch =
 * parse + copy + analysis of a new document (JIT warm); re-analysis = analysis of an already
 * parsed document (settings or config change); edit = one-line edit, incremental re-parse and
 * analysis (typing). Targets (issue 2): warm 1,500 lines ≤ 20 ms median, one-line edit ≤ 5 ms,
 * 10,000 lines ≤ 150 ms.
 */
import { analyze } from '../src/analysis/analyze';
import { ParsedDocument } from '../src/analysis/document';
import { loadPythonParser } from '../src/host/parserLoader';
import { syntheticScript } from './syntheticScript';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

export async function runAnalysisBench(): Promise<void> {
  const t0 = performance.now();
  const parser = await loadPythonParser();
  const loadMs = performance.now() - t0;
  const rows: string[][] = [];
  let peakRss = process.memoryUsage().rss;
  for (const lines of [200, 1500, 10000]) {
    const text = syntheticScript(lines);
    const c0 = performance.now();
    const cold = analyze({ document: ParsedDocument.parse(parser, text) });
    const coldMs = performance.now() - c0;
    const runs = lines >= 10000 ? 15 : 40;
    const reanalysis: number[] = [];
    const parsed = ParsedDocument.parse(parser, text);
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      analyze({ document: parsed });
      reanalysis.push(performance.now() - s);
    }
    parsed.dispose();
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      const doc = ParsedDocument.parse(parser, text);
      analyze({ document: doc });
      warm.push(performance.now() - s);
      doc.dispose();
    }
    // One-line edits in the middle of the file: change a literal, as typing does.
    let doc = ParsedDocument.parse(parser, text);
    analyze({ document: doc });
    const anchor = text.indexOf('lr=cfg.lr', text.length >> 1);
    const incr: number[] = [];
    for (let i = 0; i < runs; i++) {
      const edited = `${text.slice(0, anchor)}lr=cfg.lr * ${i + 2}${text.slice(anchor + 'lr=cfg.lr'.length)}`;
      const s = performance.now();
      const next = doc.update(edited);
      analyze({ document: next });
      incr.push(performance.now() - s);
      doc.dispose();
      doc = next;
    }
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    rows.push([
      String(lines), String(cold.findings.length), coldMs.toFixed(1), median(warm).toFixed(1), p90(warm).toFixed(1),
      median(reanalysis).toFixed(1), median(incr).toFixed(2), p90(incr).toFixed(2),
    ]);
    doc.dispose();
  }
  (globalThis as { gc?: () => void }).gc?.();
  const heap = process.memoryUsage().heapUsed;
  const header = ['lines', 'findings', 'cold ms', 'from scratch median ms', 'p90', 're-analysis median ms', 'one-line edit median ms', 'p90'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => `| ${r.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  console.log(`grammar load: ${loadMs.toFixed(1)} ms`);
  console.log(fmt(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(fmt(r));
  console.log(`peak RSS: ${(peakRss / 2 ** 20).toFixed(0)} MiB; heap after GC: ${(heap / 2 ** 20).toFixed(0)} MiB`);
}
