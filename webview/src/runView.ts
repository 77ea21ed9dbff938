/**
 * A run as the views read it, derived from its bundle and the events that arrived since (pure;
 * recomputed per frame, which is cheap for the few hundred events of a probe).
 */
import type {
  DoneEvent, ErrorEvent, HparamsEvent, MetricEvent, ProbeEvent, ProgressEvent, RunBundle, StepEvent,
} from '../../server/src/protocol';

export interface RunView {
  readonly bundle: RunBundle;
  readonly id: string;
  readonly scriptName: string;
  readonly status: 'running' | 'ok' | 'error' | 'cancelled';
  readonly steps: readonly StepEvent[];
  readonly plannedSteps: number;
  readonly progress: ProgressEvent | null;
  readonly hparams: HparamsEvent | null;
  readonly device: string | null;
  readonly torch: string | null;
  /** The embedded engine's runtime (`TensorFlow.js 4.22.0, wasm backend`); null for Python runs. */
  readonly runtime: string | null;
  /** Metric events by name, in arrival order. */
  readonly metrics: ReadonlyMap<string, readonly MetricEvent[]>;
  readonly warnings: readonly string[];
  readonly errors: readonly ErrorEvent[];
  readonly done: DoneEvent | null;
}

export function deriveRun(bundle: RunBundle, events: readonly ProbeEvent[] = bundle.events): RunView {
  const steps: StepEvent[] = [];
  const metrics = new Map<string, MetricEvent[]>();
  const warnings: string[] = [];
  const errors: ErrorEvent[] = [];
  let progress: ProgressEvent | null = null;
  let hparams: HparamsEvent | null = null;
  let done: DoneEvent | null = null;
  let device: string | null = bundle.record.device;
  let torch: string | null = bundle.record.torch;
  let runtime: string | null = null;
  for (const e of events) {
    switch (e.type) {
      case 'hello': device = `${e.device.type}${e.device.name ? ` (${e.device.name})` : ''}`; torch = e.torch || null; runtime = e.runtime ?? null; break;
      case 'step': steps.push(e); break;
      case 'hparams': hparams = e; break;
      case 'metric': { const list = metrics.get(e.name) ?? []; list.push(e); metrics.set(e.name, list); break; }
      case 'progress': progress = e; break;
      case 'warning': warnings.push(e.message); break;
      case 'error': errors.push(e); break;
      case 'done': done = e; break;
    }
  }
  const plannedSteps = bundle.plan ? Math.max(...bundle.plan.budget.probeSteps) : bundle.record.steps;
  const status = done ? done.status : bundle.record.status === 'running' ? 'running' : bundle.record.status;
  const scriptName = bundle.record.script.split(/[\\/]/).pop() ?? bundle.record.script;
  return {
    bundle, id: bundle.record.id, scriptName, status, steps, plannedSteps, progress, hparams, device, torch, runtime, metrics,
    warnings: [...bundle.record.warnings.filter((w) => !warnings.includes(w)), ...warnings], errors, done,
  };
}

/** The newest event of a metric, or of a metric at one step. */
export function latest(view: RunView, name: string, step?: number): MetricEvent | undefined {
  const list = view.metrics.get(name) ?? [];
  for (let i = list.length - 1; i >= 0; i--) if (step === undefined || list[i]!.step === step) return list[i];
  return undefined;
}

export function dataArray(m: MetricEvent | undefined, key: string): number[] {
  const v = m?.data?.[key];
  return Array.isArray(v) ? v.map((x) => (typeof x === 'number' ? x : Number.NaN)) : [];
}

export function dataNumber(m: MetricEvent | undefined, key: string): number | undefined {
  const v = m?.data?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function dataString(m: MetricEvent | undefined, key: string): string | undefined {
  const v = m?.data?.[key];
  return typeof v === 'string' ? v : undefined;
}

/** The stability threshold's formula as people write it. */
export function thresholdLabel(rule: string | undefined): string {
  switch (rule) {
    case 'gd': return '2/η';
    case 'momentum': return '(2+2β)/η';
    case 'adam': return '(2+2β₁)/((1−β₁)η)';
    case 'sgd_trace': return '2/η (for tr H)';
    default: return 'threshold';
  }
}
