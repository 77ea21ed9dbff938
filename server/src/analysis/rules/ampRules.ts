import type { TextEdit } from '../findings';
import type { CallInfo } from '../facts/scriptFacts';
import { calledScriptFunction } from '../model/extractModel';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, unparenthesize } from '../syntax/syntaxNode';
import { asBool, asString } from '../values/pyValue';
import { inFrameworkCode, isScalerStep, stepLoops, steppedOptimizer } from './loopIteration';
import type { RuleContext, RuleSpec } from './ruleSpec';
import { insertBefore } from './statementEdits';

function lineOf(ctx: RuleContext, node: SyntaxNode): number {
  return ctx.lines.positionAt(node.start).line + 1;
}

function callText(ctx: RuleContext, call: CallInfo): string {
  const t = ctx.text_(call.node).replace(/\s+/g, ' ');
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}

/** Names bound to a GradScaler, with the constructor call. */
function gradScalers(ctx: RuleContext): { call: CallInfo; names: string[] }[] {
  const out: { call: CallInfo; names: string[] }[] = [];
  for (const name of ['GradScaler', 'ShardedGradScaler']) {
    for (const call of ctx.facts.callsByName.get(name) ?? []) {
      const a = ctx.facts.assignmentByValue.get(call.node);
      out.push({ call, names: a?.targetText ? [a.targetText] : [] });
    }
  }
  return out;
}

/** `enabled=False` written in the script; a flag's default (`--amp`) is meant to be switched on. */
function switchedOff(ctx: RuleContext, node: SyntaxNode | undefined, call: CallInfo): boolean {
  if (!node) return false;
  const r = ctx.values.resolve(node, call.fn);
  return asBool(r) === false && (r.source === 'literal' || r.source === 'constant');
}

function scalerDisabled(ctx: RuleContext, call: CallInfo): boolean {
  return switchedOff(ctx, call.keywords.get('enabled') ?? call.args[call.name === 'GradScaler' && /^torch\.amp\./.test(call.qualified) ? 5 : 4], call);
}

/** `clip_grad_norm_` from torch.nn.utils (Accelerate and Fabric unscale on their own). */
function isTorchClip(call: CallInfo): boolean {
  if (!/^clip_grad_(norm|value)_?$/.test(call.name)) return false;
  if (!call.receiver) return true;
  return /^(torch\.)?(nn\.)?utils$|^torch\.nn\.utils$|^nn\.utils$|^clip_grad$|utils\.clip_grad$/.test(call.receiver) || call.qualified.startsWith('torch.nn.utils');
}

// ------------------------------------------------------------------ AMP001

const AMP001: RuleSpec = {
  id: 'AMP001', title: 'Gradient clipping on scaled gradients (no scaler.unscale_)', family: 'AMP', severity: 'error', fix: 'safe',
  reference: 'PyTorch AMP examples: working with unscaled gradients (gradient clipping)',
  check(ctx) {
    const scalers = gradScalers(ctx);
    for (const sl of stepLoops(ctx.model)) {
      const ev = sl.events;
      for (const c of ev) {
        if (c.kind !== 'clip' || !isTorchClip(c.call)) continue;
        const step = ev.slice(c.index + 1).find((e) => e.kind === 'step');
        if (!step || !isScalerStep(step.call)) continue;
        const scalerName = step.call.receiver!;
        const ctor = scalers.find((s) => s.names.includes(scalerName));
        if (ctor && scalerDisabled(ctx, ctor.call)) continue;
        let backward: number | undefined;
        for (let i = c.index - 1; i >= 0; i--) if (ev[i]!.kind === 'backward') { backward = i; break; }
        if (backward === undefined) continue; // clipping before backward: LOOP005
        if (ev.slice(backward + 1, c.index).some((e) => e.kind === 'unscale')) continue;
        if (ev.slice(backward + 1, c.index).some((e) => e.kind === 'step')) continue;
        const optimizer = steppedOptimizer(step.call, ctx.text);
        const fixes = [];
        const stmt = c.call.statement;
        if (optimizer && stmt.type === 'expression_statement' && c.call.fn === step.call.fn) {
          const edits = insertBefore(ctx, stmt, [`${scalerName}.unscale_(${optimizer})`]);
          if (edits) fixes.push({ title: `Insert ${scalerName}.unscale_(${optimizer}) before clipping`, safe: true, edits });
        }
        ctx.report({
          node: c.call.node,
          message: `${callText(ctx, c.call)} (line ${lineOf(ctx, c.call.node)}) clips gradients that ${scalerName} has multiplied by the loss scale (65536 at the start), so the threshold is compared against scaled norms and clipping almost never does what it says. Call ${scalerName}.unscale_(${optimizer ?? 'optimizer'}) before clipping; ${callText(ctx, step.call)} then skips the second unscale.`,
          related: [{ node: step.call.node, message: 'GradScaler step' }],
          fixes,
        });
      }
    }
  },
};

