/** `npm run bench`: every benchmark, one table each. */
import * as os from 'node:os';
import { runAnalysisBench } from './analysisBench';
import { extensionBench } from './extensionBench';
import { lspBench } from './lspBench';
import { PANEL_BENCH_HEADER, panelBench } from './panelBench';
import { PROBE_BENCH_HEADER, probeBench } from './probeBench';
import { REMOTE_BENCH_HEADER, remoteBench } from './remoteBench';
import { TFJS_BENCH_HEADER, tfjsBench } from './tfjsBench';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => `| ${r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(fmt)].join('\n');
}

(async () => {
  console.log(`RegScope benchmarks — ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n`);
  console.log('Static analysis');
  await runAnalysisBench();
  console.log('\nLanguage server');
  console.log(table(['measure', 'median', 'spread', 'target'], await lspBench()));
  console.log('\nExtension');
  console.log(table(['measure', 'value', 'where', 'target'], await extensionBench()));
  console.log('\nRun panel (headless Chromium)');
  console.log(table(PANEL_BENCH_HEADER, await panelBench()));
  console.log('\nProbe runs (Python engine, default probe, CPU)');
  console.log(table(PROBE_BENCH_HEADER, await probeBench()));
  console.log('\nEmbedded engine (TensorFlow.js surrogate) beside the Python engine, default probe');
  console.log(table(TFJS_BENCH_HEADER, await tfjsBench()));
  console.log('\nRemote engines (loopback sshd and Slurm)');
  console.log(table(REMOTE_BENCH_HEADER, await remoteBench()));
})();
