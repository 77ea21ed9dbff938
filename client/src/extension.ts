import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { Commands, Methods, PANEL_VIEW_TYPE, type CheckWorkspaceResult, type ListedRun, type ProbeEventParams, type ProbeListResult, type StatusParams, type SweepEventParams } from '../../server/src/protocol';
import { pickRemoteHost } from './remoteHosts';
import { showSweepCommand, sweepCommand } from './sweepCommands';
import { KeyedEvents } from './keyedEvents';
import { probeCommand } from './probeCommands';
import { RunPanels } from './runPanels';
import { RegScopeStatusBar } from './statusBar';

let client: LanguageClient | undefined;

/**
 * Starts the RegScope language server for Python files and registers the commands. Analysis
 * runs in every workspace (it only reads text); probes execute the user's code and are refused
 * in untrusted workspaces.
 */
export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const activationStart = performance.now();
  const output = vscode.window.createOutputChannel('RegScope', { log: true });
  const status = new RegScopeStatusBar();
  context.subscriptions.push(output, status);

  const serverModule = context.asAbsolutePath(path.join('dist', 'server.js'));
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: 'python' }],
    outputChannel: output,
    synchronize: {
      configurationSection: 'regscope',
      fileEvents: [
        vscode.workspace.createFileSystemWatcher('**/pyproject.toml'),
        vscode.workspace.createFileSystemWatcher('**/*.{yaml,yml,json}'),
      ],
    },
    initializationOptions: { settings: vscode.workspace.getConfiguration('regscope') },
  };

  const probeEvents = new KeyedEvents<ProbeEventParams['event']>();
  const sweepEvents = new KeyedEvents<SweepEventParams>();
  const panels = new RunPanels(context.extensionUri, () => client, output);
  context.subscriptions.push(vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, panels));
  const start = async () => {
    client = new LanguageClient('regscope', 'RegScope', serverOptions, clientOptions);
    client.onDidChangeState((e) => status.set(e.newState === 2 ? 'ready' : e.newState === 1 ? 'stopped' : 'starting'));
    await client.start();
    context.subscriptions.push(
      client.onNotification(Methods.status, (p: StatusParams) => status.update(p)),
      client.onNotification(Methods.probeEvent, (p: ProbeEventParams) => { probeEvents.dispatch(p.runId, p.event); panels.forward(p); }),
      client.onNotification(Methods.sweepEvent, (p: SweepEventParams) => sweepEvents.dispatch(p.sweepId, p)),
    );
    status.set('ready');
  };

  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.showOutput, () => output.show()),
    vscode.commands.registerCommand(Commands.restartServer, async () => {
      status.set('starting');
      await client?.stop().catch(() => undefined);
      await start();
      void vscode.window.setStatusBarMessage('RegScope server restarted', 3000);
    }),
    vscode.commands.registerCommand(Commands.checkWorkspace, async () => {
      if (!client) return;
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'RegScope: checking the workspace', cancellable: false },
        () => client!.sendRequest<CheckWorkspaceResult>(Methods.checkWorkspace, {}),
      );
      const msg = `RegScope checked ${result.files} Python file${result.files === 1 ? '' : 's'} in ${result.millis} ms: ${result.findings} finding${result.findings === 1 ? '' : 's'} (${result.errors} errors, ${result.warnings} warnings).`;
      void vscode.window.showInformationMessage(result.skipped.length ? `${msg} Skipped ${result.skipped.length}.` : msg);
      if (result.findings > 0) void vscode.commands.executeCommand('workbench.actions.view.problems');
    }),
    vscode.commands.registerCommand(Commands.showRuleDocs, async (id?: string) => {
      const rule = id ?? (await vscode.window.showInputBox({ prompt: 'Rule id (e.g. WD001)', validateInput: (v) => (/^[A-Z]+\d{3}$/i.test(v.trim()) ? undefined : 'A rule id such as WD001') }));
      if (!rule) return;
      const doc = vscode.Uri.file(context.asAbsolutePath(path.join('docs', 'rules', `${rule.trim().toUpperCase()}.md`)));
      await vscode.commands.executeCommand('markdown.showPreview', doc);
    }),
    // The plain probe uses the regscope.probe.metrics setting (the server fills it in).
    vscode.commands.registerCommand(Commands.probe, probeCommand(() => client, probeEvents, panels, output, undefined)),
    vscode.commands.registerCommand(Commands.probeLandscape, probeCommand(() => client, probeEvents, panels, output, ['landscape'])),
    vscode.commands.registerCommand(Commands.probeNoise, probeCommand(() => client, probeEvents, panels, output, ['noise'])),
    vscode.commands.registerCommand(Commands.probeRemote, probeCommand(() => client, probeEvents, panels, output, undefined, pickRemoteHost)),
    vscode.commands.registerCommand(Commands.sweep, sweepCommand(() => client, sweepEvents, output, context.workspaceState)),
    vscode.commands.registerCommand(Commands.showSweep, showSweepCommand(() => client)),
    vscode.commands.registerCommand(Commands.showRun, async () => {
      if (!client) return;
      const list = await client.sendRequest<ProbeListResult>(Methods.probeList, {});
      if (!list.runs.length) { void vscode.window.showInformationMessage('RegScope: no stored probe runs in this workspace yet.'); return; }
      const pick = await vscode.window.showQuickPick(list.runs.map((r: ListedRun) => ({
        label: `${path.basename(r.script)} ${r.args.join(' ')}`.trim(), description: `${r.status} · ${r.startedAt.replace('T', ' ').slice(0, 19)}`, detail: r.id, run: r,
      })), { placeHolder: 'Probe run to show' });
      if (pick) panels.show(pick.run.runDir, pick.run.id, `Probe: ${path.basename(pick.run.script)}`);
    }),
  );

  await start();
  output.info(`RegScope ${context.extension.packageJSON.version} activated in ${(performance.now() - activationStart).toFixed(0)} ms`);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
