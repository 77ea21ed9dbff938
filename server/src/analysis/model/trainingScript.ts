import type { CallInfo, ClassInfo, FunctionInfo, LoopInfo } from '../facts/scriptFacts';
import type { SyntaxNode } from '../syntax/syntaxNode';
import type { Resolved } from '../values/pyValue';
import type { LayerKind, OptimizerApi, SchedulerKind } from './apiCatalogue';

export type Framework = 'pytorch' | 'keras' | 'huggingface' | 'lightning' | 'jax';

/** One hyperparameter as the script sets it (or the library default when it does not). */
export interface Hyperparameter {
  readonly name: string;
  /** What it belongs to: `AdamW`, `CrossEntropyLoss`, `DataLoader`, `TrainingArguments`. */
  readonly owner: string;
  readonly resolved: Resolved;
  /** The argument's value expression; undefined when the library default applies. */
  readonly node: SyntaxNode | undefined;
  /** The whole `name=value` argument (or the positional expression), for edits. */
  readonly argument: SyntaxNode | undefined;
  /** Where a finding about it goes: the argument, or the call when it is implicit. */
  readonly anchor: SyntaxNode;
}

export interface ParamGroupModel {
  readonly node: SyntaxNode;
  readonly paramsNode: SyntaxNode | undefined;
  readonly hyper: ReadonlyMap<string, Hyperparameter>;
}

export interface OptimizerModel {
  readonly call: CallInfo;
  readonly api: OptimizerApi;
  /** The params argument (`model.parameters()`, a list of group dicts, a variable). */
  readonly paramsNode: SyntaxNode | undefined;
  /** Set when the params argument is (or is bound to) a list of dict literals. */
  readonly paramGroups: readonly ParamGroupModel[] | undefined;
  readonly hyper: ReadonlyMap<string, Hyperparameter>;
  /** Names the optimizer is bound to (`optimizer`, `self.opt`). */
  readonly boundTo: readonly string[];
}

export interface SchedulerModel {
  readonly call: CallInfo;
  readonly className: string;
  readonly kind: SchedulerKind;
  readonly hyper: ReadonlyMap<string, Hyperparameter>;
  readonly boundTo: readonly string[];
}

export interface LossModel {
  readonly call: CallInfo;
  readonly className: string;
  readonly framework: Framework;
  readonly hyper: ReadonlyMap<string, Hyperparameter>;
  readonly boundTo: readonly string[];
}

export interface LayerModel {
  readonly call: CallInfo;
  readonly className: string;
  readonly kind: LayerKind;
  readonly framework: Framework;
  readonly hyper: ReadonlyMap<string, Hyperparameter>;
  /** The attribute or variable the layer is stored in (`self.drop`, `fc1`), if any. */
  readonly boundTo: string | undefined;
}

/** Layers in the order a container defines them: one `nn.Sequential`, `__init__` or Keras model. */
export interface LayerSequence {
  readonly container: 'sequential' | 'module' | 'keras';
  readonly node: SyntaxNode;
  readonly name: string;
  readonly layers: readonly LayerModel[];
}

export type LoopEventKind = 'zero_grad' | 'backward' | 'step' | 'clip' | 'unscale' | 'scaler_update' | 'scheduler_step' | 'eval' | 'train';

export interface LoopEvent {
  readonly kind: LoopEventKind;
  readonly call: CallInfo;
  /**
   * For an event inside a script function called from the loop: the call sites that lead to it,
   * outermost first (`via[0]` is the call in the loop's own body). Undefined for direct events.
   */
  readonly via?: readonly CallInfo[];
}

/** A loop that runs optimizer steps (directly or through a function it calls). */
export interface TrainingLoopModel {
  readonly loop: LoopInfo;
  /** Events in source order inside this loop's body (nested loops and called functions included). */
  readonly events: readonly LoopEvent[];
  /** True when backward/step happen directly in this loop, not in a nested loop. */
  readonly isStepLoop: boolean;
}

export interface DataLoaderModel {
  readonly call: CallInfo;
  readonly hyper: ReadonlyMap<string, Hyperparameter>;
  readonly boundTo: readonly string[];
  readonly role: 'train' | 'eval' | 'unknown';
}

export interface FrameworkLoop {
  readonly framework: Framework;
  /** `Trainer(...)`, `model.fit(...)`, `pl.Trainer(...)`. */
  readonly call: CallInfo;
}

export type TechniqueKind =
  | 'seed' | 'mixup' | 'cutmix' | 'label_smoothing' | 'distillation' | 'early_stopping' | 'augmentation'
  | 'ema' | 'amp' | 'gradient_clipping' | 'gradient_accumulation';

/** A training or regularization technique the script turns on, and the call that does it. */
export interface TechniqueModel {
  readonly kind: TechniqueKind;
  readonly call: CallInfo;
  readonly detail: string;
}

export interface TrainingScript {
  readonly frameworks: readonly Framework[];
  readonly optimizers: readonly OptimizerModel[];
  readonly schedulers: readonly SchedulerModel[];
  readonly losses: readonly LossModel[];
  readonly layers: readonly LayerModel[];
  readonly sequences: readonly LayerSequence[];
  readonly trainingLoops: readonly TrainingLoopModel[];
  readonly dataLoaders: readonly DataLoaderModel[];
  readonly frameworkLoops: readonly FrameworkLoop[];
  /** Classes that subclass a framework module (nn.Module, LightningModule, keras.Model). */
  readonly moduleClasses: readonly ClassInfo[];
  /** Functions a framework calls for the user (`training_step`, `compute_loss`, `train_step`). */
  readonly frameworkHooks: readonly FunctionInfo[];
  /** Seeds, mixup/cutmix, label smoothing, distillation, early stopping, augmentation, EMA, AMP … */
  readonly techniques: readonly TechniqueModel[];
  /** Every hyperparameter found, for `inspect`, hovers and inlay hints. */
  readonly hyperparameters: readonly Hyperparameter[];
}
