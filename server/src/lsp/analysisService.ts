import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Diagnostic } from 'vscode-languageserver';
import { DiagnosticSeverity } from 'vscode-languageserver';
import { analyze, type AnalysisResult } from '../analysis/analyze';
import { ParsedDocument } from '../analysis/document';
import type { AnalysisSettings } from '../analysis/settings';
import type { PythonParser } from '../analysis/syntax/pythonParser';
import { NO_FILES } from '../analysis/values/configFiles';
import { analyzeDiskFile } from '../host/analyzeDiskFile';
import { fileSystemReader, type ConfigTextCache } from '../host/fileSystemReader';
import { ProjectSettingsFinder } from '../host/projectSettings';
import { collectFiles } from '../cli/collectFiles';
import type { CheckWorkspaceResult, StatusParams } from '../protocol';
import { DEFAULT_EDITOR_SETTINGS, type EditorSettings } from './settingsSchema';
import { toDiagnostic } from './toDiagnostic';

/** How the service talks back; the binding file implements it over the LSP connection. */
export interface ServerHost {
  publish(uri: string, diagnostics: Diagnostic[], version: number | undefined): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
  status(params: StatusParams): void;
}

interface OpenDocument {
  readonly uri: string;
  doc: ParsedDocument;
  result: AnalysisResult | undefined;
  /** Config files the last analysis read, to re-analyse when they change. */
  configFiles: readonly string[];
  timer: NodeJS.Timeout | undefined;
  lastMillis: number;
}

/**
 * Open documents, their parsed versions and latest analyses. Changes are coalesced: analysis
 * waits a little after the last edit (longer for files that took long last time), runs
 * synchronously on the latest text only, and publishes diagnostics for that version.
 */
export class AnalysisService {
  private readonly docs = new Map<string, OpenDocument>();
  private editor: EditorSettings = DEFAULT_EDITOR_SETTINGS;
  private projects = new ProjectSettingsFinder();
  /** Config files scripts load, read once and dropped when the client reports a change. */
  private readonly configTexts: ConfigTextCache = new Map();
  private readonly reportedProblems = new Set<string>();
  /** Diagnostics from elsewhere (probe findings) for a document's current analysis. */
  extraDiagnostics: ((uri: string, doc: ParsedDocument, result: AnalysisResult, settings: AnalysisSettings) => Diagnostic[]) | undefined;

  constructor(
    private readonly parser: PythonParser,
    private readonly host: ServerHost,
    private readonly workspaceFolders: () => readonly string[],
  ) {}

  get editorSettings(): EditorSettings {
    return this.editor;
  }

  open(uri: string, text: string, version: number): void {
    this.close(uri);
    const entry: OpenDocument = { uri, doc: ParsedDocument.parse(this.parser, text, version), result: undefined, configFiles: [], timer: undefined, lastMillis: 0 };
    this.docs.set(uri, entry);
    this.analyzeNow(entry);
  }

  change(uri: string, text: string, version: number): void {
    const entry = this.docs.get(uri);
    if (!entry) return this.open(uri, text, version);
    const next = entry.doc.update(text, version);
    entry.doc.dispose();
    entry.doc = next;
    entry.result = undefined;
    this.schedule(entry);
  }

  close(uri: string): void {
    const entry = this.docs.get(uri);
    if (!entry) return;
    if (entry.timer) clearTimeout(entry.timer);
    entry.doc.dispose();
    this.docs.delete(uri);
    this.host.publish(uri, [], undefined);
  }

  /** The analysis of the document's current version, computed now if a change is pending. */
  resultFor(uri: string): { result: AnalysisResult; doc: ParsedDocument; path: string | undefined } | undefined {
    const entry = this.docs.get(uri);
    if (!entry) return undefined;
    if (!entry.result) this.analyzeNow(entry);
    return entry.result ? { result: entry.result, doc: entry.doc, path: filePath(uri) } : undefined;
  }

  setEditorSettings(settings: EditorSettings): void {
    this.editor = settings;
    this.reanalyzeAll();
  }

  /** pyproject.toml or a config file changed on disk: settings and values may differ now. */
  filesChanged(uris: readonly string[]): void {
    const paths = uris.map(filePath).filter((p): p is string => !!p);
    if (paths.some((p) => path.basename(p) === 'pyproject.toml')) this.projects = new ProjectSettingsFinder();
    for (const p of paths) this.configTexts.delete(p);
    for (const entry of this.docs.values()) {
      if (paths.some((p) => path.basename(p) === 'pyproject.toml' || entry.configFiles.includes(p))) {
        entry.result = undefined;
        this.analyzeNow(entry);
      }
    }
  }

  /** Publish again without re-parsing (a probe of this script finished). */
  republish(uri: string): void {
    const entry = this.docs.get(uri);
    if (entry) this.analyzeNow(entry);
  }

