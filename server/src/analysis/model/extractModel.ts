import type { CallInfo, ClassInfo, FunctionInfo, LoopInfo, ScriptFacts } from '../facts/scriptFacts';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, unparenthesize } from '../syntax/syntaxNode';
import { num, type PyValue, type Resolved } from '../values/pyValue';
import type { ValueResolver } from '../values/valueResolver';
import {
  KERAS_LAYERS, KERAS_OPTIMIZERS, OPTAX_OPTIMIZERS, STEP_SCHEDULE_FACTORIES, TORCH_LAYERS, TORCH_LOSSES,
  TORCH_OPTIMIZER_MODULES, TORCH_OPTIMIZERS, TORCH_SCHEDULERS, SCHEDULER_POSITIONAL, LAYER_POSITIONAL, KERAS_LAYER_POSITIONAL, type OptimizerApi,
} from './apiCatalogue';
import { extractTechniques } from './extractTechniques';
import type {
  DataLoaderModel, Framework, FrameworkLoop, Hyperparameter, LayerModel, LayerSequence, LoopEvent, LossModel,
  OptimizerModel, ParamGroupModel, SchedulerModel, TrainingLoopModel, TrainingScript,
} from './trainingScript';

export interface ExtractionInput {
  readonly facts: ScriptFacts;
  readonly text: string;
  readonly values: ValueResolver;
}

const SCHEDULER_NAME = /sched|lr_?policy|warmup/i;
const OPTIMIZER_NAME = /opt/i;
const SCALER_NAME = /scaler/i;

export function extractModel(input: ExtractionInput): TrainingScript {
  const { facts } = input;
  const frameworks = detectFrameworks(facts);
  const ctx = new Extractor(input);
  const optimizers = ctx.optimizers();
  const schedulers = ctx.schedulers();
  const layers = ctx.layers(frameworks);
  const model: TrainingScript = {
    frameworks,
    optimizers,
    schedulers,
    losses: ctx.losses(),
    layers,
    sequences: ctx.sequences(layers),
    trainingLoops: ctx.trainingLoops(optimizers, schedulers),
    dataLoaders: ctx.dataLoaders(),
    frameworkLoops: ctx.frameworkLoops(),
    moduleClasses: facts.classes.filter((c) => isModuleClass(c)),
    techniques: extractTechniques(facts),
    frameworkHooks: facts.functions.filter((f) => f.cls && FRAMEWORK_HOOKS.has(f.name) && isModuleClass(f.cls, true)),
    hyperparameters: [],
  };
  const hyper: Hyperparameter[] = [];
  const add = (m: ReadonlyMap<string, Hyperparameter>) => { for (const h of m.values()) hyper.push(h); };
  for (const o of model.optimizers) { add(o.hyper); for (const g of o.paramGroups ?? []) add(g.hyper); }
  for (const s of model.schedulers) add(s.hyper);
  for (const l of model.losses) add(l.hyper);
  for (const l of model.layers) add(l.hyper);
  for (const d of model.dataLoaders) add(d.hyper);
  for (const f of model.frameworkLoops) add(ctx.keywordHyper(f.call, f.call.callee.split('.').pop() ?? f.call.callee));
  hyper.sort((a, b) => a.anchor.start - b.anchor.start);
  return { ...model, hyperparameters: hyper };
}

/**
 * The item expressions of an `nn.Sequential(...)` / Keras `Sequential([...])` call, in order:
 * positional items, a list (or `layers=`), an `OrderedDict([...])`, or `*name` where `name` is
 * bound to a list literal in the same function. Undefined when the items cannot be known.
 */
