/**
 * The script's learning-rate schedule, applied by the surrogate: PyTorch's and Hugging Face's
 * closed forms (pure). `k` counts the `scheduler.step()` calls made before an optimizer step,
 * so the lr of optimizer step s is `lr(k)` with k = s − 1 for a per-step scheduler and the epoch
 * index for a per-epoch one. Schedules that depend on the run (ReduceLROnPlateau) or on user
 * code (LambdaLR) are not rebuilt: the caller states that as an assumption.
 */

export type ScheduleShape =
  | { readonly kind: 'step'; readonly stepSize: number; readonly gamma: number }
  | { readonly kind: 'multistep'; readonly milestones: readonly number[]; readonly gamma: number }
  | { readonly kind: 'exponential'; readonly gamma: number }
  | { readonly kind: 'cosine'; readonly tMax: number; readonly etaMin: number }
  | { readonly kind: 'cosine_restarts'; readonly t0: number; readonly tMult: number; readonly etaMin: number }
  | { readonly kind: 'linear'; readonly startFactor: number; readonly endFactor: number; readonly totalIters: number }
  | { readonly kind: 'constant'; readonly factor: number; readonly totalIters: number }
  | { readonly kind: 'polynomial'; readonly totalIters: number; readonly power: number }
  | { readonly kind: 'onecycle'; readonly maxLr: number; readonly totalSteps: number; readonly pctStart: number; readonly anneal: 'cos' | 'linear'; readonly divFactor: number; readonly finalDivFactor: number; readonly threePhase: boolean }
  | { readonly kind: 'warmup_linear'; readonly warmup: number; readonly total: number }
  | { readonly kind: 'warmup_cosine'; readonly warmup: number; readonly total: number; readonly cycles: number }
  | { readonly kind: 'warmup_constant'; readonly warmup: number };

export interface ScheduleSpec {
  /** The class or factory as the script names it, and its line. */
  readonly className: string;
  readonly line: number;
  /** Whether `scheduler.step()` runs with every optimizer step or once per epoch. */
  readonly per: 'step' | 'epoch';
  readonly shape: ScheduleShape;
}

/** An argument's value: undefined when the script does not pass it, null when it does but the value is not known statically. */
type Arg = (name: string) => number | readonly number[] | string | boolean | null | undefined;

/** The schedule's shape from its resolved arguments; an error string names what is missing. */
export function scheduleShape(className: string, arg: Arg): ScheduleShape | string {
  const n = (name: string, fallback?: number): number => {
    const v = arg(name);
    if (typeof v === 'number') return v;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (fallback !== undefined && v === undefined) return fallback;
    throw new Error(`its ${name} is not known statically`);
  };
  try {
    switch (className) {
      case 'StepLR': return { kind: 'step', stepSize: n('step_size'), gamma: n('gamma', 0.1) };
      case 'MultiStepLR': {
        const m = arg('milestones');
        if (!Array.isArray(m)) throw new Error('its milestones are not known statically');
        return { kind: 'multistep', milestones: [...(m as number[])].sort((a, b) => a - b), gamma: n('gamma', 0.1) };
      }
      case 'ExponentialLR': return { kind: 'exponential', gamma: n('gamma') };
      case 'CosineAnnealingLR': return { kind: 'cosine', tMax: n('T_max'), etaMin: n('eta_min', 0) };
      case 'CosineAnnealingWarmRestarts': return { kind: 'cosine_restarts', t0: n('T_0'), tMult: n('T_mult', 1), etaMin: n('eta_min', 0) };
      case 'LinearLR': return { kind: 'linear', startFactor: n('start_factor', 1 / 3), endFactor: n('end_factor', 1), totalIters: n('total_iters', 5) };
      case 'ConstantLR': return { kind: 'constant', factor: n('factor', 1 / 3), totalIters: n('total_iters', 5) };
      case 'PolynomialLR': return { kind: 'polynomial', totalIters: n('total_iters', 5), power: n('power', 1) };
      case 'OneCycleLR': {
        const maxLr = arg('max_lr');
        if (typeof maxLr !== 'number') throw new Error('its max_lr is not known statically (one value for every group is needed)');
        const total = arg('total_steps') !== undefined ? n('total_steps') : n('epochs') * n('steps_per_epoch');
        const anneal = arg('anneal_strategy') ?? 'cos';
        return { kind: 'onecycle', maxLr, totalSteps: total, pctStart: n('pct_start', 0.3), anneal: anneal === 'linear' ? 'linear' : 'cos', divFactor: n('div_factor', 25), finalDivFactor: n('final_div_factor', 1e4), threePhase: n('three_phase', 0) !== 0 };
      }
      case 'get_linear_schedule_with_warmup': return { kind: 'warmup_linear', warmup: n('num_warmup_steps'), total: n('num_training_steps') };
      case 'get_cosine_schedule_with_warmup': return { kind: 'warmup_cosine', warmup: n('num_warmup_steps'), total: n('num_training_steps'), cycles: n('num_cycles', 0.5) };
      case 'get_constant_schedule_with_warmup': return { kind: 'warmup_constant', warmup: n('num_warmup_steps') };
      default: return `${className} is not rebuilt (it depends on the run or on the script's own code)`;
    }
  } catch (e) {
    return `${className}: ${(e as Error).message}`;
  }
}

