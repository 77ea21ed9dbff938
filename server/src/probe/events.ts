/**
 * Reading probe events (docs/design/probe-events.md): one JSON object a line on the harness's
 * stdout, and the same lines in a run's `events.jsonl`. Every line is validated against the
 * `ProbeEvent` types before anything trusts it; a line that does not decode becomes a
 * `MalformedLine` with a reason a person can act on, never an exception.
 *
 * The validators are hand-written and table-like: one field table per event type, typed so that
 * the compiler insists on a validator for every field of the TypeScript type and on
 * `optional` matching the `?` of the declaration.
 *
 * Tolerant reading, within the contract: fields the types do not know are kept (a newer harness
 * may add some); an optional field sent as `null` (the harness writes NaN/inf as null) counts as
 * absent and is removed; blank lines are skipped.
 */
import type {
  DoneEvent, ErrorEvent, HelloEvent, HparamsEvent, LayerValue, MalformedLine, MetricEvent, ParamGroupLive,
  ProbeCost, ProbeEvent, ProbeUncertainty, ProgressEvent, StepEvent, WarningEvent,
} from '../protocol';

/** A line longer than this is cut and reported instead of growing memory without bound. */
export const MAX_EVENT_LINE_BYTES = 8 * 1024 * 1024;
/** How much of a bad line a `MalformedLine` keeps. */
const PREVIEW_CHARS = 500;

export type DecodedLine = { readonly event: ProbeEvent } | { readonly malformed: MalformedLine };

// --- field checks ------------------------------------------------------------------------------

/** Returns why `value` (found at `at`) is wrong, or undefined when it is right. */
type Check = (value: unknown, at: string) => string | undefined;
interface ReqField { readonly check: Check; readonly optional: false }
interface OptField { readonly check: Check; readonly optional: true }
type Shape<T> = { readonly [K in keyof T]-?: {} extends Pick<T, K> ? OptField : ReqField };
type EventShape<E> = Shape<Omit<E, 'v' | 'type' | 't'>>;

const req = (check: Check): ReqField => ({ check, optional: false });
const opt = (check: Check): OptField => ({ check, optional: true });

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const num: Check = (v, at) => (typeof v === 'number' && Number.isFinite(v) ? undefined : `${at} must be a finite number, not ${describe(v)}`);
const numOrNull: Check = (v, at) => (v === null || (typeof v === 'number' && Number.isFinite(v)) ? undefined : `${at} must be a finite number or null, not ${describe(v)}`);
/** Steps, counts, indices, pids: whole numbers ≥ 0. */
const count: Check = (v, at) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? undefined : `${at} must be a whole number ≥ 0, not ${describe(v)}`);
const str: Check = (v, at) => (typeof v === 'string' ? undefined : `${at} must be a string, not ${describe(v)}`);
const bool: Check = (v, at) => (typeof v === 'boolean' ? undefined : `${at} must be true or false, not ${describe(v)}`);
const oneOf = (...values: readonly string[]): Check => (v, at) =>
  (typeof v === 'string' && values.includes(v) ? undefined : `${at} must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, not ${describe(v)}`);
const anyObject: Check = (v, at) => (isPlainObject(v) ? undefined : `${at} must be an object, not ${describe(v)}`);
const arrayOf = (item: Check): Check => (v, at) => {
  if (!Array.isArray(v)) return `${at} must be an array, not ${describe(v)}`;
  for (let i = 0; i < v.length; i++) {
    const why = item(v[i], `${at}[${i}]`);
    if (why) return why;
  }
  return undefined;
};
const object = <T>(shape: Shape<T>): Check => (v, at) => (isPlainObject(v) ? checkFields(v, shape, `${at}.`) : `${at} must be an object, not ${describe(v)}`);

function checkFields(obj: Record<string, unknown>, shape: Readonly<Record<string, ReqField | OptField>>, prefix: string): string | undefined {
  for (const [key, field] of Object.entries(shape)) {
    const at = `${prefix}${key}`;
    const value = obj[key];
    if (value === undefined) {
      if (!field.optional) return `${at} is missing`;
      continue;
    }
    const why = field.check(value, at);
    if (why === undefined) continue;
    if (field.optional && value === null) {
      delete obj[key]; // null in an optional field means absent (NaN/inf from the harness)
      continue;
    }
    return why;
  }
  return undefined;
}

// --- the tables --------------------------------------------------------------------------------

const uncertainty = object<ProbeUncertainty>({
  kind: req(oneOf('ci95', 'interval90', 'residual', 'stderr')),
  low: opt(num),
  high: opt(num),
  halfWidth: opt(num),
});

const cost = object<ProbeCost>({ hvps: req(count), passes: req(count), seconds: req(num) });

const layer = object<LayerValue>({ name: req(str), value: req(numOrNull), uncertainty: opt(uncertainty) });

const paramGroup = object<ParamGroupLive>({
  index: req(count),
  lr: req(num),
  momentum: opt(num),
  betas: opt(arrayOf(num)),
  eps: opt(num),
  weightDecay: opt(num),
  nesterov: opt(bool),
  numel: req(count),
});

const optimizer = object<HparamsEvent['optimizers'][number]>({ index: req(count), class: req(str), groups: req(arrayOf(paramGroup)) });

const hello: EventShape<HelloEvent> = {
  harness: req(str),
  python: req(str),
  torch: req(str),
  interpreter: req(str),
  pid: req(count),
  device: req(object<HelloEvent['device']>({ type: req(str), name: req(str), count: req(count) })),
  rank: req(count),
  worldSize: req(count),
  hvpMethod: req(str),
  runtime: opt(str),
};

const hparams: EventShape<HparamsEvent> = { step: req(count), optimizers: req(arrayOf(optimizer)) };

