import type { SyntaxNode } from '../syntax/syntaxNode';
import type { RuleContext, RuleSpec } from './ruleSpec';
import { ownsLines } from './statementEdits';

/** Calls that seed the framework's generators (or a helper the script wrote for it). */
const SEEDING_CALL = /^(manual_seed|manual_seed_all|seed_everything|set_seed|set_random_seed|seed_all|set_seeds|setup_seed|fix_seed|fix_seeds|fix_random_seed|init_seeds|seed_torch|set_global_seed|enable_full_determinism|PRNGKey)$/;

function seedsFramework(ctx: RuleContext): boolean {
  for (const [name, calls] of ctx.facts.callsByName) {
    // Any seeding helper counts (timm's `utils.random_seed`, a project's `set_all_seeds`), except
    // `random.seed` / `np.random.seed`, which leave the framework unseeded.
    const seedsSomething = SEEDING_CALL.test(name) || (/seed/i.test(name) && name !== 'seed');
    if (!seedsSomething && !(name === 'key' && calls.some((c) => /^jax\.random\.key$/.test(c.qualified)))) continue;
    // `random.seed(0)` / `np.random.seed(0)` alone leave torch unseeded; everything matched here seeds a framework.
    if (calls.length > 0) return true;
  }
  // A helper named like a seeding function (`def seed_everything(seed): ...`) that calls seed(): trust it.
  for (const [name, calls] of ctx.facts.callsByName) {
    if (/seed/i.test(name) && calls.some((c) => !c.receiver && ctx.facts.functionsByName.has(c.callee)) && name !== 'seed') return true;
  }
  // HF Trainer seeds everything from TrainingArguments.seed (default 42) when it is constructed.
  return ctx.model.frameworkLoops.some((f) => f.framework === 'huggingface');
}

/** numpy / random generators the script draws from without seeding them. */
function otherUnseeded(ctx: RuleContext): string[] {
  const out: string[] = [];
  const calls = (re: RegExp) => ctx.facts.calls.filter((c) => re.test(c.qualified));
  const np = calls(/^numpy\.random\./);
  if (np.some((c) => c.name !== 'seed' && c.name !== 'default_rng') && !np.some((c) => c.name === 'seed')) out.push('numpy');
  const py = ctx.facts.importBindings.get('random') === 'random' ? calls(/^random\./) : [];
  if (py.some((c) => c.name !== 'seed') && !py.some((c) => c.name === 'seed')) out.push('random');
  return out;
}

/** The statement after which a seed line goes: the last import of the file's leading import block. */
function importBlockEnd(ctx: RuleContext): SyntaxNode | undefined {
  const first = ctx.facts.imports[0]?.node;
  const root = first ? topLevel(first) : undefined;
  if (!root?.parent) return undefined;
  let last: SyntaxNode | undefined;
  for (const stmt of root.parent.children) {
    if (!stmt.named || stmt.type === 'comment') continue;
    if (stmt.type === 'import_statement' || stmt.type === 'import_from_statement' || stmt.type === 'future_import_statement') { last = stmt; continue; }
    if (stmt.type === 'expression_statement' && stmt.children[0]?.type === 'string' && !last) continue; // module docstring
    if (last) break;
  }
  return last;
}

function topLevel(node: SyntaxNode): SyntaxNode {
  let n = node;
  while (n.parent && n.parent.type !== 'module') n = n.parent;
  return n;
}

/**
 * A file that runs when executed: a `__main__` guard, or training started at module level.
 * A module that only defines a Trainer class is a library; its caller owns seeding.
 */
function isEntryPoint(ctx: RuleContext): boolean {
  if (/^if\s+__name__\s*==\s*['"]__main__['"]/m.test(ctx.text)) return true;
  if (ctx.model.trainingLoops.some((l) => l.loop.fn === undefined)) return true;
  if (ctx.model.frameworkLoops.some((f) => f.call.fn === undefined)) return true;
  // Notebook-style scripts (keras-io examples) call their own `run_experiment()` at module level.
  return (ctx.facts.callsByFunction.get(undefined) ?? []).some((c) => c.cls === undefined && !c.receiver && ctx.facts.functionsByName.has(c.callee));
}

const SEED001: RuleSpec = {
  id: 'SEED001', title: 'No random seed for the framework', family: 'SEED', severity: 'hint', fix: 'safe',
  reference: 'dslinter W5508–W5512 (randomness control); PyTorch Reproducibility notes',
  check(ctx) {
    const m = ctx.model;
    // A training script: it runs a training loop or hands one to a framework (a module that only builds optimizers is a library).
    const trains = m.trainingLoops.length > 0 || m.frameworkLoops.length > 0;
    if (!trains || ctx.facts.imports.length === 0 || !isEntryPoint(ctx)) return;
    const torch = m.frameworks.includes('pytorch');
    const keras = m.frameworks.includes('keras');
    if (!torch && !keras) return;
    if (seedsFramework(ctx)) return;
    const torchImport = ctx.facts.imports.find((i) => [...i.bindings.values()].some((v) => v === 'torch' || v.startsWith('torch.')));
    const anchor = torchImport ?? ctx.facts.imports.find((i) => [...i.bindings.values()].some((v) => /^(tensorflow|keras)(\.|$)/.test(v))) ?? ctx.facts.imports[0]!;
    let seedLine: string | undefined;
    if (torch && ctx.facts.importBindings.get('torch') === 'torch') seedLine = 'torch.manual_seed(0)';
    else if (!torch && ctx.facts.importBindings.get('keras') === 'keras') seedLine = 'keras.utils.set_random_seed(0)';
    else if (!torch && ctx.facts.importBindings.get('keras') === 'tensorflow.keras') seedLine = 'keras.utils.set_random_seed(0)';
    else if (!torch && ctx.facts.importBindings.get('tf') === 'tensorflow') seedLine = 'tf.keras.utils.set_random_seed(0)';
    const head = seedLine?.split('.')[0];
    const binder = head ? ctx.facts.imports.find((i) => i.bindings.has(head)) : undefined;
    let after = importBlockEnd(ctx);
    if (binder && (!after || after.start < binder.node.start)) after = binder.node.parent?.type === 'module' ? binder.node : undefined;
    const fixes = seedLine && after && ownsLines(ctx, after)
      ? [{ title: `Seed the framework's generators (${seedLine})`, safe: true, edits: [ctx.insertLinesAfter(after, [seedLine])] }]
      : [];
    const unseeded = [torch ? 'torch' : 'TensorFlow/Keras', ...otherUnseeded(ctx)];
    ctx.report({
      node: anchor.node,
      range: ctx.firstLineRange(anchor.node),
      message: `Nothing seeds ${unseeded.join(', ')} (no ${torch ? 'torch.manual_seed / seed_everything / set_seed' : 'keras.utils.set_random_seed / tf.random.set_seed'} call): weight initialization, dropout masks and shuffling differ on every run, so two runs of this script cannot be compared and a regression cannot be told from noise. Seed every generator the script uses once at start-up.`,
      fixes,
    });
  },
};

export const SEED_RULES: readonly RuleSpec[] = [SEED001];