/** The learning rate after `k` scheduler steps, for a base (initial) learning rate. */
export function scheduledLr(shape: ScheduleShape, baseLr: number, k: number): number {
  const cosine = (from: number, to: number, pct: number): number => to + ((from - to) / 2) * (1 + Math.cos(Math.PI * pct));
  switch (shape.kind) {
    case 'step': return baseLr * shape.gamma ** Math.floor(k / shape.stepSize);
    case 'multistep': return baseLr * shape.gamma ** shape.milestones.filter((m) => m <= k).length;
    case 'exponential': return baseLr * shape.gamma ** k;
    case 'cosine': return shape.etaMin + ((baseLr - shape.etaMin) * (1 + Math.cos((Math.PI * k) / shape.tMax))) / 2;
    case 'cosine_restarts': {
      let t = k, period = shape.t0;
      if (shape.tMult === 1) t = k % period;
      else while (t >= period) { t -= period; period *= shape.tMult; }
      return shape.etaMin + ((baseLr - shape.etaMin) * (1 + Math.cos((Math.PI * t) / period))) / 2;
    }
    case 'linear': {
      const frac = Math.min(k, shape.totalIters) / shape.totalIters;
      return baseLr * (shape.startFactor + (shape.endFactor - shape.startFactor) * frac);
    }
    case 'constant': return baseLr * (k < shape.totalIters ? shape.factor : 1);
    case 'polynomial': return baseLr * (1 - Math.min(k, shape.totalIters) / shape.totalIters) ** shape.power;
    case 'onecycle': {
      // OneCycleLR sets the lr itself: base = max_lr/div_factor, floor = base/final_div_factor.
      const initial = shape.maxLr / shape.divFactor;
      const floor = initial / shape.finalDivFactor;
      const anneal = shape.anneal === 'cos' ? cosine : (from: number, to: number, pct: number) => from + (to - from) * pct;
      const up = shape.pctStart * shape.totalSteps - 1;
      const phases = shape.threePhase
        ? [{ end: up, from: initial, to: shape.maxLr }, { end: 2 * up, from: shape.maxLr, to: initial }, { end: shape.totalSteps - 1, from: initial, to: floor }]
        : [{ end: up, from: initial, to: shape.maxLr }, { end: shape.totalSteps - 1, from: shape.maxLr, to: floor }];
      let start = 0;
      for (const [i, p] of phases.entries()) {
        if (k <= p.end || i === phases.length - 1) return anneal(p.from, p.to, Math.min(1, (k - start) / (p.end - start)));
        start = p.end;
      }
      return floor;
    }
    case 'warmup_linear':
      return baseLr * (k < shape.warmup ? k / Math.max(1, shape.warmup) : Math.max(0, (shape.total - k) / Math.max(1, shape.total - shape.warmup)));
    case 'warmup_cosine': {
      if (k < shape.warmup) return (baseLr * k) / Math.max(1, shape.warmup);
      const progress = (k - shape.warmup) / Math.max(1, shape.total - shape.warmup);
      return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * shape.cycles * 2 * progress)));
    }
    case 'warmup_constant': return baseLr * (k < shape.warmup ? k / Math.max(1, shape.warmup) : 1);
  }
}

/** A one-line description for the run's notes: `StepLR (line 31, per epoch): lr 0.1 → 0.01 over …`. */
export function describeSchedule(s: ScheduleSpec, baseLr: number, steps: number, stepsPerEpoch: number | undefined): string {
  const last = scheduledLr(s.shape, baseLr, s.per === 'step' ? steps - 1 : Math.floor((steps - 1) / (stepsPerEpoch ?? Infinity)));
  const first = scheduledLr(s.shape, baseLr, 0);
  const per = s.per === 'step' ? 'stepped with every optimizer step' : stepsPerEpoch ? `stepped once per epoch of ${stepsPerEpoch} steps` : 'stepped once per epoch; the probe stays in the first epoch';
  return `${s.className} (line ${s.line}, ${per}) is applied: lr ${first.toPrecision(3)} at step 1, ${last.toPrecision(3)} at step ${steps}`;
}