export function sequentialItemNodes(call: CallInfo, facts: ScriptFacts, text: string, keras: boolean): SyntaxNode[] | undefined {
  const listItems = (n: SyntaxNode | undefined) => {
    const list = n ? unparenthesize(n) : undefined;
    return list?.type === 'list' ? list.children.filter((c) => c.named && c.type !== 'comment') : undefined;
  };
  const splat = call.argumentList?.children.filter((c) => c.type === 'list_splat') ?? [];
  if (splat.length > 0) {
    // nn.Sequential(*layers) with `layers = [...]` written out just before.
    if (splat.length !== 1 || call.args.length > 0 || call.keywords.size > 0) return undefined;
    const name = splat[0]!.children.find((c) => c.named);
    if (name?.type !== 'identifier') return undefined;
    const bound = (facts.assignmentsByTarget.get(text.slice(name.start, name.end)) ?? []).filter((a) => a.fn === call.fn && a.op === '=');
    return bound.length === 1 ? listItems(bound[0]!.value) : undefined;
  }
  if (call.hasSplat) return undefined;
  let items: SyntaxNode[] = call.args;
  if (keras || (items.length === 1 && items[0]!.type === 'list')) {
    items = listItems(call.keywords.get('layers') ?? items[0]) ?? [];
  }
  if (items.length === 1 && items[0]!.type === 'call' && facts.callByNode.get(items[0]!)?.name === 'OrderedDict') {
    const list = facts.callByNode.get(items[0]!)!.args[0];
    items = list ? list.children.filter((c) => c.type === 'tuple').map((tp) => tp.children.filter((c) => c.named)[1]).filter((x): x is SyntaxNode => !!x) : [];
  }
  return items;
}

const FRAMEWORK_HOOKS = new Set(['training_step', 'validation_step', 'test_step', 'configure_optimizers', 'compute_loss', 'train_step', 'test_step']);

export function isModuleClass(cls: ClassInfo, frameworkOwnsLoop = false): boolean {
  return cls.qualifiedBases.some((b) =>
    frameworkOwnsLoop
      ? /LightningModule$|(^|\.)Trainer$|keras\.Model$|(^|\.)Model$/.test(b)
      : /(^|\.)(Module|LightningModule|Model|Layer|PreTrainedModel)$/.test(b));
}

function detectFrameworks(facts: ScriptFacts): Framework[] {
  const mods = [...facts.importBindings.values(), ...facts.starImports];
  const has = (re: RegExp) => mods.some((m) => re.test(m));
  const out: Framework[] = [];
  if (has(/^torch(\.|$)/)) out.push('pytorch');
  if (has(/^(tensorflow|keras|tf_keras)(\.|$)/)) out.push('keras');
  if (has(/^(transformers|trl|peft|accelerate)(\.|$)/)) out.push('huggingface');
  if (has(/^(lightning|pytorch_lightning)(\.|$)/)) out.push('lightning');
  if (has(/^(jax|optax|flax)(\.|$)/)) out.push('jax');
  return out;
}

class Extractor {
  private readonly facts: ScriptFacts;
  private readonly text: string;
  private readonly values: ValueResolver;

  constructor(input: ExtractionInput) {
    this.facts = input.facts;
    this.text = input.text;
    this.values = input.values;
  }

  t(n: SyntaxNode | undefined): string {
    return n ? this.text.slice(n.start, n.end) : '';
  }

  /** Hyperparameters of a call: given keywords and positionals, then the API's defaults. */
  hyperOf(call: CallInfo, owner: string, positional: readonly string[], defaults: Readonly<Record<string, unknown>>, positionalOffset: number): Map<string, Hyperparameter> {
    const out = new Map<string, Hyperparameter>();
    positional.forEach((name, i) => {
      const arg = call.args[i + positionalOffset];
      if (arg) out.set(name, { name, owner, resolved: this.values.resolve(arg, call.fn), node: arg, argument: arg, anchor: arg });
    });
    for (const [name, node] of call.keywords) {
      out.set(name, { name, owner, resolved: this.values.resolve(node, call.fn), node, argument: call.keywordNodes.get(name), anchor: call.keywordNodes.get(name) ?? node });
    }
    if (!call.hasSplat) {
      for (const [name, def] of Object.entries(defaults)) {
        if (out.has(name)) continue;
        out.set(name, { name, owner, resolved: defaultValue(def, owner, name, this.values.originOf(call.node)), node: undefined, argument: undefined, anchor: call.node });
      }
    }
    return out;
  }

  keywordHyper(call: CallInfo, owner: string): Map<string, Hyperparameter> {
    return this.hyperOf(call, owner, [], {}, 0);
  }

