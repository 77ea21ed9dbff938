import type { Fix } from '../findings';
import type { CallInfo, FunctionInfo, LoopInfo } from '../facts/scriptFacts';
import { calledScriptFunction } from '../model/extractModel';
import type { OptimizerModel } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, unparenthesize, walk } from '../syntax/syntaxNode';
import { asNumber } from '../values/pyValue';
import {
  assignmentsWithin, callsWithin, inFrameworkCode, parameterOwners, isConditionalWithin, isScalerStep, isUserCode, mayRunBackward, moduloOperand,
  regionAssignments, regionCalls, regionOf, stepLoops, steppedOptimizer, type IterationEvent, type StepLoop,
} from './loopIteration';
import { describe } from './ruleHelpers';
import type { RuleContext, RuleSpec } from './ruleSpec';
import { insertAfter, insertBefore, moveStatement } from './statementEdits';

// ------------------------------------------------------------------ shared reading of a step loop

function lineOf(ctx: RuleContext, node: SyntaxNode): number {
  return ctx.lines.positionAt(node.start).line + 1;
}

function callText(ctx: RuleContext, call: CallInfo): string {
  const t = ctx.text_(call.node).replace(/\s+/g, ' ');
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}

function at(ctx: RuleContext, call: CallInfo): string {
  return `\`${callText(ctx, call)}\` (line ${lineOf(ctx, call.node)})`;
}

