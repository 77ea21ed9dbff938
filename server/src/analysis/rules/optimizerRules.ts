import type { CallInfo, ClassInfo, FunctionInfo } from '../facts/scriptFacts';
import type { Fix, TextEdit } from '../findings';
import { KERAS_OPTIMIZERS, type OptimizerFamily } from '../model/apiCatalogue';
import type { Hyperparameter, OptimizerModel } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, unparenthesize } from '../syntax/syntaxNode';
import { asNumber, asNumbers, asString, formatNumber } from '../values/pyValue';
import { describe, numberOf } from './ruleHelpers';
import type { RuleContext, RuleSpec } from './ruleSpec';
import {
  accumulationFactor, appendArgument, argumentHyper, assignedValue, codeWithoutComments, explicitLrUses, hfModelCalls, hyperSites, isDefault, lrSites,
  optimizersSteppedOnData, schedulerOptimizerNode, trainingArgumentsCalls, transformerEvidence, warmupEvidence,
} from './trainingSetup';

// ---------------------------------------------------------------- shared helpers

const ADAM_FAMILY: ReadonlySet<OptimizerFamily> = new Set(['adam', 'adamw']);

const FAMILY_LABEL: Readonly<Record<string, string>> = {
  sgd: 'SGD', adam: 'Adam-family', adamw: 'Adam-family', rmsprop: 'RMSprop', adagrad: 'Adagrad', adadelta: 'Adadelta',
  lion: 'Lion', muon: 'Muon',
};

interface BetaSite {
  readonly beta1: number | undefined;
  readonly beta2: number | undefined;
  /** What to show the user: `betas=(0.9, 0.999)` or `beta_2=0.999`. */
  readonly text1: string;
  readonly text2: string;
  readonly anchor1: SyntaxNode;
  readonly anchor2: SyntaxNode;
  readonly explicit: boolean;
  /** The tuple hyperparameter (PyTorch) or the two separate ones (Keras, Optax). */
  readonly tuple: Hyperparameter | undefined;
  readonly h2: Hyperparameter | undefined;
}

const BETA_KEYS: Readonly<Record<string, [string, string]>> = { keras: ['beta_1', 'beta_2'], jax: ['b1', 'b2'] };

function betaSites(opt: OptimizerModel): BetaSite[] {
  const split = BETA_KEYS[opt.api.framework];
  if (split) {
    const h1 = opt.hyper.get(split[0]);
    const h2 = opt.hyper.get(split[1]);
    if (!h1 && !h2) return [];
    const anchor = opt.call.node;
    return [{
      beta1: numberOf(h1), beta2: numberOf(h2),
      text1: h1 ? `${split[0]}=${describe(h1)}` : '', text2: h2 ? `${split[1]}=${describe(h2)}` : '',
      anchor1: h1?.anchor ?? anchor, anchor2: h2?.anchor ?? anchor,
      explicit: !isDefault(h1) || !isDefault(h2), tuple: undefined, h2,
    }];
  }
  return hyperSites(opt, 'betas').flatMap(({ hyper }) => {
    const values = asNumbers(hyper.resolved);
    if (!values || values.length !== 2) return [];
    const text = `betas=${describe(hyper)}`;
    return [{
      beta1: values[0], beta2: values[1], text1: text, text2: text, anchor1: hyper.anchor, anchor2: hyper.anchor,
      explicit: !isDefault(hyper), tuple: hyper, h2: undefined,
    }];
  });
}

/** `TrainingArguments(adam_beta1=..., adam_beta2=...)`, defaults 0.9 / 0.999 when not given. */
function trainingArgumentsBetas(ctx: RuleContext): (BetaSite & { call: CallInfo })[] {
  return trainingArgumentsCalls(ctx).flatMap((call) => {
    if (call.hasSplat && !call.keywords.has('adam_beta1') && !call.keywords.has('adam_beta2')) return [];
    const h1 = argumentHyper(ctx, call, 'adam_beta1');
    const h2 = argumentHyper(ctx, call, 'adam_beta2');
    return [{
      call, beta1: h1 ? numberOf(h1) : 0.9, beta2: h2 ? numberOf(h2) : 0.999,
      text1: h1 ? `adam_beta1=${describe(h1)}` : 'adam_beta1=0.9 (TrainingArguments default)',
      text2: h2 ? `adam_beta2=${describe(h2)}` : 'adam_beta2=0.999 (TrainingArguments default)',
      anchor1: h1?.anchor ?? call.node, anchor2: h2?.anchor ?? call.node,
      explicit: !!(h1 || h2), tuple: undefined, h2,
    }];
  });
}

