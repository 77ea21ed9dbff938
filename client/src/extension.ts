import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { Commands, Methods, type CheckWorkspaceResult, type ProbeCommandArgs, type StatusParams } from '../../server/src/protocol';
import { findInterpreter } from './interpreter';
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

  const start = async () => {
    client = new LanguageClient('regscope', 'RegScope', serverOptions, clientOptions);
    client.onDidChangeState((e) => status.set(e.newState === 2 ? 'ready' : e.newState === 1 ? 'stopped' : 'starting'));
    await client.start();
    context.subscriptions.push(client.onNotification(Methods.status, (p: StatusParams) => status.update(p)));
    status.set('ready');
  };

  const probe = (defaultMetrics: ProbeCommandArgs['metrics']) => async (args?: ProbeCommandArgs) => {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('RegScope: probes run your training script, so they are disabled in an untrusted workspace. Trust the workspace to run probes; static checks keep working.');
      return;
    }
    const uri = args ? vscode.Uri.parse(args.uri) : vscode.window.activeTextEditor?.document.uri;
    const interpreter = await findInterpreter(uri);
    const metrics = args?.metrics ?? defaultMetrics;
    const which = interpreter ? `${interpreter.path} (from ${interpreter.via})` : 'no Python interpreter found (set regscope.python.interpreter)';
    output.info(`probe requested: ${uri?.fsPath ?? 'no file'} line ${args ? args.line + 1 : '?'} metrics ${metrics.join(',')}; interpreter ${which}`);
    void vscode.window.showInformationMessage(
      `RegScope: probe runs (${metrics.join(', ')}) need the Python probe runtime, which this version does not include yet. ` +
        `They would run ${uri ? path.basename(uri.fsPath) : 'the active script'} with ${which}.`,
      'Show Output',
    ).then((choice) => choice && output.show());
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
    vscode.commands.registerCommand(Commands.probe, probe(['hessian', 'landscape', 'noise', 'weights'])),
    vscode.commands.registerCommand(Commands.probeLandscape, probe(['landscape'])),
    vscode.commands.registerCommand(Commands.probeNoise, probe(['noise'])),
  );

  await start();
  output.info(`RegScope ${context.extension.packageJSON.version} activated in ${(performance.now() - activationStart).toFixed(0)} ms`);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
