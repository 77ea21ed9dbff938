import type { CallInfo, FunctionInfo } from '../facts/scriptFacts';
import type { Fix, TextEdit } from '../findings';
import type { Hyperparameter, OptimizerModel, SchedulerModel, TrainingLoopModel } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, unparenthesize, walk } from '../syntax/syntaxNode';
import { asNumber, asNumbers, asString, formatNumber, type Resolved } from '../values/pyValue';
import { describe, numberOf } from './ruleHelpers';
import type { RuleContext, RuleSpec } from './ruleSpec';
import { returnStatements } from '../facts/functionReturns';
import {
  accumulationGuard, argumentHyper, countOf, countText, explicitLrUses, isDefault, iteratesLoader, loopCount,
  lastAssignmentBefore, looksStepBased, lrSites, sameCount, schedulerNamed, schedulerOptimizerNode, schedulerStepSites, trainingArgumentsCalls,
  transformerEvidence, warmupEvidence, type Count, type SchedulerStepSite,
} from './trainingSetup';

// ---------------------------------------------------------------- shared helpers

/** A scheduler argument given by keyword or position (`StepLR(opt, 30)`). */
function schedArg(s: SchedulerModel, key: string, position: number): { node: SyntaxNode; anchor: SyntaxNode } | undefined {
  const kw = s.call.keywords.get(key);
  if (kw) return { node: kw, anchor: s.call.keywordNodes.get(key) ?? kw };
  const pos = s.call.args[position];
  return pos ? { node: pos, anchor: pos } : undefined;
}

function resolvedArg(ctx: RuleContext, s: SchedulerModel, key: string, position: number): Resolved | undefined {
  const a = schedArg(s, key, position);
  return a ? ctx.values.resolve(a.node, s.call.fn) : undefined;
}

/** The length a schedule is built for, and the argument that sets it. */
interface ScheduleLength {
  readonly anchor: SyntaxNode;
  readonly label: string;
  readonly count: Count;
}

const HF_TOTAL_POSITION: Readonly<Record<string, number>> = {
  get_linear_schedule_with_warmup: 2, get_cosine_schedule_with_warmup: 2, get_polynomial_decay_schedule_with_warmup: 2,
  get_cosine_with_hard_restarts_schedule_with_warmup: 2, get_scheduler: 3,
};

function scheduleLength(ctx: RuleContext, s: SchedulerModel): ScheduleLength | undefined {
  const fn = s.call.fn;
  const from = (key: string, position: number): ScheduleLength | undefined => {
    const a = schedArg(s, key, position);
    const count = a ? countOf(ctx, a.node, fn) : undefined;
    return a && count ? { anchor: a.anchor, label: `${key}=${ctx.text_(a.node)}`, count } : undefined;
  };
  switch (s.className) {
    case 'CosineAnnealingLR':
      return from('T_max', 1);
    case 'PolynomialLR':
      return from('total_iters', 1);
    case 'LinearLR': {
      // Only a decaying LinearLR is a whole schedule; a rising one is a warmup of its own length.
      const start = asNumber(resolvedArg(ctx, s, 'start_factor', 1)) ?? (schedArg(s, 'start_factor', 1) ? undefined : 1 / 3);
      const end = asNumber(resolvedArg(ctx, s, 'end_factor', 2)) ?? (schedArg(s, 'end_factor', 2) ? undefined : 1);
      return start !== undefined && end !== undefined && start > end ? from('total_iters', 3) : undefined;
    }
    case 'OneCycleLR': {
      const total = from('total_steps', 2);
      if (total) return total;
      const epochs = from('epochs', 3);
      const per = from('steps_per_epoch', 4);
      if (!epochs || !per) return undefined;
      return { anchor: per.anchor, label: `${epochs.label}, ${per.label}`, count: { num: epochs.count.num * per.count.num, syms: [...epochs.count.syms, ...per.count.syms].sort() } };
    }
  }
  const position = HF_TOTAL_POSITION[s.className];
  return position === undefined ? undefined : from('num_training_steps', position);
}

/** Schedulers wrapped in SequentialLR / ChainedScheduler run only part of the time. */
function isComposed(ctx: RuleContext, s: SchedulerModel): boolean {
  for (const name of ['SequentialLR', 'ChainedScheduler']) {
    for (const outer of ctx.facts.callsByName.get(name) ?? []) {
      if (outer.node.start <= s.call.node.start && s.call.node.end <= outer.node.end) return true;
      const text = ctx.text_(outer.node);
      if (s.boundTo.some((b) => new RegExp(`\\b${b.replace(/\./g, '\\.')}\\b`).test(text))) return true;
    }
  }
  return false;
}

/** The loop's `for x in ...` header, for messages. */
function loopHeader(ctx: RuleContext, site: { loop: { node: SyntaxNode; headerEnd: number } }): string {
  return ctx.text.slice(site.loop.node.start, site.loop.headerEnd).replace(/\s+/g, ' ').replace(/:\s*$/, '').trim();
}

/** The statement that is a direct child of `block` and contains `node`. */
function statementIn(block: SyntaxNode, node: SyntaxNode): SyntaxNode | undefined {
  let n: SyntaxNode | undefined = node;
  while (n && n.parent !== block) n = n.parent;
  return n;
}

/** Per-iteration schedules whose semantics are known (timm's scheduler classes count epochs by default). */
const STEP_SCHEDULERS = /^(OneCycleLR|CyclicLR|get_\w+)$/;

const isTorchScheduler = (s: SchedulerModel): boolean => s.kind !== 'iteration' || STEP_SCHEDULERS.test(s.className);

// ---------------------------------------------------------------- LR001

/**
 * True when the call sits under an `if` that tests a loop variable or a counter (`if epoch > 0:`)
 * and that does not also guard the optimizer step (an accumulation `if` guards both).
 */
