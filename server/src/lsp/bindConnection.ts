import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CodeActionKind, DidChangeWatchedFilesNotification, ErrorCodes, ResponseError, TextDocumentSyncKind, TextDocuments,
  type Connection, type InitializeResult,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { PythonParser } from '../analysis/syntax/pythonParser';
import {
  Methods, type CheckWorkspaceParams, type CheckWorkspaceResult, type ProbeCancelParams, type ProbeListParams,
  type ProbeListResult, type ProbeLoadParams, type RunBundle, type ProbeStartParams, type ProbeStartResult, type StatusParams, type SweepStartParams, type SweepStartResult, type ListedSweep,
} from '../protocol';
import { filterProbeFindings } from '../probe/probeFindingFilter';
import { ProbeSetupError } from '../probe/pythonEngine';
import { SweepService } from './sweepService';
import { ProbeService } from './probeService';
import { toProbeDiagnostic } from './toDiagnostic';
import { AnalysisService } from './analysisService';
import { codeLenses } from './codeLenses';
import { FIX_ALL_KIND, fixAllAction, quickFixes } from './codeActions';
import { hoverFor } from './hover';
import { inlayHints } from './inlayHints';
import { readEditorSettings } from './settingsSchema';

/**
 * The one place that knows the LSP connection: every handler is wired here and delegates to
 * the AnalysisService and the pure feature functions. Handlers never throw to the client:
 * a failure is logged and answered with an empty result.
 */
