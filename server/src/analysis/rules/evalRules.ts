import type { Fix, TextEdit } from '../findings';
import type { CallInfo, FunctionInfo, LoopInfo } from '../facts/scriptFacts';
import { calledScriptFunction } from '../model/extractModel';
import type { LoopEvent, TrainingLoopModel } from '../model/trainingScript';
import type { SyntaxNode } from '../syntax/syntaxNode';
import {
  assignmentsWithin, callsWithin, inFrameworkCode, iterationEvents, mentionsEval, mentionsTrain, parameterOwners,
  regionCalls, regionOf, words,
} from './loopIteration';
import type { RuleContext, RuleSpec } from './ruleSpec';
import { indentUnit, insertAfter, insertBefore, ownsLines, wrapStatement } from './statementEdits';

function lineOf(ctx: RuleContext, node: SyntaxNode): number {
  return ctx.lines.positionAt(node.start).line + 1;
}

function header(ctx: RuleContext, loop: LoopInfo): string {
  return ctx.text.slice(loop.node.start, loop.headerEnd).split('\n')[0]!.replace(/\s+#.*$/, '').trim();
}

// ------------------------------------------------------------------ what counts as a model and an evaluation

const EVAL_FN_WORDS = new Set(['val', 'valid', 'validate', 'validation', 'eval', 'evaluate', 'evaluation', 'test', 'testing', 'inference', 'predict']);
const TRAIN_FN_WORDS = new Set(['train', 'training', 'fit']);

export function isEvaluationFunctionName(name: string): boolean {
  const w = words(name);
  return w.some((x) => EVAL_FN_WORDS.has(x)) && !w.some((x) => TRAIN_FN_WORDS.has(x));
}

function evaluationFunction(fn: FunctionInfo | undefined): FunctionInfo | undefined {
  for (let f = fn; f; f = f.parent) if (isEvaluationFunctionName(f.name)) return f;
  return undefined;
}

/** Mode calls: `model.eval()` / `model.train(False)` → eval, `model.train()` → train. */
function modeOf(call: CallInfo): 'eval' | 'train' | undefined {
  if (!call.receiver || /trainer|parser|args/i.test(call.receiver)) return undefined;
  if (call.name === 'eval') return call.args.length === 0 && call.keywords.size === 0 ? 'eval' : undefined;
  if (call.name === 'train' && call.args.length <= 1) {
    const mode = call.args[0] ?? call.keywords.get('mode');
    if (!mode) return 'train';
    if (mode.type === 'false') return 'eval';
    if (mode.type === 'true') return 'train';
  }
  return undefined;
}

const MODULE_FACTORY = /^(torchvision\.models\.|timm\.create_model$|torch\.hub\.load$)|\.from_pretrained$|\.from_config$|(^|\.)Sequential$/;

/** Names the script's models are bound to (`model`, `self.net`), from constructors, optimizers and mode calls. */
function modelNames(ctx: RuleContext): Set<string> {
  const names = new Set<string>();
  const classes = new Set(ctx.model.moduleClasses.map((c) => c.name));
  for (const o of ctx.model.optimizers) for (const r of parameterOwners(ctx.facts, ctx.text, o.paramsNode, o.call.fn)) names.add(r);
  for (const name of ['eval', 'train']) for (const c of ctx.facts.callsByName.get(name) ?? []) if (modeOf(c) && c.receiver) names.add(c.receiver);
  for (const a of ctx.facts.assignments) {
    if (!a.targetText || a.value?.type !== 'call') continue;
    let call = ctx.facts.callByNode.get(a.value);
    while (call && /^(to|cuda|cpu|half|float|bfloat16|double|eval|train)$/.test(call.name) && call.receiverNode?.type === 'call') call = ctx.facts.callByNode.get(call.receiverNode);
    if (!call) continue;
    if (classes.has(call.name) && !call.receiver || MODULE_FACTORY.test(call.qualified) || /^(DataParallel|DistributedDataParallel|compile)$/.test(call.name)) names.add(a.targetText);
  }
  return names;
}

/** A model's forward pass inside a loop: `model(x)`, `self.net(x)`, `model.generate(...)`. */
function forwardCall(ctx: RuleContext, loop: LoopInfo, models: ReadonlySet<string>, evalFn: FunctionInfo | undefined): CallInfo | undefined {
  const params = new Set((evalFn?.params ?? []).filter((p) => /model|net/i.test(p.name)).map((p) => p.name));
  for (const c of callsWithin(ctx.facts, loop.body!, loop.fn)) {
    if (models.has(c.callee) || params.has(c.callee)) return c;
    if (c.receiver && (models.has(c.receiver) || params.has(c.receiver)) && /^(forward|generate|predict|predict_step|encode)$/.test(c.name)) return c;
  }
  return undefined;
}

export interface Evaluation {
  readonly loop: LoopInfo;
  readonly forward: CallInfo;
  /** The model's text at the loop (`model`, `self.model`). */
  readonly model: string;
  readonly evalFunction: FunctionInfo | undefined;
}

const BACKWARD_LIKE = /^(backward|manual_backward|step|zero_grad|apply_gradients|grad|requires_grad_)$/;

function isEvaluationLoop(ctx: RuleContext, loop: LoopInfo, evalLoaders: ReadonlySet<string>): boolean {
  if (loop.kind !== 'for' || !loop.body) return false;
  const iter = ctx.text_(loop.iter);
  const named = (mentionsEval(iter) && !mentionsTrain(iter)) || evalLoaders.has(iter) || !!evaluationFunction(loop.fn);
  if (!named) return false;
  const calls = regionCalls(ctx.facts, regionOf(ctx.facts, loop.body, loop.fn));
  return !calls.some((c) => BACKWARD_LIKE.test(c.name) && c.receiver !== undefined
    && (c.name !== 'step' || /opt|scaler/i.test(c.receiver))
    && (c.name !== 'grad' || /autograd/.test(c.receiver))
    && (c.name !== 'requires_grad_' || c.args[0]?.type !== 'false'));
}

const evaluationCache = new WeakMap<object, Evaluation[]>();

/** Loops that evaluate a model: over a val/test loader or inside evaluate()/validate(), forward without backward. */
export function evaluations(ctx: RuleContext): Evaluation[] {
  const hit = evaluationCache.get(ctx.model);
  if (hit) return hit;
  const out: Evaluation[] = [];
  const models = modelNames(ctx);
  const evalLoaders = new Set(ctx.model.dataLoaders.filter((d) => d.role === 'eval').flatMap((d) => d.boundTo));
  const qualifies = new Map<LoopInfo, boolean>();
  const q = (l: LoopInfo) => {
    let v = qualifies.get(l);
    if (v === undefined) { v = isEvaluationLoop(ctx, l, evalLoaders); qualifies.set(l, v); }
    return v;
  };
  for (const loop of ctx.facts.loops) {
    if (!q(loop) || inFrameworkCode(ctx.model, loop.fn)) continue;
    let nested = false;
    for (let p = loop.parent; p; p = p.parent) if (q(p) && forwardCall(ctx, p, models, evaluationFunction(p.fn))) nested = true;
    if (nested) continue;
    const evalFn = evaluationFunction(loop.fn);
    const forward = forwardCall(ctx, loop, models, evalFn);
    if (!forward) continue;
    const model = models.has(forward.callee) || evalFn?.params.some((p) => p.name === forward.callee) ? forward.callee : forward.receiver ?? forward.callee;
    out.push({ loop, forward, model, evalFunction: evalFn });
  }
  evaluationCache.set(ctx.model, out);
  return out;
}

/** The last mode call before `pos` in `fn` (source order). */
function modeBefore(ctx: RuleContext, fn: FunctionInfo | undefined, pos: number): 'eval' | 'train' | undefined {
  let best: CallInfo | undefined;
  for (const name of ['eval', 'train']) {
    for (const c of ctx.facts.callsByName.get(name) ?? []) {
      if (c.fn !== fn || c.node.start >= pos || !modeOf(c)) continue;
      if (!best || c.node.start > best.node.start) best = c;
    }
  }
  return best ? modeOf(best) : undefined;
}

function callSites(ctx: RuleContext, fn: FunctionInfo): CallInfo[] {
  return (ctx.facts.callsByName.get(fn.name) ?? []).filter((c) => calledScriptFunction(ctx.facts, c) === fn);
}

/** The mode at `pos` in `fn`: the last mode call before it, else (for a function) the mode at every call site, up to three callers up. */
function modeAt(ctx: RuleContext, fn: FunctionInfo | undefined, pos: number, depth: number, seen: Set<FunctionInfo>): 'eval' | 'train' | undefined {
  const here = modeBefore(ctx, fn, pos);
  if (here || !fn || depth <= 0 || seen.has(fn)) return here;
  const path = new Set(seen).add(fn);
  const sites = callSites(ctx, fn);
  if (sites.length === 0) return undefined;
  // up to the call's end: `evaluate(model.eval(), loader)` switches before the body runs
  const modes = sites.map((s) => modeAt(ctx, s.fn, s.node.end, depth - 1, path));
  return modes.every((m) => m === 'eval') ? 'eval' : modes.includes('train') ? 'train' : undefined;
}

/** eval mode is set before the evaluation: in the loop, before it in its function, or in the callers before the call. */
function evalModeSet(ctx: RuleContext, ev: Evaluation): boolean {
  if (callsWithin(ctx.facts, ev.loop.body!, ev.loop.fn).some((c) => modeOf(c) === 'eval' && c.node.start < ev.forward.node.start)) return true;
  if (ev.forward.withs.some((w) => w.items.some((i) => /eval_mode|evaluating|inference_context/i.test(ctx.text_(i))))) return true;
  return modeAt(ctx, ev.loop.fn, ev.loop.node.start, 3, new Set()) === 'eval';
}

/** Dropout or batch norm that behaves differently in train mode: in the file's layers, or a torchvision/timm model. */
function modeDependentLayers(ctx: RuleContext): { where: string; effect: string } | undefined {
  const torchLayers = ctx.model.layers.filter((l) => l.framework === 'pytorch');
  const drop = torchLayers.find((l) => l.kind === 'dropout');
  const bn = torchLayers.find((l) => l.kind === 'batchnorm');
  const dropEffect = 'dropout stays active (random predictions)';
  const bnEffect = 'batch norm normalizes with each batch\'s statistics and keeps updating its running averages with evaluation data';
  if (drop || bn) {
    const where = [drop, bn].filter((l) => !!l).map((l) => `${l!.className} at line ${lineOf(ctx, l!.call.node)}`).join(', ');
    return { where, effect: [drop ? dropEffect : '', bn ? bnEffect : ''].filter(Boolean).join(', and ') };
  }
  const fdrop = (ctx.facts.callsByName.get('dropout') ?? []).find((c) => /^torch\.nn\.functional\.dropout$/.test(c.qualified) && c.keywords.has('training'));
  if (fdrop) return { where: `F.dropout(training=...) at line ${lineOf(ctx, fdrop.node)}`, effect: dropEffect };
  const zoo = ctx.facts.calls.find((c) => /^torchvision\.models\.\w+$|^timm\.create_model$/.test(c.qualified) && !/^(get_|list_)/.test(c.name));
  if (zoo) return { where: `${zoo.callee}() at line ${lineOf(ctx, zoo.node)}, which has batch norm`, effect: bnEffect };
  return undefined;
}

function torchAlias(ctx: RuleContext): string | undefined {
  for (const [k, v] of ctx.facts.importBindings) if (v === 'torch') return k;
  return undefined;
}

// ------------------------------------------------------------------ EVAL001

const EVAL001: RuleSpec = {
  id: 'EVAL001', title: 'Evaluation without model.eval()', family: 'EVAL', severity: 'warning', fix: 'safe',
  reference: 'PyTorch nn.Module.eval documentation',
  check(ctx) {
    const evidence = modeDependentLayers(ctx);
    // Monte-Carlo dropout keeps dropout on at evaluation on purpose
    if (!evidence || /enable_dropout|mc_dropout|monte_carlo|mc_samples/i.test(ctx.text)) return;
    for (const ev of evaluations(ctx)) {
      if (evalModeSet(ctx, ev)) continue;
      const fixes: Fix[] = [];
      if (ownsLines(ctx, ev.loop.node)) {
        // training mode is restored after the loop whenever the script also trains, so later steps behave as before
        const restore = ctx.model.trainingLoops.length > 0 || ctx.model.frameworkLoops.length > 0;
        const edits: TextEdit[] = [ctx.insertLinesBefore(ev.loop.node, [`${ev.model}.eval()`])];
        if (restore) edits.push(ctx.insertLinesAfter(ev.loop.node, [`${ev.model}.train()`]));
        fixes.push({ title: `Call ${ev.model}.eval() before the evaluation loop${restore ? ` (and ${ev.model}.train() after it)` : ''}`, safe: true, edits });
      }
      ctx.report({
        node: ev.loop.node,
        range: ctx.lines.rangeOf(ev.loop.node.start, Math.min(ev.loop.headerEnd, ctx.lines.lineEnd(ctx.lines.positionAt(ev.loop.node.start).line))),
        message: `This evaluation loop (\`${header(ctx, ev.loop)}\`) runs ${ev.model} in training mode: no ${ev.model}.eval() precedes it${ev.loop.fn ? ` in ${ev.loop.fn.name}() or its callers` : ''}. The model has layers that behave differently in training mode (${evidence.where}): ${evidence.effect}, so the metrics are noisy and pessimistic. Call ${ev.model}.eval() before evaluating and ${ev.model}.train() before training again.`,
        related: [{ node: ev.forward.node, message: 'forward pass evaluated in training mode' }],
        fixes,
      });
    }
  },
};

// ------------------------------------------------------------------ EVAL002

/** Maps a receiver inside a called function (`model` parameter) to the caller's argument text. */
function receiverInCaller(ctx: RuleContext, receiver: string, via: readonly CallInfo[] | undefined): string | undefined {
  let name = receiver;
  if (!via) return name;
  for (let i = via.length - 1; i >= 0; i--) {
    const site = via[i]!;
    const target = calledScriptFunction(ctx.facts, site);
    if (!target) return undefined;
    const root = name.split('.')[0]!;
    const params = target.params.filter((p) => !p.splat && p.name !== 'self');
    const idx = params.findIndex((p) => p.name === root);
    if (idx < 0) {
      if (target.params.some((p) => p.name === root)) return undefined;
      continue; // a global or self attribute: same text in the caller
    }
    const arg = site.keywords.get(root) ?? site.args[idx];
    if (!arg) return undefined;
    name = ctx.text_(arg) + name.slice(root.length);
  }
  return name;
}

const ownersCache = new WeakMap<object, string[]>();

function isTrainedModel(ctx: RuleContext, name: string): boolean {
  let owners = ownersCache.get(ctx.model);
  if (!owners) {
    owners = ctx.model.optimizers.flatMap((o) => parameterOwners(ctx.facts, ctx.text, o.paramsNode, o.call.fn));
    ownersCache.set(ctx.model, owners);
  }
  if (owners.length > 0) return owners.some((o) => o === name || o === `${name}.module` || name === `${o}.module` || o.endsWith(`.${name}`) || name.endsWith(`.${o}`));
  return /model|net/i.test(name) && !/teacher|ema|target|ref|frozen|old|pretrained|avg|swa/i.test(name);
}

interface EventPlace { readonly t: TrainingLoopModel; readonly e: LoopEvent; readonly index: number }

/** For each eval event, the innermost training loop whose iteration runs it (the one with the fewest events). */
function evalPlaces(ctx: RuleContext): Map<CallInfo, EventPlace> {
  const out = new Map<CallInfo, EventPlace>();
  for (const t of ctx.model.trainingLoops) {
    if (inFrameworkCode(ctx.model, t.loop.fn)) continue;
    t.events.forEach((e, index) => {
      if (e.kind !== 'eval') return;
      const best = out.get(e.call);
      if (!best || t.events.length < best.t.events.length) out.set(e.call, { t, e, index });
    });
  }
  return out;
}

/** An if-statement holds the eval call in one branch and a train call in another. */
function exclusiveBranches(evalNode: SyntaxNode, trainNodes: readonly SyntaxNode[], within: SyntaxNode): boolean {
  for (let p = evalNode.parent; p && p !== within; p = p.parent) {
    if (p.type === 'if_statement' && trainNodes.some((n) => p!.start <= n.start && n.end <= p!.end)) return true;
  }
  return false;
}

/** The training step only runs under a condition about training (`if phase == "train":`, `if is_training:`). */
function guardedByTrainingFlag(ctx: RuleContext, node: SyntaxNode, within: SyntaxNode): boolean {
  let c = node;
  for (let p = node.parent; p && p !== within; c = p, p = p.parent) {
    if ((p.type === 'if_statement' || p.type === 'elif_clause') && c.field === 'consequence') {
      const cond = p.children.find((x) => x.field === 'condition');
      if (cond && /train/i.test(ctx.text_(cond))) return true;
    }
  }
  return false;
}

const EVAL002: RuleSpec = {
  id: 'EVAL002', title: 'model.eval() during training without model.train() before the next step', family: 'EVAL', severity: 'error', fix: 'safe',
  reference: 'Code smells for machine learning applications (Zhang et al. 2022), smell 18',
  check(ctx) {
    const evalCalls = (ctx.facts.callsByName.get('eval') ?? []).concat(ctx.facts.callsByName.get('train') ?? []).filter((c) => modeOf(c) === 'eval');
    if (evalCalls.length === 0) return;
    const places = evalPlaces(ctx);
    for (const call of evalCalls) {
      if (inFrameworkCode(ctx.model, call.fn)) continue;
      const inLoop = places.get(call);
      if (inLoop) {
        const { t, e, index } = inLoop;
        const model = receiverInCaller(ctx, call.receiver!, e.via);
        if (!model || !isTrainedModel(ctx, model)) continue;
        const ev = iterationEvents(t);
        const hasBackward = ev.some((x) => x.kind === 'backward');
        const isTrainingPoint = (x: { kind: string }) => x.kind === (hasBackward ? 'backward' : 'step');
        let next: (typeof ev)[number] | undefined;
        let wrapped = false;
        for (let k = 1; k < ev.length; k++) {
          const j = (index + k) % ev.length;
          const x = ev[j]!;
          if (x.kind === 'train') break;
          if (isTrainingPoint(x)) { next = x; wrapped = j < index; break; }
        }
        if (!next) continue;
        // `if phase == "train": model.train() else: model.eval()` and backward only `if phase == "train"`
        const eAnchor = ev[index]!.anchor.node;
        const trainAnchors = ev.filter((x) => x.kind === 'train').map((x) => x.anchor.node);
        if (exclusiveBranches(eAnchor, trainAnchors, t.loop.body!)) continue;
        if (guardedByTrainingFlag(ctx, next.anchor.node, t.loop.body!)) continue;
        const fixes: Fix[] = [];
        const body = t.loop.body!;
        const top = (n: SyntaxNode) => { let s = n; while (s.parent && s.parent !== body) s = s.parent; return s.parent === body ? s : undefined; };
        let edits: TextEdit[] | undefined;
        const evalSite = e.via?.[0];
        if (evalSite && evalSite.statement.type === 'expression_statement' && evalSite.statement.parent?.type === 'block') {
          // evaluate(model) switches to eval mode: switch back right after it returns
          edits = insertAfter(ctx, evalSite.statement, [`${model}.train()`]);
        }
        if (!edits) {
          let target: SyntaxNode | undefined;
          if (wrapped) target = body.children.find((c) => c.named && c.type !== 'comment');
          else if (!next.direct || next.anchor !== next.call) {
            const s = top(next.anchor.node);
            if (s && s !== top(ev[index]!.anchor.node)) target = s;
          }
          edits = target ? insertBefore(ctx, target, [`${model}.train()`]) : undefined;
        }
        if (edits) fixes.push({ title: `Call ${model}.train() before training resumes`, safe: true, edits });
        ctx.report({
          node: call.node,
          message: `\`${ctx.text_(call.node)}\` (line ${lineOf(ctx, call.node)}) switches ${model} to eval mode inside the training loop \`${header(ctx, t.loop)}\`, and ${ctx.text_(next.call.node).replace(/\s+/g, ' ')} (line ${lineOf(ctx, next.call.node)}) runs again with no ${model}.train() in between: the following training steps run with dropout off and frozen batch-norm statistics. Call ${model}.train() before training resumes.`,
          related: [{ node: next.call.node, message: 'next training step in eval mode' }],
          fixes,
        });
        continue;
      }
      // eval() before a training loop in the same function that never calls train()
      if (call.loops.length > 0 || !call.receiver || !isTrainedModel(ctx, call.receiver)) continue;
      const later = ctx.model.trainingLoops.find((t) => t.loop.fn === call.fn && t.loop.node.start > call.node.start && !t.loop.parent && t.events.some((x) => x.kind === 'backward') && !inFrameworkCode(ctx.model, t.loop.fn));
      if (!later || later.events.some((x) => x.kind === 'train')) continue;
      const between = (['train', 'eval'] as const).some((n) => (ctx.facts.callsByName.get(n) ?? []).some((c) => c.fn === call.fn && c !== call && c.node.start > call.node.start && c.node.start < later.loop.node.start && modeOf(c)));
      if (between) continue;
      const edits = insertBefore(ctx, later.loop.node, [`${call.receiver}.train()`]);
      ctx.report({
        node: call.node,
        message: `\`${ctx.text_(call.node)}\` (line ${lineOf(ctx, call.node)}) leaves ${call.receiver} in eval mode, and the training loop \`${header(ctx, later.loop)}\` (line ${lineOf(ctx, later.loop.node)}) never calls ${call.receiver}.train(): training runs with dropout off and frozen batch-norm statistics. Call ${call.receiver}.train() before training.`,
        related: [{ node: later.loop.node, message: 'training loop' }],
        fixes: edits ? [{ title: `Call ${call.receiver}.train() before the training loop`, safe: true, edits }] : [],
      });
    }
  },
};

// ------------------------------------------------------------------ EVAL003

const NO_GRAD = /no_grad|inference_mode|set_grad_enabled\s*\(\s*(mode\s*=\s*)?False/;

function gradDisabledAround(ctx: RuleContext, call: CallInfo): boolean {
  if (call.withs.some((w) => w.items.some((i) => NO_GRAD.test(ctx.text_(i))))) return true;
  for (let f = call.fn; f; f = f.parent) if (f.decorators.some((d) => /no_grad|inference_mode/.test(d))) return true;
  return (ctx.facts.callsByName.get('set_grad_enabled') ?? []).some((c) => c.fn === call.fn && c.node.start < call.node.start && c.statement.type === 'expression_statement' && /False/.test(ctx.text_(c.argumentList)));
}

function frozenOrGradHandled(ctx: RuleContext): boolean {
  if ((ctx.facts.callsByName.get('requires_grad_') ?? []).some((c) => c.args[0]?.type === 'false')) return true;
  if ((ctx.facts.callsByName.get('enable_grad') ?? []).length > 0) return true;
  return ctx.facts.assignments.some((a) => a.targetText.endsWith('.requires_grad') && a.value?.type === 'false');
}

const EVAL003: RuleSpec = {
  id: 'EVAL003', title: 'Evaluation without torch.no_grad()', family: 'EVAL', severity: 'information', fix: 'safe',
  reference: 'PyTorch autograd documentation (locally disabling gradient computation)',
  check(ctx) {
    if (!ctx.model.frameworks.includes('pytorch') || frozenOrGradHandled(ctx)) return;
    const torch = torchAlias(ctx);
    for (const ev of evaluations(ctx)) {
      if (gradDisabledAround(ctx, ev.forward)) continue;
      const inner = callsWithin(ctx.facts, ev.loop.body!, ev.loop.fn).filter((c) => c.withs.some((w) => w.items.some((i) => NO_GRAD.test(ctx.text_(i)))));
      if (inner.length > 0) continue;
      const fn = ev.loop.fn;
      if (fn && !gradDisabledAround(ctx, ev.forward)) {
        const sites = callSites(ctx, fn);
        if (sites.length > 0 && sites.every((s) => gradDisabledAround(ctx, s))) continue;
      }
      const fixes: Fix[] = [];
      if (torch) {
        const edits = wrapStatement(ctx, ev.loop.node, `with ${torch}.no_grad():`, indentUnit(ctx, ev.loop.node, ev.loop.body));
        if (edits) fixes.push({ title: `Wrap the evaluation loop in with ${torch}.no_grad()`, safe: true, edits });
      }
      ctx.report({
        node: ev.loop.node,
        range: ctx.lines.rangeOf(ev.loop.node.start, Math.min(ev.loop.headerEnd, ctx.lines.lineEnd(ctx.lines.positionAt(ev.loop.node.start).line))),
        message: `This evaluation loop (\`${header(ctx, ev.loop)}\`) runs \`${ctx.text_(ev.forward.node).replace(/\s+/g, ' ').slice(0, 50)}\` with autograd on: every forward pass records a graph and keeps activations alive, costing memory and time for gradients that are never used. Wrap it in torch.no_grad() (or torch.inference_mode()).`,
        fixes,
      });
    }
  },
};

// ------------------------------------------------------------------ EVAL004

function isTrainData(text: string): boolean {
  if (/\btrain\s*=\s*True\b/.test(text)) return true;
  const rest = text.replace(/\btrain\s*=\s*\w+/g, '');
  // A held-out part of the training set (k-fold: `Subset(train_set, va_idx)`, `train_df.iloc[val_idx]`) is validation data.
  if (/\b(va|val|valid|validation|test|holdout|dev|oof)(_?(idx|ids|index|indices|mask|fold|split))?\b/i.test(rest.replace(/^[^(\[]*/, ''))) return false;
  return mentionsTrain(rest) && !mentionsEval(rest) && !/\[[^\]]*:/.test(rest);
}

const EVAL_SPECIFIC = new Set(['val', 'valid', 'validate', 'validation', 'test', 'testing', 'dev', 'holdout']);

function namesEvalSplit(name: string): boolean {
  const w = words(name);
  return w.some((x) => EVAL_SPECIFIC.has(x) || /^(val|valid|test|dev)(loader|loss|acc|accuracy|set|data|dl|ds|dataset|metrics|score|f1|auc|correct|total)$/.test(x)) && !mentionsTrain(name);
}

const EVAL_DATA_KEYWORDS = ['eval_dataset', 'validation_data', 'val_dataloaders', 'eval_dataloader', 'valid_dataset', 'val_dataset'];

const EVAL004: RuleSpec = {
  id: 'EVAL004', title: 'Validation or test metrics computed on the training data', family: 'EVAL', severity: 'warning', fix: 'none',
  reference: 'Evaluation practice (held-out data)',
  check(ctx) {
    const report = (node: SyntaxNode, what: string) => ctx.report({
      node,
      message: `${what} passes \`${ctx.text_(node).replace(/\s+/g, ' ')}\`, the training data, where validation/test data is expected: the reported metric measures fit to the training set, not generalization, and hides overfitting. Pass the validation or test split.`,
    });
    // evaluate(model, train_loader) reported as validation/test
    for (const fn of ctx.facts.functions) {
      if (!isEvaluationFunctionName(fn.name)) continue;
      for (const site of callSites(ctx, fn)) {
        const asg = ctx.facts.assignmentByValue.get(site.node);
        const target = asg ? ctx.text_(asg.target) : '';
        const labelled = namesEvalSplit(target) || (!mentionsTrain(target) && words(fn.name).some((w) => EVAL_SPECIFIC.has(w)));
        if (!labelled) continue;
        const arg = [...site.args, ...site.keywords.values()].find((a) => isTrainData(ctx.text_(a)));
        if (arg) report(arg, `${fn.name}(...)${target ? ` (assigned to ${target})` : ''}`);
      }
    }
    // a loop inside validate()/test() or summing into val_*/test_* totals that iterates the training loader
    for (const loop of ctx.facts.loops) {
      if (loop.kind !== 'for' || !loop.body || !loop.iter || !isTrainData(ctx.text_(loop.iter))) continue;
      if (inFrameworkCode(ctx.model, loop.fn)) continue;
      if (ctx.model.trainingLoops.some((t) => t.loop === loop)) continue;
      const calls = regionCalls(ctx.facts, regionOf(ctx.facts, loop.body, loop.fn));
      if (calls.some((c) => /^(backward|step|zero_grad)$/.test(c.name) && c.receiver !== undefined)) continue;
      const fn = loop.fn && words(loop.fn.name).some((w) => EVAL_SPECIFIC.has(w)) && !words(loop.fn.name).some((w) => TRAIN_FN_WORDS.has(w)) ? loop.fn : undefined;
      const totals = assignmentsWithin(ctx.facts, loop.body, loop.fn).filter((a) => a.op !== '=' && namesEvalSplit(a.targetText));
      if (!fn && totals.length === 0) continue;
      report(loop.iter, fn ? `${fn.name}() iterates \`${header(ctx, loop)}\`, which` : `The loop accumulating ${totals[0]!.targetText} iterates \`${header(ctx, loop)}\`, which`);
    }
    // eval_dataset=/validation_data= given the training split
    for (const c of ctx.facts.calls) {
      if (c.keywords.size === 0) continue;
      for (const key of EVAL_DATA_KEYWORDS) {
        const v = c.keywords.get(key);
        if (!v || !isTrainData(ctx.text_(v))) continue;
        // trainer.evaluate(eval_dataset=train_ds, metric_key_prefix="train") measures training fit on purpose
        const purpose = `${ctx.text_(ctx.facts.assignmentByValue.get(c.node)?.target)} ${ctx.text_(c.keywords.get('metric_key_prefix'))}`;
        if (!mentionsTrain(purpose)) report(v, `${c.name}(${key}=...)`);
      }
    }
    for (const c of ctx.facts.callsByName.get('DataLoader') ?? []) {
      if (c.keywords.has('sampler') || c.keywords.has('batch_sampler')) continue;
      const asg = ctx.facts.assignmentByValue.get(c.node);
      const ds = c.args[0] ?? c.keywords.get('dataset');
      if (asg && namesEvalSplit(asg.targetText) && ds && isTrainData(ctx.text_(ds))) report(ds, `${asg.targetText} = DataLoader(...)`);
    }
    for (const c of ctx.facts.callsByName.get('load_dataset') ?? []) {
      const split = c.keywords.get('split');
      const asg = ctx.facts.assignmentByValue.get(c.node);
      if (asg && split && namesEvalSplit(asg.targetText) && /^['"]train['"]$/.test(ctx.text_(split))) report(split, `${asg.targetText} = load_dataset(...)`);
    }
  },
};

export const EVAL_RULES: readonly RuleSpec[] = [EVAL001, EVAL002, EVAL003, EVAL004];