function conditionalOnProgress(ctx: RuleContext, call: CallInfo, loopNode: SyntaxNode, stepNode: SyntaxNode): boolean {
  const names = new Set<string>();
  for (const l of [...call.loops, ...ctx.facts.loops.filter((x) => x.node === loopNode)]) {
    if (l.target) for (const m of ctx.text_(l.target).matchAll(/[A-Za-z_]\w*/g)) names.add(m[0]);
  }
  for (let p = call.node.parent; p && p !== loopNode; p = p.parent) {
    if (p.type !== 'if_statement' && p.type !== 'elif_clause' && p.type !== 'conditional_expression') continue;
    if (p.start <= stepNode.start && stepNode.end <= p.end) continue;
    const cond = childByField(p, 'condition');
    const text = cond ? ctx.text_(cond) : '';
    for (const m of text.matchAll(/[A-Za-z_][\w.]*/g)) {
      const id = m[0];
      if (names.has(id) || /(^|[._])(step|steps|iter|iteration|it|epoch|global_step|num_updates|updates)$/.test(id)) return true;
      if ((ctx.facts.assignmentsByTarget.get(id) ?? []).some((a) => a.op === '+=')) return true;
    }
  }
  return false;
}

const LR001: RuleSpec = {
  id: 'LR001', title: 'scheduler.step() before optimizer.step()', family: 'LR', severity: 'warning', fix: 'safe',
  reference: 'torch.optim.lr_scheduler docs ("call scheduler.step() after optimizer.step()")',
  check(ctx) {
    const done = new Set<CallInfo>();
    // Innermost loops first, so each call is judged in the loop that runs it.
    const loops = [...ctx.model.trainingLoops].sort((a, b) => a.events.length - b.events.length);
    for (const t of loops) {
      t.events.forEach((e, i) => {
        if (e.kind !== 'scheduler_step' || done.has(e.call)) return;
        const s = schedulerNamed(ctx, e.call.receiver, e.call.fn);
        if (!s || s.kind === 'plateau' || !isTorchScheduler(s) || e.call.args.length > 0 || e.call.keywords.size > 0) return;
        const optText = ctx.text_(schedulerOptimizerNode(s));
        const steps = t.events.map((x, j) => ({ x, j })).filter(({ x }) => x.kind === 'step');
        const named = steps.filter(({ x }) => x.call.receiver === optText || (x.call.args[0] && ctx.text_(x.call.args[0]) === optText));
        const relevant = named.length > 0 ? named : steps;
        if (relevant.length === 0) return;
        done.add(e.call);
        if (relevant.some(({ j }) => j < i)) return;
        const first = relevant[0]!.x;
        if (conditionalOnProgress(ctx, e.call, t.loop.node, first.via?.[0]?.node ?? first.call.node)) return;
        ctx.report({
          node: e.call.node,
          message: `${ctx.text_(e.call.node)} runs before ${ctx.text_(first.call.node)} in \`${loopHeader(ctx, t)}\`: the first value of the ${s.className} schedule is skipped (PyTorch warns "Detected call of lr_scheduler.step() before optimizer.step()"). Step the scheduler after the optimizer.`,
          related: [{ node: first.call.node, message: 'optimizer step' }],
          fixes: swapFix(ctx, t, e.call, relevant.map(({ x }) => (x.via && x.via[0] ? x.via[0].node : x.call.node))),
        });
      });
    }
  },
};

