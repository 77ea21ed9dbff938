import type { CallInfo, FunctionInfo, LoopInfo } from '../facts/scriptFacts';
import type { TextEdit } from '../findings';
import type { OptimizerFamily } from '../model/apiCatalogue';
import type { Hyperparameter, OptimizerModel, ParamGroupModel, SchedulerModel, TrainingLoopModel } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, unparenthesize, walk } from '../syntax/syntaxNode';
import { asNumber, asString, formatNumber, type Resolved } from '../values/pyValue';
import { describe } from './ruleHelpers';
import type { RuleContext } from './ruleSpec';

/**
 * What the OPT and LR rules need to know about a script's training setup as a whole: whether it
 * has (or may have) a warmup, whether it trains a transformer, which scheduler a `step()` call
 * belongs to, and at which level of the epoch/batch loops it runs. Computed once per analysis.
 */

const memo = new WeakMap<object, Map<string, unknown>>();

function once<T>(ctx: RuleContext, key: string, compute: () => T): T {
  let m = memo.get(ctx.model);
  if (!m) memo.set(ctx.model, (m = new Map()));
  if (!m.has(key)) m.set(key, compute());
  return m.get(key) as T;
}

/** The script's code without comments (a `#` outside quotes ends the line's code). */
export function codeWithoutComments(ctx: RuleContext): string {
  return once(ctx, 'code', () => ctx.text.split(/\r\n|\r|\n/).map(stripComment).join('\n'));
}

function stripComment(line: string): string {
  if (!line.includes('#')) return line;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') return line.slice(0, i);
  }
  return line;
}

/** Schedulers whose shape can ramp the lr up at the start (or whose shape is user-defined). */
const RAMPING_SCHEDULERS = new Set(['LinearLR', 'ConstantLR', 'OneCycleLR', 'CyclicLR', 'LambdaLR', 'MultiplicativeLR', 'SequentialLR', 'ChainedScheduler']);

/**
 * Why the script may warm the learning rate up, or undefined when it certainly does not: a
 * warmup anywhere (scheduler, factory, `warmup_steps`, a lambda), a scheduler whose shape is
 * unknown (built elsewhere, a config file, DeepSpeed), or lr values written by hand.
 */
