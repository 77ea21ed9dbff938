import type { LineIndex } from '../positions';
import type { SyntaxNode } from '../syntax/syntaxNode';
import { childByField, unparenthesize } from '../syntax/syntaxNode';
import { dottedName } from '../facts/collectFacts';
import type { AssignmentInfo, CallInfo, ClassInfo, FunctionInfo, ScriptFacts } from '../facts/scriptFacts';
import { singleReturnExpression } from '../facts/functionReturns';
import { parseConfigText, type FileReader } from './configFiles';
import { asNumber, asString, num, type Origin, type PyValue, type Resolved, type ValueSource } from './pyValue';

const MAX_DEPTH = 24;
/** Weakest-first: combining values keeps the source that tells the user most about where to look. */
const SOURCE_RANK: Record<ValueSource, number> = { literal: 0, default: 1, constant: 2, parameter: 3, config: 4, argparse: 5 };

const CONFIG_LOADERS = /(^|\.)(safe_load|full_load|load|load_yaml|read_yaml)$/;
const NAMESPACE_CTORS = new Set(['SimpleNamespace', 'Namespace', 'EasyDict', 'edict', 'AttrDict', 'Box', 'DotMap', 'ConfigDict', 'dict']);

/**
 * Resolves Python expressions to values with provenance: literals, constants, arithmetic,
 * argparse defaults, dict/dataclass/namespace configs, function parameters through their
 * call sites, Lightning `self.hparams`, and YAML/JSON files loaded by a literal path.
 * Anything it cannot be sure of resolves to `value: undefined`; rules never guess.
 */
export class ValueResolver {
  private readonly depthGuard = new Set<SyntaxNode>();
  private argparseCache: Resolved | undefined | null = null;
  private readonly configCache = new Map<string, Resolved | undefined>();
  private readonly cache = new Map<SyntaxNode, Resolved>();

  constructor(
    private readonly facts: ScriptFacts,
    private readonly text: string,
    private readonly lines: LineIndex,
    private readonly files: FileReader,
  ) {}

  /** The value of an expression evaluated in `fn`'s scope (module scope when undefined). */
  resolve(node: SyntaxNode, fn: FunctionInfo | undefined): Resolved {
    const hit = this.cache.get(node);
    if (hit) return hit;
    if (this.depthGuard.has(node) || this.depthGuard.size > MAX_DEPTH) return this.unknown(node, 'literal', 'recursive definition');
    this.depthGuard.add(node);
    try {
      const r = this.evaluate(unparenthesize(node), fn);
      this.cache.set(node, r);
      return r;
    } finally {
      this.depthGuard.delete(node);
    }
  }

  originOf(node: SyntaxNode): Origin {
    const p = this.lines.positionAt(node.start);
    return { file: undefined, line: p.line, character: p.character };
  }

  /** The argparse namespace (dest → default), if the script builds one. */
  argparseNamespace(): Resolved | undefined {
    if (this.argparseCache !== null) return this.argparseCache;
    const adds = this.facts.callsByName.get('add_argument') ?? [];
    if (adds.length === 0) return (this.argparseCache = undefined);
    const entries = new Map<string, Resolved>();
    for (const call of adds) {
      const dest = argparseDest(call, this.text);
      if (!dest) continue;
      entries.set(dest, this.argparseDefault(call, dest));
    }
    const first = adds[0]!;
    this.argparseCache = { value: { kind: 'mapping', entries }, source: 'argparse', origin: this.originOf(first.node), detail: 'command-line arguments' };
    return this.argparseCache;
  }

