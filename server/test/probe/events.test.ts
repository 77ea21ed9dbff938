import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MalformedLine, ProbeEvent } from '../../src/protocol';
import { decodeEventLine, decodeSplit, EventLineSplitter, MAX_EVENT_LINE_BYTES, type SplitItem } from '../../src/probe/events';

/** One valid event of every type, as the harness writes them (docs/design/probe-events.md). */
const VALID: Record<ProbeEvent['type'], Record<string, unknown>> = {
  hello: {
    v: 1, type: 'hello', t: 0.01, harness: '0.1.0', python: '3.11.2', torch: '1.13.0', interpreter: '/usr/bin/python3', pid: 4242,
    device: { type: 'cpu', name: 'x86_64', count: 1 }, rank: 0, worldSize: 1, hvpMethod: 'double-backward',
  },
  hparams: {
    v: 1, type: 'hparams', t: 0.5, step: 1, device: 'cpu',
    optimizers: [{ index: 0, class: 'SGD', groups: [{ index: 0, lr: 0.1, momentum: 0.9, weightDecay: 0.0005, nesterov: false, numel: 1234 }] },
      { index: 1, class: 'Adam', groups: [{ index: 0, lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, numel: 10 }] }],
  },
  step: { v: 1, type: 'step', t: 0.6, step: 3, loss: 2.31, lr: 0.1, gradNorm: null, seconds: 0.01, updateRatio: 0.002 },
  metric: {
    v: 1, type: 'metric', t: 1.2, name: 'hessian.trace', step: 5, value: 123.4,
    uncertainty: { kind: 'ci95', halfWidth: 2.1 },
    layers: [{ name: 'fc1', value: 100, uncertainty: { kind: 'ci95', halfWidth: 1 } }, { name: 'fc2', value: null }],
    data: { probes: 12, estimates: [120, 125] },
    cost: { hvps: 12, passes: 0, seconds: 0.4 },
  },
  progress: { v: 1, type: 'progress', t: 1.3, phase: 'landscape', done: 5, total: 25, message: '' },
  warning: { v: 1, type: 'warning', t: 1.4, code: 'no-closure', message: 'no loss expression' },
  error: { v: 1, type: 'error', t: 2, kind: 'script', message: 'ValueError: boom', traceback: 'Traceback…', step: 4 },
  done: { v: 1, type: 'done', t: 2.1, status: 'error', steps: 4, seconds: 2.1, cost: { hvps: 40, passes: 3 } },
};

const line = (o: unknown) => JSON.stringify(o);
const with_ = (type: ProbeEvent['type'], patch: Record<string, unknown>) => ({ ...VALID[type], ...patch });
const without = (type: ProbeEvent['type'], key: string) => {
  const o = { ...VALID[type] };
  delete o[key];
  return o;
};

function reasonOf(text: string): string {
  const r = decodeEventLine(text);
  assert.ok('malformed' in r, `expected malformed: ${text.slice(0, 200)}`);
  return r.malformed.reason;
}

