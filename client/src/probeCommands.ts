import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  Methods, type ProbeCommandArgs, type ProbeEvent, type ProbeMetric, type ProbeStartParams, type ProbeStartResult,
} from '../../server/src/protocol';
import { findInterpreter } from './interpreter';
import type { KeyedEvents } from './keyedEvents';
import type { RunPanels } from './runPanels';

/** `regscope/probe/event` notifications, by run id. */
export type ProbeEvents = KeyedEvents<ProbeEvent>;

const num = (x: number | null | undefined): string => (typeof x === 'number' ? Number(x.toPrecision(4)).toString() : 'n/a');

/**
 * The probe commands: refuse in an untrusted workspace (a probe runs the user's code), save the
 * script (the probe runs what is on disk), start the run on the server, follow it under a
 * cancellable progress notification, and say how it ended.
 */
export function probeCommand(
  client: () => LanguageClient | undefined,
  events: ProbeEvents,
  panels: RunPanels,
  output: vscode.LogOutputChannel,
  metrics: readonly ProbeMetric[] | undefined,
  /** For the remote command: the host to run on (undefined: the user backed out). */
  chooseHost?: () => Promise<string | undefined>,
) {
  return async (args?: ProbeCommandArgs): Promise<void> => {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('RegScope: probes run your training script, so they are disabled in an untrusted workspace. Trust the workspace to run probes; static checks keep working.');
      return;
    }
    const lsp = client();
    if (!lsp) return;
    const uri = args ? vscode.Uri.parse(args.uri) : vscode.window.activeTextEditor?.document.uri;
    if (!uri || !uri.fsPath.endsWith('.py')) {
      void vscode.window.showWarningMessage('RegScope: open a Python training script to probe it.');
      return;
    }
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (doc?.isDirty && !(await doc.save())) return;
    const host = chooseHost ? await chooseHost() : undefined;
    if (chooseHost && !host) return;
    const interpreter = host ? undefined : await findInterpreter(uri);
    const params: ProbeStartParams = { uri: uri.toString(), metrics: args?.metrics ?? metrics, python: interpreter?.path, ...(host ? { engine: 'ssh' as const, host } : {}) };
    let started: ProbeStartResult;
    try {
      started = await lsp.sendRequest<ProbeStartResult>(Methods.probeStart, params);
    } catch (e) {
      output.error(`probe of ${uri.fsPath} could not start: ${(e as Error).message}`);
      const choice = await vscode.window.showErrorMessage(`RegScope: ${(e as Error).message}`, 'Show Output');
      if (choice) output.show();
      return;
    }
    output.info(`probe ${started.runId}: ${started.engineReason}`);
    const name = path.basename(uri.fsPath);
    panels.show(started.runDir, started.runId, `Probe: ${name} (running)`);
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `RegScope probe of ${name}`, cancellable: true },
      (progress, token) => new Promise<void>((resolve) => {
        let lastTop: number | null = null;
        const cancel = token.onCancellationRequested(() => {
          void lsp.sendRequest(Methods.probeCancel, { runId: started.runId });
        });
        const sub = events.listen(started.runId, (event) => {
          switch (event.type) {
            case 'step':
              progress.report({ message: `step ${event.step}: loss ${num(event.loss)}` });
              output.info(`probe ${started.runId} step ${event.step}: loss ${num(event.loss)}, lr ${num(event.lr)}`);
              break;
            case 'progress':
              if (event.message) progress.report({ message: `${event.phase}: ${event.message}` });
              break;
            case 'metric':
              if (event.name === 'hessian.top' && typeof event.value === 'number') lastTop = event.value;
              output.info(`probe ${started.runId} ${event.name} at step ${event.step}: ${num(event.value)}`);
              break;
            case 'warning':
              output.warn(`probe ${started.runId}: ${event.message}`);
              break;
            case 'error':
              output.error(`probe ${started.runId} ${event.kind}: ${event.message}${event.traceback ? `\n${event.traceback}` : ''}`);
              break;
            case 'done': {
              sub.dispose();
              cancel.dispose();
              resolve();
              const record = vscode.Uri.file(path.join(started.runDir, 'run.json'));
              const summary = event.status === 'ok'
                ? `RegScope probe of ${name} finished in ${event.seconds.toFixed(1)} s: λ₁ = ${num(lastTop)}. Findings appear on the script's lines.`
                : `RegScope probe of ${name} ended: ${event.status}. See the output for the script's traceback.`;
              const show = event.status === 'ok' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
              void show(summary, 'Show Run', 'Open Run Record', 'Show Output').then((choice) => {
                if (choice === 'Show Run') panels.show(started.runDir, started.runId, `Probe: ${name}`);
                if (choice === 'Open Run Record') void vscode.window.showTextDocument(record, { viewColumn: vscode.ViewColumn.Beside });
                if (choice === 'Show Output') output.show();
              });
              break;
            }
            default:
              break;
          }
        });
      }),
    );
  };
}