  /** Names a call's result is assigned to, following one `return` through the script's own function. */
  boundNames(call: CallInfo): string[] {
    const names: string[] = [];
    const direct = this.facts.assignmentByValue.get(call.node);
    if (direct?.targetText) names.push(direct.targetText);
    const stmt = call.statement;
    if (stmt.type === 'return_statement' && call.fn) {
      for (const site of this.facts.callsByName.get(call.fn.name) ?? []) {
        const a = this.facts.assignmentByValue.get(site.node);
        if (a?.targetText) names.push(a.targetText);
      }
    }
    return names;
  }

  optimizerApi(call: CallInfo): OptimizerApi | undefined {
    const q = call.qualified;
    const name = call.name;
    if (/(^|\.)keras\.optimizers\.|^keras\.optimizers|tf\.keras\.optimizers|^tensorflow\.keras\.optimizers|(^|\.)optimizers\.(legacy\.)?[A-Z]/.test(q) && /keras|tensorflow|optimizers/.test(q)) {
      return KERAS_OPTIMIZERS.find((o) => o.className === name);
    }
    if (q.startsWith('optax.')) return OPTAX_OPTIMIZERS.find((o) => o.className === name);
    const api = TORCH_OPTIMIZERS.find((o) => o.className === name);
    if (!api) return undefined;
    const qualifiedTorch = TORCH_OPTIMIZER_MODULES.some((m) => q.startsWith(m.endsWith('.') ? m : `${m}.`));
    const starred = q === name && this.facts.starImports.some((m) => m.startsWith('torch.optim'));
    const ownClass = this.facts.classesByName.has(name);
    if (qualifiedTorch || starred || ((name === 'Muon' || name === 'Lion') && !ownClass && q === name)) {
      // transformers.AdamW is decoupled (deprecated, same semantics as torch's AdamW).
      return api;
    }
    return undefined;
  }

  optimizers(): OptimizerModel[] {
    const out: OptimizerModel[] = [];
    for (const call of this.facts.calls) {
      const api = this.optimizerApi(call);
      if (!api) continue;
      const isTorchLike = api.framework === 'pytorch' || api.framework === 'huggingface';
      const paramsNode = isTorchLike ? call.args[0] ?? call.keywords.get('params') : undefined;
      const hyper = this.hyperOf(call, api.className, api.positional, api.defaults, isTorchLike ? 1 : 0);
      out.push({
        call, api, paramsNode,
        paramGroups: paramsNode ? this.paramGroups(paramsNode, call, api) : undefined,
        hyper, boundTo: this.boundNames(call),
      });
    }
    return out;
  }

