import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ProbeEventParams, ProbeListResult, ProbeStartResult } from '../../src/protocol';
import { ROOT, workspace } from '../probe/probeScripts';
import { LspTestClient } from './lspClient';

/**
 * The embedded engine through the real server: it runs in a worker thread, so the server keeps
 * answering while a probe trains, and cancel ends the run at once. Needs no Python.
 */
describe('language server: embedded-engine probes', () => {
  let client: LspTestClient;
  let dir: string;
  let uri: string;
  const text = fs.readFileSync(path.join(ROOT, 'examples', 'label_noise.py'), 'utf8');

  before(async () => {
    dir = workspace({ 'train.py': text });
    uri = pathToFileURL(path.join(dir, 'train.py')).href;
    client = new LspTestClient();
    await client.initialize(pathToFileURL(dir).href, { probe: { engine: 'tfjs' } });
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text } });
    await client.diagnostics(uri);
  });

  after(async () => {
    await client.shutdown();
  });

  const eventsOf = (runId: string): ProbeEventParams[] =>
    client.notifications.filter((n) => n.method === 'regscope/probe/event').map((n) => n.params as ProbeEventParams).filter((p) => p.runId === runId);

  it('an edit during a probe gets its diagnostics while the probe is still running', async () => {
    const started = (await client.connection.sendRequest('regscope/probe/start', { uri, steps: 30 })) as ProbeStartResult;
    assert.match(started.engineReason, /^tfjs: /);
    assert.equal(started.interpreter, null);
    // Wait until the surrogate is training, then edit: a second optimizer with Adam's coupled decay (WD001).
    for (let i = 0; i < 200 && !eventsOf(started.runId).some((e) => e.event.type === 'step'); i++) await new Promise((r) => setTimeout(r, 25));
    const edited = `${text}\nextra = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3, weight_decay=1e-4)\n`;
    await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 2 }, contentChanges: [{ text: edited }] });
    await client.diagnostics(uri, (p) => p.diagnostics.some((d) => d.code === 'WD001'), 10_000);
    assert.ok(!eventsOf(started.runId).some((e) => e.event.type === 'done'), 'the diagnostics came while the probe was still running');
    // And the run finishes normally afterwards.
    for (let i = 0; i < 2400 && !eventsOf(started.runId).some((e) => e.event.type === 'done'); i++) await new Promise((r) => setTimeout(r, 50));
    const done = eventsOf(started.runId).find((e) => e.event.type === 'done')!.event;
    assert.equal(done.type === 'done' && done.status, 'ok');
  });

  it('cancel stops the worker at once: the run ends cancelled', async () => {
    const started = (await client.connection.sendRequest('regscope/probe/start', { uri, steps: 200 })) as ProbeStartResult;
    for (let i = 0; i < 200 && !eventsOf(started.runId).some((e) => e.event.type === 'step'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(await client.connection.sendRequest('regscope/probe/cancel', { runId: started.runId }), true);
    for (let i = 0; i < 100 && !eventsOf(started.runId).some((e) => e.event.type === 'done'); i++) await new Promise((r) => setTimeout(r, 20));
    const done = eventsOf(started.runId).find((e) => e.event.type === 'done')?.event;
    assert.ok(done && done.type === 'done' && done.status === 'cancelled', 'a cancelled done event within 2 s');
    assert.ok(done.steps < 200);
    let listed: ProbeListResult | undefined;
    for (let i = 0; i < 50; i++) {
      listed = (await client.connection.sendRequest('regscope/probe/list', { uri })) as ProbeListResult;
      if (listed.runs.find((r) => r.id === started.runId)?.status === 'cancelled') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(listed?.runs.find((r) => r.id === started.runId)?.status, 'cancelled');
  });
});
