/**
 * The run panels: one webview per run, opened beside the script. The panel asks for its run
 * when it is ready, gets the probe's events as they stream, follows "go to line" and export
 * requests, and is rebuilt from the run store after a window reload (the serializer reads the
 * run folder from the state the page saved). The page itself is `dist/webview/webview.js`.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  Methods, PANEL_VIEW_TYPE, type HostToPanel, type PanelState, type PanelToHost, type ProbeEventParams, type ProbeListResult, type RunBundle,
} from '../../server/src/protocol';
import { makeNonce, panelHtml } from '../../server/src/report/panelHtml';

export class RunPanels implements vscode.WebviewPanelSerializer<PanelState> {
  private readonly panels = new Map<string, RunPanel>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly client: () => LanguageClient | undefined,
    private readonly output: vscode.LogOutputChannel,
  ) {}

  /** Opens (or reveals) the panel of a run beside the active editor, without taking focus from the script. */
  show(runDir: string, runId: string, title: string): void {
    const existing = this.panels.get(runDir);
    if (existing) { existing.panel.reveal(vscode.ViewColumn.Beside, true); return; }
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, title, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, this.options());
    this.adopt(panel, runDir, runId);
  }

  /** A probe event: to the panel of its run, if one is open. */
  forward(params: ProbeEventParams): void {
    for (const p of this.panels.values()) if (p.runId === params.runId) p.event(params);
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: PanelState | undefined): Promise<void> {
    if (!state?.runDir) { panel.dispose(); return; }
    panel.webview.options = this.options();
    this.adopt(panel, state.runDir, path.basename(state.runDir));
  }

  private options(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      enableFindWidget: true,
      // The page keeps its own state (setState) and reloads from the run store, so it need not stay alive hidden.
      retainContextWhenHidden: false,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview')],
    };
  }

  private adopt(panel: vscode.WebviewPanel, runDir: string, runId: string): void {
    const p = new RunPanel(panel, runDir, runId, this.extensionUri, this.client, this.output);
    this.panels.set(runDir, p);
    panel.onDidDispose(() => this.panels.delete(runDir));
  }
}

class RunPanel {
  private script: string | undefined;
  private status: string | undefined;

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly runDir: string,
    readonly runId: string,
    extensionUri: vscode.Uri,
    private readonly client: () => LanguageClient | undefined,
    private readonly output: vscode.LogOutputChannel,
  ) {
    const dir = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
    const webview = panel.webview;
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'images', 'icon.png');
    webview.html = panelHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dir, 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(dir, 'webview.css')).toString(),
      nonce: makeNonce(),
      title: panel.title,
    });
    webview.onDidReceiveMessage((m: PanelToHost) => { void this.handle(m); });
  }

  event(params: ProbeEventParams): void {
    this.post({ type: 'event', runId: params.runId, seq: params.seq, event: params.event });
    // The findings are in run.json once the server has written it: fetch the final bundle.
    if (params.event.type === 'done') void this.sendBundle(5);
  }

  private post(m: HostToPanel): void {
    void this.panel.webview.postMessage(m);
  }

  private async load(runDir: string): Promise<RunBundle> {
    const lsp = this.client();
    if (!lsp) throw new Error('the RegScope server is not running');
    return lsp.sendRequest<RunBundle>(Methods.probeLoad, { runDir });
  }

  /** Sends the run; after a `done`, retries briefly until the stored record says the run ended. */
  private async sendBundle(retries = 0): Promise<void> {
    try {
      let bundle = await this.load(this.runDir);
      for (let i = 0; i < retries && bundle.record.status === 'running'; i++) {
        await new Promise((r) => setTimeout(r, 200));
        bundle = await this.load(this.runDir);
      }
      this.script = bundle.record.script;
      this.status = bundle.record.status;
      this.panel.title = `Probe: ${path.basename(bundle.record.script)}${this.status === 'running' ? ' (running)' : ''}`;
      this.post({ type: 'bundle', bundle });
    } catch (e) {
      this.output.error(`run panel ${this.runDir}: ${(e as Error).message}`);
      void vscode.window.showErrorMessage(`RegScope: cannot show the run in ${this.runDir}: ${(e as Error).message}`);
    }
  }

  private async handle(m: PanelToHost): Promise<void> {
    switch (m.type) {
      case 'ready':
      case 'reload':
        await this.sendBundle();
        break;
      case 'reveal': {
        if (!this.script) return;
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(this.script));
        const visible = vscode.window.visibleTextEditors.find((e) => e.document.uri.fsPath === doc.uri.fsPath);
        const pos = new vscode.Position(Math.max(0, m.line - 1), m.column ?? 0);
        await vscode.window.showTextDocument(doc, { viewColumn: visible?.viewColumn ?? vscode.ViewColumn.One, selection: new vscode.Range(pos, pos), preserveFocus: false });
        break;
      }
      case 'export': {
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(path.dirname(this.runDir));
        const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(folder, m.name), title: 'Export chart' });
        if (!target) { this.post({ type: 'exported', file: null }); return; }
        await vscode.workspace.fs.writeFile(target, m.encoding === 'base64' ? Buffer.from(m.data, 'base64') : Buffer.from(m.data, 'utf8'));
        this.post({ type: 'exported', file: target.fsPath });
        vscode.window.setStatusBarMessage(`RegScope: saved ${path.basename(target.fsPath)}`, 4000);
        break;
      }
      case 'listRuns': {
        const lsp = this.client();
        if (!lsp || !this.script) return;
        const list = await lsp.sendRequest<ProbeListResult>(Methods.probeList, { uri: vscode.Uri.file(this.script).toString() });
        this.post({ type: 'runs', runs: list.runs });
        break;
      }
      case 'compare': {
        const bundles: RunBundle[] = [];
        for (const dir of m.runDirs.slice(0, 8)) {
          try { bundles.push(await this.load(dir)); } catch (e) { this.output.warn(`compare: ${dir}: ${(e as Error).message}`); }
        }
        this.post({ type: 'compare', bundles });
        break;
      }
    }
  }
}