/** `model` in `model.parameters()` (through a variable, `list(...)`, a comprehension or `filter`). */
function paramsOwner(ctx: RuleContext, node: SyntaxNode | undefined, fn: FunctionInfo | undefined, depth = 0): string | undefined {
  if (!node || depth > 6) return undefined;
  const n = unparenthesize(node);
  if (n.type === 'identifier') {
    const asg = assignedValue(ctx, ctx.text_(n), fn);
    return asg ? paramsOwner(ctx, asg.value, asg.fn, depth + 1) : undefined;
  }
  if (n.type === 'list_comprehension' || n.type === 'generator_expression') {
    const clause = n.children.find((c) => c.type === 'for_in_clause');
    return paramsOwner(ctx, clause ? childByField(clause, 'right') : undefined, fn, depth + 1);
  }
  if (n.type === 'list' || n.type === 'tuple') {
    // Param groups: every group's params must come from the same module.
    const owners = new Set<string | undefined>();
    for (const item of n.children.filter((c) => c.named && c.type !== 'comment')) {
      const params = item.type === 'dictionary' ? item.children.find((p) => p.type === 'pair' && /^['"]params['"]$/.test(ctx.text_(childByField(p, 'key')))) : undefined;
      owners.add(params ? paramsOwner(ctx, childByField(params, 'value'), fn, depth + 1) : undefined);
    }
    return owners.size === 1 ? [...owners][0] : undefined;
  }
  if (n.type !== 'call') return undefined;
  const call = ctx.facts.callByNode.get(n);
  if (!call) return undefined;
  if ((call.name === 'parameters' || call.name === 'named_parameters') && call.receiver) return call.receiver;
  if (call.name === 'list' && call.args[0]) return paramsOwner(ctx, call.args[0], fn, depth + 1);
  if (call.name === 'filter' && call.args[1]) return paramsOwner(ctx, call.args[1], fn, depth + 1);
  return undefined;
}

/** Replace a hyperparameter's value, or add it as a keyword when the library default applies. */
function setValueEdit(ctx: RuleContext, opt: OptimizerModel, h: Hyperparameter | undefined, key: string, value: string): TextEdit | undefined {
  if (h?.node) return ctx.replace(h.node, value);
  if (opt.call.hasSplat) return undefined;
  return appendArgument(ctx, opt.call, `${key}=${value}`);
}

function fixOf(title: string, safe: boolean, edits: readonly (TextEdit | undefined)[]): Fix[] {
  return edits.every((e): e is TextEdit => e !== undefined) && edits.length > 0 ? [{ title, safe, edits }] : [];
}

// ---------------------------------------------------------------- OPT001

/** The smallest positive fp16 number; anything below rounds to 0. */
const FP16_MIN_SUBNORMAL = 6e-8;
const FP16_SAFE_EPS = 1e-4;

const FP16_DTYPE = /\b(torch\.)?(float16|half)\b|['"](fp16|float16|half)['"]/;

/** Why the parameters an optimizer updates are fp16, or undefined. */
function fp16Evidence(ctx: RuleContext, opt: OptimizerModel): string | undefined {
  for (const call of ctx.facts.callsByName.get('set_default_dtype') ?? []) {
    if (call.args[0] && FP16_DTYPE.test(ctx.text_(call.args[0]))) return `${ctx.text_(call.node)} makes every new parameter fp16`;
  }
  const owner = paramsOwner(ctx, opt.paramsNode, opt.call.fn);
  if (!owner) return undefined;
  const assignedTo = (call: CallInfo): boolean =>
    (ctx.facts.assignmentsByTarget.get(owner) ?? []).some((a) => a.targetText === owner && a.value !== undefined && a.value.start <= call.node.start && call.node.end <= a.value.end && a.node.start < opt.call.node.start);
  const isOwner = (call: CallInfo): boolean => (call.receiver === owner || assignedTo(call)) && runsUnconditionally(ctx, call);
  for (const call of ctx.facts.callsByName.get('half') ?? []) {
    if (call.args.length === 0 && isOwner(call) && call.loops.length === 0) return `.half() casts ${owner} to fp16 (line ${ctx.lines.positionAt(call.node.start).line + 1})`;
  }
  for (const call of ctx.facts.callsByName.get('to') ?? []) {
    const dtypeArg = [...call.args, ...call.keywords.values()].find((a) => FP16_DTYPE.test(ctx.text_(a)));
    if (dtypeArg && isOwner(call) && call.loops.length === 0) return `.to(${ctx.text_(dtypeArg)}) casts ${owner} to fp16 (line ${ctx.lines.positionAt(call.node.start).line + 1})`;
  }
  for (const { call } of hfModelCalls(ctx)) {
    const dtype = call.keywords.get('torch_dtype') ?? call.keywords.get('dtype');
    if (dtype && FP16_DTYPE.test(ctx.text_(dtype)) && assignedTo(call) && runsUnconditionally(ctx, call)) return `${owner} is loaded with ${ctx.text_(call.keywordNodes.get('torch_dtype') ?? call.keywordNodes.get('dtype') ?? dtype)}`;
  }
  return undefined;
}

/** False when the call sits under an `if` / `else` whose condition is not known to hold (`if args.fp16:`). */
function runsUnconditionally(ctx: RuleContext, call: CallInfo): boolean {
  for (let p = call.node.parent; p && p.type !== 'function_definition' && p.type !== 'module'; p = p.parent) {
    if (p.type === 'else_clause' || p.type === 'elif_clause' || p.type === 'except_clause' || p.type === 'conditional_expression') return false;
    if (p.type !== 'if_statement') continue;
    const cond = childByField(p, 'condition');
    if (!cond || call.node.start < (childByField(p, 'consequence')?.start ?? p.end)) continue;
    if (/__name__\s*==\s*['"]__main__['"]/.test(ctx.text_(cond))) continue;
    const r = ctx.values.resolve(cond, call.fn);
    if (!(r.value?.kind === 'bool' && r.value.value)) return false;
  }
  return true;
}

const OPT001: RuleSpec = {
  id: 'OPT001', title: 'Adam epsilon underflows in fp16', family: 'OPT', severity: 'error', fix: 'unsafe',
  reference: 'pytorch/pytorch#147437 (Adam eps below the fp16 subnormal range)',
  check(ctx) {
    const min = FP16_MIN_SUBNORMAL;
    const fixed = FP16_SAFE_EPS;
    for (const opt of ctx.model.optimizers) {
      if (opt.api.framework !== 'pytorch' || !opt.api.adaptive) continue;
      const eps = opt.hyper.get('eps');
      const value = numberOf(eps);
      if (!eps || value === undefined || value >= min || value < 0) continue;
      const why = fp16Evidence(ctx, opt);
      if (!why) continue;
      const name = opt.api.className;
      ctx.report({
        node: eps.anchor,
        message: `${name} eps=${describe(eps)} is below the smallest fp16 number (${formatNumber(min)}), and ${why}: with fp16 optimizer state eps rounds to 0, so v̂ = 0 entries divide by zero and give inf/NaN updates. Use eps=${formatNumber(fixed)} for fp16 parameters, or keep fp32 master weights (autocast + GradScaler).`,
        related: [{ node: opt.call.node, message: `${name} optimizer` }],
        fixes: fixOf(`Set eps=${formatNumber(fixed)} (fp16-safe; changes training dynamics)`, false, [setValueEdit(ctx, opt, eps, 'eps', formatNumber(fixed))]),
      });
    }
  },
};

// ---------------------------------------------------------------- OPT002

/** Why the script pretrains a causal language model from scratch, or undefined. */
function llmPretrainingEvidence(ctx: RuleContext): string | undefined {
  const hf = hfModelCalls(ctx);
  if (hf.some((h) => h.pretrained)) return undefined; // fine-tuning
  const causal = hf.find((h) => /CausalLM|LMHeadModel/.test(h.cls));
  if (causal) return `${causal.cls} is built from its config (pretraining)`;
  const hasEmbedding = ctx.model.layers.some((l) => l.kind === 'embedding');
  if (!hasEmbedding || !transformerEvidence(ctx)) return undefined;
  const code = codeWithoutComments(ctx);
  if (/is_causal\s*=\s*True|\btril\s*\(|\blm_head\b|generate_square_subsequent_mask|CausalSelfAttention/.test(code)) return 'the script defines a causal language model (embedding, attention, causal mask / lm_head)';
  return undefined;
}

const OPT002: RuleSpec = {
  id: 'OPT002', title: 'LLM pretraining with beta2 = 0.999', family: 'OPT', severity: 'information', fix: 'unsafe',
  reference: 'Language Models are Few-Shot Learners (GPT-3); LLaMA (beta2 = 0.95)',
  check(ctx) {
    const min = 0.999;
    const suggested = 0.95;
    let why: string | undefined | null = null;
    for (const opt of ctx.model.optimizers) {
      if (!ADAM_FAMILY.has(opt.api.family)) continue;
      for (const site of betaSites(opt)) {
        if (site.beta2 === undefined || site.beta2 < min || site.beta2 >= 1) continue;
        if (why === null) why = llmPretrainingEvidence(ctx);
        if (!why) return;
        let edit: TextEdit | undefined;
        if (site.tuple) {
          const tuple = site.tuple.node ? unparenthesize(site.tuple.node) : undefined;
          const items = tuple && (tuple.type === 'tuple' || tuple.type === 'list') ? tuple.children.filter((c) => c.named && c.type !== 'comment') : [];
          if (items.length === 2) edit = ctx.replace(items[1]!, formatNumber(suggested));
          else if (!site.tuple.node) edit = setValueEdit(ctx, opt, site.tuple, 'betas', `(${formatNumber(site.beta1 ?? 0.9)}, ${formatNumber(suggested)})`);
        } else {
          edit = setValueEdit(ctx, opt, site.h2, opt.api.framework === 'keras' ? 'beta_2' : 'b2', formatNumber(suggested));
        }
        ctx.report({
          node: site.anchor2,
          message: `${opt.api.className} ${site.text2} in LLM pretraining (${why}): with beta2 this close to 1 the second-moment estimate averages ~1000 steps or more and lags behind sudden gradient growth, a known source of loss spikes at scale. GPT-3 and LLaMA use beta2 = ${formatNumber(suggested)}.`,
          fixes: fixOf(`Set beta2=${formatNumber(suggested)} (changes training dynamics)`, false, [edit]),
        });
      }
    }
    // Hugging Face Trainer builds its own AdamW from TrainingArguments.
    if (ctx.model.optimizers.length > 0) return;
    for (const site of trainingArgumentsBetas(ctx)) {
      if (site.beta2 === undefined || site.beta2 < min || site.beta2 >= 1) continue;
      if (why === null) why = llmPretrainingEvidence(ctx);
      if (!why) return;
      const edit = site.h2?.node ? ctx.replace(site.h2.node, formatNumber(suggested)) : site.call.hasSplat ? undefined : appendArgument(ctx, site.call, `adam_beta2=${formatNumber(suggested)}`);
      ctx.report({
        node: site.anchor2,
        range: site.h2 ? undefined : ctx.firstLineRange(site.call.node),
        message: `${site.call.name} ${site.text2} in LLM pretraining (${why}): with beta2 this close to 1 the second-moment estimate averages ~1000 steps or more and lags behind sudden gradient growth, a known source of loss spikes at scale. GPT-3 and LLaMA use beta2 = ${formatNumber(suggested)}.`,
        fixes: fixOf(`Set adam_beta2=${formatNumber(suggested)} (changes training dynamics)`, false, [edit]),
      });
    }
  },
};

// ---------------------------------------------------------------- OPT003

const DEEP_CONSTRUCTOR = /^(torchvision\.models\.|keras\.applications\.|tensorflow\.keras\.applications\.|tf\.keras\.applications\.)|^timm\.create_model$/;

/** Why the model is deep (a known deep architecture, or many weight layers), or undefined. */
function deepNetEvidence(ctx: RuleContext, minLayers: number): string | undefined {
  for (const call of ctx.facts.calls) {
    if (DEEP_CONSTRUCTOR.test(call.qualified) && /^[a-zA-Z]/.test(call.name) && call.name !== 'get_weights') return `${call.callee}()`;
  }
  const hf = hfModelCalls(ctx)[0];
  if (hf) return `a Hugging Face ${hf.cls}`;
  const weighted = modelDepth(ctx, minLayers);
  return weighted >= minLayers ? `${weighted >= 99 ? 'many' : weighted}+ weight layers` : undefined;
}

/**
 * Weight layers (linear, conv, recurrent; a transformer stack counts as deep) of the deepest model
 * the script defines: a module class counts its own layers plus those of the module classes it
 * instantiates, four times over when it builds them in a loop or comprehension.
 */
function modelDepth(ctx: RuleContext, transformerWeight: number): number {
  const classes = new Map(ctx.model.moduleClasses.map((c) => [c.name, c]));
  const memo = new Map<string, number>();
  const repeated = (call: CallInfo) => call.loops.length > 0 || inComprehension(call.node);
  const own = (cls: ClassInfo | undefined, fnFilter: (c: CallInfo) => boolean): number => {
    let w = 0;
    for (const l of ctx.model.layers) {
      if (l.call.cls !== cls || !fnFilter(l.call)) continue;
      if (l.kind === 'transformer') w += transformerWeight;
      else if (l.kind === 'linear' || l.kind === 'conv' || l.kind === 'rnn') w += repeated(l.call) ? 4 : 1;
    }
    for (const [name, sub] of classes) {
      if (sub === cls) continue;
      for (const call of ctx.facts.callsByName.get(name) ?? []) {
        if (call.cls !== cls || call.callee !== name || !fnFilter(call)) continue;
        w += depthOf(sub) * (repeated(call) ? 4 : 1);
      }
    }
    return w;
  };
  const depthOf = (cls: ClassInfo): number => {
    const hit = memo.get(cls.name);
    if (hit !== undefined) return hit;
    memo.set(cls.name, 0); // recursion guard
    const d = Math.min(own(cls, () => true), 1000);
    memo.set(cls.name, d);
    return d;
  };
  let best = own(undefined, () => true);
  for (const cls of classes.values()) best = Math.max(best, depthOf(cls));
  return best;
}

function inComprehension(node: SyntaxNode): boolean {
  for (let p = node.parent; p; p = p.parent) {
    if (p.type === 'list_comprehension' || p.type === 'generator_expression') return true;
    if (p.type === 'function_definition' || p.type === 'block') return false;
  }
  return false;
}

const OPT003: RuleSpec = {
  id: 'OPT003', title: 'SGD without momentum on a deep network', family: 'OPT', severity: 'information', fix: 'unsafe',
  reference: 'Accurate, Large Minibatch SGD (Goyal et al. 2017): momentum 0.9',
  options: { min_layers: 8 },
  check(ctx) {
    let why: string | undefined | null = null;
    const trained = optimizersSteppedOnData(ctx);
    for (const opt of ctx.model.optimizers) {
      if (opt.api.family !== 'sgd' || opt.api.framework === 'jax') continue;
      // Keras optimizers are stepped by fit(); a PyTorch one must visibly train on data (not a meta-learning inner loop).
      if (opt.api.framework === 'pytorch' && !trained.has(opt)) continue;
      const sites = hyperSites(opt, 'momentum');
      if (sites.length === 0 || sites.some((s) => numberOf(s.hyper) !== 0)) continue;
      if (why === null) why = deepNetEvidence(ctx, ctx.option<number>('min_layers'));
      if (!why) return;
      const top = opt.hyper.get('momentum');
      const edits = sites.map((s) => s.hyper.node ? ctx.replace(s.hyper.node, '0.9') : s.group ? undefined : setValueEdit(ctx, opt, top, 'momentum', '0.9'));
      const shown = sites.find((s) => !isDefault(s.hyper))?.hyper ?? top!;
      ctx.report({
        node: opt.call.node,
        message: `${opt.api.className} runs with momentum=${describe(shown)} on a deep network (${why}); plain SGD converges much more slowly on deep nets and is rarely what is intended. The standard recipe uses momentum=0.9 (e.g. ResNet: lr 0.1·B/256, momentum 0.9).`,
        fixes: fixOf('Set momentum=0.9 (changes training dynamics)', false, edits),
      });
    }
  },
};

// ---------------------------------------------------------------- OPT004

interface MuonProblem {
  readonly node: SyntaxNode;
  readonly what: string;
  /** `model` when the whole `model.parameters()` is passed and a fix can split it. */
  readonly owner: string | undefined;
}

const SHAPE_FILTER = /\bndim\b|\.dim\(\)|\.shape\b|\.size\(\)/;
const NAME_FILTER = /embed|wte|wpe|tok|head|emb\b|classifier|['"]/;

function muonProblem(ctx: RuleContext, node: SyntaxNode | undefined, fn: FunctionInfo | undefined, depth = 0): MuonProblem | undefined {
  if (!node || depth > 3) return undefined;
  const n = unparenthesize(node);
  if (n.type === 'identifier') {
    const asg = assignedValue(ctx, ctx.text_(n), fn);
    const p = asg ? muonProblem(ctx, asg.value, asg.fn, depth + 1) : undefined;
    return p ? { ...p, node, owner: undefined } : undefined;
  }
  if (n.type === 'call') {
    const call = ctx.facts.callByNode.get(n);
    if (call?.name === 'list' && call.args[0]) {
      const p = muonProblem(ctx, call.args[0], fn, depth + 1);
      return p ? { ...p, node, owner: undefined } : undefined;
    }
    if (call?.name === 'parameters' && call.receiver && call.args.length === 0) {
      const whole = !call.receiver.includes('.');
      const embedding = whole && ctx.model.layers.some((l) => l.kind === 'embedding');
      return {
        node,
        what: `every parameter of ${call.receiver}, including biases and normalization gains (not 2-D)${embedding ? ' and the embedding table and output head' : ''}`,
        owner: whole ? call.receiver : undefined,
      };
    }
    return undefined;
  }
  if (n.type === 'list_comprehension' || n.type === 'generator_expression') {
    const clause = n.children.find((c) => c.type === 'for_in_clause');
    const source = clause ? childByField(clause, 'right') : undefined;
    const call = source?.type === 'call' ? ctx.facts.callByNode.get(source) : undefined;
    if (!call || (call.name !== 'parameters' && call.name !== 'named_parameters') || !call.receiver) return undefined;
    const conditions = n.children.filter((c) => c.type === 'if_clause').map((c) => ctx.text_(c)).join(' ');
    if (!SHAPE_FILTER.test(conditions)) {
      return { node, what: `parameters of ${call.receiver} with no shape filter, so 1-D biases and normalization gains are included`, owner: undefined };
    }
    const whole = !call.receiver.includes('.');
    const hasEmbedding = ctx.model.layers.some((l) => l.kind === 'embedding');
    if (whole && hasEmbedding && !NAME_FILTER.test(conditions) && /ndim\s*>=?\s*[12]\b|ndim\s*==\s*2/.test(conditions)) {
      return { node, what: `every 2-D parameter of ${call.receiver}, which includes the embedding table and the output head`, owner: undefined };
    }
  }
  return undefined;
}

const OPT004: RuleSpec = {
  id: 'OPT004', title: 'Muon applied to non-matrix, embedding or head parameters', family: 'OPT', severity: 'error', fix: 'unsafe',
  reference: 'Muon reference implementation (Keller Jordan): hidden 2-D weights only, AdamW for the rest',
  check(ctx) {
    for (const opt of ctx.model.optimizers) {
      if (opt.api.family !== 'muon') continue;
      const problems: MuonProblem[] = [];
      if (opt.paramGroups) {
        for (const g of opt.paramGroups) {
          const useMuon = g.hyper.get('use_muon');
          if (useMuon && useMuon.resolved.value?.kind === 'bool' && !useMuon.resolved.value.value) continue;
          if (useMuon && useMuon.resolved.value === undefined) continue;
          const p = muonProblem(ctx, g.paramsNode, opt.call.fn);
          if (p) problems.push({ ...p, owner: undefined });
        }
      } else {
        const p = muonProblem(ctx, opt.paramsNode, opt.call.fn);
        if (p) problems.push(p);
      }
      for (const p of problems) {
        ctx.report({
          node: p.node,
          message: `Muon gets ${p.what}. Muon orthogonalizes each update as a matrix: it is only meant for hidden 2-D weight matrices; biases, gains, embeddings and the output head should go to AdamW (PyTorch's Muon raises on non-2-D tensors).`,
          related: [{ node: opt.call.node, message: `${opt.api.className} optimizer` }],
          fixes: p.owner ? muonSplitFix(ctx, opt, p) : [],
        });
      }
    }
  },
};

/** Muon on hidden matrices, an AdamW beside it for the rest, stepped and zeroed with it. */
function muonSplitFix(ctx: RuleContext, opt: OptimizerModel, p: MuonProblem): Fix[] {
  const name = opt.boundTo.find((b) => !b.includes('.'));
  const torch = [...ctx.facts.importBindings].find(([, v]) => v === 'torch')?.[0];
  if (!name || !torch || opt.call.statement.type !== 'expression_statement' || opt.call.loops.length > 0) return [];
  const owner = p.owner!;
  const isMuon = `p.ndim == 2 and not any(k in n for k in ("embed", "wte", "wpe", "lm_head", "head"))`;
  const aux = `${name}_aux`;
  const edits: TextEdit[] = [
    ctx.replace(p.node, `[p for n, p in ${owner}.named_parameters() if ${isMuon}]`),
    ctx.insertLinesAfter(opt.call.statement, [
      `${aux} = ${torch}.optim.AdamW([p for n, p in ${owner}.named_parameters() if not (${isMuon})], lr=3e-4, weight_decay=0.01)`,
    ]),
  ];
  // Steps taken through a GradScaler (`scaler.step(opt)`), a closure or a helper cannot be paired
  // with the new optimizer by a line insert: offer no fix rather than leave half the model frozen.
  const indirect = [...(ctx.facts.callsByName.get('step') ?? []), ...(ctx.facts.callsByName.get('unscale_') ?? [])]
    .some((c) => c.receiver !== name && c.args.some((a) => ctx.text_(a) === name));
  if (indirect) return [];
  const paired = new Set<SyntaxNode>();
  for (const kind of ['step', 'zero_grad'] as const) {
    for (const call of ctx.facts.callsByName.get(kind) ?? []) {
      if (call.receiver !== name || call.statement.type !== 'expression_statement' || ctx.text_(call.statement).trim() !== ctx.text_(call.node)) continue;
      if (paired.has(call.statement)) continue;
      paired.add(call.statement);
      edits.push(ctx.insertLinesAfter(call.statement, [`${aux}.${kind}(${kind === 'zero_grad' ? ctx.text_(call.argumentList).slice(1, -1) : ''})`]));
    }
  }
  if (paired.size === 0) return [];
  return [{ title: `Give Muon only the hidden 2-D weights and add an AdamW (${aux}) for the rest (changes training dynamics)`, safe: false, edits }];
}

// ---------------------------------------------------------------- OPT005

/** Inclusive [low, high] per optimizer family: generous, so that only clearly-off values fire. */
const LR_RANGE_DEFAULTS: Readonly<Record<string, readonly [number, number]>> = {
  sgd: [1e-4, 1.0], adam: [1e-6, 1e-2], adamw: [1e-6, 1e-2], rmsprop: [1e-5, 1e-2], adagrad: [1e-4, 1.0],
  lion: [1e-6, 1e-3], muon: [1e-4, 0.1],
};

const TYPICAL_LR: Readonly<Record<string, string>> = {
  sgd: '0.01–0.1 (0.1·B/256 for CNNs)', adam: '1e-4–3e-3 from scratch, 1e-5–5e-5 for fine-tuning',
  adamw: '1e-4–3e-3 from scratch, 1e-5–5e-5 for fine-tuning', rmsprop: '1e-4–1e-2', adagrad: '0.01–0.1',
  lion: '3e-5–3e-4 (3–10× below AdamW)', muon: '0.02',
};

const OPT005: RuleSpec = {
  id: 'OPT005', title: 'Learning rate outside the usual range for its optimizer', family: 'OPT', severity: 'warning', fix: 'none',
  reference: 'UMLAUT (Schoop et al. 2021) learning-rate check; practice ranges in the RegScope rule catalogue',
  options: { lr_range: LR_RANGE_DEFAULTS },
  check(ctx) {
    const user = ctx.option<Record<string, unknown>>('lr_range');
    const ranges: Record<string, readonly [number, number]> = { ...LR_RANGE_DEFAULTS };
    for (const [k, v] of Object.entries(user ?? {})) {
      if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number') ranges[k] = [v[0], v[1]];
    }
    const uses = [...explicitLrUses(ctx)];
    for (const sched of ctx.model.schedulers) {
      if (sched.className !== 'OneCycleLR') continue;
      const maxLr = argumentHyper(ctx, sched.call, 'max_lr', 1);
      const optNode = schedulerOptimizerNode(sched);
      const optName = optNode ? ctx.text_(optNode) : undefined;
      const opts = ctx.model.optimizers.filter((o) => optName !== undefined && o.boundTo.includes(optName));
      if (maxLr && opts.length === 1) uses.push({ hyper: maxLr, optimizer: opts[0], family: opts[0]!.api.family, owner: `OneCycleLR (${opts[0]!.api.className})` });
    }
    // Preference optimization (DPO, KTO, ORPO, PPO from TRL) trains at 5e-7 to 1e-6 by design;
    // AWD-LSTM-style language models train with SGD at lr 20–30 under tight gradient clipping.
    const preferenceTuning = [...ctx.facts.importBindings.values()].some((m) => /^trl(\.|$)/.test(m)) || /\b(dpo|kto|orpo|preference)\b/i.test(ctx.text);
    const clippedRnn = ctx.model.layers.some((l) => l.kind === 'rnn') && ctx.model.techniques.some((t) => t.kind === 'gradient_clipping');
    for (const use of uses) {
      const range = ranges[use.family];
      const v = numberOf(use.hyper);
      if (!range || v === undefined || v <= 0) continue;
      const [lo, hi] = range;
      if (v >= lo && v <= hi) continue;
      if (v < lo && preferenceTuning && ADAM_FAMILY.has(use.family) && v >= 1e-8) continue;
      if (v > hi && clippedRnn && use.family === 'sgd' && v <= 50) continue;
      const label = FAMILY_LABEL[use.family] ?? use.family;
      const dir = v > hi ? 'above' : 'below';
      const hint = v > hi
        ? (ADAM_FAMILY.has(use.family) && v >= 0.05 ? ' This looks like an SGD-style value; Adam-family optimizers diverge at it.' : ' Steps this large usually diverge.')
        : ' Training this slowly barely moves the weights; check for a misplaced exponent.';
      ctx.report({
        node: use.hyper.anchor,
        message: `${use.owner} ${use.hyper.name}=${describe(use.hyper)} is ${dir} the usual range for ${label} optimizers (${formatNumber(lo)} – ${formatNumber(hi)}; typical ${TYPICAL_LR[use.family] ?? ''}).${hint} Adjust the range with the lr_range option if this is deliberate.`,
      });
    }
  },
};

// ---------------------------------------------------------------- OPT006

const KERAS_STRING_OPTIMIZERS: Readonly<Record<string, string>> = {
  adam: 'Adam', sgd: 'SGD', rmsprop: 'RMSprop', adagrad: 'Adagrad', adadelta: 'Adadelta', adamax: 'Adamax', nadam: 'Nadam', adamw: 'AdamW',
};

/** `tf.keras.optimizers.` / `keras.optimizers.` through the file's imports, or undefined. */
function kerasOptimizersPrefix(ctx: RuleContext): string | undefined {
  for (const [alias, target] of ctx.facts.importBindings) {
    if (target === 'tensorflow.keras.optimizers' || target === 'keras.optimizers') return `${alias}.`;
  }
  for (const [alias, target] of ctx.facts.importBindings) {
    if (target === 'keras' || target === 'tensorflow.keras') return `${alias}.optimizers.`;
  }
  for (const [alias, target] of ctx.facts.importBindings) if (target === 'tensorflow') return `${alias}.keras.optimizers.`;
  return undefined;
}

const OPT006: RuleSpec = {
  id: 'OPT006', title: 'Optimizer, learning rate or batch size left implicit', family: 'OPT', severity: 'hint', fix: 'safe',
  reference: 'dslinter R5506–R5508 (hyperparameters not set explicitly)',
  check(ctx) {
    // compile("adam") / compile(optimizer="adam")
    if (ctx.model.frameworks.includes('keras')) {
      for (const call of ctx.facts.callsByName.get('compile') ?? []) {
        if (!call.receiver || /^(re|regex|torch|jax)$/.test(call.receiver)) continue;
        const node = call.keywords.get('optimizer') ?? (call.keywords.has('loss') || call.keywords.has('metrics') || call.args.length >= 2 ? call.args[0] : undefined);
        const name = node?.type === 'string' ? asString(ctx.values.resolve(node, call.fn)) : undefined;
        const cls = name ? KERAS_STRING_OPTIMIZERS[name.toLowerCase()] : undefined;
        if (!node || !cls) continue;
        const api = KERAS_OPTIMIZERS.find((o) => o.className === cls)!;
        const lr = api.defaults.learning_rate as number;
        const prefix = kerasOptimizersPrefix(ctx);
        ctx.report({
          node: call.node,
          range: ctx.firstLineRange(call.node),
          message: `optimizer=${ctx.text_(node)} leaves the optimizer's hyperparameters implicit: Keras uses ${cls} with learning_rate=${formatNumber(lr)} (its default). Construct the optimizer so the learning rate is visible and tunable.`,
          fixes: prefix ? [{ title: `Write the optimizer out: ${prefix}${cls}(learning_rate=${formatNumber(lr)}) (same behaviour)`, safe: true, edits: [ctx.replace(node, `${prefix}${cls}(learning_rate=${formatNumber(lr)})`)] }] : [],
        });
      }
    }
    // Keras fit on arrays (x and y given) without batch_size: Keras uses 32.
    for (const f of ctx.model.frameworkLoops) {
      const call = f.call;
      if (f.framework !== 'keras' || !ctx.model.frameworks.includes('keras') || call.hasSplat) continue;
      const hasY = call.args.length >= 2 || call.keywords.has('y');
      if (!hasY || call.keywords.has('batch_size') || call.args.length >= 3 || call.keywords.has('steps_per_epoch')) continue;
      ctx.report({
        node: call.node,
        range: ctx.firstLineRange(call.node),
        message: `${ctx.text_(call.node).split('(')[0]}(...) is called without batch_size: Keras silently uses 32. The batch size sets the gradient noise and interacts with the learning rate; write it out.`,
        fixes: fixOf('Write out batch_size=32 (same behaviour)', true, [appendArgument(ctx, call, 'batch_size=32')]),
      });
    }
    // Optimizers constructed with the default lr (unless OneCycleLR / CyclicLR set it).
    const drivenBy = new Set(ctx.model.schedulers.filter((s) => s.className === 'OneCycleLR' || s.className === 'CyclicLR').map((s) => ctx.text_(schedulerOptimizerNode(s))));
    for (const opt of ctx.model.optimizers) {
      if (opt.api.framework !== 'pytorch' && opt.api.framework !== 'keras') continue;
      if (opt.boundTo.some((b) => drivenBy.has(b))) continue;
      if (opt.api.family === 'muon' || opt.api.family === 'lbfgs' || opt.call.hasSplat) continue;
      const sites = lrSites(opt);
      const top = sites.find((s) => !s.group);
      if (!top || !isDefault(top.hyper)) continue;
      const def = asNumber(top.hyper.resolved);
      if (def === undefined) continue;
      const key = opt.api.lrKey;
      const trusted = opt.api.framework === 'keras' || /^torch\.optim\./.test(opt.call.qualified);
      const edit = trusted ? appendArgument(ctx, opt.call, `${key}=${formatNumber(def)}`) : undefined;
      ctx.report({
        node: opt.call.node,
        message: `${opt.api.className} is created without ${key}: it runs at the library default ${key}=${formatNumber(def)}, which is easy to miss and changes between libraries and versions. Write the learning rate out.`,
        fixes: fixOf(`Write out ${key}=${formatNumber(def)} (same behaviour)`, true, [edit]),
      });
    }
  },
};

// ---------------------------------------------------------------- OPT007

const BATCH_NAME = /^(global_|total_|effective_|train_|per_device_train_)?(batch_size|batch|bs|batchsize)$|^(world_size|num_gpus|n_gpus?|ngpus?|num_devices|num_processes)$|^(grad_|gradient_)?accum(ulation)?(_steps|_iters)?$/i;

const ADAPTIVE_SCALED: ReadonlySet<OptimizerFamily> = new Set(['adam', 'adamw', 'rmsprop', 'lion']);

/** The batch-size name an expression scales linearly with (numerator of a product), if any. */
function linearBatchFactor(ctx: RuleContext, node: SyntaxNode | undefined, fn: FunctionInfo | undefined, depth = 0): string | undefined {
  if (!node || depth > 4) return undefined;
  const n = unparenthesize(node);
  if (n.type === 'binary_operator') {
    const op = ctx.text_(childByField(n, 'operator'));
    const l = childByField(n, 'left');
    const r = childByField(n, 'right');
    if (op === '*') return linearBatchFactor(ctx, l, fn, depth + 1) ?? linearBatchFactor(ctx, r, fn, depth + 1);
    if (op === '/' || op === '//') return linearBatchFactor(ctx, l, fn, depth + 1);
    return undefined;
  }
  if (n.type === 'identifier' || n.type === 'attribute') {
    const name = ctx.text_(n);
    if (BATCH_NAME.test(name.split('.').pop()!)) return name;
    const asg = assignedValue(ctx, name, fn);
    return asg ? linearBatchFactor(ctx, asg.value, asg.fn, depth + 1) : undefined;
  }
  if (n.type === 'call') {
    const call = ctx.facts.callByNode.get(n);
    if ((call?.name === 'float' || call?.name === 'int') && call.args[0]) return linearBatchFactor(ctx, call.args[0], fn, depth + 1);
  }
  return undefined;
}

/** The product expression that computes an lr: the lr node itself, or the assignment it names. */
function lrExpression(ctx: RuleContext, node: SyntaxNode | undefined, fn: FunctionInfo | undefined): { expr: SyntaxNode; fn: FunctionInfo | undefined } | undefined {
  for (let i = 0; node && i < 4; i++) {
    const n = unparenthesize(node);
    if (n.type === 'binary_operator') return { expr: n, fn };
    if (n.type !== 'identifier' && n.type !== 'attribute') return undefined;
    const asg = assignedValue(ctx, ctx.text_(n), fn);
    if (!asg) return undefined;
    node = asg.value;
    fn = asg.fn;
  }
  return undefined;
}

const OPT007: RuleSpec = {
  id: 'OPT007', title: 'Adam-family learning rate scaled linearly with batch size', family: 'OPT', severity: 'information', fix: 'none',
  reference: 'On the SDEs and Scaling Rules for Adaptive Gradient Algorithms (Malladi et al. 2022): square-root scaling',
  check(ctx) {
    const seen = new Set<SyntaxNode>();
    for (const opt of ctx.model.optimizers) {
      if (!ADAPTIVE_SCALED.has(opt.api.family)) continue;
      for (const { hyper } of lrSites(opt)) {
        if (!hyper.node) continue;
        const found = lrExpression(ctx, hyper.node, opt.call.fn);
        if (!found || seen.has(found.expr)) continue;
        const batch = linearBatchFactor(ctx, found.expr, found.fn);
        if (!batch) continue;
        seen.add(found.expr);
        ctx.report({
          node: found.expr,
          message: `${opt.api.className}'s lr ${ctx.text_(found.expr)} grows linearly with ${batch}. The linear scaling rule is for SGD; for adaptive optimizers the lr should scale roughly with the square root of the batch size (×√k, not ×k), else large batches overshoot.`,
          related: [{ node: opt.call.node, message: `${opt.api.className} optimizer` }],
        });
      }
    }
  },
};

// ---------------------------------------------------------------- OPT008

/** The largest training batch size the script sets explicitly. */
function largestTrainBatch(ctx: RuleContext): { value: number; hyper: Hyperparameter } | undefined {
  let best: { value: number; hyper: Hyperparameter } | undefined;
  const consider = (h: Hyperparameter | undefined) => {
    const v = numberOf(h);
    if (h && v !== undefined && !isDefault(h) && (!best || v > best.value)) best = { value: v, hyper: h };
  };
  for (const dl of ctx.model.dataLoaders) if (dl.role !== 'eval') consider(dl.hyper.get('batch_size'));
  for (const f of ctx.model.frameworkLoops) {
    if (f.framework !== 'keras') continue;
    const node = f.call.keywords.get('batch_size');
    if (node) consider({ name: 'batch_size', owner: 'fit', resolved: ctx.values.resolve(node, f.call.fn), node, argument: f.call.keywordNodes.get('batch_size'), anchor: node });
  }
  return best;
}

const MIN_LARGE_BATCH_LR = 0.1;

const OPT008: RuleSpec = {
  id: 'OPT008', title: 'Large-batch SGD without warmup', family: 'OPT', severity: 'warning', fix: 'none',
  reference: 'Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour (Goyal et al. 2017)',
  options: { min_batch: 1024 },
  check(ctx) {
    const min = ctx.option<number>('min_batch');
    // Warmup matters at the linearly scaled lr of large batches (0.1 × B/256), not at a small lr.
    const sgd = ctx.model.optimizers.filter((o) => o.api.family === 'sgd' && lrSites(o).some(({ hyper }) => (numberOf(hyper) ?? 0) >= MIN_LARGE_BATCH_LR));
    if (sgd.length === 0) return;
    const batch = largestTrainBatch(ctx);
    if (!batch) return;
    const accum = accumulationFactor(ctx);
    const effective = batch.value * accum.value;
    if (effective < min || warmupEvidence(ctx)) return;
    const shown = accum.guard ? `${formatNumber(effective, true)} (batch_size=${describe(batch.hyper)} × ${accum.guard.every} accumulation steps)` : describe(batch.hyper);
    for (const opt of sgd) {
      ctx.report({
        node: opt.call.node,
        message: `${opt.api.className} at lr=${describe(lrSites(opt).map((l) => l.hyper).find((h) => (numberOf(h) ?? 0) >= MIN_LARGE_BATCH_LR)!)} with batch size ${shown} (≥ ${min}) and no learning-rate warmup: with the linearly scaled lr of large-batch SGD the first iterations diverge or land in a poor region. Goyal et al. ramp the lr up linearly over the first ~5 epochs.`,
        related: [{ node: batch.hyper.anchor, message: `batch size ${batch.value}` }],
      });
    }
  },
};

// ---------------------------------------------------------------- OPT009

const OPT009: RuleSpec = {
  id: 'OPT009', title: 'Invalid or swapped Adam betas', family: 'OPT', severity: 'error', fix: 'none',
  reference: 'Adam: A Method for Stochastic Optimization (Kingma & Ba); torch.optim.Adam argument checks',
  check(ctx) {
    const sites: { owner: string; framework: string; site: BetaSite }[] = [];
    for (const opt of ctx.model.optimizers) {
      if (!ADAM_FAMILY.has(opt.api.family)) continue;
      for (const site of betaSites(opt)) sites.push({ owner: opt.api.className, framework: opt.api.framework, site });
    }
    for (const site of trainingArgumentsBetas(ctx)) sites.push({ owner: site.call.name, framework: 'pytorch', site });
    for (const { owner, framework, site: s } of sites) {
      if (!s.explicit) continue;
      const raises = framework === 'pytorch' ? ' PyTorch raises "Invalid beta parameter".' : '';
      const bad1 = s.beta1 !== undefined && (s.beta1 < 0 || s.beta1 >= 1);
      const bad2 = s.beta2 !== undefined && (s.beta2 < 0 || s.beta2 >= 1);
      if (bad1 || bad2) {
        const which = bad1 ? `beta1=${formatNumber(s.beta1!)}` : `beta2=${formatNumber(s.beta2!)}`;
        ctx.report({
          node: bad1 ? s.anchor1 : s.anchor2,
          message: `${owner} ${bad1 ? s.text1 : s.text2}: ${which} is outside [0, 1). A beta of 1 makes the bias correction 1 − βᵗ zero, so the update is 0/0 (NaN), and values outside the range make the averages diverge.${raises} Use betas in [0, 1), typically (0.9, 0.999).`,
        });
        continue;
      }
      if (s.beta1 !== undefined && s.beta2 !== undefined && s.beta2 <= s.beta1) {
        ctx.report({
          node: s.anchor2,
          message: `${owner} ${s.tuple ? s.text2 : `${s.text1}, ${s.text2}`}: beta2 (${formatNumber(s.beta2)}) is ${s.beta2 === s.beta1 ? 'equal to' : 'smaller than'} beta1 (${formatNumber(s.beta1)})${s.beta2 < s.beta1 ? ', which looks swapped' : ''}. beta1 averages the gradient (≈ 0.9), beta2 the squared gradient over a longer window (0.95–0.999); a beta2 this short makes the step size noisy.`,
        });
      }
    }
  },
};

// ---------------------------------------------------------------- OPT010

const OPT010: RuleSpec = {
  id: 'OPT010', title: 'Invalid momentum or Nesterov setting', family: 'OPT', severity: 'error', fix: 'none',
  reference: 'torch.optim.SGD argument checks; Sutskever et al. 2013 (momentum)',
  check(ctx) {
    for (const opt of ctx.model.optimizers) {
      if (opt.api.family !== 'sgd' && opt.api.family !== 'rmsprop') continue;
      const name = opt.api.className;
      const torch = opt.api.framework === 'pytorch';
      for (const { hyper } of hyperSites(opt, 'momentum')) {
        const m = numberOf(hyper);
        if (m === undefined || isDefault(hyper) || (m >= 0 && m < 1)) continue;
        ctx.report({
          node: hyper.anchor,
          message: `${name} momentum=${describe(hyper)} is outside [0, 1): ${m < 0 ? (torch ? 'PyTorch raises "Invalid momentum value"' : 'a negative momentum reverses the velocity every step') : 'the velocity never decays, so updates grow without bound and training diverges'}. Use momentum in [0, 1), typically 0.9.`,
        });
      }
      if (opt.api.family !== 'sgd') continue;
      const nesterov = opt.hyper.get('nesterov');
      if (!nesterov || isDefault(nesterov) || nesterov.resolved.value?.kind !== 'bool' || !nesterov.resolved.value.value) continue;
      const momentum = opt.hyper.get('momentum');
      const dampening = opt.hyper.get('dampening');
      const m = momentum?.resolved.value?.kind === 'none' ? 0 : numberOf(momentum);
      const d = numberOf(dampening);
      const effect = torch ? 'PyTorch raises "Nesterov momentum requires a momentum and zero dampening"' : 'Nesterov has no effect without momentum, so this is plain SGD';
      if (m !== undefined && m <= 0 && !opt.paramGroups && momentum) {
        ctx.report({
          node: nesterov.anchor,
          message: `${name} nesterov=True with momentum=${describe(momentum)}: ${effect}. Set momentum (e.g. 0.9) or drop nesterov.`,
        });
      } else if (torch && d !== undefined && d !== 0 && !isDefault(dampening)) {
        ctx.report({
          node: nesterov.anchor,
          message: `${name} nesterov=True with dampening=${describe(dampening!)}: ${effect}. Remove dampening.`,
        });
      }
    }
  },
};

export const OPTIMIZER_RULES: readonly RuleSpec[] = [OPT001, OPT002, OPT003, OPT004, OPT005, OPT006, OPT007, OPT008, OPT009, OPT010];
