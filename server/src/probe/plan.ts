/**
 * The probe plan, built from the static training-script model: which expression is the loss and
 * which variables are the batch (so the harness can re-evaluate the loss on other parameters and
 * on micro-batches), where each hyperparameter was set, and the budget. Pure: text and model in,
 * plain data out.
 */
import type { AnalysisResult } from '../analysis/analyze';
import type { AssignmentInfo, CallInfo } from '../analysis/facts/scriptFacts';
import type { ParsedDocument } from '../analysis/document';
import type { OptimizerModel, TrainingLoopModel } from '../analysis/model/trainingScript';
import { walk, type SyntaxNode } from '../analysis/syntax/syntaxNode';
import type { HparamSource, LandscapeDirections, ProbeClosure, ProbeMetric, ProbePlan } from '../protocol';

export const ALL_METRICS: readonly ProbeMetric[] = ['hessian', 'landscape', 'noise', 'weights', 'collapse'];
export const DEFAULT_STEPS = 10;
const HPARAM_NAMES = ['lr', 'momentum', 'betas', 'weight_decay', 'eps', 'nesterov'];

export interface PlanOptions {
  readonly script: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The last probe step; the cheap curvature numbers are also taken half way. */
  readonly steps?: number;
  readonly metrics?: readonly ProbeMetric[];
  readonly seed?: number;
  readonly timeoutSeconds?: number;
  /** Refine the landscape to the full grid (default: only when the probe measures the landscape without the Hessian). */
  readonly fullLandscape?: boolean;
  readonly directions?: LandscapeDirections;
  readonly overrides?: Readonly<Record<string, number>>;
}

export interface BuiltPlan {
  readonly plan: ProbePlan;
  /** What the plan could not find, for the run's warnings. */
  readonly notes: readonly string[];
}

export function buildProbePlan(doc: ParsedDocument, analysis: AnalysisResult, opts: PlanOptions): BuiltPlan {
  const notes: string[] = [];
  const steps = Math.max(1, Math.floor(opts.steps ?? DEFAULT_STEPS));
  const probeSteps = steps >= 4 ? [Math.ceil(steps / 2), steps] : [steps];
  const metrics = opts.metrics && opts.metrics.length > 0 ? opts.metrics : ALL_METRICS;
  const closure = findLossClosure(doc.text, analysis);
  if (!closure) notes.push('no loss expression found before backward(): landscape and gradient-noise probes will be skipped');
  const plan: ProbePlan = {
    v: 1,
    script: opts.script,
    args: opts.args,
    cwd: opts.cwd,
    seed: opts.seed ?? 0,
    budget: { warmupSteps: probeSteps[0]! - 1, probeSteps, timeoutSeconds: opts.timeoutSeconds ?? 600 },
    metrics,
    closure,
    // Worst case: 30 (top-5) + 30 (trace: 5 exact + 25 probes) + 3 × 20 (density) = 120 HVPs at the
    // last probe step and 15 at the first: 135 (Adam adds 2 × 15 for its preconditioned λ₁: 165).
    hessian: { topK: 5, lanczosSteps: 30, traceMaxProbes: 30, traceRelTol: 0.02, densityProbes: 3, densitySteps: 20 },
    landscape: {
      preview: 5,
      grid: 21,
      span: 1,
      // The default probe draws the 5×5 preview; a landscape-only probe can afford the full grid.
      refine: opts.fullLandscape ?? (metrics.includes('landscape') && !metrics.includes('hessian')),
      directions: opts.directions ?? 'random',
    },
    noise: { microBatches: 16 },
    hparamSources: hparamSources(doc, analysis),
    ...(opts.overrides && Object.keys(opts.overrides).length > 0 ? { overrides: opts.overrides } : {}),
  };
  return { plan, notes };
}

function hparamSources(doc: ParsedDocument, analysis: AnalysisResult): HparamSource[] {
  const out: HparamSource[] = [];
  analysis.model.optimizers.forEach((opt: OptimizerModel, index: number) => {
    for (const name of HPARAM_NAMES) {
      const h = opt.hyper.get(name);
      if (!h) continue;
      out.push({ optimizer: index, name, line: doc.lines.positionAt(h.anchor.start).line + 1, text: h.resolved.detail });
    }
  });
  return out;
}

/** The loss the main loop passes to backward, as an expression of batch variables. */
export function findLossClosure(text: string, analysis: AnalysisResult): ProbeClosure | null {
  const loop = mainLoop(analysis.model.trainingLoops);
  if (!loop) return null;
  const backward = loop.events.find((e) => e.kind === 'backward' && !e.via);
  if (!backward) return null;
  const lossName = lossVariable(backward.call, text);
  if (!lossName) return null;
  const src = (n: SyntaxNode): string => text.slice(n.start, n.end);
  const assignments = analysis.facts.assignments.filter(
    (a) => a.fn === backward.call.fn && a.value !== undefined && a.op === '=' && a.node.start < backward.call.node.start,
  );
  const lossAssignment = lastAssignmentTo(assignments, lossName, backward.call.node.start);
  if (!lossAssignment?.value) return null;
  const modelName = modelVariable(analysis.model.optimizers[0], text);
  const loopStart = loop.loop.node.start;
  // Names assigned inside the loop body before the loss are either batch data (`x = x.to(dev)`),
  // kept as variables the harness slices, or model outputs (`out = model(x)`), inlined so that the
  // expression really recomputes the loss when the parameters move.
  const inLoop = assignments.filter((a) => a.node.start >= loopStart && a.node.start < lossAssignment.node.start);
  const expression = inlineModelOutputs(lossAssignment.value, inLoop, modelName, lossName, text, lossAssignment.node.start);
  const identifiers = new Set(identifierTexts(expression));
  const loopTargets = loop.loop.target ? freeIdentifiers(loop.loop.target).map((n) => src(n)) : [];
  const assignedInLoop = inLoop.flatMap((a) => freeIdentifiers(a.target).map((n) => src(n)));
  const batch = [...new Set([...loopTargets, ...assignedInLoop])].filter(
    (n) => identifiers.has(n) && n !== modelName && n !== lossName,
  );
  if (batch.length === 0) return null;
  return {
    loss: expression,
    batch,
    model: modelName ?? null,
    line: positionLine(text, lossAssignment.node.start),
  };
}