  reanalyzeAll(): void {
    for (const entry of this.docs.values()) {
      entry.result = undefined;
      this.analyzeNow(entry);
    }
  }

  /** `regscope check` over the workspace folders: publishes diagnostics for every Python file. */
  checkWorkspace(folders: readonly string[]): CheckWorkspaceResult {
    const t0 = performance.now();
    const roots = folders.map(filePath).filter((p): p is string => !!p);
    const { files } = collectFiles(roots);
    let findings = 0;
    let errors = 0;
    let warnings = 0;
    const skipped: { uri: string; reason: string }[] = [];
    for (const file of files) {
      const uri = pathToFileURL(file).href;
      if (this.docs.has(uri)) {
        const r = this.resultFor(uri)?.result;
        if (r) ({ findings, errors, warnings } = tally(r, findings, errors, warnings));
        continue;
      }
      try {
        const r = analyzeDiskFile(this.parser, file, this.settingsFor(file), roots);
        ({ findings, errors, warnings } = tally(r, findings, errors, warnings));
        this.host.publish(uri, r.findings.map((f) => toDiagnostic(uri, f)), undefined);
        r.document.dispose();
        if (r.document.tooLarge) skipped.push({ uri, reason: r.notices[0] ?? 'too large' });
      } catch (e) {
        skipped.push({ uri, reason: (e as Error).message });
      }
    }
    return { files: files.length, findings, errors, warnings, skipped, millis: Math.round(performance.now() - t0) };
  }

  dispose(): void {
    for (const uri of [...this.docs.keys()]) this.close(uri);
  }

  private schedule(entry: OpenDocument): void {
    if (entry.timer) clearTimeout(entry.timer);
    // Analyse on the next turn of the event loop (edits already queued coalesce) unless the
    // last analysis was slow (very large files): then wait about that long, so a burst of
    // keystrokes costs one analysis instead of one each.
    const delay = entry.lastMillis < 40 ? 0 : Math.min(250, entry.lastMillis);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (this.docs.get(entry.uri) === entry && !entry.result) this.analyzeNow(entry);
    }, delay);
  }

  private settingsFor(file: string | undefined): AnalysisSettings {
    const project = file ? this.projects.forFile(file) : undefined;
    for (const p of project?.problems ?? []) {
      if (!this.reportedProblems.has(p)) {
        this.reportedProblems.add(p);
        this.host.log('warn', p);
      }
    }
    const base = project?.settings;
    const e = this.editor;
    return {
      select: e.select.length > 0 ? e.select : base?.select ?? [],
      ignore: [...(base?.ignore ?? []), ...e.ignore],
      severity: { ...(base?.severity ?? {}), ...e.severity },
      rules: { ...(base?.rules ?? {}), ...e.rules },
    };
  }

  private analyzeNow(entry: OpenDocument): void {
    if (entry.timer) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    const file = filePath(entry.uri);
    this.host.status({ state: 'analyzing', uri: entry.uri });
    const t0 = performance.now();
    const reader = file ? fileSystemReader(file, this.workspaceFolders().map(filePath).filter((p): p is string => !!p), this.configTexts) : undefined;
    let result: AnalysisResult;
    const settings = this.settingsFor(file);
    try {
      result = analyze({ document: entry.doc, settings, files: reader ?? NO_FILES });
    } catch (e) {
      // The core never throws on user code; if it does anyway, the server keeps running.
      this.host.log('error', `analysis of ${entry.uri} failed: ${(e as Error).stack ?? e}`);
      this.host.status({ state: 'idle', uri: entry.uri });
      return;
    }
    entry.result = result;
    entry.configFiles = reader?.loaded ?? [];
    entry.lastMillis = performance.now() - t0;
    for (const n of result.notices) if (n.startsWith('Rule ')) this.host.log('error', `${entry.uri}: ${n}`);
    const diagnostics = result.findings.map((f) => toDiagnostic(entry.uri, f));
    try {
      diagnostics.push(...(this.extraDiagnostics?.(entry.uri, entry.doc, result, settings) ?? []));
    } catch (e) {
      this.host.log('error', `probe findings for ${entry.uri} failed: ${(e as Error).stack ?? e}`);
    }
    if (entry.doc.tooLarge) {
      diagnostics.push({
        range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
        severity: DiagnosticSeverity.Information, source: 'regscope', message: result.notices[0] ?? 'File too large to analyse.',
      });
    }
    this.host.publish(entry.uri, diagnostics, entry.doc.version);
    this.host.status({ state: 'idle', uri: entry.uri, findings: result.findings.length, millis: Math.round(entry.lastMillis) });
  }
}

function tally(r: AnalysisResult, findings: number, errors: number, warnings: number) {
  return {
    findings: findings + r.findings.length,
    errors: errors + r.findings.filter((f) => f.severity === 'error').length,
    warnings: warnings + r.findings.filter((f) => f.severity === 'warning').length,
  };
}

export function filePath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}