/** The loss a backward call differentiates: `loss` in `loss.backward()`, `scaler.scale(loss).backward()`, `accelerator.backward(loss)`. */
export function lossOfBackward(ctx: RuleContext, backward: CallInfo): SyntaxNode | undefined {
  if (backward.args.length > 0 && backward.receiver && !/\.(scale)\(/.test(backward.receiver) && /^(accelerator|fabric|self|torch\.autograd|autograd|model_engine|engine|deepspeed)/.test(backward.receiver)) {
    return backward.args[0];
  }
  const recv = backward.receiverNode;
  if (!recv) return undefined;
  const inner = unparenthesize(recv);
  if (inner.type === 'call') {
    const scale = ctx.facts.callByNode.get(inner);
    if (scale?.name === 'scale' && scale.args[0]) return scale.args[0];
  }
  return inner;
}

function stepOptimizerModel(ctx: RuleContext, step: CallInfo): OptimizerModel | undefined {
  const name = steppedOptimizer(step, ctx.text);
  return name ? ctx.model.optimizers.find((o) => o.boundTo.includes(name)) : undefined;
}

/** Whole-line statement of an event call when the call is the statement (`optimizer.zero_grad()`, `x = clip(...)`). */
function statementOf(call: CallInfo): SyntaxNode | undefined {
  const s = call.statement;
  if (s.type !== 'expression_statement') return undefined;
  const inner = s.children.find((c) => c.named && c.type !== 'comment');
  if (!inner) return undefined;
  if (inner === call.node) return s;
  if (inner.type === 'assignment' && childByField(inner, 'right') === call.node) return s;
  return undefined;
}

/** Statement after which to put something that belongs after the step: after `scaler.update()` when it follows. */
function afterStepStatement(sl: StepLoop, step: IterationEvent): SyntaxNode | undefined {
  const stmt = statementOf(step.call);
  if (!stmt) return undefined;
  const next = sl.events[step.index + 1];
  if (next?.kind === 'scaler_update') {
    const u = statementOf(next.call);
    if (u && u.parent === stmt.parent) return u;
  }
  return stmt;
}

// ------------------------------------------------------------------ accumulation

interface Accumulation {
  readonly kind: 'modulo' | 'micro';
  readonly step: IterationEvent;
  /** The `if (i + 1) % k == 0:` guarding the step (modulo). */
  readonly guard: SyntaxNode | undefined;
  /** The micro-batch loop that runs backward (micro). */
  readonly micro: LoopInfo | undefined;
  readonly count: SyntaxNode | undefined;
  readonly countFn: FunctionInfo | undefined;
  /** The backward calls that accumulate. */
  readonly backwards: readonly IterationEvent[];
}

/** Conditions guarding a node's consequence branches, innermost first, up to `within`. */
function guardingIfs(node: SyntaxNode, within: SyntaxNode): { stmt: SyntaxNode; condition: SyntaxNode }[] {
  const out: { stmt: SyntaxNode; condition: SyntaxNode }[] = [];
  let c = node;
  for (let p = node.parent; p && p !== within; c = p, p = p.parent) {
    if ((p.type === 'if_statement' || p.type === 'elif_clause') && c.field === 'consequence') {
      const cond = childByField(p, 'condition');
      if (cond) out.push({ stmt: p, condition: cond });
    }
  }
  return out;
}

function usesAccelerateAccumulation(ctx: RuleContext, sl: StepLoop): boolean {
  return sl.events.some((e) => e.anchor.withs.some((w) => w.items.some((i) => /\.accumulate\s*\(/.test(ctx.text_(i)))));
}

function contains(outer: SyntaxNode, inner: SyntaxNode): boolean {
  return outer.start <= inner.start && inner.end <= outer.end;
}

const accumulationCache = new WeakMap<StepLoop, Accumulation | null>();

/** Gradient accumulation: a step guarded by `% k == 0` while backward runs every iteration, or backward in a micro-batch loop. */
function accumulationOf(ctx: RuleContext, sl: StepLoop): Accumulation | undefined {
  const hit = accumulationCache.get(sl);
  if (hit !== undefined) return hit ?? undefined;
  let found: Accumulation | undefined;
  if (!usesAccelerateAccumulation(ctx, sl)) {
    const body = sl.loop.body!;
    const backwards = sl.events.filter((e) => e.kind === 'backward');
    for (const step of sl.events) {
      if (step.kind !== 'step' || !step.direct || found) continue;
      for (const g of guardingIfs(step.anchor.node, body)) {
        const count = moduloOperand(g.condition);
        if (!count) continue;
        const accumulating = backwards.filter((b) => b.direct && !contains(g.stmt, b.anchor.node));
        if (accumulating.length === 0 || backwards.some((b) => contains(g.stmt, b.anchor.node))) continue;
        found = { kind: 'modulo', step, guard: g.stmt, micro: undefined, count, countFn: sl.loop.fn, backwards: accumulating };
        break;
      }
      if (found) break;
      const micro = backwards.filter((b) => !b.direct && b.anchor.fn === sl.loop.fn);
      for (const b of micro) {
        const k = b.anchor.loops.indexOf(sl.loop);
        const inner = k >= 0 ? b.anchor.loops[k + 1] : undefined;
        if (!inner) continue;
        const label = `${ctx.text_(inner.target)} ${ctx.text_(inner.iter)}`;
        if (!/accum|micro/i.test(label)) continue;
        if (backwards.some((x) => x.direct)) continue;
        let count: SyntaxNode | undefined;
        const iter = inner.iter && unparenthesize(inner.iter);
        const rangeCall = iter?.type === 'call' ? ctx.facts.callByNode.get(iter) : undefined;
        if (rangeCall?.callee === 'range' && rangeCall.args.length === 1) count = rangeCall.args[0];
        found = { kind: 'micro', step, guard: undefined, micro: inner, count, countFn: sl.loop.fn, backwards: micro.filter((x) => x.anchor.loops.includes(inner)) };
        break;
      }
    }
  }
  accumulationCache.set(sl, found ?? null);
  return found;
}

// ------------------------------------------------------------------ zero_grad between backward and step

interface ZeroBetween { zero: IterationEvent; backward: IterationEvent; step: IterationEvent }

const zeroBetweenCache = new WeakMap<StepLoop, ZeroBetween[]>();

/** zero_grad that runs after a backward and before the step that should use its gradients, with no backward in between. */
/** False when the zero_grad clearly clears another optimizer's or model's gradients than the step uses (GANs). */
function zeroesStepped(ctx: RuleContext, zero: CallInfo, step: CallInfo): boolean {
  const target = zero.receiver;
  const stepped = steppedOptimizer(step, ctx.text);
  if (!target || !stepped || target === stepped) return true;
  const optimizerNames = new Set(ctx.model.optimizers.flatMap((o) => o.boundTo));
  if (optimizerNames.has(target)) return !optimizerNames.has(stepped);
  const opt = ctx.model.optimizers.find((o) => o.boundTo.includes(stepped));
  const owners = opt ? parameterOwners(ctx.facts, ctx.text, opt.paramsNode, opt.call.fn) : [];
  return owners.length === 0 || owners.some((o) => o === target || o.startsWith(`${target}.`) || target.startsWith(`${o}.`));
}

function zeroBetweenBackwardAndStep(ctx: RuleContext, sl: StepLoop): ZeroBetween[] {
  const hit = zeroBetweenCache.get(sl);
  if (hit) return hit;
  const out: ZeroBetween[] = [];
  const ev = sl.events;
  for (const z of ev) {
    if (z.kind !== 'zero_grad') continue;
    let backward: IterationEvent | undefined;
    for (let i = z.index - 1; i >= 0; i--) {
      if (ev[i]!.kind === 'step') break;
      if (ev[i]!.kind === 'backward') { backward = ev[i]; break; }
    }
    if (!backward) continue;
    let step: IterationEvent | undefined;
    for (let i = z.index + 1; i < ev.length; i++) {
      if (ev[i]!.kind === 'backward') break;
      if (ev[i]!.kind === 'step') { step = ev[i]; break; }
    }
    if (step && zeroesStepped(ctx, z.call, step.call)) out.push({ zero: z, backward, step });
  }
  zeroBetweenCache.set(sl, out);
  return out;
}

// ------------------------------------------------------------------ LOOP001

/** Zeroing the analysis cannot see as an event: `p.grad = None`, helpers named like `zero_grads(model)`. */
function zeroesOtherwise(ctx: RuleContext, sl: StepLoop): boolean {
  const spans = regionOf(ctx.facts, sl.loop.body!, sl.loop.fn);
  if (regionAssignments(ctx.facts, spans).some((a) => /\.grad$/.test(a.targetText) || /\.grad\b/.test(ctx.text_(a.target)))) return true;
  return regionCalls(ctx.facts, spans).some((c) => /grad/i.test(c.name) && /zero|clear|reset|none|free/i.test(c.name) && c.name !== 'zero_grad');
}

const LOOP001: RuleSpec = {
  id: 'LOOP001', title: 'No zero_grad in the training loop', family: 'LOOP', severity: 'error', fix: 'unsafe',
  reference: 'dslinter W5517; PyTorch torch.optim documentation (zero_grad)',
  check(ctx) {
    for (const sl of stepLoops(ctx.model)) {
      const backward = sl.events.find((e) => e.kind === 'backward' && e.direct) ?? sl.events.find((e) => e.kind === 'backward');
      if (!backward || sl.events.some((e) => e.kind === 'zero_grad') || zeroesOtherwise(ctx, sl)) continue;
      const step = sl.events.find((e) => e.kind === 'step' && e.direct)!;
      const optimizer = steppedOptimizer(step.call, ctx.text) ?? 'optimizer';
      let outer = '';
      for (let l = sl.loop.parent; l; l = l.parent) {
        const zeroOuter = (ctx.facts.callsByName.get('zero_grad') ?? []).find((c) => c.fn === sl.loop.fn && c.loops.includes(l) && !c.loops.includes(sl.loop));
        if (zeroOuter) { outer = ` ${at(ctx, zeroOuter)} runs only once per outer iteration, so the gradients of every batch in between are summed into each step.`; break; }
      }
      const fixes: Fix[] = [];
      const after = afterStepStatement(sl, step);
      const edits = after ? insertAfter(ctx, after, [`${optimizer}.zero_grad()`]) : undefined;
      if (edits) fixes.push({ title: `Insert ${optimizer}.zero_grad() after the optimizer step (changes training dynamics: gradients stop accumulating across steps)`, safe: false, edits });
      ctx.report({
        node: backward.call.node,
        message: `This training loop calls ${at(ctx, backward.call)} and ${at(ctx, step.call)} but never zeroes the gradients inside the loop: backward() adds into .grad, so every step uses the sum of all gradients so far.${outer} Call ${optimizer}.zero_grad() once per step (after the step, or before the backward).`,
        related: [{ node: step.call.node, message: 'optimizer step' }],
        fixes,
      });
    }
  },
};

// ------------------------------------------------------------------ LOOP002

const LOOP002: RuleSpec = {
  id: 'LOOP002', title: 'zero_grad between backward and step', family: 'LOOP', severity: 'error', fix: 'safe',
  reference: 'PyTorch torch.optim documentation (taking an optimization step)',
  check(ctx) {
    for (const sl of stepLoops(ctx.model)) {
      for (const { zero, backward, step } of zeroBetweenBackwardAndStep(ctx, sl)) {
        const fixes: Fix[] = [];
        const zs = statementOf(zero.call);
        const target = afterStepStatement(sl, step);
        if (zs && target && zero.call.fn === step.call.fn) {
          const edits = moveStatement(ctx, zs, target, 'after');
          if (edits) fixes.push({ title: `Move ${callText(ctx, zero.call)} after ${callText(ctx, step.call)}`, safe: true, edits });
        }
        ctx.report({
          node: zero.call.node,
          message: `${at(ctx, zero.call)} runs after ${at(ctx, backward.call)} and before ${at(ctx, step.call)}: it erases the gradients the step is about to use: with the default zero_grad(set_to_none=True) the optimizer skips every parameter and the step does nothing; with set_to_none=False it applies only momentum and weight decay. Zero the gradients before the backward or after the step.`,
          related: [{ node: backward.call.node, message: 'backward' }, { node: step.call.node, message: 'optimizer step' }],
          fixes,
        });
      }
    }
  },
};

// ------------------------------------------------------------------ LOOP003

/** True when the loss reaching backward is divided (or scaled); undefined when it cannot be told. */
function lossIsScaled(ctx: RuleContext, backward: CallInfo): boolean | undefined {
  // accelerator.backward divides by the Accelerator's own gradient_accumulation_steps
  if (backward.receiver && /accelerator/i.test(backward.receiver) && (ctx.facts.callsByName.get('Accelerator') ?? []).some((c) => c.keywords.has('gradient_accumulation_steps') || c.hasSplat)) return undefined;
  const loss = lossOfBackward(ctx, backward);
  if (!loss) return undefined;
  if (hasScaling(loss)) return true;
  const node = unparenthesize(loss);
  if (node.type !== 'identifier') {
    let opaque = false;
    walk(node, (n) => {
      if (n.type === 'call') {
        const c = ctx.facts.callByNode.get(n);
        if (c && isUserCode(ctx.facts, c)) opaque = true;
      }
    });
    return opaque ? undefined : false;
  }
  const name = ctx.text_(node);
  const asg = (ctx.facts.assignmentsByTarget.get(name) ?? []).filter((a) => a.fn === backward.fn);
  if (asg.length === 0) return undefined;
  for (const a of asg) {
    if (a.op === '/=' || a.op === '*=' || a.op === '//=') return true;
    if (a.value && hasScaling(a.value)) return true;
    if (a.value?.type === 'call') {
      const c = ctx.facts.callByNode.get(a.value);
      if (c && isUserCode(ctx.facts, c)) return undefined;
    }
  }
  return false;
}

function hasScaling(node: SyntaxNode): boolean {
  let found = false;
  walk(node, (n) => {
    if (n.type === 'binary_operator' && n.children.some((c) => c.field === 'operator' && (c.type === '/' || c.type === '*' || c.type === '//'))) found = true;
    if (n.type === 'call' || n.type === 'lambda') return n === node ? undefined : false;
    return !found;
  });
  return found;
}

const LOOP003: RuleSpec = {
  id: 'LOOP003', title: 'Gradient accumulation without dividing the loss', family: 'LOOP', severity: 'warning', fix: 'unsafe',
  reference: 'PyTorch AMP examples (gradient accumulation); Hugging Face gradient accumulation fix (2024)',
  check(ctx) {
    for (const sl of stepLoops(ctx.model)) {
      const acc = accumulationOf(ctx, sl);
      if (!acc) continue;
      const resolved = acc.count ? ctx.values.resolve(acc.count, acc.countFn) : undefined;
      const n = asNumber(resolved);
      if (n !== undefined && n <= 1 && (resolved!.source === 'literal' || resolved!.source === 'constant')) continue;
      const backward = acc.backwards.find((b) => lossIsScaled(ctx, b.call) === false);
      if (!backward || acc.backwards.some((b) => lossIsScaled(ctx, b.call) !== false)) continue;
      const countText = acc.count ? ctx.text_(acc.count) : undefined;
      const countDesc = !acc.count ? 'several micro-batches'
        : !resolved?.value ? `${countText} micro-batches (value unknown)`
          : resolved.source === 'literal' || resolved.source === 'constant' ? `${describe(resolved)} micro-batches`
            : `${countText} = ${describe(resolved)} micro-batches`;
      const how = acc.kind === 'modulo' ? `the step only runs when \`${ctx.text_(childByField(acc.guard!, 'condition')).replace(/\s+/g, ' ')}\`` : `backward runs ${acc.count ? `${countText} times` : 'repeatedly'} in the micro-batch loop before each step`;
      const fixes: Fix[] = [];
      const loss = lossOfBackward(ctx, backward.call);
      const stmt = backward.call.statement;
      if (loss && unparenthesize(loss).type === 'identifier' && countText && backward.call.fn === acc.countFn && stmt.type === 'expression_statement') {
        const name = ctx.text_(unparenthesize(loss));
        const edits = insertBefore(ctx, stmt, [`${name} = ${name} / ${countText}`]);
        if (edits) fixes.push({ title: `Divide ${name} by ${countText} before backward (changes training dynamics: the effective learning rate drops by that factor)`, safe: false, edits });
      }
      ctx.report({
        node: backward.call.node,
        message: `Gradients are accumulated over ${countDesc} (${how}), but the loss passed to ${at(ctx, backward.call)} is not divided by the number of accumulation steps: the summed gradient is that many times larger than one batch's. ${adaptiveStep(ctx, acc.step.call) ? 'Adam-style optimizers largely cancel a constant scale, but gradient clipping thresholds, eps and coupled L2 decay now act on a gradient that many times too large, and results change when the number of steps does' : 'With SGD that multiplies the effective learning rate'}. Divide the loss (loss = loss / ${countText ?? 'accum_steps'}) before backward.`,
        related: [{ node: acc.step.call.node, message: 'optimizer step that consumes the accumulated gradients' }],
        fixes,
      });
    }
  },
};

/** True when the optimizer that takes this step adapts per coordinate (Adam, RMSprop …). */
function adaptiveStep(ctx: RuleContext, step: CallInfo): boolean {
  const target = step.name === 'step' && step.args[0] ? ctx.text_(step.args[0]) : step.receiver;
  const opt = ctx.model.optimizers.find((o) => target !== undefined && o.boundTo.includes(target));
  return opt?.api.adaptive ?? false;
}

// ------------------------------------------------------------------ LOOP004

const LOOP004: RuleSpec = {
  id: 'LOOP004', title: 'Gradient accumulation zeroes the gradients every micro-batch', family: 'LOOP', severity: 'error', fix: 'safe',
  reference: 'PyTorch AMP examples (gradient accumulation)',
  check(ctx) {
    for (const sl of stepLoops(ctx.model)) {
      const acc = accumulationOf(ctx, sl);
      if (!acc) continue;
      const between = new Set(zeroBetweenBackwardAndStep(ctx, sl).map((z) => z.zero));
      for (const z of sl.events) {
        if (z.kind !== 'zero_grad' || between.has(z)) continue;
        let everyMicroBatch: boolean;
        if (acc.kind === 'modulo') everyMicroBatch = z.direct && !isConditionalWithin(z.anchor.node, sl.loop.body!);
        else everyMicroBatch = !!acc.micro?.body && z.anchor.loops[z.anchor.loops.length - 1] === acc.micro && !isConditionalWithin(z.anchor.node, acc.micro.body);
        if (!everyMicroBatch) continue;
        const fixes: Fix[] = [];
        const zs = statementOf(z.call);
        const target = afterStepStatement(sl, acc.step);
        if (zs && target && z.call.fn === acc.step.call.fn) {
          const edits = moveStatement(ctx, zs, target, 'after');
          if (edits) fixes.push({ title: `Move ${callText(ctx, z.call)} after ${callText(ctx, acc.step.call)}`, safe: true, edits });
        }
        const accDesc = acc.kind === 'modulo'
          ? `the step only runs when \`${ctx.text_(childByField(acc.guard!, 'condition')).replace(/\s+/g, ' ')}\``
          : `backward runs in the micro-batch loop \`${ctx.text_(acc.micro!.node).split('\n')[0]!.trim()}\``;
        ctx.report({
          node: z.call.node,
          message: `This loop accumulates gradients (${accDesc}), but ${at(ctx, z.call)} runs on every micro-batch: each step only sees the last micro-batch's gradient, and the accumulation does nothing. Zero the gradients right after ${callText(ctx, acc.step.call)}.`,
          related: [{ node: acc.step.call.node, message: 'optimizer step (accumulated)' }],
          fixes,
        });
      }
    }
  },
};

// ------------------------------------------------------------------ LOOP005

function assignedName(stmt: SyntaxNode, ctx: RuleContext): string | undefined {
  const inner = stmt.children.find((c) => c.named && c.type !== 'comment');
  if (inner?.type !== 'assignment') return undefined;
  return ctx.text_(childByField(inner, 'left'));
}

const LOOP005: RuleSpec = {
  id: 'LOOP005', title: 'Gradient clipping after the step or before backward', family: 'LOOP', severity: 'error', fix: 'safe',
  reference: 'PyTorch torch.nn.utils.clip_grad_norm_ documentation',
  check(ctx) {
    for (const sl of stepLoops(ctx.model)) {
      const ev = sl.events;
      for (const c of ev) {
        if (c.kind !== 'clip' || isNormProbe(ctx, c.call)) continue;
        let problem: 'after' | 'before' | undefined;
        let target: IterationEvent | undefined;
        let other: IterationEvent | undefined;
        // after a step with no backward in between
        for (let i = c.index - 1; i >= 0; i--) {
          if (ev[i]!.kind === 'backward') break;
          if (ev[i]!.kind === 'step') { problem = 'after'; other = ev[i]; break; }
        }
        if (problem === 'after') {
          // move before that step when a backward precedes it
          const s = other!;
          if (ev.slice(0, s.index).some((e) => e.kind === 'backward')) target = s;
        } else if (!ev.slice(0, c.index).some((e) => e.kind === 'backward')) {
          const b = ev.slice(c.index + 1).find((e) => e.kind === 'backward');
          const s = b ? ev.slice(b.index + 1).find((e) => e.kind === 'step') : undefined;
          if (b && s) { problem = 'before'; other = b; target = s; }
        }
        if (!problem) continue;
        const fixes: Fix[] = [];
        const cs = statementOf(c.call);
        const ts = target ? statementOf(target.call) : undefined;
        if (cs && ts && c.call.fn === target!.call.fn) {
          const name = assignedName(cs, ctx);
          const lo = Math.min(cs.end, ts.start);
          const hi = Math.max(cs.start, ts.end);
          const usedBetween = name !== undefined && new RegExp(`\\b${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(ctx.text.slice(lo, hi));
          const edits = usedBetween ? undefined : moveStatement(ctx, cs, ts, 'before');
          if (edits) fixes.push({ title: `Move ${callText(ctx, c.call)} between backward and ${callText(ctx, target!.call)}`, safe: true, edits });
        }
        const message = problem === 'after'
          ? `${at(ctx, c.call)} runs after ${at(ctx, other!.call)}: the step has already used the unclipped gradients, so clipping has no effect (and after zero_grad it clips zeros). Clip between backward and step.`
          : `${at(ctx, c.call)} runs before ${at(ctx, other!.call)}: it clips the previous (or zeroed) gradients, not the ones the step uses. Clip between backward and step.`;
        ctx.report({ node: c.call.node, message, related: [{ node: other!.call.node, message: problem === 'after' ? 'optimizer step' : 'backward' }], fixes });
      }
    }
  },
};

// ------------------------------------------------------------------ LOOP006

const SEQUENCE_KINDS = new Set(['rnn', 'transformer', 'attention']);

/** `clip_grad_norm_(params, float('inf'))`: measures the norm, clips nothing. */
function isNormProbe(ctx: RuleContext, call: CallInfo): boolean {
  const max = call.args[1] ?? call.keywords.get('max_norm') ?? call.keywords.get('clip_value');
  return !!max && /^(float\(\s*['"]inf['"]\s*\)|(math|np|numpy|torch)\.inf|inf)$/.test(ctx.text_(max).trim());
}

function sequenceModelEvidence(ctx: RuleContext): string | undefined {
  const layer = ctx.model.layers.find((l) => l.framework === 'pytorch' && SEQUENCE_KINDS.has(l.kind));
  if (layer) return `${layer.className} (line ${lineOf(ctx, layer.call.node)})`;
  const sdpa = (ctx.facts.callsByName.get('scaled_dot_product_attention') ?? [])[0];
  if (sdpa) return `scaled_dot_product_attention (line ${lineOf(ctx, sdpa.node)})`;
  const cls = ctx.model.moduleClasses.find((c) => /Transformer|GPT|SelfAttention|CausalAttention|MultiHeadAttention|LSTM|GRU|RNN/.test(c.name) && !/Graph/.test(c.name));
  if (cls) return `class ${cls.name} (line ${lineOf(ctx, cls.node)})`;
  const zoo = (ctx.facts.callsByName.get('create_model') ?? []).find((c) => /^timm\./.test(c.qualified) && /vit|deit|swin|beit|eva|convit|xcit/i.test(ctx.text_(c.args[0])));
  if (zoo) return `${callText(ctx, zoo)} (line ${lineOf(ctx, zoo.node)})`;
  for (const name of ['from_pretrained', 'from_config']) {
    const c = (ctx.facts.callsByName.get(name) ?? []).find((x) => {
      const cls = (x.receiver ?? '').split('.').pop() ?? '';
      if (/Tokenizer|Config|Processor|FeatureExtractor|Scheduler|Dataset/.test(cls)) return false;
      return /^AutoModel|(Model|LMHeadModel|For[A-Z]\w+)$/.test(cls) && (/^(transformers|peft|trl)\./.test(x.qualified) || /^(AutoModel|\w*(GPT|Bert|Llama|T5|Roberta|Mistral|Bart|Qwen|Gemma|Phi|Opt|Bloom|Falcon)\w*)/.test(cls));
    });
    if (c) return `${callText(ctx, c)} (line ${lineOf(ctx, c.node)})`;
  }
  return undefined;
}

function clipsAnywhere(ctx: RuleContext): boolean {
  for (const c of ctx.facts.calls) {
    if (/clip/i.test(c.name) && /grad|norm|value/i.test(c.name)) return true;
    if (c.name === 'register_hook' || c.name === 'clip_by_global_norm') return true;
    if (c.keywords.has('max_grad_norm') || c.keywords.has('gradient_clip_val') || c.keywords.has('clipnorm') || c.keywords.has('clipvalue')) return true;
  }
  return false;
}

function torchAlias(ctx: RuleContext): string | undefined {
  for (const [k, v] of ctx.facts.importBindings) if (v === 'torch') return k;
  return undefined;
}

const LOOP006: RuleSpec = {
  id: 'LOOP006', title: 'Transformer or RNN training without gradient clipping', family: 'LOOP', severity: 'information', fix: 'unsafe',
  reference: 'Language Models are Few-Shot Learners (GPT-3); Pascanu et al. 2013, On the difficulty of training RNNs',
  options: { max_norm: 1.0 },
  check(ctx) {
    const loops = stepLoops(ctx.model);
    if (loops.length === 0 || clipsAnywhere(ctx)) return;
    const evidence = sequenceModelEvidence(ctx);
    if (!evidence) return;
    const maxNorm = ctx.option<number>('max_norm');
    const torch = torchAlias(ctx);
    for (const sl of loops) {
      if (!sl.events.some((e) => e.kind === 'backward')) continue;
      const step = sl.events.find((e) => e.kind === 'step' && e.direct)!;
      const fixes: Fix[] = [];
      const stmt = statementOf(step.call);
      const opt = stepOptimizerModel(ctx, step.call);
      const optName = steppedOptimizer(step.call, ctx.text);
      if (stmt && torch && optName) {
        const p = opt?.paramsNode ? ctx.text_(opt.paramsNode).replace(/\s+/g, '') : '';
        const params = /^[\w.]+\.parameters\(\)$/.test(p) ? p : `[p for group in ${optName}.param_groups for p in group["params"]]`;
        const normText = Number.isInteger(maxNorm) ? `${maxNorm}.0` : String(maxNorm);
        const lines = [`${torch}.nn.utils.clip_grad_norm_(${params}, ${normText})`];
        if (isScalerStep(step.call)) lines.unshift(`${step.call.receiver}.unscale_(${optName})`);
        const edits = insertBefore(ctx, stmt, lines);
        if (edits) fixes.push({ title: `Clip the gradient norm to ${normText} before the step (changes training dynamics)`, safe: false, edits });
      }
      ctx.report({
        node: step.call.node,
        message: `This loop trains a sequence model (${evidence}) without gradient clipping: attention and recurrent nets get occasional gradient spikes that a single step turns into a loss spike or divergence. GPT-3 and most LLM and RNN recipes clip the global norm (1.0 for transformers, 0.25–5 for RNNs).`,
        fixes,
      });
    }
  },
};

// ------------------------------------------------------------------ LOOP007

const ARITHMETIC = new Set(['binary_operator', 'parenthesized_expression', 'unary_operator']);

function rawLossUses(ctx: RuleContext, value: SyntaxNode, names: ReadonlySet<string>): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  walk(value, (n) => {
    if (n.type !== 'identifier' || !names.has(ctx.text_(n))) return n.type !== 'call' && n.type !== 'subscript' && n.type !== 'attribute';
    for (let p = n.parent; p && p !== value.parent; p = p.parent) {
      if (p === value) { out.push(n); break; }
      if (!ARITHMETIC.has(p.type)) return false;
    }
    return false;
  });
  if (value.type === 'identifier' && names.has(ctx.text_(value)) && !out.includes(value)) out.push(value);
  return out;
}

function inNoGrad(ctx: RuleContext, node: SyntaxNode, within: SyntaxNode): boolean {
  for (let p = node.parent; p && p !== within; p = p.parent) {
    if (p.type === 'with_statement' && /no_grad|inference_mode|set_grad_enabled\(\s*False/.test(ctx.text.slice(p.start, childByField(p, 'body')?.start ?? p.end))) return true;
  }
  return false;
}

const LOOP007: RuleSpec = {
  id: 'LOOP007', title: 'Running loss accumulated as a tensor', family: 'LOOP', severity: 'warning', fix: 'safe',
  reference: 'PyTorch FAQ: my model reports "cuda runtime error(2): out of memory"',
  check(ctx) {
    for (const sl of stepLoops(ctx.model)) {
      const body = sl.loop.body!;
      const losses = new Set<string>();
      const backwardRoots = new Set<string>();
      for (const e of sl.events) {
        if (e.kind !== 'backward' || e.call.fn !== sl.loop.fn) continue;
        const loss = lossOfBackward(ctx, e.call);
        if (loss && unparenthesize(loss).type === 'identifier') losses.add(ctx.text_(unparenthesize(loss)));
        if (loss) walk(loss, (n) => { if (n.type === 'identifier') backwardRoots.add(ctx.text_(n)); });
      }
      for (const name of [...losses]) {
        const asg = ctx.facts.assignmentsByTarget.get(name) ?? [];
        if (asg.some((a) => a.fn === sl.loop.fn && a.value && /\.item\(\s*\)$|^float\(/.test(ctx.text_(a.value)))) losses.delete(name);
      }
      if (losses.size === 0) continue;
      for (const a of assignmentsWithin(ctx.facts, body, sl.loop.fn)) {
        if (!a.value || !a.targetText || losses.has(a.targetText) || backwardRoots.has(a.targetText)) continue;
        const isSum = a.op === '+=' || (a.op === '=' && a.value.type === 'binary_operator' && ctx.text_(childByField(a.value, 'left')) === a.targetText);
        if (!isSum || inNoGrad(ctx, a.node, body)) continue;
        const value = a.op === '+=' ? a.value : childByField(a.value, 'right');
        if (!value) continue;
        const raw = rawLossUses(ctx, value, losses);
        if (raw.length === 0) continue;
        const usedAsTensor = (ctx.facts.callsByFunction.get(a.fn) ?? []).some((c) => c.receiver === a.targetText || c.args.some((x) => ctx.text_(x) === a.targetText && !/^(print|float|int|str|round|format|append|log)$/.test(c.name)));
        const suffix = usedAsTensor ? '.detach()' : '.item()';
        const lossName = ctx.text_(raw[0]!);
        ctx.report({
          node: a.node,
          message: `\`${ctx.text_(a.node).replace(/\s+/g, ' ')}\` adds the loss tensor itself (the one ${lossName}.backward() differentiates) to a running total: the total keeps a reference to every iteration's autograd graph, so memory grows every step. Accumulate ${lossName}.item() (or ${lossName}.detach()).`,
          fixes: [{ title: `Accumulate ${lossName}${suffix}`, safe: true, edits: raw.map((n) => ctx.replace(n, `${ctx.text_(n)}${suffix}`)) }],
        });
      }
    }
  },
};

// ------------------------------------------------------------------ LOOP008

const EPOCH_LIKE = /epoch|^ep$|^e$|step|iter|batch|^it$|^i$/i;

function isEpochOrStepLoop(ctx: RuleContext, loop: LoopInfo): boolean {
  if (stepLoops(ctx.model).some((s) => s.loop === loop)) return true;
  const target = ctx.text_(loop.target).replace(/[()\s]/g, '');
  const names = target.split(',');
  if (names.some((n) => EPOCH_LIKE.test(n))) return true;
  return /epoch/i.test(ctx.text_(loop.iter)) || (loop.kind === 'while' && /step|iter|epoch/i.test(ctx.text_(loop.iter)));
}

function constructedInLoop(ctx: RuleContext, call: CallInfo, roots: readonly string[]): LoopInfo | undefined {
  for (let i = call.loops.length - 1; i >= 0; i--) {
    const loop = call.loops[i]!;
    if (!loop.body || isConditionalWithin(call.node, loop.body)) return undefined;
    const training = ctx.model.trainingLoops.find((t) => t.loop === loop);
    if (!training || !training.events.some((e) => e.kind === 'step')) continue;
    // a model built in the same loop means a fresh run (folds, trials, stages), not a reset
    const rebuilt = assignmentsWithin(ctx.facts, loop.body, loop.fn).some((a) => roots.some((r) => a.targetText === r || r.startsWith(`${a.targetText}.`)) && a.node.start < call.node.start);
    if (rebuilt) return undefined;
    if (isEpochOrStepLoop(ctx, loop)) return loop;
    return undefined;
  }
  return undefined;
}

const LOOP008: RuleSpec = {
  id: 'LOOP008', title: 'Optimizer or scheduler constructed inside the training loop', family: 'LOOP', severity: 'error', fix: 'none',
  reference: 'PyTorch torch.optim documentation (optimizer state)',
  check(ctx) {
    const report = (call: CallInfo, what: string, loop: LoopInfo, resets: string) => {
      ctx.report({
        node: call.node,
        message: `${what} is constructed inside the loop \`${ctx.text_(loop.node).split('\n')[0]!.trim()}\` (line ${lineOf(ctx, loop.node)}), so a new one is built every iteration: ${resets} reset each time. Construct it once before the loop.`,
        related: [{ node: loop.node, message: 'training loop' }],
      });
    };
    for (const opt of ctx.model.optimizers) {
      if (opt.api.framework !== 'pytorch' && opt.api.framework !== 'huggingface') continue;
      if (inFrameworkCode(ctx.model, opt.call.fn)) continue;
      const what = `The ${opt.api.className} optimizer`;
      const resets = opt.api.adaptive ? 'its adaptive moments (and bias correction) are' : 'its momentum buffers are';
      const owners = parameterOwners(ctx.facts, ctx.text, opt.paramsNode, opt.call.fn);
      const loop = constructedInLoop(ctx, opt.call, owners);
      if (loop) { report(opt.call, what, loop, resets); continue; }
      // built by a helper (def train_epoch(model): optimizer = Adam(...)) that the epoch loop calls
      const fn = opt.call.fn;
      if (!fn || opt.call.loops.length > 0 || inFrameworkCode(ctx.model, fn)) continue;
      for (const site of ctx.facts.callsByName.get(fn.name) ?? []) {
        if (calledScriptFunction(ctx.facts, site) !== fn) continue;
        const params = fn.params.filter((p) => p.name !== 'self' && !p.splat);
        const mapped = owners.map((o) => {
          const root = o.split('.')[0]!;
          const i = params.findIndex((p) => p.name === root);
          const arg = i < 0 ? undefined : site.keywords.get(root) ?? site.args[i];
          return arg ? ctx.text_(arg) + o.slice(root.length) : o;
        });
        const siteLoop = constructedInLoop(ctx, site, mapped);
        if (siteLoop) {
          ctx.report({
            node: opt.call.node,
            message: `${what} is constructed in ${fn.name}(), which the loop \`${ctx.text_(siteLoop.node).split('\n')[0]!.trim()}\` (line ${lineOf(ctx, siteLoop.node)}) calls every iteration (line ${lineOf(ctx, site.node)}): ${resets} reset each time. Construct it once before the loop and pass it in.`,
            related: [{ node: site.node, message: 'called every iteration here' }],
          });
          break;
        }
      }
    }
    for (const s of ctx.model.schedulers) {
      if (inFrameworkCode(ctx.model, s.call.fn)) continue;
      const optArg = s.call.args[0] ?? s.call.keywords.get('optimizer');
      const optName = optArg ? ctx.text_(optArg) : '';
      const optModel = ctx.model.optimizers.find((o) => o.boundTo.includes(optName));
      const roots = optModel ? parameterOwners(ctx.facts, ctx.text, optModel.paramsNode, optModel.call.fn) : [];
      const loop = constructedInLoop(ctx, s.call, roots);
      if (loop) report(s.call, `The ${s.className} scheduler`, loop, 'its step count and schedule are');
    }
  },
};

// ------------------------------------------------------------------ LOOP009

const BACKWARD_LIKE = /^(backward|manual_backward|grad|gradient|apply_gradients|backward_pass|compute_gradients)$/;

function setsGradientsOtherwise(ctx: RuleContext, calls: readonly CallInfo[], spansAssign: ReturnType<typeof regionAssignments>): boolean {
  if (calls.some((c) => BACKWARD_LIKE.test(c.name) || /\.grad(\.data)?$/.test(c.receiver ?? '') && c.name !== 'zero_')) return true;
  return spansAssign.some((a) => /\.grad\b/.test(ctx.text_(a.target)) && !(a.value && a.value.type === 'none'));
}

const LOOP009: RuleSpec = {
  id: 'LOOP009', title: 'optimizer.step() without backward', family: 'LOOP', severity: 'error', fix: 'none',
  reference: 'PyTorch torch.optim documentation (taking an optimization step)',
  check(ctx) {
    const eventCalls = new Set<CallInfo>();
    for (const t of ctx.model.trainingLoops) for (const e of t.events) eventCalls.add(e.call);
    for (const sl of stepLoops(ctx.model)) {
      for (const step of sl.events) {
        if (step.kind !== 'step' || !step.direct) continue;
        if (step.call.args.length > (isScalerStep(step.call) ? 1 : 0) || step.call.keywords.has('closure')) continue;
        const name = steppedOptimizer(step.call, ctx.text);
        if (!name || !ctx.model.optimizers.some((o) => o.boundTo.includes(name))) continue;
        // every loop whose iteration runs this step, and the function around it
        const containing = ctx.model.trainingLoops.filter((t) => t.events.some((e) => e.call === step.call));
        if (containing.some((t) => t.events.some((e) => e.kind === 'backward'))) continue;
        const spans = containing.flatMap((t) => regionOf(ctx.facts, t.loop.body!, t.loop.fn));
        if (step.call.fn?.body) spans.push(...regionOf(ctx.facts, step.call.fn.body, step.call.fn));
        const calls = regionCalls(ctx.facts, spans);
        if (setsGradientsOtherwise(ctx, calls, regionAssignments(ctx.facts, spans))) continue;
        if (calls.some((c) => !eventCalls.has(c) && mayRunBackward(ctx.facts, c))) continue;
        if (callsWithin(ctx.facts, sl.loop.body!, sl.loop.fn).some((c) => c.name === 'step' && c.args.length > 0 && c !== step.call)) continue;
        ctx.report({
          node: step.call.node,
          message: `${at(ctx, step.call)} runs in this loop, but no backward pass runs in the loop or in the functions it calls (no loss.backward(), scaler.scale(loss).backward(), accelerator.backward(loss) or autograd.grad into .grad): the step uses stale or missing gradients, so the model does not learn from these batches. Call loss.backward() before the step.`,
        });
      }
    }
  },
};

export const LOOP_RULES: readonly RuleSpec[] = [LOOP001, LOOP002, LOOP003, LOOP004, LOOP005, LOOP006, LOOP007, LOOP008, LOOP009];