/** Move `scheduler.step()` to just after the last statement of the same block that steps the optimizer. */
function swapFix(ctx: RuleContext, t: TrainingLoopModel, schedCall: CallInfo, stepNodes: readonly SyntaxNode[]): Fix[] {
  const s1 = schedCall.statement;
  const body = s1.parent;
  if (!body || body.type !== 'block' || body.start < t.loop.node.start || body.end > t.loop.node.end) return [];
  if (s1.type !== 'expression_statement' || ctx.text_(s1).trim() !== ctx.text_(schedCall.node)) return [];
  const s1Line = ctx.lines.positionAt(s1.start).line;
  const rest = ctx.lines.lineText(s1Line).trim().slice(ctx.text_(s1).trim().length);
  if (ctx.lines.positionAt(s1.end).line !== s1Line || !ctx.lines.lineText(s1Line).trim().startsWith(ctx.text_(s1).trim()) || !/^\s*(#.*)?$/.test(rest)) return [];
  let target: SyntaxNode | undefined;
  for (const n of stepNodes) {
    const s2 = statementIn(body, n);
    if (s2 && s2.start > s1.end && (!target || s2.start > target.start)) target = s2;
  }
  if (!target) return [];
  const indent = ctx.indentOf(s1);
  const moved = ctx.statementLines(s1).map((l) => l.slice(indent.length));
  return [{
    title: 'Move the scheduler step after the optimizer step',
    safe: true,
    edits: [ctx.deleteLines(s1), ctx.insertLinesAfter(target, moved)],
  }];
}

// ---------------------------------------------------------------- LR002

/**
 * Whether an epoch-kind schedule's own numbers count epochs (StepLR step_size ≤ epochs, gamma ≤ 0.99),
 * and what stepping it per batch does to it.
 */
function countsEpochs(ctx: RuleContext, s: SchedulerModel, epochs: number | undefined, maxEpochLike: number): { setting: string; effect: string } | undefined {
  const limit = epochs ?? maxEpochLike;
  switch (s.className) {
    case 'StepLR': {
      const r = resolvedArg(ctx, s, 'step_size', 1);
      const v = asNumber(r);
      return v !== undefined && v <= limit
        ? { setting: `step_size=${describe(r!)}`, effect: `the lr drops every ${formatNumber(v, true)} batches instead of every ${formatNumber(v, true)} epochs` }
        : undefined;
    }
    case 'MultiStepLR': {
      const r = resolvedArg(ctx, s, 'milestones', 1);
      const v = asNumbers(r);
      return v && v.length > 0 && Math.max(...v) <= limit
        ? { setting: `milestones=${describe(r!)}`, effect: `every milestone is passed within the first ${formatNumber(Math.max(...v), true)} batches` }
        : undefined;
    }
    case 'ExponentialLR': {
      const r = resolvedArg(ctx, s, 'gamma', 1);
      const v = asNumber(r);
      return v !== undefined && v <= 0.99
        ? { setting: `gamma=${describe(r!)}`, effect: `the lr is multiplied by ${formatNumber(v)} after every batch and reaches ~0 within the first epoch` }
        : undefined;
    }
  }
  return undefined;
}

/** True when a step-based schedule is built for exactly as many steps as there are epochs (deliberately per epoch). */
function builtForEpochs(ctx: RuleContext, s: SchedulerModel, site: SchedulerStepSite): boolean {
  if (s.className === 'OneCycleLR' && asNumber(resolvedArg(ctx, s, 'steps_per_epoch', 4)) === 1) return true;
  const len = scheduleLength(ctx, s);
  const epochs = site.epochLoop ? loopCount(ctx, site.epochLoop) : undefined;
  if (len && epochs && sameCount(len.count, epochs)) return true;
  if (s.className === 'CyclicLR') {
    const up = asNumber(resolvedArg(ctx, s, 'step_size_up', 3)) ?? (schedArg(s, 'step_size_up', 3) ? undefined : 2000);
    if (up === undefined || (epochs && epochs.syms.length === 0 && up <= epochs.num)) return true;
  }
  if (/^get_constant_schedule/.test(s.className)) return true;
  return false;
}

/** A StepLR step_size / milestone up to this many steps is epoch-sized when the epoch count is unknown. */
const MAX_EPOCH_LIKE_STEP = 200;

const LR002: RuleSpec = {
  id: 'LR002', title: 'Scheduler stepped at the wrong granularity', family: 'LR', severity: 'warning', fix: 'none',
  reference: 'torch.optim.lr_scheduler docs (epoch vs. iteration schedulers)',
  check(ctx) {
    const maxEpochLike = MAX_EPOCH_LIKE_STEP;
    for (const site of schedulerStepSites(ctx)) {
      const s = site.scheduler;
      if (!s || site.call.args.length > 0 || site.call.keywords.size > 0) continue;
      if (s.kind === 'epoch' && site.level === 'batch' && iteratesLoader(ctx, site.loop)) {
        const epochs = site.epochLoop ? loopCount(ctx, site.epochLoop) : undefined;
        const why = countsEpochs(ctx, s, epochs && epochs.syms.length === 0 ? epochs.num : undefined, maxEpochLike);
        if (!why) continue;
        ctx.report({
          node: site.call.node,
          message: `${s.className} (${why.setting}) counts epochs, but ${ctx.text_(site.call.node)} runs once per batch in \`${loopHeader(ctx, site)}\`: ${why.effect}. Call it once per epoch, after the batch loop.`,
          related: [{ node: s.call.node, message: `${s.className} scheduler` }],
        });
      } else if (s.kind === 'iteration' && STEP_SCHEDULERS.test(s.className) && site.level === 'epoch' && !builtForEpochs(ctx, s, site)) {
        ctx.report({
          node: site.call.node,
          message: `${s.className} is a per-iteration schedule, but ${ctx.text_(site.call.node)} runs once per epoch in \`${loopHeader(ctx, site)}\` (the optimizer steps in a nested loop): the schedule barely advances, so warmup and decay never happen as configured. Call it after every optimizer.step().`,
          related: [{ node: s.call.node, message: `${s.className} scheduler` }],
        });
      }
    }
  },
};

// ---------------------------------------------------------------- LR003

const LR003: RuleSpec = {
  id: 'LR003', title: 'Transformer trained at a high learning rate without warmup', family: 'LR', severity: 'warning', fix: 'unsafe',
  reference: 'Attention Is All You Need (Vaswani et al. 2017); On the Variance of the Adaptive Learning Rate (RAdam); On Layer Normalization in the Transformer Architecture (Xiong et al. 2020)',
  options: { min_lr_transformer: 1e-3 },
  check(ctx) {
    const min = ctx.option<number>('min_lr_transformer');
    const uses = explicitLrUses(ctx).filter((u) => (u.family === 'adam' || u.family === 'adamw') && u.optimizer?.api.className !== 'RAdam');
    if (uses.length === 0) return;
    const tf = transformerEvidence(ctx);
    if (!tf || warmupEvidence(ctx)) return;
    for (const use of uses) {
      const v = numberOf(use.hyper);
      if (v === undefined || v < min) continue;
      ctx.report({
        node: use.hyper.anchor,
        message: `${use.owner} ${use.hyper.name}=${describe(use.hyper)} is high for a transformer (${tf}; ≥ ${formatNumber(min)}) and nothing warms the learning rate up: Adam's second-moment estimates are unreliable in the first steps and post-LN attention blocks diverge at full lr. Ramp the lr up over the first ~1–10% of steps (LinearLR, get_*_schedule_with_warmup, warmup_ratio).`,
        fixes: use.optimizer ? warmupFix(ctx, use.optimizer, 1000) : [],
      });
    }
  },
};

/** `warmup_scheduler = LinearLR(opt, start_factor=0.01, total_iters=N)` plus its step after `opt.step()`. */
function warmupFix(ctx: RuleContext, opt: OptimizerModel, steps: number): Fix[] {
  if (opt.api.framework !== 'pytorch' || ctx.model.schedulers.length > 0) return [];
  const torch = [...ctx.facts.importBindings].find(([, v]) => v === 'torch')?.[0];
  const name = opt.boundTo.length === 1 ? opt.boundTo[0] : undefined;
  if (!torch || !name || opt.call.statement.type !== 'expression_statement' || opt.call.loops.length > 0) return [];
  const stepCalls = (ctx.facts.callsByName.get('step') ?? []).filter((c) => c.receiver === name);
  if (stepCalls.length !== 1) return [];
  const step = stepCalls[0]!;
  if (step.fn !== opt.call.fn || step.loops.length === 0 || step.statement.type !== 'expression_statement' || ctx.text_(step.statement).trim() !== ctx.text_(step.node)) return [];
  const sched = `${name.replace(/\W/g, '_')}_warmup`;
  return [{
    title: `Add a linear warmup over ${steps} steps (LinearLR; changes training dynamics)`,
    safe: false,
    edits: [
      ctx.insertLinesAfter(opt.call.statement, [`${sched} = ${torch}.optim.lr_scheduler.LinearLR(${name}, start_factor=0.01, total_iters=${steps})`]),
      ctx.insertLinesAfter(step.statement, [`${sched}.step()`]),
    ],
  }];
}

// ---------------------------------------------------------------- Lightning configure_optimizers

interface LightningSchedulerConfig {
  readonly fn: FunctionInfo;
  /** Where findings go: the scheduler config dict, else the return statement. */
  readonly anchor: SyntaxNode;
  readonly schedulerNode: SyntaxNode;
  readonly scheduler: SchedulerModel | undefined;
  readonly interval: { value: string | undefined; node: SyntaxNode } | undefined;
  readonly hasMonitor: boolean;
  /** The edit that sets interval="step". */
  readonly intervalEdit: TextEdit | undefined;
}

function dictEntries(ctx: RuleContext, dict: SyntaxNode): Map<string, { pair: SyntaxNode; value: SyntaxNode }> {
  const out = new Map<string, { pair: SyntaxNode; value: SyntaxNode }>();
  for (const pair of dict.children) {
    if (pair.type !== 'pair') continue;
    const k = childByField(pair, 'key');
    const v = childByField(pair, 'value');
    if (k?.type === 'string' && v) out.set(ctx.text_(k).replace(/^['"]|['"]$/g, ''), { pair, value: v });
  }
  return out;
}

/** A `{...}` literal, through the variable's last assignment before the use. */
function asDict(ctx: RuleContext, node: SyntaxNode | undefined, fn: FunctionInfo): SyntaxNode | undefined {
  if (!node) return undefined;
  const n = unparenthesize(node);
  if (n.type === 'dictionary') return n;
  if (n.type === 'identifier') {
    const value = lastAssignmentBefore(ctx, ctx.text_(n), fn, n.start);
    const v = value ? unparenthesize(value) : undefined;
    return v?.type === 'dictionary' ? v : undefined;
  }
  return undefined;
}

/** The scheduler an expression in configure_optimizers stands for: a constructor call, or a variable's last value. */
function schedulerOf(ctx: RuleContext, node: SyntaxNode, fn: FunctionInfo): SchedulerModel | undefined {
  let n = unparenthesize(node);
  if (n.type === 'identifier') {
    const value = lastAssignmentBefore(ctx, ctx.text_(n), fn, n.start);
    if (value) n = unparenthesize(value);
  }
  if (n.type === 'call') return ctx.model.schedulers.find((s) => s.call.node === n);
  return undefined;
}

function lightningSchedulerConfigs(ctx: RuleContext): LightningSchedulerConfig[] {
  const out: LightningSchedulerConfig[] = [];
  for (const fn of ctx.model.frameworkHooks) {
    if (fn.name !== 'configure_optimizers' || !fn.cls?.qualifiedBases.some((b) => /LightningModule$/.test(b)) || !fn.body) continue;
    for (const ret of returnStatements(fn)) {
      const value = ret.children.find((c) => c.named && c.type !== 'comment');
      if (!value) continue;
      const v = unparenthesize(value);
      const outer = asDict(ctx, v, fn);
      const fromConfig = (cfg: SyntaxNode, outerMonitor: boolean): void => {
        const e = dictEntries(ctx, cfg);
        const sched = e.get('scheduler');
        if (!sched) return;
        const interval = e.get('interval');
        const intervalValue = interval ? asString(ctx.values.resolve(interval.value, fn)) : undefined;
        const first = cfg.children.find((c) => c.type === 'pair');
        const quote = first ? ctx.text_(first)[0] : '"';
        const q = quote === "'" ? "'" : '"';
        out.push({
          fn, anchor: cfg, schedulerNode: sched.value, scheduler: schedulerOf(ctx, sched.value, fn),
          interval: interval ? { value: intervalValue, node: interval.value } : undefined,
          hasMonitor: outerMonitor || e.has('monitor'),
          intervalEdit: interval
            ? (interval.value.type === 'string' ? ctx.replace(interval.value, `${q}step${q}`) : undefined)
            : first ? ctx.insertAt(first.start, `${q}interval${q}: ${q}step${q}, `) : undefined,
        });
      };
      const fromScheduler = (node: SyntaxNode, anchor: SyntaxNode, outerMonitor: boolean): void => {
        const dict = asDict(ctx, node, fn);
        if (dict) return fromConfig(dict, outerMonitor);
        const n = unparenthesize(node);
        if (n.type !== 'identifier' && n.type !== 'call' && n.type !== 'attribute') return;
        out.push({
          fn, anchor, schedulerNode: n, scheduler: schedulerOf(ctx, n, fn), interval: undefined, hasMonitor: outerMonitor,
          intervalEdit: ctx.replace(n, `{"scheduler": ${ctx.text_(n)}, "interval": "step"}`),
        });
      };
      if (outer) {
        const e = dictEntries(ctx, outer);
        const sched = e.get('lr_scheduler');
        if (sched) fromScheduler(sched.value, outer, e.has('monitor'));
      } else if (v.type === 'expression_list' || v.type === 'tuple') {
        const parts = v.children.filter((c) => c.named && c.type !== 'comment');
        const list = parts[1] ? unparenthesize(parts[1]) : undefined;
        if (parts.length === 2 && list?.type === 'list') {
          for (const item of list.children.filter((c) => c.named && c.type !== 'comment')) fromScheduler(item, ret, false);
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- LR004

/** The enclosing loop's counter (`epoch` of `for epoch in range(...)` / `enumerate(...)`) when `arg` is exactly it. */
function loopCounter(ctx: RuleContext, call: CallInfo, arg: SyntaxNode): string | undefined {
  const a = unparenthesize(arg);
  if (a.type !== 'identifier') return undefined;
  const name = ctx.text_(a);
  for (const l of call.loops) {
    if (!l.target || !l.iter) continue;
    const iter = unparenthesize(l.iter);
    const iterCall = iter.type === 'call' ? ctx.facts.callByNode.get(iter) : undefined;
    if (!iterCall || !/^(range|enumerate|trange)$/.test(iterCall.name)) continue;
    const target = unparenthesize(l.target);
    const counterNode = iterCall.name === 'enumerate' ? target.children.filter((c) => c.named)[0] : target;
    if (counterNode?.type === 'identifier' && ctx.text_(counterNode) === name) return name;
  }
  return undefined;
}

const LR004: RuleSpec = {
  id: 'LR004', title: 'ReduceLROnPlateau stepped without a metric', family: 'LR', severity: 'error', fix: 'none',
  reference: 'torch.optim.lr_scheduler.ReduceLROnPlateau docs; Lightning lr_scheduler "monitor"',
  check(ctx) {
    const steps = ctx.facts.callsByName.get('step') ?? [];
    for (const s of ctx.model.schedulers) {
      if (s.kind !== 'plateau') continue;
      for (const call of steps) {
        if (!call.receiver || !s.boundTo.includes(call.receiver) || schedulerNamed(ctx, call.receiver, call.fn) !== s) continue;
        if (call.hasSplat) continue;
        const arg = call.args[0] ?? call.keywords.get('metrics');
        const counter = arg ? loopCounter(ctx, call, arg) : undefined;
        if (arg && !counter) continue;
        ctx.report({
          node: call.node,
          message: counter
            ? `${ctx.text_(call.node)} passes the loop counter \`${counter}\` as the metric: ReduceLROnPlateau sees a value that never improves (mode="min") and cuts the lr every patience + 1 epochs whatever the model does. Pass the monitored value, e.g. ${call.receiver}.step(val_loss).`
            : `${ctx.text_(call.node)} is called without a metric, but ReduceLROnPlateau decides from the value it is given: step(metrics) raises TypeError without one. Pass the monitored value, e.g. ${call.receiver}.step(val_loss).`,
          related: [{ node: s.call.node, message: 'ReduceLROnPlateau scheduler' }],
        });
      }
    }
    for (const cfg of lightningSchedulerConfigs(ctx)) {
      if (cfg.scheduler?.kind !== 'plateau' || cfg.hasMonitor) continue;
      ctx.report({
        node: cfg.anchor,
        range: ctx.firstLineRange(cfg.anchor),
        message: 'configure_optimizers returns a ReduceLROnPlateau scheduler without "monitor": Lightning cannot give it a metric and raises MisconfigurationException. Add "monitor": "val_loss" (a metric you log) to the scheduler config.',
      });
    }
  },
};

// ---------------------------------------------------------------- LR005

/** Why a scheduler counts optimizer steps (its kind, or its length argument names steps). */
function stepBasedReason(ctx: RuleContext, s: SchedulerModel): string | undefined {
  if (s.kind === 'iteration') {
    if (!STEP_SCHEDULERS.test(s.className)) return undefined;
    const total = schedArg(s, 'total_steps', 2) ?? schedArg(s, 'num_training_steps', HF_TOTAL_POSITION[s.className] ?? 99);
    if (total && /epoch/i.test(ctx.text_(total.node)) && !looksStepBased(ctx.text_(total.node))) return undefined;
    if (/^get_constant_schedule$/.test(s.className)) return undefined;
    return `${s.className} is a per-step schedule`;
  }
  if (s.kind === 'either') {
    const key = s.className === 'CosineAnnealingLR' ? 'T_max' : s.className === 'LinearLR' || s.className === 'PolynomialLR' ? 'total_iters' : undefined;
    const pos = s.className === 'LinearLR' ? 3 : 1;
    const a = key ? schedArg(s, key, pos) : undefined;
    if (a && looksStepBased(ctx.text_(a.node))) return `${key}=${ctx.text_(a.node)} counts steps`;
  }
  return undefined;
}

const LR005: RuleSpec = {
  id: 'LR005', title: 'Lightning step-based schedule stepped per epoch', family: 'LR', severity: 'warning', fix: 'safe',
  reference: 'PyTorch Lightning docs: configure_optimizers lr_scheduler config ("interval")',
  check(ctx) {
    for (const cfg of lightningSchedulerConfigs(ctx)) {
      if (!cfg.scheduler) continue;
      if (cfg.interval && cfg.interval.value !== 'epoch') continue;
      const why = stepBasedReason(ctx, cfg.scheduler);
      if (!why) continue;
      const now = cfg.interval ? 'interval="epoch"' : 'no "interval" (Lightning defaults to "epoch")';
      ctx.report({
        node: cfg.anchor,
        range: ctx.firstLineRange(cfg.anchor),
        message: `${why}, but the scheduler config has ${now}: Lightning steps it once per epoch, so the schedule barely advances. Set "interval": "step".`,
        related: [{ node: cfg.scheduler.call.node, message: `${cfg.scheduler.className} scheduler` }],
        fixes: cfg.intervalEdit ? [{ title: 'Set "interval": "step"', safe: true, edits: [cfg.intervalEdit] }] : [],
      });
    }
  },
};

// ---------------------------------------------------------------- LR006, LR007

interface HfWarmup {
  readonly call: CallInfo;
  readonly scheduleType: { value: string; node: SyntaxNode; fixable: boolean } | undefined;
  readonly steps: Hyperparameter | undefined;
  readonly ratio: Hyperparameter | undefined;
}

function hfWarmups(ctx: RuleContext): HfWarmup[] {
  const out: HfWarmup[] = [];
  const typeOf = (node: SyntaxNode | undefined, fn: FunctionInfo | undefined): HfWarmup['scheduleType'] => {
    if (!node) return undefined;
    const n = unparenthesize(node);
    if (n.type === 'attribute' && /(^|\.)SchedulerType\.[A-Z_]+$/.test(ctx.text_(n))) {
      return { value: ctx.text_(n).split('.').pop()!.toLowerCase(), node: n, fixable: true };
    }
    const v = asString(ctx.values.resolve(n, fn));
    return v === undefined ? undefined : { value: v, node: n, fixable: n.type === 'string' };
  };
  for (const call of trainingArgumentsCalls(ctx)) {
    out.push({
      call, scheduleType: call.keywords.has('lr_scheduler_type') ? typeOf(call.keywords.get('lr_scheduler_type'), call.fn) : { value: 'linear', node: call.node, fixable: false },
      steps: argumentHyper(ctx, call, 'warmup_steps'), ratio: argumentHyper(ctx, call, 'warmup_ratio'),
    });
  }
  for (const s of ctx.model.schedulers) {
    if (s.className !== 'get_scheduler') continue;
    out.push({ call: s.call, scheduleType: typeOf(s.call.keywords.get('name') ?? s.call.args[0], s.call.fn), steps: argumentHyper(ctx, s.call, 'num_warmup_steps', 2), ratio: undefined });
  }
  return out;
}

const positive = (h: Hyperparameter | undefined): boolean => (numberOf(h) ?? 0) > 0;

const LR006: RuleSpec = {
  id: 'LR006', title: 'Constant schedule ignores its warmup', family: 'LR', severity: 'warning', fix: 'safe',
  reference: 'transformers.get_scheduler / SchedulerType ("constant" takes no warmup)',
  check(ctx) {
    for (const w of hfWarmups(ctx)) {
      if (w.scheduleType?.value !== 'constant') continue;
      const h = positive(w.steps) ? w.steps : positive(w.ratio) ? w.ratio : undefined;
      if (!h) continue;
      const t = w.scheduleType;
      const fixText = t.node.type === 'attribute' ? ctx.text_(t.node).replace(/CONSTANT$/, 'CONSTANT_WITH_WARMUP') : `${ctx.text_(t.node)[0]}constant_with_warmup${ctx.text_(t.node)[0]}`;
      ctx.report({
        node: h.anchor,
        message: `${h.name}=${describe(h)} has no effect: the "constant" schedule (${ctx.text_(t.node)}) takes no warmup, so training starts at the full lr. Use "constant_with_warmup".`,
        related: [{ node: t.node, message: 'schedule type' }],
        fixes: t.fixable ? [{ title: 'Use "constant_with_warmup"', safe: true, edits: [ctx.replace(t.node, fixText)] }] : [],
      });
    }
  },
};

const LR007: RuleSpec = {
  id: 'LR007', title: 'Both warmup_steps and warmup_ratio set', family: 'LR', severity: 'information', fix: 'none',
  reference: 'transformers.TrainingArguments (warmup_steps overrides warmup_ratio)',
  check(ctx) {
    for (const w of hfWarmups(ctx)) {
      if (!w.ratio || !w.steps || !positive(w.ratio) || !positive(w.steps)) continue;
      ctx.report({
        node: w.ratio.anchor,
        message: `warmup_ratio=${describe(w.ratio)} is ignored: warmup_steps=${describe(w.steps)} is also set and takes precedence. Keep only one of them.`,
        related: [{ node: w.steps.anchor, message: 'warmup_steps' }],
      });
    }
  },
};

// ---------------------------------------------------------------- LR008

function withoutLenFactors(c: Count): Count | undefined {
  const rest = c.syms.filter((s) => !s.startsWith('len('));
  return rest.length === c.syms.length ? undefined : { num: c.num, syms: rest };
}

/** True when the scheduler step sits under an `if` inside its loop (it may not run every iteration). */
function guarded(site: SchedulerStepSite): boolean {
  for (let p = site.call.node.parent; p && p !== site.loop.node; p = p.parent) {
    if (p.type === 'if_statement' || p.type === 'try_statement' || p.type === 'conditional_expression') return true;
  }
  return false;
}

function product(a: Count, b: Count): Count {
  return { num: a.num * b.num, syms: [...a.syms, ...b.syms].sort() };
}

const LR008: RuleSpec = {
  id: 'LR008', title: 'Schedule length does not match the training loop', family: 'LR', severity: 'warning', fix: 'none',
  reference: 'torch.optim.lr_scheduler docs (T_max, total_steps); transformers get_*_schedule_with_warmup (num_training_steps)',
  options: { tolerance: 0.1 },
  check(ctx) {
    const tolerance = ctx.option<number>('tolerance');
    const off = (length: number, calls: number) => Math.abs(length - calls) / calls > tolerance;
    const reported = new Set<SchedulerModel>();
    for (const site of schedulerStepSites(ctx)) {
      const s = site.scheduler;
      if (!s || reported.has(s) || site.call.args.length > 0 || site.call.keywords.size > 0 || isComposed(ctx, s)) continue;
      const len = scheduleLength(ctx, s);
      if (!len) continue;
      const stepCall = ctx.text_(site.call.node);
      let message: string | undefined;
      if (site.level === 'batch') {
        const per = loopCount(ctx, site.loop);
        const epochs = site.epochLoop ? loopCount(ctx, site.epochLoop) : undefined;
        if (epochs && per && !(per.num === 1 && per.syms.length === 0) && sameCount(len.count, epochs)) {
          message = `${s.className} ${len.label} = ${countText(epochs)} is the number of epochs (\`${loopHeader(ctx, { loop: site.epochLoop! })}\`), but ${stepCall} runs once per batch: the schedule ends after ${countText(epochs)} batches${s.className === 'CosineAnnealingLR' ? ' and then the cosine climbs back up' : s.className === 'OneCycleLR' ? ' and OneCycleLR raises ValueError' : ' and the lr stays at its final value'}. Use epochs × len(loader) optimizer steps.`;
        } else if (epochs && per && sameCount(len.count, product(epochs, per)) && accumulationGuard(ctx, site.call, site.loop.node)) {
          const guard = accumulationGuard(ctx, site.call, site.loop.node)!;
          message = `${s.className} ${len.label} counts every batch (epochs × len(loader)), but ${stepCall} only runs when \`${guard.condition}\`, once every ${guard.every} batches: the schedule is ${guard.factor}× longer than training and never reaches its end (the lr never decays fully). Divide the length by the accumulation steps.`;
        } else if (!site.epochLoop && per && per.syms.length === 0 && len.count.syms.length === 0 && per.num > 0 && len.count.num > 0 && !guarded(site)) {
          const ratio = len.count.num / per.num;
          const crash = s.className === 'OneCycleLR' && len.count.num < per.num;
          if (crash || off(len.count.num, per.num)) {
            message = `${s.className} ${len.label} = ${formatNumber(len.count.num, true)} steps, but ${stepCall} runs ${formatNumber(per.num, true)} times (\`${loopHeader(ctx, site)}\`)${crash ? ': OneCycleLR raises ValueError once it passes total_steps' : ': the schedule ' + (ratio > 1 ? 'never reaches its end' : 'finishes early and then stays flat or restarts')}. Make them match.`;
          }
        }
      } else if (site.level === 'epoch' && s.kind === 'either') {
        const epochs = loopCount(ctx, site.loop);
        const rest = withoutLenFactors(len.count);
        if (epochs && rest && sameCount(rest, epochs)) {
          message = `${s.className} ${len.label} counts batches (epochs × len(loader)), but ${stepCall} runs once per epoch in \`${loopHeader(ctx, site)}\`: the schedule covers only 1/len(loader) of its length, so the lr barely changes. Use ${len.label.split('=')[0]}=${countText(epochs)} or step per batch.`;
        } else if (epochs && epochs.syms.length === 0 && len.count.syms.length === 0 && epochs.num > 0 && len.count.num > 0 && !guarded(site)) {
          const ratio = len.count.num / epochs.num;
          if (off(len.count.num, epochs.num)) {
            message = `${s.className} ${len.label} = ${formatNumber(len.count.num, true)}, but ${stepCall} runs ${formatNumber(epochs.num, true)} times (once per epoch of \`${loopHeader(ctx, site)}\`): the schedule ${ratio > 1 ? 'is cut off before it decays' : 'ends early and then ' + (s.className === 'CosineAnnealingLR' ? 'the cosine climbs back up' : 'stays flat')}. Make them match.`;
          }
        }
      }
      if (!message) continue;
      reported.add(s);
      ctx.report({ node: len.anchor, message, related: [{ node: site.call.node, message: 'scheduler step' }] });
    }
  },
};

// ---------------------------------------------------------------- LR009

const LOGGING_CALLS = /^(print|log|info|debug|warning|add_scalar|add_scalars|log_dict|log_metrics|set_postfix|set_description|format|write|append|str|float|round)$/;

const LR009: RuleSpec = {
  id: 'LR009', title: 'Learning-rate variable decayed but never applied', family: 'LR', severity: 'warning', fix: 'none',
  reference: 'torch.optim param_groups semantics (an optimizer copies lr at construction)',
  check(ctx) {
    const code = ctx.text;
    if (/param_groups|\.learning_rate\s*=|\.lr\s*=|set_value\(|\.assign\(|set_lr\b/.test(code)) return;
    const trainingLoopNodes = new Set(ctx.model.trainingLoops.map((t) => t.loop.node));
    for (const opt of ctx.model.optimizers) {
      for (const { hyper } of lrSites(opt)) {
        const n = hyper.node ? unparenthesize(hyper.node) : undefined;
        if (!n || (n.type !== 'identifier' && n.type !== 'attribute')) continue;
        const name = ctx.text_(n);
        for (const a of ctx.facts.assignmentsByTarget.get(name) ?? []) {
          if (a.targetText !== name || a.fn !== opt.call.fn || !a.value) continue;
          const loop = a.loops.find((l) => trainingLoopNodes.has(l.node));
          if (!loop || (loop.node.start <= opt.call.node.start && opt.call.node.end <= loop.node.end)) continue;
          const valueText = ctx.text_(a.value);
          const optNames = opt.boundTo.map((b) => b.split('.').pop()!);
          const decays = ['*=', '/=', '-=', '**='].includes(a.op)
            || (a.op === '=' && a.value.type === 'binary_operator' && new RegExp(`\\b${name.replace(/\./g, '\\.')}\\b|epoch|step|decay|gamma`).test(valueText))
            || (a.op === '=' && a.value.type === 'call' && /epoch|step|iter/.test(valueText));
          if (!decays || /get_last_lr|get_lr|param_groups|optimizer|sched/.test(valueText) || optNames.some((o) => new RegExp(`\\b${o}\\b`).test(valueText))) continue;
          if (readByNonLoggingCall(ctx, name, loop.node, a.node)) continue;
          ctx.report({
            node: a.node,
            message: `${ctx.text_(a.node).trim()} changes ${name} inside \`${loopHeader(ctx, { loop })}\`, but ${opt.api.className} copied lr=${describe(hyper)} when it was created and never sees the new value: the lr stays constant. Write it into the optimizer (for g in optimizer.param_groups: g["lr"] = ${name}) or use a torch.optim.lr_scheduler.`,
            related: [{ node: opt.call.node, message: `${opt.api.className} created with lr=${name}` }],
          });
        }
      }
    }
  },
};

/** True when `name` is passed to some call in the loop other than logging (it may be applied there). */
function readByNonLoggingCall(ctx: RuleContext, name: string, loopNode: SyntaxNode, decay: SyntaxNode): boolean {
  let found = false;
  walk(loopNode, (n) => {
    if (found) return false;
    if (n === decay) return false;
    if (n.type === 'call') {
      const call = ctx.facts.callByNode.get(n);
      if (call && !LOGGING_CALLS.test(call.name) && call.argumentList) {
        const args = ctx.text_(call.argumentList);
        if (new RegExp(`(^|[^\\w.])${name.replace(/\./g, '\\.')}\\b`).test(args)) {
          found = true;
          return false;
        }
      }
    }
    return true;
  });
  return found;
}

// ---------------------------------------------------------------- LR010

const LR010: RuleSpec = {
  id: 'LR010', title: 'Non-positive learning rate or minimum above the base lr', family: 'LR', severity: 'error', fix: 'none',
  reference: 'torch.optim argument checks; CosineAnnealingLR / ReduceLROnPlateau docs (eta_min, min_lr)',
  check(ctx) {
    const manualLr = /\[\s*['"]lr['"]\s*\]\s*=[^=]/.test(ctx.text);
    for (const opt of ctx.model.optimizers) {
      for (const { hyper, group } of lrSites(opt)) {
        const v = numberOf(hyper);
        if (v === undefined || isDefault(hyper) || v > 0) continue;
        if (v === 0 && (group || manualLr || ctx.model.schedulers.some((s) => s.className === 'LambdaLR'))) continue;
        ctx.report({
          node: hyper.anchor,
          message: `${opt.api.className} ${hyper.name}=${describe(hyper)}: ${v < 0 ? 'a negative learning rate is rejected by PyTorch ("Invalid learning rate") and would ascend the loss' : 'with lr = 0 the optimizer never changes the weights'}. Set a positive learning rate.`,
        });
      }
    }
    for (const call of trainingArgumentsCalls(ctx)) {
      const lr = argumentHyper(ctx, call, 'learning_rate');
      const v = numberOf(lr);
      if (!lr || v === undefined || v > 0) continue;
      ctx.report({
        node: lr.anchor,
        message: `${call.name} learning_rate=${describe(lr)}: ${v < 0 ? 'a negative learning rate ascends the loss' : 'with lr = 0 the Trainer never changes the weights'}. Set a positive learning rate (the default is 5e-5).`,
      });
    }
    for (const s of ctx.model.schedulers) {
      const arg = s.className === 'CosineAnnealingLR' ? schedArg(s, 'eta_min', 2)
        : s.className === 'CosineAnnealingWarmRestarts' ? schedArg(s, 'eta_min', 3)
          : s.className === 'ReduceLROnPlateau' ? schedArg(s, 'min_lr', 7) : undefined;
      if (!arg) continue;
      const r = ctx.values.resolve(arg.node, s.call.fn);
      const floor = asNumbers(r) ? Math.max(...asNumbers(r)!) : asNumber(r);
      if (floor === undefined) continue;
      const optNode = schedulerOptimizerNode(s);
      const optName = optNode ? ctx.text_(optNode) : undefined;
      const candidates = ctx.model.optimizers.filter((o) => optName !== undefined && o.boundTo.includes(optName));
      const opt = candidates.length === 1 ? candidates[0]! : optNode?.type === 'call' ? ctx.model.optimizers.find((o) => o.call.node === optNode) : undefined;
      if (!opt) continue;
      const lrs = lrSites(opt).map(({ hyper }) => ({ hyper, v: numberOf(hyper) }));
      if (lrs.length === 0 || lrs.some((l) => l.v === undefined)) continue;
      const highest = lrs.reduce((a, b) => (b.v! > a.v! ? b : a));
      if (floor <= highest.v!) continue;
      const key = s.className === 'ReduceLROnPlateau' ? 'min_lr' : 'eta_min';
      ctx.report({
        node: arg.anchor,
        message: `${s.className} ${key}=${describe(r)} is above the optimizer's base lr=${describe(highest.hyper)}: ${s.className === 'ReduceLROnPlateau' ? 'a reduction would raise the lr, so ReduceLROnPlateau never changes it (the scheduler does nothing)' : 'the schedule moves the lr up towards eta_min instead of decaying it'}. ${key} should be well below the base lr (e.g. 0 or lr/100).`,
        related: [{ node: highest.hyper.anchor, message: 'base lr' }],
      });
    }
  },
};

export const SCHEDULER_RULES: readonly RuleSpec[] = [LR001, LR002, LR003, LR004, LR005, LR006, LR007, LR008, LR009, LR010];