export function warmupEvidence(ctx: RuleContext): string | undefined {
  return once(ctx, 'warmup', () => {
    const code = codeWithoutComments(ctx);
    const m = /\w*warm_?up\w*/i.exec(code);
    if (m) return `"${m[0]}" appears in the script`;
    for (const s of ctx.model.schedulers) {
      if (RAMPING_SCHEDULERS.has(s.className)) return `${s.className} can ramp the lr up`;
    }
    const known = new Set(ctx.model.schedulers.map((s) => s.call));
    for (const call of ctx.facts.calls) {
      if (/sched|lr_?policy/i.test(call.name) && !known.has(call)) return `${call.callee || call.name}() builds a schedule of unknown shape`;
      if (/(^|\.)deepspeed\.initialize$|^deepspeed\./.test(call.qualified)) return 'DeepSpeed may configure the schedule';
      if (/(^|\.)optimizers\.schedules\./.test(call.qualified)) return `${call.callee} is a Keras schedule`;
      if ((call.name === 'set_value' || call.name === 'assign') && /\blr\b|learning_rate/.test(ctx.text_(call.node))) return 'the lr is set by hand';
    }
    for (const a of ctx.facts.assignments) {
      const target = ctx.text_(a.target);
      if (/\[\s*['"](lr|learning_rate)['"]\s*\]$|\.(lr|learning_rate)$/.test(target) && a.loops.length > 0) return `${target} is set by hand in a loop`;
    }
    return undefined;
  });
}

const HF_MODEL_CLASS = /(^|\.)(AutoModel\w*|\w+For[A-Z]\w+|\w+LMHeadModel|\w+Model)$/;
const NOT_A_MODEL = /Tokenizer|Processor|Config|FeatureExtractor|ImageProcessor|Dataset/;

/** Model classes loaded or built from Hugging Face (`AutoModelForCausalLM.from_pretrained`, `GPT2LMHeadModel(config)`). */
export function hfModelCalls(ctx: RuleContext): { call: CallInfo; cls: string; pretrained: boolean }[] {
  return once(ctx, 'hfModels', () => {
    const out: { call: CallInfo; cls: string; pretrained: boolean }[] = [];
    for (const call of ctx.facts.calls) {
      if ((call.name === 'from_pretrained' || call.name === 'from_config') && call.receiver) {
        const q = qualifiedReceiver(ctx, call);
        if (NOT_A_MODEL.test(q) || !HF_MODEL_CLASS.test(q)) continue;
        out.push({ call, cls: q.split('.').pop()!, pretrained: call.name === 'from_pretrained' });
      } else if (/^(transformers)\./.test(call.qualified) && /(For[A-Z]\w+|LMHeadModel)$/.test(call.name)) {
        out.push({ call, cls: call.name, pretrained: false });
      }
    }
    return out;
  });
}

function qualifiedReceiver(ctx: RuleContext, call: CallInfo): string {
  const recv = call.receiver ?? '';
  const head = recv.split('.')[0]!;
  const bound = ctx.facts.importBindings.get(head);
  return bound ? bound + recv.slice(head.length) : recv;
}

const TRANSFORMER_CLASS = /Attention|Transformer|GPT|Bert|SelfAttn|MultiHead/;
const TIMM_TRANSFORMER = /\b(vit|deit|swin|beit|eva|cait|xcit|pvt|mvit|levit|crossvit)/i;

/** Why the script trains a transformer (attention layers, a HF model, a ViT), or undefined. */
export function transformerEvidence(ctx: RuleContext): string | undefined {
  return once(ctx, 'transformer', () => {
    const layer = ctx.model.layers.find((l) => l.kind === 'attention' || l.kind === 'transformer');
    if (layer) return `${layer.className} layers`;
    const hf = hfModelCalls(ctx)[0];
    if (hf) return `a Hugging Face ${hf.cls}`;
    for (const call of ctx.facts.calls) {
      if (call.name === 'scaled_dot_product_attention' || /^flash_attn/.test(call.name)) return `${call.name}() attention`;
      if ((call.name === 'create_model' || /^(vit|swin|deit)_/.test(call.name)) && /timm|torchvision/.test(call.qualified)) {
        const arg = call.args[0] ? ctx.text_(call.args[0]) : call.name;
        if (TIMM_TRANSFORMER.test(arg) || TIMM_TRANSFORMER.test(call.name)) return `a vision transformer (${arg.replace(/^['"]|['"]$/g, '')})`;
      }
    }
    const cls = ctx.model.moduleClasses.find((c) => TRANSFORMER_CLASS.test(c.name));
    if (cls) return `the ${cls.name} module`;
    return undefined;
  });
}

/**
 * The scheduler a `name.step()` receiver refers to: the only one bound to that name, else the one
 * bound to it in the caller's function (the same name is often reused in two training functions).
 */
export function schedulerNamed(ctx: RuleContext, name: string | undefined, fn?: FunctionInfo): SchedulerModel | undefined {
  if (!name) return undefined;
  const byName = once(ctx, 'schedByName', () => {
    const m = new Map<string, SchedulerModel[]>();
    for (const s of ctx.model.schedulers) for (const b of s.boundTo) m.set(b, [...(m.get(b) ?? []), s]);
    return m;
  });
  const all = byName.get(name);
  if (!all) return undefined;
  if (all.length === 1) return all[0];
  const local = all.filter((s) => s.call.fn === fn);
  if (local.length === 1) return local[0];
  const global = all.filter((s) => s.call.fn === undefined);
  if (local.length === 0 && global.length === 1) return global[0];
  return all.every((s) => s.className === all[0]!.className) ? all[0] : undefined;
}

/** The optimizer expression a scheduler wraps (`optimizer` in `StepLR(optimizer, 30)`). */
export function schedulerOptimizerNode(s: SchedulerModel): SyntaxNode | undefined {
  return s.call.keywords.get('optimizer') ?? (s.className === 'get_scheduler' ? s.call.args[1] : s.call.args[0]);
}

// ---------------------------------------------------------------- loop levels

/** The innermost loop that runs an event: its own loop, else the loop around the call that leads to it. */
export function effectiveLoop(call: CallInfo, via: readonly CallInfo[] | undefined): LoopInfo | undefined {
  const own = call.loops[call.loops.length - 1];
  if (own) return own;
  for (let i = (via?.length ?? 0) - 1; i >= 0; i--) {
    const l = via![i]!.loops[via![i]!.loops.length - 1];
    if (l) return l;
  }
  return undefined;
}

export interface SchedulerStepSite {
  readonly call: CallInfo;
  readonly scheduler: SchedulerModel | undefined;
  /** The loop that runs `step()` (through called functions too). */
  readonly loop: LoopInfo;
  /** `batch`: the loop that also runs optimizer steps; `epoch`: a loop whose optimizer steps run in a nested loop. */
  readonly level: 'batch' | 'epoch' | 'other';
  /** For `batch`: the enclosing training loop (usually over epochs). For `epoch`: the loop itself. */
  readonly epochLoop: LoopInfo | undefined;
  /** For `epoch`: the nested loop that runs the optimizer steps. For `batch`: the loop itself. */
  readonly batchLoop: LoopInfo | undefined;
}

/** Every `scheduler.step()` that runs inside a training loop, with the loop level it runs at. */
export function schedulerStepSites(ctx: RuleContext): SchedulerStepSite[] {
  return once(ctx, 'stepSites', () => {
    const stepLevel = new Set<LoopInfo>();
    for (const t of ctx.model.trainingLoops) {
      for (const e of t.events) {
        if (e.kind !== 'step') continue;
        const l = effectiveLoop(e.call, e.via);
        if (l) stepLevel.add(l);
      }
    }
    const sites = new Map<CallInfo, { loop: LoopInfo; outers: TrainingLoopModel[] }>();
    for (const t of ctx.model.trainingLoops) {
      for (const e of t.events) {
        if (e.kind !== 'scheduler_step') continue;
        const loop = effectiveLoop(e.call, e.via) ?? t.loop;
        const site = sites.get(e.call) ?? { loop, outers: [] };
        if (t.loop !== loop) site.outers.push(t);
        sites.set(e.call, site);
      }
    }
    const out: SchedulerStepSite[] = [];
    for (const [call, { loop, outers }] of sites) {
      const scheduler = schedulerNamed(ctx, call.receiver, call.fn);
      let level: SchedulerStepSite['level'] = 'other';
      let epochLoop: LoopInfo | undefined;
      let batchLoop: LoopInfo | undefined;
      if (stepLevel.has(loop)) {
        level = 'batch';
        batchLoop = loop;
        // The closest enclosing training loop: the one with the fewest events.
        epochLoop = outers.sort((a, b) => a.events.length - b.events.length)[0]?.loop;
      } else {
        const own = ctx.model.trainingLoops.find((t) => t.loop === loop);
        const nested = own?.events.find((e) => e.kind === 'step' && effectiveLoop(e.call, e.via) !== loop);
        if (own && nested) {
          level = 'epoch';
          epochLoop = loop;
          batchLoop = effectiveLoop(nested.call, nested.via);
        }
      }
      out.push({ call, scheduler, loop, level, epochLoop, batchLoop });
    }
    return out;
  });
}

/** `loader` in `for x in loader`, `enumerate(loader)`, `tqdm(loader, ...)`, `enumerate(tqdm(loader))`. */
export function iteratedExpression(ctx: RuleContext, loop: LoopInfo): SyntaxNode | undefined {
  let n = loop.kind === 'for' && loop.iter ? unparenthesize(loop.iter) : undefined;
  for (let i = 0; i < 4 && n?.type === 'call'; i++) {
    const call = ctx.facts.callByNode.get(n);
    if (!call || !/^(enumerate|tqdm|iter|track|progress_bar|trange)$/.test(call.name) || !call.args[0]) break;
    n = unparenthesize(call.args[0]);
  }
  return n;
}

/** True when a loop iterates a data loader (by the loader's name or a DataLoader bound to it). */
export function iteratesLoader(ctx: RuleContext, loop: LoopInfo): boolean {
  const n = iteratedExpression(ctx, loop);
  if (!n || (n.type !== 'identifier' && n.type !== 'attribute')) return false;
  const name = ctx.text_(n);
  if (ctx.model.dataLoaders.some((d) => d.boundTo.includes(name))) return true;
  return /loader|(^|_|\.)dl$|batches|data_?iter/i.test(name);
}

// ---------------------------------------------------------------- gradient accumulation

export interface AccumulationGuard {
  readonly condition: string;
  /** For messages: `accum_steps = 4 (--accum default, line 3)` or the name alone. */
  readonly every: string;
  /** `4`, or the name when it does not resolve. */
  readonly factor: string;
  readonly value: number | undefined;
}

/**
 * `if (i + 1) % accum == 0:` around a call, below `stopAt` (its loop): the call runs every
 * `accum` batches. A divisor that does not resolve counts only when its name says accumulation.
 */
export function accumulationGuard(ctx: RuleContext, call: CallInfo, stopAt: SyntaxNode): AccumulationGuard | undefined {
  for (let p = call.node.parent; p && p !== stopAt; p = p.parent) {
    if (p.type !== 'if_statement') continue;
    const cond = childByField(p, 'condition');
    const text = cond ? ctx.text_(cond) : '';
    const m = /%\s*([\w.]+)\s*==\s*0\s*$/.exec(text);
    if (!m) continue;
    const everyNode = findNode(cond!, (n) => ctx.text_(n) === m[1] && (n.type === 'identifier' || n.type === 'attribute' || n.type === 'integer'));
    const r = everyNode ? ctx.values.resolve(everyNode, call.fn) : undefined;
    const every = asNumber(r);
    if (every === 1 || every === 0) return undefined;
    if (every === undefined && !/accum/i.test(m[1]!)) return undefined;
    return {
      condition: text,
      every: every === undefined || everyNode!.type === 'integer' ? m[1]! : `${m[1]} = ${describe(r!)}`,
      factor: every === undefined ? m[1]! : formatNumber(every, true),
      value: every,
    };
  }
  return undefined;
}

function findNode(root: SyntaxNode, pred: (n: SyntaxNode) => boolean): SyntaxNode | undefined {
  let found: SyntaxNode | undefined;
  walk(root, (n) => {
    if (found) return false;
    if (pred(n)) found = n;
    return !found;
  });
  return found;
}

/** The accumulation factor of the optimizer steps in the training loops (1 when none resolves). */
export function accumulationFactor(ctx: RuleContext): { value: number; guard: AccumulationGuard | undefined } {
  return once(ctx, 'accumulation', () => {
    let best: { value: number; guard: AccumulationGuard | undefined } = { value: 1, guard: undefined };
    for (const t of ctx.model.trainingLoops) {
      for (const e of t.events) {
        if (e.kind !== 'step') continue;
        const g = accumulationGuard(ctx, e.call, t.loop.node);
        if (g?.value !== undefined && g.value > best.value) best = { value: g.value, guard: g };
      }
    }
    return best;
  });
}

// ---------------------------------------------------------------- symbolic step counts

/**
 * A count as a product: a known numeric factor times symbolic factors (`len(train_loader)`,
 * `args.epochs` when it does not resolve). Two counts are equal when both parts are equal.
 */
export interface Count {
  readonly num: number;
  readonly syms: readonly string[];
}

export function sameCount(a: Count, b: Count): boolean {
  return a.num === b.num && a.syms.length === b.syms.length && a.syms.every((s, i) => s === b.syms[i]);
}

export function countText(c: Count): string {
  const parts = [...(c.num !== 1 || c.syms.length === 0 ? [String(c.num)] : []), ...c.syms];
  return parts.join(' × ');
}

/** The count an expression stands for, or undefined when it is not a plain product. */
export function countOf(ctx: RuleContext, node: SyntaxNode | undefined, fn: FunctionInfo | undefined, depth = 0): Count | undefined {
  if (!node || depth > 6) return undefined;
  const n = unparenthesize(node);
  const r: Resolved = ctx.values.resolve(n, fn);
  const v = asNumber(r);
  if (v !== undefined && r.value?.kind === 'number') return { num: v, syms: [] };
  if (n.type === 'binary_operator') {
    const op = ctx.text_(childByField(n, 'operator'));
    if (op !== '*') return undefined;
    const a = countOf(ctx, childByField(n, 'left'), fn, depth + 1);
    const b = countOf(ctx, childByField(n, 'right'), fn, depth + 1);
    if (!a || !b) return undefined;
    return { num: a.num * b.num, syms: [...a.syms, ...b.syms].sort() };
  }
  if (n.type === 'call') {
    const call = ctx.facts.callByNode.get(n);
    if (call?.name === 'len' && call.args[0] && !call.receiver) {
      const arg = unparenthesize(call.args[0]);
      return arg.type === 'identifier' || arg.type === 'attribute' ? { num: 1, syms: [`len(${ctx.text_(arg)})`] } : undefined;
    }
    if ((call?.name === 'int') && call.args[0]) return countOf(ctx, call.args[0], fn, depth + 1);
    return undefined;
  }
  if (n.type === 'subscript') {
    const text = ctx.text_(n).replace(/\s+/g, '').replace(/'/g, '"');
    return /^[\w.]+(\["\w+"\])+$/.test(text) ? { num: 1, syms: [text] } : undefined;
  }
  if (n.type === 'identifier' || n.type === 'attribute') {
    const name = ctx.text_(n);
    const asg = singleAssignment(ctx, name, fn);
    if (asg) {
      const inner = countOf(ctx, asg.value, asg.fn, depth + 1);
      if (inner) return inner;
      return undefined;
    }
    return { num: 1, syms: [name] };
  }
  return undefined;
}

/** The one plain assignment of a name in the function or at module level, if there is exactly one. */
function singleAssignment(ctx: RuleContext, name: string, fn: FunctionInfo | undefined): { value: SyntaxNode; fn: FunctionInfo | undefined } | undefined {
  const all = (ctx.facts.assignmentsByTarget.get(name) ?? []).filter((a) => a.targetText === name && (a.fn === fn || a.fn === undefined));
  const local = all.filter((a) => a.fn === fn);
  const chosen = local.length > 0 ? local : all;
  if (chosen.length !== 1 || chosen[0]!.op !== '=' || !chosen[0]!.value) return undefined;
  return { value: chosen[0]!.value, fn: chosen[0]!.fn };
}

/** How many times a loop runs: `range(E)` → E, `range(a, b)` → b − a, a loader → len(loader). */
export function loopCount(ctx: RuleContext, loop: LoopInfo): Count | undefined {
  if (loop.kind !== 'for' || !loop.iter) return undefined;
  const iter = unparenthesize(loop.iter);
  const call = iter.type === 'call' ? ctx.facts.callByNode.get(iter) : undefined;
  if (call && (call.name === 'range' || call.name === 'trange') && !call.receiver) {
    if (call.args.length === 1) return countOf(ctx, call.args[0], loop.fn);
    if (call.args.length === 2) {
      const a = asNumber(ctx.values.resolve(call.args[0]!, loop.fn));
      if (a === 0) return countOf(ctx, call.args[1], loop.fn);
      const b = asNumber(ctx.values.resolve(call.args[1]!, loop.fn));
      if (a !== undefined && b !== undefined) return { num: Math.max(0, b - a), syms: [] };
    }
    return undefined;
  }
  const inner = iteratedExpression(ctx, loop);
  if (inner && (inner.type === 'identifier' || inner.type === 'attribute') && iteratesLoader(ctx, loop)) return { num: 1, syms: [`len(${ctx.text_(inner)})`] };
  return undefined;
}

/** `self.trainer.estimated_stepping_batches`, `num_training_steps`, `len(loader)`: a count of optimizer steps. */
export function looksStepBased(text: string): boolean {
  return /steps|stepping_batches|len\(|iters\b|iterations|batches/i.test(text);
}

// ---------------------------------------------------------------- learning rates

export const isDefault = (h: Hyperparameter | undefined): boolean => !h || h.resolved.source === 'default';

/** The optimizer's own lr hyperparameter (Keras' legacy `lr=` keyword included). */
export function topLr(opt: OptimizerModel): Hyperparameter | undefined {
  const h = opt.hyper.get(opt.api.lrKey);
  if (opt.api.framework === 'keras' && isDefault(h)) return opt.hyper.get('lr') ?? h;
  return h;
}

/** Every lr that applies to some parameters: each group's own, plus the top one if a group lacks one. */
export function lrSites(opt: OptimizerModel): { hyper: Hyperparameter; group: ParamGroupModel | undefined }[] {
  const top = topLr(opt);
  if (!opt.paramGroups) return top ? [{ hyper: top, group: undefined }] : [];
  const out: { hyper: Hyperparameter; group: ParamGroupModel | undefined }[] = [];
  let topUsed = false;
  for (const g of opt.paramGroups) {
    const h = g.hyper.get('lr') ?? g.hyper.get(opt.api.lrKey);
    if (h) out.push({ hyper: h, group: g });
    else topUsed = true;
  }
  if (topUsed && top) out.unshift({ hyper: top, group: undefined });
  return out;
}

/** Values of a hyperparameter across the top level and the param groups that set it. */
export function hyperSites(opt: OptimizerModel, key: string): { hyper: Hyperparameter; group: ParamGroupModel | undefined }[] {
  const top = opt.hyper.get(key);
  const out: { hyper: Hyperparameter; group: ParamGroupModel | undefined }[] = [];
  let topUsed = !opt.paramGroups;
  for (const g of opt.paramGroups ?? []) {
    const h = g.hyper.get(key);
    if (h) out.push({ hyper: h, group: g });
    else topUsed = true;
  }
  if (topUsed && top) out.unshift({ hyper: top, group: undefined });
  return out;
}

/** An lr the script sets, with the family it belongs to. */
export interface LrUse {
  readonly hyper: Hyperparameter;
  /** The optimizer, or undefined for `TrainingArguments(learning_rate=...)`. */
  readonly optimizer: OptimizerModel | undefined;
  readonly family: OptimizerFamily;
  readonly owner: string;
}

export function explicitLrUses(ctx: RuleContext): readonly LrUse[] {
  return once(ctx, 'lrUses', () => collectLrUses(ctx));
}

function collectLrUses(ctx: RuleContext): LrUse[] {
  const out: LrUse[] = [];
  for (const opt of ctx.model.optimizers) {
    for (const { hyper } of lrSites(opt)) if (!isDefault(hyper)) out.push({ hyper, optimizer: opt, family: opt.api.family, owner: opt.api.className });
  }
  for (const call of trainingArgumentsCalls(ctx)) {
    const lr = call.keywords.get('learning_rate');
    if (!lr) continue;
    const optim = call.keywords.get('optim');
    const optimName = optim ? asString(ctx.values.resolve(optim, call.fn)) : 'adamw_torch';
    const family: OptimizerFamily | undefined = optimName === undefined ? undefined
      : /lion/.test(optimName) ? 'lion' : /sgd/.test(optimName) ? 'sgd' : /adamw|adam/.test(optimName) && !/adafactor|8bit_?ada/.test(optimName) ? 'adamw' : undefined;
    if (!family) continue;
    out.push({
      hyper: { name: 'learning_rate', owner: call.name, resolved: ctx.values.resolve(lr, call.fn), node: lr, argument: call.keywordNodes.get('learning_rate'), anchor: call.keywordNodes.get('learning_rate') ?? lr },
      optimizer: undefined, family, owner: `${call.name} (optim=${optimName})`,
    });
  }
  return out;
}

const TRAINING_ARGUMENTS = /^(Seq2Seq)?TrainingArguments$|^(SFT|DPO|ORPO|KTO|GRPO|CPO|Reward)Config$/;

export function trainingArgumentsCalls(ctx: RuleContext): CallInfo[] {
  return once(ctx, 'trainingArguments', () => ctx.facts.calls.filter((c) => TRAINING_ARGUMENTS.test(c.name) && (/transformers|trl/.test(c.qualified) || c.qualified === c.name && ctx.model.frameworks.includes('huggingface'))));
}

/** A keyword (or positional) argument of any call as a hyperparameter, or undefined when not given. */
export function argumentHyper(ctx: RuleContext, call: CallInfo, key: string, position?: number): Hyperparameter | undefined {
  const node = call.keywords.get(key) ?? (position !== undefined ? call.args[position] : undefined);
  if (!node) return undefined;
  const argument = call.keywordNodes.get(key) ?? node;
  return { name: key, owner: call.name, resolved: ctx.values.resolve(node, call.fn), node, argument, anchor: argument };
}

// ---------------------------------------------------------------- edits

/** Edit adding `name=value` as a call's last argument (after a trailing comma it stays valid). */
export function appendArgument(ctx: RuleContext, call: CallInfo, argText: string): TextEdit | undefined {
  const list = call.argumentList;
  if (!list || list.type !== 'argument_list') return undefined;
  const items = list.children.filter((c) => c.named && c.type !== 'comment');
  const last = items[items.length - 1];
  if (!last) return ctx.insertAt(list.start + 1, argText);
  return ctx.insertAt(last.end, `, ${argText}`);
}

/** The last plain assignment of `name` in `fn` before offset `before` (e.g. what a `return name` returns). */
export function lastAssignmentBefore(ctx: RuleContext, name: string, fn: FunctionInfo | undefined, before: number): SyntaxNode | undefined {
  const all = (ctx.facts.assignmentsByTarget.get(name) ?? []).filter((a) => a.targetText === name && a.fn === fn && a.node.end <= before);
  const last = all[all.length - 1];
  return last && last.op === '=' && !last.conditional ? last.value : undefined;
}

/** The optimizers a training loop over a data loader steps (by name), or that a Lightning module returns. */
export function optimizersSteppedOnData(ctx: RuleContext): ReadonlySet<OptimizerModel> {
  return once(ctx, 'steppedOnData', () => {
    const names = new Set<string>();
    for (const t of ctx.model.trainingLoops) {
      for (const e of t.events) {
        if (e.kind !== 'step') continue;
        const loop = effectiveLoop(e.call, e.via) ?? t.loop;
        if (!iteratesLoader(ctx, loop) && !iteratesLoader(ctx, t.loop)) continue;
        if (e.call.receiver) names.add(e.call.receiver);
        if (e.call.args[0]) names.add(ctx.text_(e.call.args[0]));
      }
    }
    return new Set(ctx.model.optimizers.filter((o) => o.boundTo.some((b) => names.has(b)) || o.call.fn?.name === 'configure_optimizers'));
  });
}

/** The one plain assignment of a name visible from `fn` (its own, else module level). */
export function assignedValue(ctx: RuleContext, name: string, fn: FunctionInfo | undefined): { value: SyntaxNode; fn: FunctionInfo | undefined } | undefined {
  return singleAssignment(ctx, name, fn);
}
