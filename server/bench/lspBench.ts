/**
 * Language-server benchmarks (issue 3 targets): didChange → publishDiagnostics on a 1,500-line
 * script (≤ 50 ms median), server start-up to first diagnostics (≤ 500 ms), server memory after
 * opening 50 scripts. Runs the real bundled server (dist/server.js) over stdio.
 */
import * as fs from 'node:fs';
import { LspTestClient } from '../test/lsp/lspClient';
import { syntheticScript } from './syntheticScript';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

export async function lspBench(): Promise<string[][]> {
  const rows: string[][] = [];
  const text = syntheticScript(1500);
  const uri = 'file:///bench/train.py';

  const startups: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const client = new LspTestClient();
    await client.initialize(null);
    const first = client.diagnostics(uri);
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text } });
    await first;
    startups.push(performance.now() - t0);
    await client.shutdown();
  }
  rows.push(['server start-up → first diagnostics (1,500 lines)', `${median(startups).toFixed(0)} ms`, `p90 ${p90(startups).toFixed(0)} ms`, '≤ 500 ms']);

  const client = new LspTestClient();
  await client.initialize(null);
  const opened = client.diagnostics(uri);
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text } });
  await opened;
  const lines = text.split('\n');
  const target = lines.findIndex((l) => l.includes('lr=cfg.lr')) ;
  const col = lines[target]!.indexOf('lr=cfg.lr') + 'lr=cfg.lr'.length;
  const edits: number[] = [];
  for (let v = 2; v < 62; v++) {
    const t0 = performance.now();
    const done = client.diagnostics(uri, (p) => p.version === v);
    await client.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: v },
      contentChanges: [{ range: { start: { line: target, character: col }, end: { line: target, character: col } }, text: v % 2 ? ' ' : '' }],
    });
    await done;
    edits.push(performance.now() - t0);
  }
  rows.push(['didChange → publishDiagnostics (1,500 lines)', `${median(edits).toFixed(1)} ms`, `p90 ${p90(edits).toFixed(1)} ms`, '≤ 50 ms']);

  const before = rssMiB(client.process.pid!);
  for (let i = 0; i < 50; i++) {
    const u = `file:///bench/script${i}.py`;
    const got = client.diagnostics(u);
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri: u, languageId: 'python', version: 1, text: syntheticScript(300 + 30 * i) } });
    await got;
  }
  rows.push(['server memory (RSS) after opening 50 scripts (300–1,770 lines)', `${rssMiB(client.process.pid!).toFixed(0)} MiB`, `${before.toFixed(0)} MiB with one`, '']);
  await client.shutdown();
  return rows;
}
