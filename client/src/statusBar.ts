import * as vscode from 'vscode';
import { Commands, type StatusParams } from '../../server/src/protocol';

/** `$(pulse) RegScope: 3` — analysis state of the active file; click shows the output. */
export class RegScopeStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('regscope.status', vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = 'RegScope';
    this.item.command = Commands.showOutput;
    this.set('starting');
    this.item.show();
  }

  set(state: 'starting' | 'ready' | 'stopped', detail?: string): void {
    const icon = state === 'starting' ? '$(loading~spin)' : state === 'stopped' ? '$(error)' : '$(beaker)';
    this.item.text = `${icon} RegScope`;
    this.item.tooltip = detail ?? (state === 'stopped' ? 'The RegScope language server stopped. Run "RegScope: Restart Server".' : 'RegScope');
  }

  update(params: StatusParams): void {
    if (params.state === 'analyzing') {
      this.item.text = '$(loading~spin) RegScope';
      return;
    }
    const n = params.findings ?? 0;
    this.item.text = `$(beaker) RegScope${n > 0 ? `: ${n}` : ''}`;
    this.item.tooltip = `${n} finding${n === 1 ? '' : 's'} in this file${params.millis !== undefined ? ` (analysed in ${params.millis} ms)` : ''}. Last probe: none yet.`;
  }

  dispose(): void {
    this.item.dispose();
  }
}
