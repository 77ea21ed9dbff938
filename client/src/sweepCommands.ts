/**
 * Sweeps from the editor: **RegScope: Sweep Hyperparameters…** asks for a grid, runs the sweep
 * on the server with the probe settings, follows its points under a cancellable progress
 * notification, and offers its report; **RegScope: Show Sweep Report** opens a stored sweep's
 * report in a webview (the report has no script; scripts stay disabled).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { KeyedEvents } from './keyedEvents';
import { Methods, type ListedSweep, type SweepEventParams, type SweepRecord, type SweepStartResult } from '../../server/src/protocol';

/** `regscope/sweep/event` notifications, by sweep id. */
export type SweepEvents = KeyedEvents<SweepEventParams>;

const LAST_GRID = 'regscope.lastSweepGrid';

export function sweepCommand(client: () => LanguageClient | undefined, events: SweepEvents, output: vscode.LogOutputChannel, state: vscode.Memento) {
  return async (): Promise<void> => {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('RegScope: sweeps run your training script, so they are disabled in an untrusted workspace.');
      return;
    }
    const lsp = client();
    const uri = vscode.window.activeTextEditor?.document.uri;
    if (!lsp || !uri || !uri.fsPath.endsWith('.py')) {
      void vscode.window.showWarningMessage('RegScope: open a Python training script to sweep it.');
      return;
    }
    const doc = vscode.window.activeTextEditor!.document;
    if (doc.isDirty && !(await doc.save())) return;
    const grid = await vscode.window.showInputBox({
      prompt: 'Grid: one axis per ";", each NAME=V1,V2,… (a flag of the script or an optimizer setting)',
      value: state.get<string>(LAST_GRID, 'lr=1e-4,3e-4,1e-3; weight_decay=0,0.01,0.1'),
      validateInput: (v) => (v.split(';').every((a) => /^\s*[A-Za-z_][\w.-]*\s*=\s*[^=]+$/.test(a)) ? undefined : 'NAME=V1,V2,… per axis, axes separated by ";"'),
    });
    if (!grid) return;
    await state.update(LAST_GRID, grid);
    let started: SweepStartResult;
    try {
      started = await lsp.sendRequest<SweepStartResult>(Methods.sweepStart, { uri: uri.toString(), grid: grid.split(';').map((a) => a.replace(/\s+/g, '')) });
    } catch (e) {
      void vscode.window.showErrorMessage(`RegScope: ${(e as Error).message}`);
      return;
    }
    output.info(`sweep ${started.sweepId}: ${started.points} points`);
    const name = path.basename(uri.fsPath);
    const record = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `RegScope sweep of ${name}`, cancellable: true },
      (progress, token) => new Promise<SweepRecord>((resolve) => {
        const finished = new Set<number>();
        const cancel = token.onCancellationRequested(() => void lsp.sendRequest(Methods.sweepCancel, { sweepId: started.sweepId }));
        const sub = events.listen(started.sweepId, (e) => {
          if (e.point) {
            const values = Object.entries(e.point.values).map(([k, v]) => `${k}=${v}`).join(', ');
            output.info(`sweep ${started.sweepId} ${values}: ${e.point.status}${e.point.error ? ` (${e.point.error})` : ''}`);
            if (['ok', 'error', 'cancelled'].includes(e.point.status)) finished.add(e.point.index);
            progress.report({ message: `${finished.size} of ${started.points} points · ${values}: ${e.point.status}` });
          }
          if (e.done) { sub.dispose(); cancel.dispose(); resolve(e.done); }
        });
      }),
    );
    const ok = record.points.filter((p) => p.status === 'ok').length;
    const show = record.status === 'ok' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
    const choice = await show(`RegScope sweep of ${name}: ${record.status}, ${ok} of ${record.points.length} points in ${record.seconds.toFixed(0)} s.`, 'Show Report');
    if (choice) await openReport(lsp, started.dir, name);
  };
}

export function showSweepCommand(client: () => LanguageClient | undefined) {
  return async (): Promise<void> => {
    const lsp = client();
    if (!lsp) return;
    const { sweeps } = await lsp.sendRequest<{ sweeps: ListedSweep[] }>(Methods.sweepList, {});
    if (!sweeps.length) { void vscode.window.showInformationMessage('RegScope: no stored sweeps in this workspace yet (RegScope: Sweep Hyperparameters…).'); return; }
    const pick = await vscode.window.showQuickPick(sweeps.map((s) => ({
      label: `${path.basename(s.record.script)}: ${s.record.axes.map((a) => `${a.key} × ${a.values.length}`).join(', ')}`,
      description: `${s.record.status} · ${s.record.startedAt.replace('T', ' ').slice(0, 19)}`, detail: s.record.id, sweep: s,
    })), { placeHolder: 'Sweep to show' });
    if (pick) await openReport(lsp, pick.sweep.dir, path.basename(pick.sweep.record.script));
  };
}

async function openReport(lsp: LanguageClient, dir: string, name: string): Promise<void> {
  const html = await lsp.sendRequest<string>(Methods.sweepReport, { dir });
  const panel = vscode.window.createWebviewPanel('regscope.sweep', `Sweep: ${name}`, vscode.ViewColumn.Beside, { enableScripts: false, localResourceRoots: [] });
  panel.webview.html = html;
}