const step: EventShape<StepEvent> = {
  step: req(count),
  loss: req(numOrNull),
  lr: req(num),
  gradNorm: req(numOrNull),
  seconds: req(num),
  updateRatio: opt(numOrNull),
};

const metric: EventShape<MetricEvent> = {
  name: req(str),
  step: req(count),
  value: opt(numOrNull),
  uncertainty: opt(uncertainty),
  layers: opt(arrayOf(layer)),
  data: opt(anyObject),
  cost: req(cost),
};

const progress: EventShape<ProgressEvent> = { phase: req(str), done: req(num), total: req(num), message: opt(str) };

const warning: EventShape<WarningEvent> = { code: req(str), message: req(str) };

const error: EventShape<ErrorEvent> = {
  kind: req(oneOf('script', 'nan', 'oom', 'timeout', 'exit', 'harness', 'no-steps', 'cancelled', 'spawn', 'connection')),
  message: req(str),
  traceback: opt(str),
  step: opt(count),
};

const done: EventShape<DoneEvent> = {
  status: req(oneOf('ok', 'error', 'cancelled')),
  steps: req(count),
  seconds: req(num),
  cost: req(object<DoneEvent['cost']>({ hvps: req(count), passes: req(count) })),
};

const SHAPES: { readonly [T in ProbeEvent['type']]: EventShape<Extract<ProbeEvent, { type: T }>> } = {
  hello, hparams, step, metric, progress, warning, error, done,
};

const isEventType = (t: string): t is ProbeEvent['type'] => Object.prototype.hasOwnProperty.call(SHAPES, t);

// --- decoding ----------------------------------------------------------------------------------

/** The start of a line, for reports: never the whole of a huge line. */
export function previewLine(line: string): string {
  return line.length > PREVIEW_CHARS ? `${line.slice(0, PREVIEW_CHARS)}… (${line.length} characters)` : line;
}

/** One line of the event stream → an event, or the reason it is not one. Never throws. */
export function decodeEventLine(line: string): DecodedLine {
  const bad = (reason: string): DecodedLine => ({ malformed: { line: previewLine(line), reason } });
  const text = line.trim();
  if (text === '') return bad('empty line');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return bad(`not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(value)) return bad(`an event must be a JSON object, not ${describe(value)}`);
  if (value['v'] !== 1) {
    if (value['v'] === undefined) return bad('no event version ("v" is missing)');
    return bad(`unsupported event version ${typeof value['v'] === 'number' ? value['v'] : describe(value['v'])} (this RegScope reads version 1)`);
  }
  const type = value['type'];
  if (typeof type !== 'string') return bad(type === undefined ? 'no event type ("type" is missing)' : `"type" must be a string, not ${describe(type)}`);
  if (!isEventType(type)) return bad(`unknown event type ${JSON.stringify(type.length > 40 ? `${type.slice(0, 40)}…` : type)}`);
  const t = num(value['t'], 't');
  if (t) return bad(`${type} event: ${value['t'] === undefined ? 't is missing' : t}`);
  const why = checkFields(value, SHAPES[type], '');
  if (why) return bad(`${type} event: ${why}`);
  return { event: value as unknown as ProbeEvent };
}

// --- splitting a byte stream into lines --------------------------------------------------------

export type SplitItem = { readonly line: string } | { readonly malformed: MalformedLine };

/**
 * Cuts a byte stream (stdout chunks, a file read in pieces) into lines. Works on bytes, so a
 * UTF-8 character split across two chunks is decoded whole; drops the `\r` of `\r\n`; skips blank
 * lines. A line longer than `maxLineBytes` is reported once as malformed when it crosses the
 * limit, and the rest of it is skipped up to its newline: memory stays bounded whatever arrives.
 */
export class EventLineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  /** Inside an over-long line: bytes are dropped until its newline. */
  private skipping = false;

  constructor(private readonly maxLineBytes: number = MAX_EVENT_LINE_BYTES) {}

  push(chunk: Buffer | string): SplitItem[] {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const out: SplitItem[] = [];
    let start = 0;
    while (start < buf.length) {
      const nl = buf.indexOf(0x0a, start);
      this.take(buf.subarray(start, nl === -1 ? buf.length : nl), out);
      if (nl === -1) break;
      this.endLine(out);
      start = nl + 1;
    }
    return out;
  }

  /** The last line when the stream ended without a newline. */
  flush(): SplitItem[] {
    const out: SplitItem[] = [];
    if (this.size > 0) this.endLine(out);
    this.skipping = false;
    return out;
  }

  private take(piece: Buffer, out: SplitItem[]): void {
    if (piece.length === 0 || this.skipping) return;
    if (this.size + piece.length > this.maxLineBytes) {
      const head = Buffer.concat([...this.parts.slice(0, 1), piece.subarray(0, PREVIEW_CHARS)]).subarray(0, PREVIEW_CHARS);
      out.push({
        malformed: {
          line: `${head.toString('utf8')}…`,
          reason: `line longer than ${formatBytes(this.maxLineBytes)}: cut, and the rest of it skipped`,
        },
      });
      this.parts = [];
      this.size = 0;
      this.skipping = true;
      return;
    }
    this.parts.push(piece);
    this.size += piece.length;
  }

  private endLine(out: SplitItem[]): void {
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    let line = (this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts)).toString('utf8');
    this.parts = [];
    this.size = 0;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() !== '') out.push({ line });
  }
}

function formatBytes(n: number): string {
  return n >= 1 << 20 && n % (1 << 20) === 0 ? `${n / (1 << 20)} MB` : `${n} bytes`;
}

/** Splitter output → decoded events and malformed lines, in stream order. */
export function decodeSplit(items: readonly SplitItem[]): DecodedLine[] {
  return items.map((item) => ('line' in item ? decodeEventLine(item.line) : item));
}