  private paramGroups(paramsNode: SyntaxNode, call: CallInfo, api: OptimizerApi): ParamGroupModel[] | undefined {
    let list: SyntaxNode | undefined = unparenthesize(paramsNode);
    let fn = call.fn;
    if (list.type === 'identifier') {
      const name = this.t(list);
      const asg = [...(this.facts.assignmentsByTarget.get(name) ?? [])].reverse().find((a) => (a.fn === fn || a.fn === undefined) && a.node.start < call.node.start && a.op === '=');
      list = asg?.value;
      fn = asg?.fn;
    }
    if (!list || list.type !== 'list') return undefined;
    const dicts = list.children.filter((c) => c.named && c.type !== 'comment');
    if (dicts.length === 0 || !dicts.every((d) => d.type === 'dictionary')) return undefined;
    return dicts.map((d) => {
      const hyper = new Map<string, Hyperparameter>();
      let paramsEntry: SyntaxNode | undefined;
      for (const pair of d.children) {
        if (pair.type !== 'pair') continue;
        const key = this.t(childByField(pair, 'key')).replace(/^['"]|['"]$/g, '');
        const value = childByField(pair, 'value');
        if (!value) continue;
        if (key === 'params') { paramsEntry = value; continue; }
        hyper.set(key, { name: key, owner: `${api.className} param group`, resolved: this.values.resolve(value, fn), node: value, argument: pair, anchor: pair });
      }
      return { node: d, paramsNode: paramsEntry, hyper };
    });
  }

  schedulers(): SchedulerModel[] {
    const out: SchedulerModel[] = [];
    for (const call of this.facts.calls) {
      if (!(call.name in TORCH_SCHEDULERS) && !STEP_SCHEDULE_FACTORIES.has(call.name) && !/Scheduler$|schedule/.test(call.name)) continue;
      const kind = TORCH_SCHEDULERS[call.name];
      const isTorch = kind !== undefined && (call.qualified.includes('lr_scheduler') || (call.qualified === call.name && this.facts.starImports.some((m) => m.includes('lr_scheduler'))));
      const isFactory = STEP_SCHEDULE_FACTORIES.has(call.name) || /^(timm\.scheduler|transformers\.optimization)/.test(call.qualified) && /Scheduler$|schedule/.test(call.name);
      if (!isTorch && !isFactory) continue;
      out.push({
        call, className: call.name, kind: isTorch ? kind! : 'iteration',
        hyper: this.hyperOf(call, call.name, SCHEDULER_POSITIONAL[call.name] ?? [], {}, 1), boundTo: this.boundNames(call),
      });
    }
    return out;
  }

  losses(): LossModel[] {
    const out: LossModel[] = [];
    for (const call of this.facts.calls) {
      const torch = TORCH_LOSSES.has(call.name) && (call.qualified.startsWith('torch.nn.') || call.qualified === call.name && this.facts.starImports.some((m) => m.startsWith('torch.nn')));
      const keras = /keras\.losses\.|^losses\.[A-Z]/.test(call.qualified) && /^[A-Z]/.test(call.name);
      if (!torch && !keras) continue;
      out.push({ call, className: call.name, framework: torch ? 'pytorch' : 'keras', hyper: this.keywordHyper(call, call.name), boundTo: this.boundNames(call) });
    }
    return out;
  }

  layers(frameworks: readonly Framework[]): LayerModel[] {
    const out: LayerModel[] = [];
    for (const call of this.facts.calls) {
      const q = call.qualified;
      let kind = TORCH_LAYERS[call.name];
      let framework: Framework = 'pytorch';
      const torch = kind !== undefined && (q.startsWith('torch.nn.') || (q === call.name && this.facts.starImports.some((m) => m.startsWith('torch.nn'))));
      if (!torch) {
        kind = KERAS_LAYERS[call.name];
        framework = 'keras';
        const keras = kind !== undefined && (/keras\.layers\./.test(q) || (/^layers\./.test(call.callee) && frameworks.includes('keras')) || /^(tensorflow|keras)\..*layers\./.test(q));
        if (!keras) continue;
      }
      const assigned = this.facts.assignmentByValue.get(call.node);
      out.push({ call, className: call.name, kind: kind!, framework, hyper: this.layerHyper(call, framework), boundTo: assigned?.targetText || undefined });
    }
    return out;
  }

  private layerHyper(call: CallInfo, framework: Framework): Map<string, Hyperparameter> {
    const name = call.name;
    const kind = framework === 'pytorch' ? TORCH_LAYERS[name] : KERAS_LAYERS[name];
    if (framework === 'pytorch') {
      if (kind === 'dropout') return this.hyperOf(call, name, ['p', 'inplace'], { p: 0.5 }, 0);
      if (kind === 'batchnorm') return this.hyperOf(call, name, ['num_features', 'eps', 'momentum', 'affine', 'track_running_stats'], { eps: 1e-5, momentum: 0.1 }, 0);
      if (kind === 'linear') return this.hyperOf(call, name, ['in_features', 'out_features', 'bias'], { bias: true }, 0);
      if (kind === 'conv') return this.hyperOf(call, name, ['in_channels', 'out_channels', 'kernel_size', 'stride', 'padding', 'dilation', 'groups', 'bias'], { bias: true }, 0);
      return this.hyperOf(call, name, LAYER_POSITIONAL[name] ?? [], {}, 0);
    }
    if (kind === 'dropout') return this.hyperOf(call, name, ['rate'], {}, 0);
    if (kind === 'batchnorm') return this.hyperOf(call, name, ['axis', 'momentum', 'epsilon'], { momentum: 0.99, epsilon: 1e-3 }, 0);
    if (kind === 'linear') return this.hyperOf(call, name, ['units', 'activation', 'use_bias'], { use_bias: true }, 0);
    return this.hyperOf(call, name, KERAS_LAYER_POSITIONAL[name] ?? [], {}, 0);
  }

  sequences(layers: readonly LayerModel[]): LayerSequence[] {
    const byCall = new Map(layers.map((l) => [l.call.node, l]));
    const out: LayerSequence[] = [];
    for (const call of this.facts.calls) {
      const isTorchSeq = call.name === 'Sequential' && call.qualified.startsWith('torch.nn');
      const isKerasSeq = call.name === 'Sequential' && /keras/.test(call.qualified);
      if (!isTorchSeq && !isKerasSeq) continue;
      const items = sequentialItemNodes(call, this.facts, this.text, isKerasSeq) ?? [];
      const seq = items.map((i) => byCall.get(unparenthesize(i))).filter((l): l is LayerModel => !!l);
      const assigned = this.facts.assignmentByValue.get(call.node);
      out.push({ container: isKerasSeq ? 'keras' : 'sequential', node: call.node, name: assigned?.targetText || 'Sequential', layers: seq });
    }
    for (const cls of this.facts.classes) {
      const init = cls.methods.get('__init__');
      if (!init || !isModuleClass(cls)) continue;
      const seq = layers.filter((l) => l.call.fn === init && l.boundTo?.startsWith('self.') && l.call.statement.parent === init.body);
      if (seq.length > 0) out.push({ container: 'module', node: cls.node, name: cls.name, layers: seq });
    }
    return out;
  }

  dataLoaders(): DataLoaderModel[] {
    const out: DataLoaderModel[] = [];
    for (const call of this.facts.calls) {
      if (call.name !== 'DataLoader' || !(call.qualified.includes('torch.utils.data') || call.qualified === 'DataLoader')) continue;
      const hyper = this.hyperOf(call, 'DataLoader', ['dataset', 'batch_size', 'shuffle', 'sampler'], { batch_size: 1, shuffle: false, drop_last: false }, 0);
      hyper.delete('dataset'); // named only to bind positions: data, not a hyperparameter
      const boundTo = this.boundNames(call);
      const label = `${boundTo.join(' ')} ${this.t(call.args[0] ?? call.keywords.get('dataset'))}`.toLowerCase();
      const role = /val|test|eval|dev|holdout/.test(label) ? 'eval' : /train/.test(label) ? 'train' : 'unknown';
      out.push({ call, hyper, boundTo, role });
    }
    return out;
  }

  frameworkLoops(): FrameworkLoop[] {
    const out: FrameworkLoop[] = [];
    for (const call of this.facts.calls) {
      if (/(^|\.)(Trainer|SFTTrainer|Seq2SeqTrainer|DPOTrainer)$/.test(call.qualified) && /transformers|trl/.test(call.qualified)) out.push({ framework: 'huggingface', call });
      else if (call.name === 'Trainer' && /lightning/.test(call.qualified)) out.push({ framework: 'lightning', call });
      else if (call.name === 'fit' && call.receiver && !/trainer/i.test(call.receiver) && this.facts.callsByName.has('compile')) out.push({ framework: 'keras', call });
    }
    return out;
  }

  // ---------------------------------------------------------------- loops

  trainingLoops(optimizers: readonly OptimizerModel[], schedulers: readonly SchedulerModel[]): TrainingLoopModel[] {
    const optNames = new Set(optimizers.flatMap((o) => o.boundTo));
    const schedNames = new Set(schedulers.flatMap((s) => s.boundTo));
    const classify = (call: CallInfo): LoopEvent['kind'] | undefined => classifyEvent(call, optNames, schedNames);
    const eventsOfFunction = new Map<FunctionInfo, LoopEvent[]>();
    const callsIn = (node: SyntaxNode, fn: FunctionInfo | undefined) =>
      (this.facts.callsByFunction.get(fn) ?? []).filter((c) => node.start <= c.node.start && c.node.end <= node.end);

    const eventsIn = (node: SyntaxNode, fn: FunctionInfo | undefined, depth: number): LoopEvent[] => {
      const events: LoopEvent[] = [];
      for (const call of callsIn(node, fn)) {
        const kind = classify(call);
        if (kind) { events.push({ kind, call }); continue; }
        if (depth > 0) {
          const target = calledScriptFunction(this.facts, call);
          if (target?.body && target !== fn) {
            let sub = eventsOfFunction.get(target);
            if (!sub) { sub = eventsIn(target.body, target, depth - 1); eventsOfFunction.set(target, sub); }
            for (const e of sub) events.push({ ...e, via: [call, ...(e.via ?? [])] });
          }
        }
      }
      return events;
    };

    const out: TrainingLoopModel[] = [];
    for (const loop of this.facts.loops) {
      if (!loop.body) continue;
      const events = eventsIn(loop.body, loop.fn, 2);
      if (!events.some((e) => e.kind === 'backward' || e.kind === 'step')) continue;
      const direct = events.some((e) => (e.kind === 'backward' || e.kind === 'step') && e.call.fn === loop.fn && innermostLoop(e.call) === loop);
      out.push({ loop, events, isStepLoop: direct });
    }
    return out;
  }
}

/**
 * The script's own function a call runs: `train_step(...)` when exactly one function has that
 * name, or `self.train_step(...)` for a method of the calling class.
 */
export function calledScriptFunction(facts: ScriptFacts, call: CallInfo): FunctionInfo | undefined {
  if (!call.receiver) {
    const targets = facts.functionsByName.get(call.callee);
    return targets?.length === 1 ? targets[0] : undefined;
  }
  if (call.receiver === 'self' && call.cls) return call.cls.methods.get(call.name);
  return undefined;
}

function innermostLoop(call: CallInfo): LoopInfo | undefined {
  return call.loops[call.loops.length - 1];
}

export function classifyEvent(call: CallInfo, optNames: ReadonlySet<string>, schedNames: ReadonlySet<string>): LoopEvent['kind'] | undefined {
  const recv = call.receiver ?? '';
  switch (call.name) {
    case 'zero_grad':
      return 'zero_grad';
    case 'zero_':
      return /\.grad(\.data)?$/.test(recv) ? 'zero_grad' : undefined; // p.grad.zero_()
    case 'backward':
      return call.receiver !== undefined ? 'backward' : undefined;
    case 'clip_grad_norm_':
    case 'clip_grad_value_':
    case 'clip_grad_norm':
    case 'clip_grads':
    case 'clip_gradients':
      return 'clip';
    case 'unscale_':
      return 'unscale';
    case 'update':
      return SCALER_NAME.test(recv) && call.args.length === 0 ? 'scaler_update' : undefined;
    case 'eval':
      return call.args.length === 0 && recv !== '' ? 'eval' : undefined;
    case 'train': {
      if (recv === '' || call.args.length > 1 || /trainer/i.test(recv)) return undefined;
      const mode = call.args[0] ?? call.keywords.get('mode');
      return mode?.type === 'false' ? 'eval' : 'train'; // model.train(False) is model.eval()
    }
    case 'step': {
      if (schedNames.has(recv) || (SCHEDULER_NAME.test(recv) && !optNames.has(recv))) return 'scheduler_step';
      if (optNames.has(recv) || SCALER_NAME.test(recv) || OPTIMIZER_NAME.test(recv)) return 'step';
      return undefined;
    }
  }
  return undefined;
}

function defaultValue(def: unknown, owner: string, name: string, origin: Resolved['origin']): Resolved {
  let value: PyValue | undefined;
  if (typeof def === 'number') value = num(def, Number.isInteger(def) && name !== 'lr' && name !== 'weight_decay');
  else if (typeof def === 'boolean') value = { kind: 'bool', value: def };
  else if (def === null) value = { kind: 'none' };
  else if (Array.isArray(def)) value = { kind: 'sequence', items: def.map((d) => defaultValue(d, owner, name, origin)) };
  return { value, source: 'default', origin, detail: `${owner} default` };
}