  private argparseDefault(call: CallInfo, dest: string): Resolved {
    const flag = this.text.slice(call.args[0]?.start ?? call.node.start, call.args[0]?.end ?? call.node.start).replace(/^['"]|['"]$/g, '') || dest;
    const origin = this.originOf(call.node);
    const detail = `${flag} default`;
    const action = asString(call.keywords.has('action') ? this.resolve(call.keywords.get('action')!, call.fn) : undefined);
    if (action === 'store_true') return { value: { kind: 'bool', value: false }, source: 'argparse', origin, detail };
    if (action === 'store_false') return { value: { kind: 'bool', value: true }, source: 'argparse', origin, detail };
    const def = call.keywords.get('default');
    if (!def) return { value: { kind: 'none' }, source: 'argparse', origin, detail: `${flag} (no default: None unless given)` };
    const r = this.resolve(def, call.fn);
    let value = r.value;
    const type = call.keywords.get('type');
    const typeName = type ? this.text.slice(type.start, type.end) : '';
    if (value?.kind === 'string' && (typeName === 'float' || typeName === 'int')) {
      const n = Number(value.value);
      value = Number.isFinite(n) ? num(n, typeName === 'int') : undefined;
    }
    return { value, source: 'argparse', origin, detail };
  }

  private unknown(node: SyntaxNode, source: ValueSource, detail: string): Resolved {
    return { value: undefined, source, origin: this.originOf(node), detail };
  }

  private literal(node: SyntaxNode, value: PyValue | undefined): Resolved {
    return { value, source: 'literal', origin: this.originOf(node), detail: 'literal' };
  }

  private evaluate(node: SyntaxNode, fn: FunctionInfo | undefined): Resolved {
    const t = this.text.slice(node.start, node.end);
    switch (node.type) {
      case 'integer': {
        const v = Number(t.replace(/_/g, '').replace(/[lL]$/, ''));
        return this.literal(node, Number.isFinite(v) ? num(v, true) : undefined);
      }
      case 'float': {
        if (/[jJ]$/.test(t)) return this.literal(node, undefined);
        return this.literal(node, num(Number(t.replace(/_/g, '')), false));
      }
      case 'true':
        return this.literal(node, { kind: 'bool', value: true });
      case 'false':
        return this.literal(node, { kind: 'bool', value: false });
      case 'none':
        return this.literal(node, { kind: 'none' });
      case 'string':
        return this.literal(node, stringValue(node, this.text));
      case 'concatenated_string': {
        const parts = node.children.filter((c) => c.type === 'string').map((c) => stringValue(c, this.text));
        if (parts.some((p) => !p)) return this.literal(node, undefined);
        return this.literal(node, { kind: 'string', value: parts.map((p) => (p as { value: string }).value).join('') });
      }
      case 'unary_operator':
        return this.unary(node, fn);
      case 'binary_operator':
        return this.binary(node, fn);
      case 'not_operator': {
        const arg = childByField(node, 'argument');
        const r = arg ? this.resolve(arg, fn) : undefined;
        const b = r?.value?.kind === 'bool' ? !r.value.value : undefined;
        return { ...(r ?? this.literal(node, undefined)), value: b === undefined ? undefined : { kind: 'bool', value: b } };
      }
      case 'tuple':
      case 'list':
      case 'expression_list': {
        const items = node.children.filter((c) => c.named && c.type !== 'comment').map((c) => this.resolve(c, fn));
        return { value: { kind: 'sequence', items }, source: combineSources(items, 'literal'), origin: this.originOf(node), detail: 'literal' };
      }
      case 'dictionary':
        return this.dictionary(node, fn);
      case 'identifier':
        return this.name(node, t, fn);
      case 'attribute':
        return this.attribute(node, fn);
      case 'subscript':
        return this.subscript(node, fn);
      case 'call':
        return this.call(node, fn);
      case 'conditional_expression':
        return this.unknown(node, 'literal', 'depends on a condition');
      default:
        return this.unknown(node, 'literal', 'not a static value');
    }
  }

  private unary(node: SyntaxNode, fn: FunctionInfo | undefined): Resolved {
    const op = this.text.slice(node.start, node.end).trimStart()[0];
    const arg = childByField(node, 'argument');
    const r = arg ? this.resolve(arg, fn) : this.unknown(node, 'literal', '');
    const n = asNumber(r);
    if (n === undefined || r.value?.kind !== 'number') return { ...r, value: undefined };
    const v = op === '-' ? -n : op === '+' ? n : op === '~' && r.value.isInt ? ~n : undefined;
    return { ...r, value: v === undefined ? undefined : num(v, r.value.isInt) };
  }

  private binary(node: SyntaxNode, fn: FunctionInfo | undefined): Resolved {
    const l = childByField(node, 'left');
    const r = childByField(node, 'right');
    const opNode = childByField(node, 'operator');
    if (!l || !r || !opNode) return this.unknown(node, 'literal', '');
    const op = this.text.slice(opNode.start, opNode.end);
    const a = this.resolve(l, fn);
    const b = this.resolve(r, fn);
    const source = combineSources([a, b], 'literal');
    const base = { source, origin: source === 'literal' ? this.originOf(node) : strongest([a, b]).origin, detail: source === 'literal' ? 'literal' : describeCombined([a, b]) };
    if (a.value?.kind === 'string' && b.value?.kind === 'string' && op === '+') return { ...base, value: { kind: 'string', value: a.value.value + b.value.value } };
    const x = a.value?.kind === 'number' || a.value?.kind === 'bool' ? asNumber(a) : undefined;
    const y = b.value?.kind === 'number' || b.value?.kind === 'bool' ? asNumber(b) : undefined;
    if (x === undefined || y === undefined) return { ...base, value: undefined };
    const bothInt = a.value?.kind === 'number' && a.value.isInt && b.value?.kind === 'number' && b.value.isInt;
    let v: number | undefined;
    let isInt = bothInt;
    switch (op) {
      case '+': v = x + y; break;
      case '-': v = x - y; break;
      case '*': v = x * y; break;
      case '/': v = y === 0 ? undefined : x / y; isInt = false; break;
      case '//': v = y === 0 ? undefined : Math.floor(x / y); break;
      case '%': v = y === 0 ? undefined : x - y * Math.floor(x / y); break;
      case '**': v = x ** y; isInt = bothInt && y >= 0; break;
      default: v = undefined;
    }
    return { ...base, value: v === undefined || !Number.isFinite(v) ? undefined : num(v, isInt) };
  }

  private dictionary(node: SyntaxNode, fn: FunctionInfo | undefined): Resolved {
    const entries = new Map<string, Resolved>();
    for (const pair of node.children) {
      if (pair.type === 'dictionary_splat') return this.unknown(node, 'config', 'dict with ** entries');
      if (pair.type !== 'pair') continue;
      const k = childByField(pair, 'key');
      const v = childByField(pair, 'value');
      if (!k || !v) continue;
      const key = asString(this.resolve(k, fn));
      if (key === undefined) continue;
      const r = this.resolve(v, fn);
      entries.set(key, r.source === 'literal' ? { ...r, source: 'config', detail: `dict entry "${key}"` } : r);
    }
    return { value: { kind: 'mapping', entries }, source: 'config', origin: this.originOf(node), detail: 'dict literal' };
  }

  // ---------------------------------------------------------------- names

  private name(node: SyntaxNode, name: string, fn: FunctionInfo | undefined): Resolved {
    for (let scope = fn; ; scope = scope.parent) {
      const asg = this.pickAssignment(name, scope, node);
      if (asg === 'ambiguous') return this.unknown(node, 'constant', `${name} is assigned in more than one place`);
      if (asg) return this.fromAssignment(asg, name);
      if (scope) {
        const param = scope.params.find((p) => p.name === name);
        if (param) return this.parameter(scope, param.name, node);
        if (this.isLoopTarget(name, scope)) return this.unknown(node, 'constant', `${name} changes in a loop`);
      }
      if (!scope) break;
    }
    return this.unknown(node, 'constant', `${name} is not defined in this file`);
  }

  private loopTargets: Map<FunctionInfo | undefined, Set<string>> | undefined;

  private isLoopTarget(name: string, fn: FunctionInfo): boolean {
    if (!this.loopTargets) {
      this.loopTargets = new Map();
      for (const l of this.facts.loops) {
        if (!l.target) continue;
        const set = this.loopTargets.get(l.fn) ?? new Set<string>();
        for (const n of this.text.slice(l.target.start, l.target.end).split(/[\s,()[\]]+/)) if (n) set.add(n);
        this.loopTargets.set(l.fn, set);
      }
    }
    return this.loopTargets.get(fn)?.has(name) ?? false;
  }

  /** The assignment that gives `name` its value at `use`, in exactly this scope. */
  private pickAssignment(name: string, scope: FunctionInfo | undefined, use: SyntaxNode): AssignmentInfo | 'ambiguous' | undefined {
    const all = (this.facts.assignmentsByTarget.get(name) ?? []).filter((a) => a.fn === scope && (scope !== undefined || a.cls === undefined) && this.assignsName(a, name));
    if (all.length === 0) return undefined;
    const sameScope = (use.start >= (scope?.node.start ?? 0)) && (!scope || use.end <= scope.node.end);
    const before = sameScope ? all.filter((a) => a.node.end <= use.start) : all;
    const candidates = before.length > 0 ? before : all;
    const last = candidates[candidates.length - 1]!;
    if (last.op !== '=') return 'ambiguous';
    if (candidates.some((a) => a.conditional || a.loops.length > 0) && (last.conditional || candidates.length > 1)) {
      // Several assignments, some only on some paths: the value at `use` depends on the run.
      const values = new Set(candidates.map((a) => (a.value ? this.text.slice(a.value.start, a.value.end) : '?')));
      if (values.size > 1) return 'ambiguous';
    }
    return last;
  }

  private assignsName(a: AssignmentInfo, name: string): boolean {
    if (a.targetText === name) return true;
    // Tuple unpacking `a, b = 1, 2` is handled where the value is a tuple of the same arity.
    return a.target.type === 'pattern_list' || a.target.type === 'tuple_pattern'
      ? a.target.children.some((c) => c.type === 'identifier' && this.text.slice(c.start, c.end) === name)
      : false;
  }

  private fromAssignment(asg: AssignmentInfo, name: string): Resolved {
    if (!asg.value) return this.unknown(asg.node, 'constant', `${name} is only annotated`);
    let valueNode: SyntaxNode | undefined = asg.value;
    if (asg.targetText !== name) {
      const idx = asg.target.children.filter((c) => c.named).findIndex((c) => this.text.slice(c.start, c.end) === name);
      const parts = (asg.value.type === 'expression_list' || asg.value.type === 'tuple') ? asg.value.children.filter((c) => c.named) : [];
      valueNode = parts[idx];
      if (!valueNode) return this.unknown(asg.node, 'constant', `${name} comes from unpacking`);
    }
    const r = this.resolve(valueNode, asg.fn);
    if (r.source !== 'literal') return r;
    return { ...r, source: 'constant', origin: this.originOf(asg.node), detail: `${name} = ${this.text.slice(valueNode.start, valueNode.end).slice(0, 60)}` };
  }

  /** A parameter's value: what its call sites pass when they all agree, else its default. */
  private parameter(fn: FunctionInfo, name: string, use: SyntaxNode): Resolved {
    const hydra = this.hydraConfig(fn, name);
    if (hydra) return hydra;
    const param = fn.params.find((p) => p.name === name)!;
    const index = fn.params.filter((p) => !p.splat).findIndex((p) => p.name === name);
    const sites = this.callSitesOf(fn);
    const passed: Resolved[] = [];
    let missingAtSomeSite = sites.length === 0;
    for (const site of sites) {
      if (site.hasSplat) return this.unknown(use, 'parameter', `${name} is passed through *args/**kwargs`);
      const kw = site.keywords.get(name);
      const offset = fn.cls && fn.params[0]?.name === 'self' ? 1 : 0;
      const pos = index - offset >= 0 ? site.args[index - offset] : undefined;
      const arg = kw ?? pos;
      if (arg) passed.push(this.resolve(arg, site.fn));
      else missingAtSomeSite = true;
    }
    const defaults: Resolved[] = [];
    if (missingAtSomeSite) {
      if (!param.defaultValue) return this.unknown(use, 'parameter', `${name} has no default and no call site in this file`);
      const d = this.resolve(param.defaultValue, fn.parent);
      defaults.push(d.source === 'literal' ? { ...d, source: 'parameter', origin: this.originOf(param.node), detail: `default of ${name} in ${fn.name}()` } : d);
    }
    const all = [...passed, ...defaults];
    if (all.length === 0) return this.unknown(use, 'parameter', `${name} is never passed`);
    const first = all[0]!;
    // One call site (or only the default): its value as is, mappings and sequences included.
    if (all.some((r) => !r.value || (all.length > 1 && !sameValue(r.value, first.value)))) {
      return this.unknown(use, 'parameter', `${fn.name}() is called with different values of ${name}`);
    }
    return first.source === 'literal' ? { ...first, source: 'parameter', detail: `${name} passed to ${fn.name}()` } : first;
  }

  private callSitesOf(fn: FunctionInfo): CallInfo[] {
    if (fn.name === '__init__' && fn.cls) return (this.facts.callsByName.get(fn.cls.name) ?? []).filter((c) => c.callee === fn.cls!.name || c.callee.endsWith(`.${fn.cls!.name}`));
    const calls = this.facts.callsByName.get(fn.name) ?? [];
    return calls.filter((c) => (fn.cls ? c.receiver !== undefined : c.callee === fn.name) && !this.within(c.node, fn.node));
  }

  private within(inner: SyntaxNode, outer: SyntaxNode): boolean {
    return outer.start <= inner.start && inner.end <= outer.end;
  }

  /** `@hydra.main(config_path="conf", config_name="config") def main(cfg)`. */
  private hydraConfig(fn: FunctionInfo, name: string): Resolved | undefined {
    if (fn.params[0]?.name !== name) return undefined;
    const deco = fn.decorators.find((d) => /^hydra\.main\b|^main\(/.test(d));
    if (!deco) return undefined;
    const path = /config_path\s*=\s*['"]([^'"]*)['"]/.exec(deco)?.[1] ?? '.';
    const cfgName = /config_name\s*=\s*['"]([^'"]+)['"]/.exec(deco)?.[1];
    if (!cfgName) return undefined;
    const file = `${path.replace(/\/$/, '')}/${cfgName.replace(/\.ya?ml$/, '')}.yaml`;
    return this.configFile(file);
  }

  // ---------------------------------------------------------------- attributes and subscripts

  private attribute(node: SyntaxNode, fn: FunctionInfo | undefined): Resolved {
    const objNode = childByField(node, 'object');
    const attrNode = childByField(node, 'attribute');
    if (!objNode || !attrNode) return this.unknown(node, 'constant', '');
    const attr = this.text.slice(attrNode.start, attrNode.end);
    const objText = dottedName(objNode, this.text);
    if (objText === 'self' || objText === 'self.hparams' || objText === 'self.hparams_' || objText === 'self.config' || objText === 'self.args') {
      const own = this.selfAttribute(node, objText, attr, fn);
      if (own) return own;
    }
    const obj = this.resolve(objNode, fn);
    const found = member(obj, attr);
    if (found) return found;
    if (obj.value === undefined && objNode.type === 'identifier') {
      // `args.lr` where `args` arrives as a parameter: the script's own argparse flags.
      const ns = this.argparseNamespace();
      const viaFlags = member(ns, attr);
      if (viaFlags && !this.isBoundLocally(this.text.slice(objNode.start, objNode.end), fn)) return viaFlags;
    }
    return { ...obj, value: undefined, detail: obj.value === undefined ? obj.detail : `${objText}.${attr} is not set` };
  }

  private isBoundLocally(name: string, fn: FunctionInfo | undefined): boolean {
    return (this.facts.assignmentsByTarget.get(name) ?? []).some((a) => a.fn === fn);
  }

  private selfAttribute(node: SyntaxNode, objText: string, attr: string, fn: FunctionInfo | undefined): Resolved | undefined {
    const cls = fn?.cls ?? this.classOf(node);
    if (!cls) return undefined;
    const init = cls.methods.get('__init__');
    if (objText === 'self.hparams' || objText === 'self.hparams_') {
      if (init && init.params.some((p) => p.name === attr)) return this.parameter(init, attr, node);
      return undefined;
    }
    if (objText !== 'self') return undefined;
    const asgs = (this.facts.assignmentsByTarget.get(`self.${attr}`) ?? []).filter((a) => a.cls === cls && a.op === '=');
    const inInit = asgs.filter((a) => a.fn === init);
    const chosen = inInit.length === 1 ? inInit[0] : asgs.length === 1 ? asgs[0] : undefined;
    if (chosen?.value) return this.resolve(chosen.value, chosen.fn);
    const field = cls.fields.get(attr);
    if (field?.value) return this.resolve(field.value, undefined);
    return undefined;
  }

  private classOf(node: SyntaxNode): ClassInfo | undefined {
    return this.facts.classes.find((c) => this.within(node, c.node));
  }

  private subscript(node: SyntaxNode, fn: FunctionInfo | undefined): Resolved {
    const valueNode = childByField(node, 'value');
    const keyNode = childByField(node, 'subscript');
    if (!valueNode || !keyNode) return this.unknown(node, 'config', '');
    const container = this.resolve(valueNode, fn);
    const key = this.resolve(keyNode, fn);
    if (container.value?.kind === 'sequence' && key.value?.kind === 'number') {
      const items = container.value.items;
      const i = key.value.value < 0 ? items.length + key.value.value : key.value.value;
      return items[i] ?? { ...container, value: undefined };
    }
    const k = asString(key);
    if (k !== undefined) {
      const found = member(container, k);
      if (found) return found;
    }
    return { ...container, value: undefined };
  }

  // ---------------------------------------------------------------- calls

  private call(node: SyntaxNode, fn: FunctionInfo | undefined): Resolved {
    const info = this.facts.callByNode.get(node);
    if (!info) return this.unknown(node, 'literal', '');
    const q = info.qualified;
    const arg0 = info.args[0];
    if ((q === 'float' || q === 'int') && arg0) {
      const r = this.resolve(arg0, fn);
      const n = r.value?.kind === 'string' ? Number(r.value.value) : asNumber(r);
      if (n === undefined || !Number.isFinite(n)) return { ...r, value: undefined };
      return { ...r, value: num(q === 'int' ? Math.trunc(n) : n, q === 'int') };
    }
    if ((q === 'min' || q === 'max') && info.args.length >= 2) {
      const rs = info.args.map((a) => this.resolve(a, fn));
      const ns = rs.map(asNumber);
      if (ns.some((n) => n === undefined)) return { ...strongest(rs), value: undefined };
      const v = q === 'min' ? Math.min(...(ns as number[])) : Math.max(...(ns as number[]));
      return { ...strongest(rs), source: combineSources(rs, 'literal'), value: num(v) };
    }
    if ((q === 'math.sqrt' || q === 'np.sqrt' || q === 'numpy.sqrt') && arg0) {
      const r = this.resolve(arg0, fn);
      const n = asNumber(r);
      return { ...r, value: n === undefined || n < 0 ? undefined : num(Math.sqrt(n), false) };
    }
    if (info.name === 'parse_args' || info.name === 'parse_known_args') {
      const ns = this.argparseNamespace();
      if (ns) return info.name === 'parse_args' ? ns : { ...ns, value: { kind: 'sequence', items: [ns] } };
    }
    if (info.name === 'vars' && arg0) return this.resolve(arg0, fn);
    if (info.name === 'get' && info.receiverNode && arg0) {
      const container = this.resolve(info.receiverNode, fn);
      const key = asString(this.resolve(arg0, fn));
      if (key !== undefined && container.value?.kind === 'mapping') {
        const found = container.value.entries.get(key);
        if (found) return found;
        const fallback = info.args[1] ?? info.keywords.get('default');
        return fallback ? this.resolve(fallback, fn) : { ...container, value: { kind: 'none' } };
      }
      return { ...container, value: undefined };
    }
    if (CONFIG_LOADERS.test(q) && /^(yaml|json|ruamel|OmegaConf|omegaconf|toml|tomllib|tomli)\b/.test(q) && arg0) {
      const path = this.pathOf(arg0, fn);
      return path ? this.configFile(path) : this.unknown(node, 'config', 'config file path is not a literal');
    }
    if (/(^|\.)OmegaConf\.create$/.test(q) && arg0) return this.resolve(arg0, fn);
    if (NAMESPACE_CTORS.has(info.name) && !info.receiver?.startsWith('self')) return this.keywordMapping(info, fn);
    const cls = this.facts.classesByName.get(info.callee);
    if (cls) return this.instance(cls, info, fn);
    if (info.name === 'TrainingArguments' || info.name === 'Seq2SeqTrainingArguments') return this.keywordMapping(info, fn);
    const own = this.facts.functionsByName.get(info.callee);
    if (own && own.length === 1) return this.returnValue(own[0]!, node);
    return this.unknown(node, 'literal', `result of ${info.callee || 'a call'}()`);
  }

  private pathOf(arg: SyntaxNode, fn: FunctionInfo | undefined): string | undefined {
    const a = unparenthesize(arg);
    if (a.type === 'call') {
      const inner = this.facts.callByNode.get(a);
      if (inner && (inner.name === 'open' || inner.name === 'Path') && inner.args[0]) return this.pathOf(inner.args[0], fn);
      if (inner && (inner.name === 'read_text' || inner.name === 'read') && inner.receiverNode) return this.pathOf(inner.receiverNode, fn);
      return undefined;
    }
    if (a.type === 'identifier') {
      // `with open("x.yaml") as f: yaml.safe_load(f)`
      const name = this.text.slice(a.start, a.end);
      for (const w of this.facts.withs) {
        for (const item of w.items) {
          if (item.type !== 'as_pattern') continue;
          const alias = childByField(item, 'alias');
          if (!alias || this.text.slice(alias.start, alias.end).trim() !== name) continue;
          const opened = item.children.find((c) => c.type === 'call');
          if (opened) return this.pathOf(opened, w.fn);
        }
      }
    }
    return asString(this.resolve(a, fn));
  }

  configFile(path: string): Resolved {
    if (!this.configCache.has(path)) {
      const file = this.files.read(path);
      this.configCache.set(path, file ? parseConfigText(file.path, file.text) : undefined);
    }
    const r = this.configCache.get(path);
    return r ?? { value: undefined, source: 'config', origin: { file: path, line: 0, character: 0 }, detail: `${path} (not found or not readable)` };
  }

  private keywordMapping(info: CallInfo, fn: FunctionInfo | undefined): Resolved {
    const entries = new Map<string, Resolved>();
    if (info.args[0] && info.name !== 'TrainingArguments') {
      const base = this.resolve(info.args[0], fn);
      if (base.value?.kind === 'mapping') for (const [k, v] of base.value.entries) entries.set(k, v);
    }
    for (const [k, v] of info.keywords) {
      const r = this.resolve(v, fn);
      entries.set(k, r.source === 'literal' ? { ...r, source: 'config', detail: `${info.callee}(${k}=…)` } : r);
    }
    const partial = info.hasSplat;
    return { value: partial ? undefined : { kind: 'mapping', entries }, source: 'config', origin: this.originOf(info.node), detail: `${info.callee}(…)` };
  }

  /** A dataclass or plain class instance: its field defaults, overridden by the call's arguments. */
  private instance(cls: ClassInfo, info: CallInfo, fn: FunctionInfo | undefined): Resolved {
    const entries = new Map<string, Resolved>();
    for (const [k, f] of cls.fields) {
      if (!f.value) continue;
      const r = this.resolve(f.value, undefined);
      entries.set(k, r.source === 'literal' ? { ...r, source: 'config', origin: this.originOf(f.node), detail: `${cls.name}.${k} default` } : r);
    }
    const fieldNames = [...cls.fields.keys()];
    info.args.forEach((a, i) => {
      const k = fieldNames[i];
      if (k) entries.set(k, this.relabel(this.resolve(a, fn), `${cls.name}(${k}=…)`));
    });
    for (const [k, v] of info.keywords) entries.set(k, this.relabel(this.resolve(v, fn), `${cls.name}(${k}=…)`));
    return { value: info.hasSplat ? undefined : { kind: 'mapping', entries }, source: 'config', origin: this.originOf(info.node), detail: `${cls.name}(…)` };
  }

  private relabel(r: Resolved, detail: string): Resolved {
    return r.source === 'literal' ? { ...r, source: 'config', detail } : r;
  }

  /** The value a script-defined function returns, when it has exactly one `return`. */
  private returnValue(fn: FunctionInfo, node: SyntaxNode): Resolved {
    const only = singleReturnExpression(fn);
    return only ? this.resolve(only, fn) : this.unknown(node, 'literal', `result of ${fn.name}()`);
  }

}

function member(obj: Resolved | undefined, key: string): Resolved | undefined {
  if (obj?.value?.kind !== 'mapping') return undefined;
  return obj.value.entries.get(key);
}

function sameValue(a: PyValue | undefined, b: PyValue | undefined): boolean {
  if (!a || !b || a.kind !== b.kind) return false;
  if (a.kind === 'number' && b.kind === 'number') return a.value === b.value;
  if (a.kind === 'string' && b.kind === 'string') return a.value === b.value;
  if (a.kind === 'bool' && b.kind === 'bool') return a.value === b.value;
  return a.kind === 'none';
}

function combineSources(rs: readonly Resolved[], fallback: ValueSource): ValueSource {
  let best: ValueSource = fallback;
  for (const r of rs) if (SOURCE_RANK[r.source] > SOURCE_RANK[best]) best = r.source;
  return best;
}

function strongest(rs: readonly Resolved[]): Resolved {
  return rs.reduce((a, b) => (SOURCE_RANK[b.source] > SOURCE_RANK[a.source] ? b : a));
}

function describeCombined(rs: readonly Resolved[]): string {
  return rs.filter((r) => r.source !== 'literal').map((r) => r.detail).join(', ');
}

export function argparseDest(call: CallInfo, text: string): string | undefined {
  const dest = call.keywords.get('dest');
  if (dest?.type === 'string') return text.slice(dest.start + 1, dest.end - 1);
  const flags = call.args.filter((a) => a.type === 'string').map((a) => text.slice(a.start, a.end).replace(/^[rbuRBU]*['"]+|['"]+$/g, ''));
  const long = flags.find((f) => f.startsWith('--')) ?? flags.find((f) => !f.startsWith('-')) ?? flags[0];
  if (!long) return undefined;
  return long.replace(/^-+/, '').replace(/-/g, '_');
}

function stringValue(node: SyntaxNode, text: string): PyValue | undefined {
  const raw = text.slice(node.start, node.end);
  if (node.children.some((c) => c.type === 'interpolation')) return undefined;
  const m = /^([rRbBuUfF]*)('''|"""|'|")([\s\S]*)\2$/.exec(raw);
  if (!m) return undefined;
  if (/[fF]/.test(m[1]!)) return undefined;
  return { kind: 'string', value: m[3]! };
}
