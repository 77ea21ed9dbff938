/** What a run's events add up to: the last value of each metric, the losses, the error, the cost. */
import type {
  DoneEvent, ErrorEvent, HelloEvent, HparamsEvent, MetricEvent, ProbeEvent, StepEvent,
} from '../protocol';

export interface RunSummary {
  readonly hello: HelloEvent | undefined;
  readonly hparams: HparamsEvent | undefined;
  readonly steps: readonly StepEvent[];
  /** The latest event of each metric name (the last probe step wins; a refined landscape replaces its preview). */
  readonly metrics: ReadonlyMap<string, MetricEvent>;
  /** Every `hessian.top` and `stability.*` event, for curves over probe steps. */
  readonly history: readonly MetricEvent[];
  readonly warnings: readonly string[];
  readonly error: ErrorEvent | undefined;
  readonly done: DoneEvent | undefined;
  readonly cost: { readonly hvps: number; readonly passes: number; readonly seconds: number };
}

export function summarizeEvents(events: readonly ProbeEvent[]): RunSummary {
  let hello: HelloEvent | undefined;
  let hparams: HparamsEvent | undefined;
  let error: ErrorEvent | undefined;
  let done: DoneEvent | undefined;
  const steps: StepEvent[] = [];
  const metrics = new Map<string, MetricEvent>();
  const history: MetricEvent[] = [];
  const warnings: string[] = [];
  const cost = { hvps: 0, passes: 0, seconds: 0 };
  for (const e of events) {
    switch (e.type) {
      case 'hello': hello = e; break;
      case 'hparams': hparams = e; break;
      case 'step': steps.push(e); break;
      case 'metric': {
        const previous = metrics.get(e.name);
        if (!previous || e.step >= previous.step) metrics.set(e.name, e);
        if (e.name === 'hessian.top' || e.name.startsWith('stability.')) history.push(e);
        cost.hvps += e.cost.hvps;
        cost.passes += e.cost.passes;
        cost.seconds += e.cost.seconds;
        break;
      }
      case 'warning': warnings.push(e.message.split('\n')[0]!); break;
      case 'error': error ??= e; break;
      case 'done': done = e; break;
      case 'progress': break;
    }
  }
  return { hello, hparams, steps, metrics, history, warnings, error, done, cost };
}

export function numberIn(data: Readonly<Record<string, unknown>> | undefined, key: string): number | undefined {
  const v = data?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