// ------------------------------------------------------------------ AMP002

type Precision = 'fp16' | 'other' | 'unknown';

const FP16 = /^(torch\.)?(float16|half)$/;
const OTHER_DTYPE = /^(torch\.)?(bfloat16|float32|float|float64|double)$/;

function dtypeOf(ctx: RuleContext, node: SyntaxNode, call: CallInfo): Precision {
  const text = ctx.text_(unparenthesize(node)).replace(/\s+/g, '');
  if (FP16.test(text)) return 'fp16';
  if (OTHER_DTYPE.test(text)) return 'other';
  if (unparenthesize(node).type === 'identifier') {
    const asg = (ctx.facts.assignmentsByTarget.get(text) ?? []).filter((a) => a.op === '=' && (a.fn === call.fn || a.fn === undefined));
    if (asg.length > 0 && asg.every((a) => a.value && FP16.test(ctx.text_(a.value).replace(/\s+/g, '')))) return 'fp16';
    if (asg.length > 0 && asg.every((a) => a.value && OTHER_DTYPE.test(ctx.text_(a.value).replace(/\s+/g, '')))) return 'other';
  }
  return 'unknown';
}

/** fp16 / other / unknown precision of an autocast call; undefined when it is not a CUDA autocast. */
function autocastPrecision(ctx: RuleContext, call: CallInfo): Precision | undefined {
  const q = call.qualified;
  if (call.name !== 'autocast') return undefined;
  const enabled = call.keywords.get('enabled') ?? (/^torch\.cuda\.amp\./.test(q) ? call.args[0] : call.args[2]);
  if (switchedOff(ctx, enabled, call)) return 'other';
  if (/^torch\.cuda\.amp\.autocast$|^torch\.cuda\.amp\.autocast_mode\.autocast$/.test(q)) {
    const dtype = call.keywords.get('dtype') ?? call.args[1];
    return dtype ? dtypeOf(ctx, dtype, call) : 'fp16';
  }
  if (/^torch\.(amp\.|amp\.autocast_mode\.)?autocast$/.test(q)) {
    const device = call.keywords.get('device_type') ?? call.args[0];
    if (!device) return 'unknown';
    const d = asString(ctx.values.resolve(device, call.fn));
    const dtype = call.keywords.get('dtype') ?? call.args[1];
    if (d === undefined) return dtype && dtypeOf(ctx, dtype, call) === 'other' ? 'other' : 'unknown';
    if (d !== 'cuda') return 'other';
    return dtype ? dtypeOf(ctx, dtype, call) : 'fp16';
  }
  return undefined;
}

/** The autocast region trains: it sits in a loop or function that runs backward. */
function inTraining(ctx: RuleContext, call: CallInfo): boolean {
  // Under no_grad / inference_mode there are no gradients to underflow (an fp16 evaluation).
  if (call.withs.some((w) => w.items.some((i) => /no_grad|inference_mode/.test(ctx.text_(i))))) return false;
  for (let fn = call.fn; fn; fn = fn.parent) if (fn.decorators.some((d) => /no_grad|inference_mode/.test(d))) return false;
  for (const t of ctx.model.trainingLoops) {
    if (!t.events.some((e) => e.kind === 'backward')) continue;
    if (call.loops.includes(t.loop)) return true;
    for (const e of t.events) {
      if (e.kind !== 'backward') continue; // reached through the call that trains, not an eval helper
      for (const v of e.via ?? []) {
        const target = calledScriptFunction(ctx.facts, v);
        if (target && target === call.fn) return true;
      }
    }
  }
  return (ctx.facts.callsByName.get('backward') ?? []).some((b) => b.fn === call.fn && b.receiver !== undefined && call.fn !== undefined);
}

function handlesScalingElsewhere(ctx: RuleContext): boolean {
  if (gradScalers(ctx).length > 0) return true;
  return ctx.facts.calls.some((c) =>
    /^(Accelerator|Fabric|initialize)$/.test(c.name) && /accelerate|lightning|apex|amp/.test(c.qualified) ||
    /deepspeed/.test(c.qualified) || c.name === 'GradScaler' || c.name === 'DynamicLossScaler');
}