export function bindConnection(connection: Connection, parser: PythonParser, version: string): void {
  const documents = new TextDocuments(TextDocument);
  let folders: string[] = [];
  let canPullConfiguration = false;
  let canWatchFiles = false;
  const shownProblems = new Set<string>();

  const service = new AnalysisService(parser, {
    publish: (uri, diagnostics, v) => void connection.sendDiagnostics({ uri, diagnostics, version: v }),
    log: (level, message) => (level === 'error' ? connection.console.error(message) : level === 'warn' ? connection.console.warn(message) : connection.console.info(message)),
    status: (params: StatusParams) => void connection.sendNotification(Methods.status, params),
  }, () => folders);

  const probes = new ProbeService(parser, {
    event: (params) => void connection.sendNotification(Methods.probeEvent, params),
    refresh: (uri) => service.republish(uri),
    log: (level, message) => (level === 'error' ? connection.console.error(message) : level === 'warn' ? connection.console.warn(message) : connection.console.info(message)),
  }, () => folders, () => service.editorSettings.pythonInterpreter || undefined, () => service.editorSettings.probeEngine, () => service.editorSettings.probeDataFile, () => service.editorSettings.remote, () => service.editorSettings.slurm);
  const sweeps = new SweepService(parser, probes, (params) => void connection.sendNotification(Methods.sweepEvent, params), () => folders, () => service.editorSettings);
  service.extraDiagnostics = (uri, doc, result, settings) => {
    const found = probes.findingsFor(uri, doc, result);
    if (!found) return [];
    const record = pathToFileURL(path.join(found.runDir, 'run.json')).href;
    return filterProbeFindings(found.findings, doc.text, settings).map((f) => toProbeDiagnostic(f, record));
  };

  const guard = <P, R>(name: string, fallback: R, handler: (p: P) => R) => (p: P): R => {
    try {
      return handler(p);
    } catch (e) {
      connection.console.error(`${name} failed: ${(e as Error).stack ?? e}`);
      return fallback;
    }
  };

  connection.onInitialize((params): InitializeResult => {
    folders = (params.workspaceFolders ?? []).map((f) => f.uri);
    if (folders.length === 0 && params.rootUri) folders = [params.rootUri];
    canPullConfiguration = !!params.capabilities.workspace?.configuration;
    canWatchFiles = !!params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration;
    const initial = readEditorSettings((params.initializationOptions as { settings?: unknown } | undefined)?.settings);
    service.setEditorSettings(initial.settings);
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, FIX_ALL_KIND] },
        hoverProvider: true,
        inlayHintProvider: true,
        codeLensProvider: { resolveProvider: false },
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
      },
      serverInfo: { name: 'regscope', version },
    };
  });

  const pullSettings = async () => {
    if (!canPullConfiguration) return;
    const raw: unknown = await connection.workspace.getConfiguration('regscope');
    applySettings(raw);
  };
  const applySettings = (raw: unknown) => {
    const { settings, problems } = readEditorSettings(raw);
    for (const p of problems) {
      connection.console.warn(p);
      if (!shownProblems.has(p)) {
        shownProblems.add(p);
        void connection.window.showWarningMessage(`RegScope: ${p}`);
      }
    }
    service.setEditorSettings(settings);
    connection.languages.inlayHint.refresh().catch(() => undefined);
  };

  connection.onInitialized(() => {
    void pullSettings().catch((e) => connection.console.error(`reading settings failed: ${e}`));
    if (canWatchFiles) {
      void connection.client.register(DidChangeWatchedFilesNotification.type, {
        watchers: [{ globPattern: '**/pyproject.toml' }, { globPattern: '**/*.{yaml,yml,json}' }],
      });
    }
    connection.workspace.onDidChangeWorkspaceFolders((e) => {
      folders = [...folders.filter((f) => !e.removed.some((r) => r.uri === f)), ...e.added.map((a) => a.uri)];
    });
  });

  connection.onDidChangeConfiguration((change) => {
    if (canPullConfiguration) void pullSettings().catch((e) => connection.console.error(`reading settings failed: ${e}`));
    else applySettings((change.settings as { regscope?: unknown } | undefined)?.regscope);
  });

  connection.onDidChangeWatchedFiles((e) => service.filesChanged(e.changes.map((c) => c.uri)));

  documents.onDidOpen((e) => {
    if (e.document.languageId === 'python' || e.document.uri.endsWith('.py')) {
      service.open(e.document.uri, e.document.getText(), e.document.version);
      void probes.loadLatest(e.document.uri).catch((err) => connection.console.warn(`reading stored probe runs failed: ${err}`));
    }
  });
  documents.onDidChangeContent((e) => {
    if (e.document.languageId === 'python' || e.document.uri.endsWith('.py')) service.change(e.document.uri, e.document.getText(), e.document.version);
  });
  documents.onDidClose((e) => service.close(e.document.uri));

  connection.onCodeAction(guard('codeAction', [], (params) => {
    const found = service.resultFor(params.textDocument.uri);
    if (!found) return [];
    const only = params.context.only;
    const wantsFixAll = only?.some((k) => FIX_ALL_KIND.startsWith(k)) ?? false;
    const wantsQuickFix = !only || only.some((k) => k === CodeActionKind.QuickFix || CodeActionKind.QuickFix.startsWith(k));
    const actions = wantsQuickFix ? quickFixes(params.textDocument.uri, params.context.diagnostics, found.doc.lines) : [];
    if (wantsFixAll || !only) {
      const all = fixAllAction(params.textDocument.uri, found.doc.text, found.result.findings);
      if (all) actions.push(all);
    }
    return actions;
  }));

  connection.onHover(guard('hover', null, (params) => {
    const found = service.resultFor(params.textDocument.uri);
    return found ? hoverFor(found.result, found.doc.lines, params.position, found.path, probes.liveFor(params.textDocument.uri)) ?? null : null;
  }));

  connection.languages.inlayHint.on(guard('inlayHint', [], (params) => {
    if (!service.editorSettings.inlayHints) return [];
    const found = service.resultFor(params.textDocument.uri);
    return found ? inlayHints(found.result, found.doc.lines, params.range) : [];
  }));

  connection.onCodeLens(guard('codeLens', [], (params) => {
    if (!service.editorSettings.codeLens) return [];
    const found = service.resultFor(params.textDocument.uri);
    return found ? codeLenses(params.textDocument.uri, found.result, found.doc.lines) : [];
  }));

  connection.onRequest(Methods.checkWorkspace, guard('checkWorkspace', emptyCheck(), (params: CheckWorkspaceParams): CheckWorkspaceResult =>
    service.checkWorkspace(params?.folders?.length ? params.folders : folders)));

  // Probe runs. A setup problem (no torch, unreadable script) is answered as an error whose
  // message says what to do; the client shows it.
  connection.onRequest(Methods.probeStart, async (params: ProbeStartParams): Promise<ProbeStartResult> => {
    const settings = service.editorSettings;
    try {
      return await probes.start({ ...params, steps: params.steps ?? settings.probeSteps, metrics: params.metrics ?? settings.probeMetrics });
    } catch (e) {
      if (!(e instanceof ProbeSetupError)) connection.console.error(`probe start failed: ${(e as Error).stack ?? e}`);
      throw new ResponseError(ErrorCodes.InvalidRequest, (e as Error).message);
    }
  });
  connection.onRequest(Methods.probeCancel, async (params: ProbeCancelParams): Promise<boolean> => probes.cancel(params.runId));
  connection.onRequest(Methods.probeList, async (params: ProbeListParams | undefined): Promise<ProbeListResult> => {
    try {
      return await probes.list(params?.uri);
    } catch (e) {
      connection.console.error(`listing probe runs failed: ${(e as Error).stack ?? e}`);
      return { runs: [] };
    }
  });
  connection.onRequest(Methods.probeLoad, async (params: ProbeLoadParams): Promise<RunBundle> => {
    try {
      return await probes.load(params.runDir);
    } catch (e) {
      throw new ResponseError(ErrorCodes.InvalidRequest, (e as Error).message);
    }
  });

  connection.onRequest(Methods.sweepStart, async (params: SweepStartParams): Promise<SweepStartResult> => {
    try {
      return await sweeps.start(params);
    } catch (e) {
      if (!(e instanceof ProbeSetupError)) connection.console.error(`sweep start failed: ${(e as Error).stack ?? e}`);
      throw new ResponseError(ErrorCodes.InvalidRequest, (e as Error).message);
    }
  });
  connection.onRequest(Methods.sweepCancel, async (params: { sweepId: string }): Promise<boolean> => sweeps.cancel(params.sweepId));
  connection.onRequest(Methods.sweepList, async (): Promise<{ sweeps: ListedSweep[] }> => ({ sweeps: sweeps.list() }));
  connection.onRequest(Methods.sweepReport, async (params: { dir: string }): Promise<string> => {
    try {
      return sweeps.report(params.dir);
    } catch (e) {
      throw new ResponseError(ErrorCodes.InvalidRequest, (e as Error).message);
    }
  });

  connection.onShutdown(async () => {
    await sweeps.dispose();
    await probes.dispose();
    service.dispose();
  });
  documents.listen(connection);
  connection.listen();
}

function emptyCheck(): CheckWorkspaceResult {
  return { files: 0, findings: 0, errors: 0, warnings: 0, skipped: [], millis: 0 };
}
