/**
 * Every message shape shared by the language server, the extension client and (later) the
 * webviews, declared once. Import with `import type` only: this file has no runtime code
 * except the method and command names, which both sides must spell the same.
 */

/** Custom LSP requests and notifications. */
export const Methods = {
  /** client → server request: check every Python file of the workspace folders. */
  checkWorkspace: 'regscope/checkWorkspace',
  /** server → client notification: analysis state for the status bar. */
  status: 'regscope/status',
} as const;

export interface CheckWorkspaceParams {
  /** Limit to these folder URIs; all workspace folders when absent. */
  readonly folders?: readonly string[];
}

export interface CheckWorkspaceResult {
  readonly files: number;
  readonly findings: number;
  readonly errors: number;
  readonly warnings: number;
  /** Files that could not be read or were too large, with the reason. */
  readonly skipped: readonly { readonly uri: string; readonly reason: string }[];
  readonly millis: number;
}

export interface StatusParams {
  readonly state: 'analyzing' | 'idle';
  readonly uri?: string;
  readonly findings?: number;
  /** Duration of the last analysis, for the status bar tooltip. */
  readonly millis?: number;
}

/** Commands the extension registers; code lenses and code actions reference them. */
export const Commands = {
  probe: 'regscope.probe',
  probeLandscape: 'regscope.probeLandscape',
  probeNoise: 'regscope.probeNoise',
  checkWorkspace: 'regscope.checkWorkspace',
  restartServer: 'regscope.restartServer',
  showRuleDocs: 'regscope.showRuleDocs',
  showOutput: 'regscope.showOutput',
} as const;

export type ProbeMetric = 'hessian' | 'landscape' | 'noise' | 'weights';

/** Arguments of the probe commands, as code lenses pass them. */
export interface ProbeCommandArgs {
  readonly uri: string;
  /** Zero-based line of the optimizer or loop the lens sits on. */
  readonly line: number;
  readonly target: 'optimizer' | 'loop';
  readonly metrics: readonly ProbeMetric[];
}

/** What a diagnostic carries in `data`: its fixes as LSP edits, so code actions need no re-analysis. */
export interface DiagnosticData {
  readonly rule: string;
  readonly fixes: readonly {
    readonly title: string;
    readonly safe: boolean;
    readonly edits: readonly { readonly range: LspRange; readonly newText: string }[];
  }[];
}

export interface LspRange {
  readonly start: { readonly line: number; readonly character: number };
  readonly end: { readonly line: number; readonly character: number };
}
