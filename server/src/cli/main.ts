import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyFixes, chooseFixes } from '../analysis/applyFixes';
import { RULES, docsUrl } from '../analysis/catalogue';
import { ParsedDocument } from '../analysis/document';
import { analyze } from '../analysis/analyze';
import { SEVERITY_ORDER, type Severity } from '../analysis/findings';
import type { AnalysisSettings } from '../analysis/settings';
import { analyzeDiskFile } from '../host/analyzeDiskFile';
import { decodeSource } from '../host/decodeSource';
import { fileSystemReader } from '../host/fileSystemReader';
import { loadPythonParser } from '../host/parserLoader';
import { ProjectSettingsFinder } from '../host/projectSettings';
import { collectFiles } from './collectFiles';
import { toRecord, type FindingRecord } from './findingRecord';
import { formatSarif } from './formatSarif';
import { formatText } from './formatText';
import { modelRecord } from './modelRecord';
import { listFlag, parseArgs, UsageError } from './parseArgs';
import { probe, PROBE_USAGE, report, runs } from './probeCommands';
import { sweep, SWEEP_USAGE } from './sweepCommand';
import { REGSCOPE_VERSION } from '../version';

const VERSION = REGSCOPE_VERSION;

const USAGE = `RegScope ${VERSION}: regularization and hyperparameter checks for Python training scripts

Usage:
  regscope check PATH... [--format text|json|sarif] [--select IDS] [--ignore IDS]
                         [--fail-on error|warning|information|hint|never] [--output FILE]
  regscope inspect FILE [--format json]
  regscope fix FILE... [--unsafe] [--select IDS] [--ignore IDS]
  regscope rules [--format text|json]
${PROBE_USAGE}
${SWEEP_USAGE}
  regscope --version

Exit codes: 0 no findings at or above --fail-on (default: warning), 1 findings, 2 usage or internal error.
IDS are comma-separated rule ids or prefixes (WD, LOOP001). Settings are also read from
[tool.regscope] in the nearest pyproject.toml.`;

interface Io {
  out(s: string): void;
  err(s: string): void;
  isTty: boolean;
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check': return await check(rest, io);
      case 'inspect': return await inspect(rest, io);
      case 'fix': return await fix(rest, io);
      case 'rules': return rules(rest, io);
      case 'probe': return await probe(rest, io);
      case 'runs': return await runs(rest, io);
      case 'report': return await report(rest, io);
      case 'sweep': return await sweep(rest, io);
      case '--version': case 'version': io.out(`${VERSION}\n`); return 0;
      case undefined: case '--help': case '-h': case 'help': io.out(`${USAGE}\n`); return command === undefined ? 2 : 0;
      default: throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`regscope: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    io.err(`regscope: internal error: ${(e as Error).stack ?? e}\n`);
    return 2;
  }
}

function settingsFor(base: AnalysisSettings, select: string[], ignore: string[]): AnalysisSettings {
  return { ...base, select: select.length ? select : base.select, ignore: [...base.ignore, ...ignore] };
}

function validateIds(ids: string[]): void {
  for (const id of ids) {
    if (!RULES.some((r) => r.id.startsWith(id)) && id !== 'ALL') throw new UsageError(`no rule matches "${id}" (see \`regscope rules\`)`);
  }
}

async function check(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, { values: ['format', 'select', 'ignore', 'fail-on', 'output'], booleans: ['no-color'] });
  const format = (args.flags.get('format') as string | undefined) ?? 'text';
  if (!['text', 'json', 'sarif'].includes(format)) throw new UsageError(`--format must be text, json or sarif`);
  const failOn = (args.flags.get('fail-on') as string | undefined) ?? 'warning';
  if (failOn !== 'never' && !(failOn in SEVERITY_ORDER)) throw new UsageError('--fail-on must be error, warning, information, hint or never');
  const select = listFlag(args.flags.get('select'));
  const ignore = listFlag(args.flags.get('ignore'));
  validateIds([...select, ...ignore]);
  if (args.positionals.length === 0) throw new UsageError('check needs at least one PATH');
  const { files, missing } = collectFiles(args.positionals);
  if (missing.length > 0) throw new UsageError(`no such file or directory: ${missing.join(', ')}`);
  const parser = await loadPythonParser();
  const finder = new ProjectSettingsFinder();
  const records: FindingRecord[] = [];
  const notices: string[] = [];
  const cwd = process.cwd();
  let failed = false;
  const reported = new Set<string>();
  for (const file of files) {
    const project = finder.forFile(file);
    for (const p of project.problems) if (!reported.has(p)) { reported.add(p); notices.push(p); }
    const rel = path.relative(cwd, file) || file;
    try {
      const r = analyzeDiskFile(parser, file, settingsFor(project.settings, select, ignore), [project.source ? path.dirname(project.source) : cwd, cwd]);
      for (const f of r.findings) records.push(toRecord(rel, f));
      for (const n of r.notices) notices.push(`${rel}: ${n}`);
      r.document.dispose();
    } catch (e) {
      failed = true;
      notices.push(`${rel}: ${(e as Error).message}`);
    }
  }
  let output: string;
  if (format === 'json') output = JSON.stringify(records, null, 2) + '\n';
  else if (format === 'sarif') output = JSON.stringify(formatSarif(records, RULES, VERSION, cwd), null, 2) + '\n';
  else output = formatText(records, notices, files.length, io.isTty && !args.flags.has('no-color') && !process.env.NO_COLOR);
  const outFile = args.flags.get('output');
  if (typeof outFile === 'string') fs.writeFileSync(outFile, output);
  else io.out(output);
  if (format !== 'text') for (const n of notices) io.err(`note: ${n}\n`);
  if (failed) return 2;
  if (failOn === 'never') return 0;
  const threshold = SEVERITY_ORDER[failOn as Severity];
  return records.some((r) => SEVERITY_ORDER[r.severity] >= threshold) ? 1 : 0;
}