function explicitDtype(call: CallInfo): boolean {
  return call.keywords.has('dtype') || call.args.length >= 2;
}

const AMP002: RuleSpec = {
  id: 'AMP002', title: 'float16 autocast without a GradScaler', family: 'AMP', severity: 'warning', fix: 'none',
  reference: 'PyTorch Automatic Mixed Precision documentation (gradient scaling)',
  check(ctx) {
    const autocasts = ctx.facts.callsByName.get('autocast') ?? [];
    if (autocasts.length === 0 || handlesScalingElsewhere(ctx)) return;
    for (const call of autocasts) {
      if (inFrameworkCode(ctx.model, call.fn) || autocastPrecision(ctx, call) !== 'fp16' || !inTraining(ctx, call)) continue;
      ctx.report({
        node: call.node,
        message: `\`${callText(ctx, call)}\` runs the forward pass in float16 on CUDA${explicitDtype(call) ? '' : ' (the default autocast dtype on CUDA)'}, but the script creates no GradScaler: float16 gradients below ~6e-8 underflow to zero (and large ones overflow to inf), so small gradients are silently lost. Scale the loss with torch.amp.GradScaler("cuda") (scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()), or autocast to torch.bfloat16, which needs no scaler.`,
      });
    }
  },
};

// ------------------------------------------------------------------ AMP003

const AUTOCAST_POSITIONAL = ['enabled', 'dtype', 'cache_enabled'];

/** `torch.cuda.amp.autocast(...)` → `torch.amp.autocast("cuda", ...)`, positionals turned into keywords. */
function modernize(ctx: RuleContext, call: CallInfo): TextEdit[] | undefined {
  const fnNode = childByField(call.node, 'function');
  const args = call.argumentList;
  if (!fnNode || !args || args.type !== 'argument_list' || call.hasSplat) return undefined;
  const m = /^(\w+)\.cuda\.amp\.(autocast|GradScaler)$/.exec(call.callee);
  if (!m || ctx.facts.importBindings.get(m[1]!) !== 'torch') return undefined;
  if (m[2] === 'autocast' && call.args.length > AUTOCAST_POSITIONAL.length) return undefined;
  // one edit for the argument list: the device first, autocast's positionals (enabled, dtype, ...) as keywords
  const inserts: [number, string][] = [[args.start + 1, call.args.length > 0 || call.keywords.size > 0 ? '"cuda", ' : '"cuda"']];
  if (m[2] === 'autocast') call.args.forEach((a, i) => inserts.push([a.start, `${AUTOCAST_POSITIONAL[i]}=`]));
  let out = '';
  let from = args.start;
  for (const [offset, s] of inserts) {
    out += ctx.text.slice(from, offset) + s;
    from = offset;
  }
  out += ctx.text.slice(from, args.end);
  const edits: TextEdit[] = [ctx.replace(fnNode, `${m[1]}.amp.${m[2]}`), ctx.replace(args, out)];
  return edits;
}

const AMP003: RuleSpec = {
  id: 'AMP003', title: 'Deprecated torch.cuda.amp API', family: 'AMP', severity: 'hint', fix: 'safe',
  reference: 'TorchFix TOR101; PyTorch torch.amp documentation',
  check(ctx) {
    for (const name of ['autocast', 'GradScaler', 'custom_fwd', 'custom_bwd']) {
      for (const call of ctx.facts.callsByName.get(name) ?? []) {
        if (!call.qualified.startsWith('torch.cuda.amp.')) continue;
        const edits = name === 'autocast' || name === 'GradScaler' ? modernize(ctx, call) : undefined;
        const replacement = name === 'autocast' ? 'torch.amp.autocast("cuda", ...)' : name === 'GradScaler' ? 'torch.amp.GradScaler("cuda", ...)' : `torch.amp.${name}(device_type="cuda")`;
        ctx.report({
          node: call.node,
          message: `\`${callText(ctx, call)}\` uses torch.cuda.amp.${name}, deprecated since PyTorch 2.4 (it emits a FutureWarning); use ${replacement}.`,
          fixes: edits ? [{ title: `Use ${replacement}`, safe: true, edits }] : [],
        });
      }
    }
  },
};

export const AMP_RULES: readonly RuleSpec[] = [AMP001, AMP002, AMP003];
