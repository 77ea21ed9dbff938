import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ProbeEventParams, ProbeListResult, ProbeStartResult, RunBundle } from '../../src/protocol';
import { lineOf, torchSkip, trainScript, workspace } from '../probe/probeScripts';
import { LspTestClient } from './lspClient';

/** Probe runs through the real server: start, stream events, PRB diagnostics on the right line. */
describe('language server: probe runs', { skip: torchSkip() }, () => {
  let client: LspTestClient;
  let dir: string;
  const text = trainScript({ lr: '1e12' });
  let uri: string;

  before(async () => {
    dir = workspace({ 'train.py': text });
    uri = pathToFileURL(path.join(dir, 'train.py')).href;
    client = new LspTestClient();
    await client.initialize(pathToFileURL(dir).href);
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text } });
    await client.diagnostics(uri);
  });

  after(async () => {
    await client.shutdown();
  });

  it('start → events stream → the run ends → PRB007 (divergence) sits on the lr argument', async () => {
    const started = (await client.connection.sendRequest('regscope/probe/start', { uri, steps: 6, metrics: ['hessian'] })) as ProbeStartResult;
    assert.match(started.runId, /^\d{8}-\d{6}-train-[0-9a-f]{4}$/);
    assert.match(started.engineReason, /has torch/);
    const withProbe = await client.diagnostics(uri, (p) => p.diagnostics.some((d) => d.code === 'PRB007'), 120_000);
    const prb = withProbe.diagnostics.find((d) => d.code === 'PRB007')!;
    assert.equal(prb.range.start.line, lineOf(text, 'lr=1e12') - 1);
    assert.equal(text.split('\n')[prb.range.start.line]!.slice(prb.range.start.character, prb.range.end.character), 'lr=1e12');
    assert.equal(prb.source, 'regscope probe');
    assert.match(String(prb.message), /NaN|diverg/);
    assert.match(String(prb.message), /lr = 1e12/);
    assert.match(prb.relatedInformation?.[0]?.location.uri ?? '', /run\.json$/);
    const events = client.notifications.filter((n) => n.method === 'regscope/probe/event').map((n) => n.params as ProbeEventParams);
    assert.ok(events.every((e) => e.runId === started.runId));
    assert.deepEqual([events[0]?.event.type, events.at(-1)?.event.type], ['hello', 'done']);
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i), 'events are numbered in store order');
    const list = (await client.connection.sendRequest('regscope/probe/list', { uri })) as ProbeListResult;
    assert.equal(list.runs[0]?.id, started.runId);
    assert.equal(list.runs[0]?.runDir, started.runDir);
    assert.ok(list.runs[0]?.findings.some((f) => f.rule === 'PRB007'));
    // A panel loads the run: the same events, the final record, and where lr is set.
    const bundle = (await client.connection.sendRequest('regscope/probe/load', { runDir: started.runDir })) as RunBundle;
    assert.equal(bundle.events.length, events.length);
    assert.equal(bundle.record.status, list.runs[0]!.status);
    assert.deepEqual(bundle.record.findings, list.runs[0]!.findings);
    assert.equal(bundle.anchors?.hparams['lr']?.line, lineOf(text, 'lr=1e12'));
    // Only run folders can be loaded: the folder comes from a webview.
    await assert.rejects(client.connection.sendRequest('regscope/probe/load', { runDir: dir }), /not a RegScope run folder/);
    await assert.rejects(client.connection.sendRequest('regscope/probe/load', { runDir: path.join(started.runDir, '..', '..', '..', '..') }), /not a RegScope run folder/);
    // The hover on the lr shows the value the optimizer really held during the run.
    const line = lineOf(text, 'lr=1e12') - 1;
    const hover = (await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri }, position: { line, character: text.split('\n')[line]!.indexOf('lr=1e12') + 1 },
    })) as { contents: { value: string } };
    assert.match(hover.contents.value, new RegExp(`Measured in probe run \`${started.runId}\` at step \\d+: \\*\\*\`1000000000000\`\\*\\* \\(SGD`));
  });

  it('a finding follows its line while the user edits', async () => {
    const edited = `# a comment line\n${text}`;
    await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 2 }, contentChanges: [{ text: edited }] });
    const p = await client.diagnostics(uri, (d) => d.version === 2);
    const prb = p.diagnostics.find((d) => d.code === 'PRB007');
    assert.equal(prb?.range.start.line, lineOf(edited, 'lr=1e12') - 1);
    // …and obeys the suppression comment like every other rule.
    const silenced = edited.replace('momentum=0.9)', 'momentum=0.9)  # regscope: ignore[PRB007]');
    await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 3 }, contentChanges: [{ text: silenced }] });
    const q = await client.diagnostics(uri, (d) => d.version === 3);
    assert.equal(q.diagnostics.find((d) => d.code === 'PRB007'), undefined);
    await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 4 }, contentChanges: [{ text: edited }] });
    await client.diagnostics(uri, (d) => d.version === 4);
  });

  it('cancel over LSP stops a running probe: the run ends cancelled', async () => {
    const slow = trainScript({ hook: 'time.sleep(0.3)' });
    fs.writeFileSync(path.join(dir, 'slow.py'), slow);
    const slowUri = pathToFileURL(path.join(dir, 'slow.py')).href;
    const started = (await client.connection.sendRequest('regscope/probe/start', { uri: slowUri, steps: 200, metrics: ['weights'] })) as ProbeStartResult;
    const events = () => client.notifications.filter((n) => n.method === 'regscope/probe/event').map((n) => n.params as ProbeEventParams).filter((e) => e.runId === started.runId);
    const until = async (predicate: () => boolean) => { for (let i = 0; i < 600 && !predicate(); i++) await new Promise((r) => setTimeout(r, 50)); };
    await until(() => events().some((e) => e.event.type === 'step'));
    assert.equal(await client.connection.sendRequest('regscope/probe/cancel', { runId: started.runId }), true);
    await until(() => events().some((e) => e.event.type === 'done'));
    const done = events().find((e) => e.event.type === 'done')?.event;
    assert.equal(done?.type === 'done' && done.status, 'cancelled');
    let record: ProbeListResult['runs'][number] | undefined;
    for (let i = 0; i < 100 && record?.status !== 'cancelled'; i++) {
      record = ((await client.connection.sendRequest('regscope/probe/list', { uri: slowUri })) as ProbeListResult).runs.find((r) => r.id === started.runId);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(record?.status, 'cancelled', 'the stored run says cancelled');
  });

  it('a setup error is an answer the client can show, and the server lives on', async () => {
    await assert.rejects(client.connection.sendRequest('regscope/probe/start', { uri: pathToFileURL(path.join(dir, 'missing.py')).href }), /no such file/);
    assert.ok(fs.existsSync(path.join(dir, '.regscope', '.gitignore')));
  });
});