describe('decodeEventLine', () => {
  it('decodes one event of every type', () => {
    for (const [type, event] of Object.entries(VALID)) {
      const r = decodeEventLine(line(event));
      assert.ok('event' in r, `${type}: ${'malformed' in r ? r.malformed.reason : ''}`);
      assert.equal(r.event.type, type);
      assert.deepEqual(r.event, event);
    }
  });

  it('accepts the minimal form of every type (optional fields left out)', () => {
    const minimal: Record<string, unknown>[] = [
      without('step', 'updateRatio'),
      { v: 1, type: 'metric', t: 1, name: 'weights.alpha', step: 5, cost: { hvps: 0, passes: 0, seconds: 0 } },
      without('progress', 'message'),
      { v: 1, type: 'error', t: 1, kind: 'no-steps', message: 'no optimizer step' },
      with_('hparams', { optimizers: [{ index: 0, class: 'SGD', groups: [{ index: 0, lr: 0.1, numel: 1 }] }] }),
    ];
    for (const event of minimal) assert.ok('event' in decodeEventLine(line(event)), line(event));
  });

  it('keeps fields it does not know, and drops null in an optional field (NaN from the harness)', () => {
    const r = decodeEventLine(line(with_('metric', { future: [1, 2], uncertainty: { kind: 'interval90', low: null, high: 3 } })));
    assert.ok('event' in r);
    assert.deepEqual((r.event as unknown as Record<string, unknown>)['future'], [1, 2]);
    assert.ok(r.event.type === 'metric');
    assert.deepEqual(r.event.uncertainty, { kind: 'interval90', high: 3 });
    const e = decodeEventLine(line(with_('error', { traceback: null, step: null })));
    assert.ok('event' in e && e.event.type === 'error');
    assert.equal('traceback' in e.event, false);
    // Null where the type allows it stays null.
    const s = decodeEventLine(line(with_('step', { loss: null, updateRatio: null })));
    assert.ok('event' in s && s.event.type === 'step');
    assert.equal(s.event.loss, null);
    assert.equal(s.event.updateRatio, null);
  });

  it('rejects another version with the version in the reason', () => {
    assert.match(reasonOf(line(with_('hello', { v: 2 }))), /^unsupported event version 2\b/);
    assert.match(reasonOf(line(with_('hello', { v: '1' }))), /unsupported event version the string "1"/);
    assert.match(reasonOf(line(without('hello', 'v'))), /"v" is missing/);
  });

  it('rejects unknown and missing types', () => {
    assert.equal(reasonOf(line(with_('warning', { type: 'telemetry' }))), 'unknown event type "telemetry"');
    assert.match(reasonOf(line(without('warning', 'type'))), /"type" is missing/);
    assert.match(reasonOf(line(with_('warning', { type: 7 }))), /"type" must be a string, not 7/);
    // Not fooled by Object.prototype.
    assert.match(reasonOf(line(with_('warning', { type: 'constructor' }))), /unknown event type/);
  });

  it('names the missing field and the event type', () => {
    assert.equal(reasonOf(line(without('step', 'loss'))), 'step event: loss is missing');
    assert.equal(reasonOf(line(without('metric', 'cost'))), 'metric event: cost is missing');
    assert.equal(reasonOf(line(without('done', 't'))), 'done event: t is missing');
    assert.equal(reasonOf(line(with_('hello', { device: { type: 'cuda', name: 'H100' } }))), 'hello event: device.count is missing');
  });

  it('names the field with the wrong type, with its path and what it was', () => {
    assert.equal(reasonOf(line(with_('step', { lr: '0.1' }))), 'step event: lr must be a finite number, not the string "0.1"');
    assert.equal(reasonOf(line(with_('step', { loss: true }))), 'step event: loss must be a finite number or null, not a boolean');
    assert.equal(reasonOf(line(with_('step', { step: 2.5 }))), 'step event: step must be a whole number ≥ 0, not 2.5');
    assert.equal(reasonOf(line(with_('step', { lr: null }))), 'step event: lr must be a finite number, not null');
    assert.equal(reasonOf('{"v":1,"type":"step","t":1,"step":1,"loss":1e999,"lr":0.1,"gradNorm":null,"seconds":0}'),
      'step event: loss must be a finite number or null, not Infinity');
    assert.equal(
      reasonOf(line(with_('hparams', { optimizers: [{ index: 0, class: 'SGD', groups: [{ index: 0, lr: 0.1, numel: 1, betas: [0.9, 'x'] }] }] }))),
      'hparams event: optimizers[0].groups[0].betas[1] must be a finite number, not the string "x"',
    );
    assert.equal(reasonOf(line(with_('metric', { layers: [{ name: 'fc', value: 'big' }] }))), 'metric event: layers[0].value must be a finite number or null, not the string "big"');
    assert.equal(reasonOf(line(with_('metric', { data: [1, 2] }))), 'metric event: data must be an object, not an array');
    assert.match(reasonOf(line(with_('metric', { uncertainty: { kind: 'sigma' } }))), /metric event: uncertainty\.kind must be one of "ci95", "interval90", "residual", "stderr", not the string "sigma"/);
    assert.match(reasonOf(line(with_('error', { kind: 'segfault' }))), /error event: kind must be one of .*"cancelled"/);
    assert.match(reasonOf(line(with_('done', { status: 'running' }))), /done event: status must be one of "ok", "error", "cancelled"/);
    assert.equal(reasonOf(line(with_('warning', { message: ['a'] }))), 'warning event: message must be a string, not an array');
    assert.equal(reasonOf(line(with_('hparams', { optimizers: {} }))), 'hparams event: optimizers must be an array, not an object');
    assert.equal(reasonOf(line(with_('step', { t: 'now' }))), 'step event: t must be a finite number, not the string "now"');
  });

  it('reports garbage, non-objects and blank lines', () => {
    assert.match(reasonOf('Epoch 1/10 loss=0.3'), /^not JSON \(/);
    assert.match(reasonOf('{"v":1,"type":"step"'), /^not JSON \(/);
    assert.equal(reasonOf('[1,2]'), 'an event must be a JSON object, not an array');
    assert.equal(reasonOf('null'), 'an event must be a JSON object, not null');
    assert.equal(reasonOf('42'), 'an event must be a JSON object, not 42');
    assert.equal(reasonOf('   '), 'empty line');
  });

  it('keeps only the start of a long bad line', () => {
    const long = `garbage ${'x'.repeat(100_000)}`;
    const r = decodeEventLine(long);
    assert.ok('malformed' in r);
    assert.ok(r.malformed.line.length < 600);
    assert.match(r.malformed.line, /^garbage x+… \(100008 characters\)$/);
  });
});

describe('EventLineSplitter', () => {
  const lines = (items: readonly SplitItem[]) => items.map((i) => ('line' in i ? i.line : `!${i.malformed.reason}`));

  it('joins lines split across chunks, at any byte, UTF-8 included', () => {
    const text = `${line(VALID.warning)}\n${line({ ...VALID.warning, message: 'λ₁ ≈ 2/η — 🚀' })}\n${line(VALID.step)}\n`;
    const bytes = Buffer.from(text, 'utf8');
    for (const size of [1, 2, 3, 7, 64, bytes.length]) {
      const s = new EventLineSplitter();
      const out: SplitItem[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...s.push(bytes.subarray(i, i + size)));
      out.push(...s.flush());
      assert.deepEqual(lines(out), text.trimEnd().split('\n'), `chunk size ${size}`);
      const decoded = decodeSplit(out);
      assert.ok(decoded.every((d) => 'event' in d));
      assert.equal((decoded[1] as { event: { message: string } }).event.message, 'λ₁ ≈ 2/η — 🚀');
    }
  });

  it('handles \\r\\n (also when \\r and \\n arrive in different chunks), strings, blank lines', () => {
    const s = new EventLineSplitter();
    const out = [...s.push('a\r'), ...s.push('\nb\r\n\r\n'), ...s.push('  \nc'), ...s.push(Buffer.from('d\r\n'))];
    assert.deepEqual(lines(out), ['a', 'b', 'cd']);
    assert.deepEqual(s.flush(), []);
  });

  it('yields a trailing line without a newline on flush, once', () => {
    const s = new EventLineSplitter();
    assert.deepEqual(lines(s.push('one\ntwo')), ['one']);
    assert.deepEqual(lines(s.flush()), ['two']);
    assert.deepEqual(s.flush(), []);
    // A cut-off event at the end of a stream is reported by the decoder, not lost.
    const cut = new EventLineSplitter();
    cut.push('{"v":1,"type":"warn');
    const [d] = decodeSplit(cut.flush());
    assert.ok(d && 'malformed' in d && /^not JSON/.test(d.malformed.reason));
  });

  it('cuts an over-long line, reports it once, and goes on with the next line', () => {
    const max = 1024;
    const s = new EventLineSplitter(max);
    const out: SplitItem[] = [];
    out.push(...s.push('{"v":1,"type":"metric","data":"'));
    for (let i = 0; i < 50; i++) out.push(...s.push('y'.repeat(100)));
    out.push(...s.push(`"}\n${line(VALID.warning)}\n`));
    out.push(...s.flush());
    assert.equal(out.length, 2);
    const first = out[0]!;
    assert.ok('malformed' in first);
    assert.equal(first.malformed.reason, 'line longer than 1024 bytes: cut, and the rest of it skipped');
    assert.ok(first.malformed.line.startsWith('{"v":1,"type":"metric"'));
    assert.ok(first.malformed.line.length < 600);
    assert.deepEqual(out[1], { line: line(VALID.warning) });
  });

  it('stays bounded on a huge line at the default 8 MB limit', () => {
    const s = new EventLineSplitter();
    const chunk = Buffer.alloc(1 << 20, 0x61); // 1 MB of 'a', no newline
    const out: SplitItem[] = [];
    for (let i = 0; i < 12; i++) out.push(...s.push(chunk));
    const malformed = out.filter((i): i is { malformed: MalformedLine } => 'malformed' in i);
    assert.equal(malformed.length, 1);
    assert.match(malformed[0]!.malformed.reason, /^line longer than 8 MB/);
    assert.equal(MAX_EVENT_LINE_BYTES, 8 << 20);
    out.push(...s.push('\n{"after":1}\n'));
    assert.deepEqual(out.filter((i) => 'line' in i), [{ line: '{"after":1}' }]);
  });
});