async function inspect(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, { values: ['format'], booleans: [] });
  const format = (args.flags.get('format') as string | undefined) ?? 'json';
  if (format !== 'json') throw new UsageError('inspect supports --format json');
  if (args.positionals.length !== 1) throw new UsageError('inspect needs exactly one FILE');
  const file = args.positionals[0]!;
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`no such file: ${file}`);
  const parser = await loadPythonParser();
  const project = new ProjectSettingsFinder().forFile(file);
  const r = analyzeDiskFile(parser, file, project.settings, [process.cwd()]);
  io.out(JSON.stringify(modelRecord(path.relative(process.cwd(), file) || file, r, r.document.lines), null, 2) + '\n');
  return 0;
}

/** Applies safe fixes (and unsafe ones with --unsafe) until none is left; running it twice changes nothing. */
async function fix(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, { values: ['select', 'ignore'], booleans: ['unsafe'] });
  const select = listFlag(args.flags.get('select'));
  const ignore = listFlag(args.flags.get('ignore'));
  validateIds([...select, ...ignore]);
  if (args.positionals.length === 0) throw new UsageError('fix needs at least one FILE');
  const { files, missing } = collectFiles(args.positionals);
  if (missing.length > 0) throw new UsageError(`no such file or directory: ${missing.join(', ')}`);
  const parser = await loadPythonParser();
  const finder = new ProjectSettingsFinder();
  let total = 0;
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    const { text, encoding } = decodeSource(bytes);
    if (!encoding.startsWith('utf-8')) {
      io.err(`${file}: skipped, not UTF-8 (${encoding}); fixes rewrite the file and would change its encoding\n`);
      continue;
    }
    const settings = settingsFor(finder.forFile(file).settings, select, ignore);
    let current = text;
    let applied = 0;
    for (let round = 0; round < 10; round++) {
      const doc = ParsedDocument.parse(parser, current);
      const r = analyze({ document: doc, settings, files: fileSystemReader(file, [process.cwd()]) });
      const brokenBefore = doc.hasSyntaxErrors;
      doc.dispose();
      const fixes = chooseFixes(r.findings, args.flags.has('unsafe'));
      if (fixes.length === 0) break;
      const result = applyFixes(current, fixes);
      if (result.applied.length === 0 || result.text === current) break;
      const check = ParsedDocument.parse(parser, result.text);
      const broke = check.hasSyntaxErrors && !brokenBefore;
      check.dispose();
      if (broke) {
        io.err(`${file}: a fix would break the syntax; stopped after ${applied} fix(es)\n`);
        break;
      }
      current = result.text;
      applied += result.applied.length;
    }
    if (applied > 0) {
      const tmp = `${file}.regscope-tmp`;
      fs.writeFileSync(tmp, current);
      fs.renameSync(tmp, file);
      io.out(`${file}: applied ${applied} fix${applied === 1 ? '' : 'es'}\n`);
    }
    total += applied;
  }
  io.out(total === 0 ? 'Nothing to fix.\n' : `Applied ${total} fix${total === 1 ? '' : 'es'} in total.\n`);
  return 0;
}

function rules(argv: readonly string[], io: Io): number {
  const args = parseArgs(argv, { values: ['format'], booleans: [] });
  const format = (args.flags.get('format') as string | undefined) ?? 'text';
  if (format === 'json') {
    io.out(JSON.stringify(RULES.map((r) => ({ id: r.id, title: r.title, family: r.family, severity: r.severity, fix: r.fix, reference: r.reference, options: r.options ?? {}, docs: docsUrl(r.id) })), null, 2) + '\n');
    return 0;
  }
  if (format !== 'text') throw new UsageError('--format must be text or json');
  for (const r of RULES) io.out(`${r.id.padEnd(8)} ${r.severity.padEnd(11)} ${(r.fix === 'none' ? '' : r.fix).padEnd(7)} ${r.title}\n`);
  io.out(`${RULES.length} rules. Docs: ${docsUrl('<ID>')}\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), isTty: !!process.stdout.isTTY })
    .then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`regscope: ${e}\n`); process.exitCode = 2; });
}
