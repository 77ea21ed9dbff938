/**
 * The script's optimizer with PyTorch's update rules, on a flat float64 parameter vector (pure).
 * SGD (momentum, dampening, Nesterov, L2 weight decay), Adam (L2), AdamW (decoupled decay),
 * RMSprop (L2); Keras's variants (decay decoupled in every optimizer, Adam's ε before bias
 * correction) by the spec's flags. `preconditioner` gives Adam's and RMSprop's diagonal 1/(√v̂ + ε), for the
 * preconditioned sharpness the stability rule compares.
 */
import type { OptimizerSpec } from './surrogateSpec';

export class Optimizer {
  private step = 0;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private started = false;

  /** Weight decay per parameter (param groups); the spec's single value when absent. */
  private readonly decay: Float64Array;

  constructor(readonly spec: OptimizerSpec, n: number, public lr: number = spec.lr, decay?: Float64Array) {
    this.m = new Float64Array(n);
    this.v = new Float64Array(n);
    this.decay = decay ?? new Float64Array(n).fill(spec.weightDecay);
  }

  get steps(): number {
    return this.step;
  }

  /** θ ← update(θ, g), in place. */
  apply(theta: Float64Array, grad: Float64Array): void {
    const s = this.spec;
    const lr = this.lr;
    this.step++;
    const n = theta.length;
    switch (s.kind) {
      case 'sgd': {
        for (let i = 0; i < n; i++) {
          if (s.decoupledDecay) theta[i]! *= 1 - lr * this.decay[i]!;
          let g = grad[i]! + (s.decoupledDecay ? 0 : this.decay[i]! * theta[i]!);
          if (s.momentum !== 0) {
            this.m[i] = this.started ? s.momentum * this.m[i]! + (1 - s.dampening) * g : g;
            g = s.nesterov ? g + s.momentum * this.m[i]! : this.m[i]!;
          }
          theta[i]! -= lr * g;
        }
        this.started = true;
        break;
      }
      case 'adam':
      case 'adamw': {
        const c1 = 1 - s.beta1 ** this.step;
        const c2 = 1 - s.beta2 ** this.step;
        const eps = s.epsBeforeCorrection ? s.eps / Math.sqrt(c2) : s.eps;
        for (let i = 0; i < n; i++) {
          let g = grad[i]!;
          if (s.kind === 'adamw' || s.decoupledDecay) theta[i]! *= 1 - lr * this.decay[i]!;
          else g += this.decay[i]! * theta[i]!;
          this.m[i] = s.beta1 * this.m[i]! + (1 - s.beta1) * g;
          this.v[i] = s.beta2 * this.v[i]! + (1 - s.beta2) * g * g;
          theta[i]! -= (lr * (this.m[i]! / c1)) / (Math.sqrt(this.v[i]! / c2) + eps);
        }
        break;
      }
      case 'rmsprop': {
        for (let i = 0; i < n; i++) {
          if (s.decoupledDecay) theta[i]! *= 1 - lr * this.decay[i]!;
          const g = grad[i]! + (s.decoupledDecay ? 0 : this.decay[i]! * theta[i]!);
          this.v[i] = s.alpha * this.v[i]! + (1 - s.alpha) * g * g;
          theta[i]! -= (lr * g) / (Math.sqrt(this.v[i]!) + s.eps);
        }
        break;
      }
    }
  }

  /** Adam's / RMSprop's diagonal preconditioner 1/(√v̂ + ε); undefined for SGD. */
  preconditioner(): Float64Array | undefined {
    const s = this.spec;
    if (s.kind === 'sgd' || this.step === 0) return undefined;
    const c2 = s.kind === 'rmsprop' ? 1 : 1 - s.beta2 ** this.step;
    const eps = s.epsBeforeCorrection && s.kind !== 'rmsprop' ? s.eps / Math.sqrt(c2) : s.eps;
    return this.v.map((v) => 1 / (Math.sqrt(v / c2) + eps));
  }
}

/** The stability threshold of an optimizer (docs/probes.md), with the rule's name. */
export function stabilityThreshold(spec: OptimizerSpec, lr: number): { rule: 'gd' | 'momentum' | 'adam'; threshold: number; beta?: number } {
  if (spec.kind === 'sgd') {
    return spec.momentum > 0 ? { rule: 'momentum', threshold: (2 + 2 * spec.momentum) / lr, beta: spec.momentum } : { rule: 'gd', threshold: 2 / lr };
  }
  const b1 = spec.kind === 'rmsprop' ? 0 : spec.beta1;
  return { rule: 'adam', threshold: (2 + 2 * b1) / ((1 - b1) * lr), beta: b1 };
}