function mainLoop(loops: readonly TrainingLoopModel[]): TrainingLoopModel | undefined {
  return loops.find((l) => l.isStepLoop && l.events.some((e) => e.kind === 'backward' && !e.via))
    ?? loops.find((l) => l.events.some((e) => e.kind === 'backward' && !e.via));
}

/** `loss.backward()`, `scaler.scale(loss).backward()`, `accelerator.backward(loss)`. */
function lossVariable(call: CallInfo, text: string): string | undefined {
  const receiver = call.receiverNode;
  if (receiver?.type === 'identifier') return text.slice(receiver.start, receiver.end);
  if (receiver?.type === 'call') {
    const args = receiver.children.find((c) => c.type === 'argument_list');
    const first = args?.children.find((c) => c.named);
    if (first?.type === 'identifier') return text.slice(first.start, first.end);
  }
  const arg = call.args[0];
  if (arg?.type === 'identifier') return text.slice(arg.start, arg.end);
  return undefined;
}

function lastAssignmentTo(assignments: readonly AssignmentInfo[], name: string, before: number): AssignmentInfo | undefined {
  let found: AssignmentInfo | undefined;
  for (const a of assignments) if (a.targetText === name && a.node.start < before && (!found || a.node.start > found.node.start)) found = a;
  return found;
}

function modelVariable(opt: OptimizerModel | undefined, text: string): string | undefined {
  const params = opt?.paramsNode;
  if (!params) return undefined;
  const source = text.slice(params.start, params.end);
  const m = /^([A-Za-z_][\w.]*)\.(?:named_)?parameters\(\)/.exec(source);
  return m?.[1];
}

/** Identifier nodes of an expression that name variables (not attributes or keyword names). */
function freeIdentifiers(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  walk(node, (n) => {
    if (n.type === 'identifier' && n.field !== 'attribute' && !(n.parent?.type === 'keyword_argument' && n.field === 'name')) {
      out.push(n);
    }
    if (n.type === 'lambda') return false;
    return true;
  });
  return out;
}

function identifierTexts(expression: string): string[] {
  // Python identifiers that are not attribute accesses or keyword names (`.to`, `dim=`).
  const out: string[] = [];
  const re = /(?<![.\w])([A-Za-z_]\w*)(?!\s*=(?!=))/g;
  for (let m = re.exec(expression); m; m = re.exec(expression)) out.push(m[1]!);
  return out;
}

/** One level of inlining: `criterion(out, y)` with `out = model(x)` → `criterion((model(x)), y)`. */
function inlineModelOutputs(
  valueNode: SyntaxNode,
  inLoop: readonly AssignmentInfo[],
  modelName: string | undefined,
  lossName: string,
  text: string,
  before: number,
): string {
  const expression = text.slice(valueNode.start, valueNode.end);
  const modelRoot = modelName?.split('.')[0];
  const edits: { start: number; end: number; text: string }[] = [];
  for (const id of freeIdentifiers(valueNode)) {
    const name = text.slice(id.start, id.end);
    const def = lastAssignmentTo(inLoop.filter((a) => a.target.type === 'identifier'), name, before);
    if (!def?.value) continue;
    const value = text.slice(def.value.start, def.value.end);
    const selfRef = name === lossName;
    if (selfRef || computesFromModel(def.value, value, modelRoot, text)) {
      edits.push({ start: id.start - valueNode.start, end: id.end - valueNode.start, text: `(${value})` });
    }
  }
  let out = expression;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** Tensor methods that move or reshape data: `x = x.to(device)` stays a batch variable. */
const DATA_METHODS = new Set([
  'to', 'cuda', 'cpu', 'float', 'double', 'half', 'bfloat16', 'long', 'int', 'bool', 'view', 'reshape', 'squeeze',
  'unsqueeze', 'permute', 'transpose', 'contiguous', 'flatten', 'clone', 'detach', 'pin_memory', 'get', 'items',
]);

/**
 * Whether an assignment in the loop computes from the model (its output, to be inlined) rather
 * than moving data: it names the model, or, when the model variable is unknown, it calls
 * something that is not a data method (`logits = net(x)`, `out = self.forward(x)`).
 */
function computesFromModel(value: SyntaxNode, source: string, modelRoot: string | undefined, text: string): boolean {
  if (modelRoot !== undefined) {
    return new RegExp(`(?<![.\\w])${modelRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(source);
  }
  let calls = false;
  walk(value, (n) => {
    if (n.type !== 'call') return true;
    const fn = n.children.find((c) => c.field === 'function');
    const name = fn?.type === 'attribute' ? text.slice(fn.children.at(-1)!.start, fn.end) : fn ? text.slice(fn.start, fn.end) : '';
    if (!DATA_METHODS.has(name)) calls = true;
    return !calls;
  });
  return calls;
}

function positionLine(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
