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
  /** client → server request: start a probe run of a script. */
  probeStart: 'regscope/probe/start',
  /** client → server request: cancel a running probe. */
  probeCancel: 'regscope/probe/cancel',
  /** client → server request: the runs stored for a workspace folder. */
  probeList: 'regscope/probe/list',
  /** server → client notification: one event of a running probe (and its end). */
  probeEvent: 'regscope/probe/event',
  /** client → server request: a stored (or running) run with its events, plan and script anchors, for the panels. */
  probeLoad: 'regscope/probe/load',
  /** client → server request: start a sweep of a script over a grid. */
  sweepStart: 'regscope/sweep/start',
  /** client → server request: cancel a running sweep. */
  sweepCancel: 'regscope/sweep/cancel',
  /** client → server request: the sweeps stored for the workspace. */
  sweepList: 'regscope/sweep/list',
  /** client → server request: a stored sweep's report (HTML, no script). */
  sweepReport: 'regscope/sweep/report',
  /** server → client notification: a sweep point changed, or the sweep ended. */
  sweepEvent: 'regscope/sweep/event',
} as const;

export interface SweepStartParams {
  readonly uri: string;
  /** `NAME=V1,V2,…` per axis, as `--grid` takes them. */
  readonly grid: readonly string[];
  readonly maxParallel?: number;
}

export interface SweepStartResult {
  readonly sweepId: string;
  readonly dir: string;
  readonly points: number;
}

export interface SweepEventParams {
  readonly sweepId: string;
  readonly point?: SweepPoint;
  /** Set once, when the sweep has ended. */
  readonly done?: SweepRecord;
}

export interface ListedSweep {
  readonly dir: string;
  readonly record: SweepRecord;
}

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
  showRun: 'regscope.showRun',
  probeRemote: 'regscope.probeRemote',
  sweep: 'regscope.sweep',
  showSweep: 'regscope.showSweep',
} as const;

export type ProbeMetric = 'hessian' | 'landscape' | 'noise' | 'weights' | 'collapse';

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

// ---------------------------------------------------------------------------------------------
// Probe runs: the plan an engine hands to the harness, the events it streams back, the stored
// run. docs/design/probe-events.md is the prose version of this contract.

export const PROBE_EVENT_VERSION = 1;

export type EngineKind = 'python' | 'tfjs' | 'ssh' | 'slurm';

/** Where the analyzer found a hyperparameter's value (1-based line, for people). */
export interface HparamSource {
  readonly optimizer: number;
  readonly name: string;
  readonly line: number;
  readonly text: string;
}

/** The loss expression and batch variables the harness re-evaluates in the caller's frame. */
export interface ProbeClosure {
  readonly loss: string;
  readonly batch: readonly string[];
  readonly model: string | null;
  readonly line: number;
}

export type LandscapeDirections = 'random' | 'eigen' | 'pca';

export interface ProbePlan {
  readonly v: 1;
  readonly script: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly seed: number;
  readonly budget: {
    readonly warmupSteps: number;
    /** Optimizer steps (1-based) at which to measure; the script stops after the last. */
    readonly probeSteps: readonly number[];
    readonly timeoutSeconds: number;
  };
  readonly metrics: readonly ProbeMetric[];
  readonly closure: ProbeClosure | null;
  readonly hessian: {
    readonly topK: number;
    readonly lanczosSteps: number;
    readonly traceMaxProbes: number;
    readonly traceRelTol: number;
    readonly densityProbes: number;
    readonly densitySteps: number;
  };
  readonly landscape: {
    readonly preview: number;
    readonly grid: number;
    readonly span: number;
    readonly refine: boolean;
    /** Filter-normalized random, the top-2 Hessian eigenvectors, or the trajectory's two principal directions. */
    readonly directions: LandscapeDirections;
  };
  readonly noise: { readonly microBatches: number };
  readonly hparamSources: readonly HparamSource[];
  /** A sweep's optimizer settings (lr, weight_decay, momentum, eps, dampening), applied to every param group as the optimizer is built. */
  readonly overrides?: Readonly<Record<string, number>>;
}

export interface ProbeUncertainty {
  readonly kind: 'ci95' | 'interval90' | 'residual' | 'stderr';
  readonly low?: number;
  readonly high?: number;
  readonly halfWidth?: number;
}

export interface ProbeCost {
  readonly hvps: number;
  readonly passes: number;
  readonly seconds: number;
}

export interface LayerValue {
  readonly name: string;
  readonly value: number | null;
  readonly uncertainty?: ProbeUncertainty;
}

export interface ParamGroupLive {
  readonly index: number;
  readonly lr: number;
  readonly momentum?: number;
  readonly betas?: readonly number[];
  readonly eps?: number;
  readonly weightDecay?: number;
  readonly nesterov?: boolean;
  readonly numel: number;
}

interface EventBase {
  readonly v: 1;
  /** Seconds since the harness started. */
  readonly t: number;
}

export interface HelloEvent extends EventBase {
  readonly type: 'hello';
  readonly harness: string;
  readonly python: string;
  readonly torch: string;
  readonly interpreter: string;
  readonly pid: number;
  readonly device: { readonly type: string; readonly name: string; readonly count: number };
  readonly rank: number;
  readonly worldSize: number;
  readonly hvpMethod: string;
  /** Engines other than Python name their runtime here (`TensorFlow.js 4.22.0, wasm backend`). */
  readonly runtime?: string;
}

export interface HparamsEvent extends EventBase {
  readonly type: 'hparams';
  readonly step: number;
  readonly optimizers: readonly {
    readonly index: number;
    readonly class: string;
    readonly groups: readonly ParamGroupLive[];
  }[];
}

export interface StepEvent extends EventBase {
  readonly type: 'step';
  readonly step: number;
  readonly loss: number | null;
  readonly lr: number;
  readonly gradNorm: number | null;
  readonly seconds: number;
  readonly updateRatio?: number | null;
}

export interface MetricEvent extends EventBase {
  readonly type: 'metric';
  readonly name: string;
  readonly step: number;
  readonly value?: number | null;
  readonly uncertainty?: ProbeUncertainty;
  readonly layers?: readonly LayerValue[];
  /** Metric-specific arrays and details; shapes per name in docs/design/probe-events.md. */
  readonly data?: Readonly<Record<string, unknown>>;
  readonly cost: ProbeCost;
}

export interface ProgressEvent extends EventBase {
  readonly type: 'progress';
  readonly phase: string;
  readonly done: number;
  readonly total: number;
  readonly message?: string;
}

export interface WarningEvent extends EventBase {
  readonly type: 'warning';
  readonly code: string;
  readonly message: string;
}

export type ProbeErrorKind = 'script' | 'nan' | 'oom' | 'timeout' | 'exit' | 'harness' | 'no-steps' | 'cancelled' | 'spawn' | 'connection';

export interface ErrorEvent extends EventBase {
  readonly type: 'error';
  readonly kind: ProbeErrorKind;
  readonly message: string;
  readonly traceback?: string;
  readonly step?: number;
}

export type RunStatus = 'running' | 'ok' | 'error' | 'cancelled';

export interface DoneEvent extends EventBase {
  readonly type: 'done';
  readonly status: Exclude<RunStatus, 'running'>;
  readonly steps: number;
  readonly seconds: number;
  readonly cost: { readonly hvps: number; readonly passes: number };
}

export type ProbeEvent =
  | HelloEvent | HparamsEvent | StepEvent | MetricEvent | ProgressEvent | WarningEvent | ErrorEvent | DoneEvent;

/** A probe finding (PRB rules), ready for the editor and the CLI. */
export interface ProbeFinding {
  readonly rule: string;
  readonly severity: 'error' | 'warning' | 'info';
  readonly message: string;
  /** 1-based line and 0-based columns in the script, or null when nothing in the script fits. */
  readonly line: number | null;
  readonly column?: number;
  readonly endColumn?: number;
  readonly measured: number;
  readonly threshold: number;
  readonly metric: string;
}

/** `run.json` in the run's folder: everything the run list and the panels need at a glance. */
export interface RunRecord {
  readonly v: 1;
  readonly id: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly engine: EngineKind;
  /** Why this engine and interpreter ran (“python: /usr/bin/python3 has torch 1.13.1”). */
  readonly engineReason: string;
  readonly interpreter: string | null;
  readonly status: RunStatus;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly steps: number;
  readonly device: string | null;
  readonly torch: string | null;
  readonly error: { readonly kind: ProbeErrorKind; readonly message: string } | null;
  /** Headline numbers by metric name (`hessian.top` → λ₁). */
  readonly headline: Readonly<Record<string, number | null>>;
  readonly findings: readonly ProbeFinding[];
  readonly warnings: readonly string[];
  readonly cost: { readonly hvps: number; readonly passes: number; readonly seconds: number };
  /** For a run submitted to a scheduler: the job, its last state, and queue and run time apart. */
  readonly scheduler?: SchedulerInfo;
}

export interface SchedulerInfo {
  readonly system: 'slurm';
  readonly jobId: string;
  /** COMPLETED, FAILED, CANCELLED, TIMEOUT … as Slurm says it. */
  readonly state: string;
  readonly nodes: string | null;
  /** From submission to the start of the job (measured by polling, ±1 s). */
  readonly queueSeconds: number;
  readonly runSeconds: number | null;
  /** Slurm's `code:signal`. */
  readonly exitCode: string | null;
}

/** One grid point of a sweep and what its probe found. */
export interface SweepPoint {
  readonly index: number;
  readonly values: Readonly<Record<string, number>>;
  /** The point's probe run (`.regscope/runs/<id>`); null when it never started. */
  readonly runId: string | null;
  readonly status: RunStatus | 'pending';
  readonly error: string | null;
  /** Training loss at the last step. */
  readonly finalLoss: number | null;
  /** Sharpness over the optimizer's stability threshold (λ₁ against 2/η, or its momentum/Adam form). */
  readonly sharpnessRatio: number | null;
  /** Gradient noise scale B_noise. */
  readonly noiseScale: number | null;
  /** The 2-D loss landscape around the final weights, for a thumbnail. */
  readonly landscape: { readonly loss: readonly (readonly number[])[] } | null;
  /** The Slurm array task that ran it. */
  readonly task?: string;
}

export interface SweepAxisRecord {
  readonly key: string;
  readonly values: readonly number[];
  /** How the values reach the script: `--lr` (a flag) or `optimizer lr` (set on the param groups). */
  readonly via: string;
}

/** `.regscope/sweeps/<id>/sweep.json`. */
export interface SweepRecord {
  readonly v: 1;
  readonly id: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly axes: readonly SweepAxisRecord[];
  readonly engine: EngineKind | 'local';
  readonly engineReason: string;
  /** `partial`: some points failed, the others finished. */
  readonly status: 'running' | 'ok' | 'partial' | 'error' | 'cancelled';
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly maxParallel: number;
  readonly seconds: number;
  readonly points: readonly SweepPoint[];
  readonly scheduler?: { readonly system: 'slurm'; readonly jobId: string; readonly queueSeconds: number | null; readonly runSeconds: number | null };
}

export interface ProbeStartParams {
  readonly uri: string;
  /** Overrides regscope.probe.engine for this run (the remote command asks for `ssh`). */
  readonly engine?: 'auto' | 'python' | 'tfjs' | 'ssh' | 'slurm';
  /** The ssh engine's host for this run; regscope.remote.host when absent. */
  readonly host?: string;
  readonly metrics?: readonly ProbeMetric[];
  readonly args?: readonly string[];
  readonly steps?: number;
  readonly python?: string;
}

export interface ProbeStartResult {
  readonly runId: string;
  readonly runDir: string;
  /** Null when the embedded engine runs. */
  readonly interpreter: string | null;
  readonly engineReason: string;
}

export interface ProbeCancelParams {
  readonly runId: string;
}

export interface ProbeListParams {
  /** A workspace folder or script URI; every folder when absent. */
  readonly uri?: string;
}

/** A stored run as listed: its record and the folder it lives in. */
export interface ListedRun extends RunRecord {
  readonly runDir: string;
}

export interface ProbeListResult {
  readonly runs: readonly ListedRun[];
}

/** A line that did not decode as an event, reported instead of dropped. */
export interface MalformedLine {
  readonly line: string;
  readonly reason: string;
}

export interface ProbeEventParams {
  readonly runId: string;
  /** 0-based index of the event in the run's events.jsonl, so a panel that loaded the stored events can skip those it has. */
  readonly seq: number;
  readonly event: ProbeEvent;
}

// Result panels and the HTML report (webview/). The same bundle renders both; these are the only
// shapes that cross between the extension host (or the report file) and the page.

export interface ProbeLoadParams {
  readonly runDir: string;
}

/** A place in the script, 1-based line, for "jump to the line" links. */
export interface ScriptRef {
  readonly line: number;
  readonly column?: number;
  /** The value as the script sets it and where it came from: `0.1 (--lr default)`. */
  readonly detail?: string;
}

/** Where the script sets each measured quantity, computed from its current text. */
export interface RunAnchors {
  /** `lr`, `batchSize`, `optimizer`, `loss`, `weightDecay`. */
  readonly hparams: Readonly<Record<string, ScriptRef>>;
  /** Module path (`features.0`, `fc1`) → the layer's constructor. */
  readonly layers: Readonly<Record<string, ScriptRef>>;
}

/** Everything a panel needs to draw one run. */
export interface RunBundle {
  readonly runDir: string;
  readonly record: RunRecord;
  readonly plan: ProbePlan | null;
  readonly events: readonly ProbeEvent[];
  /** Null when the script is gone or could not be read. */
  readonly anchors: RunAnchors | null;
  /** Why the record was rebuilt, or lines that did not decode. */
  readonly problems: readonly string[];
}

export const PANEL_VIEW_TYPE = 'regscope.run';

/** The id of the `<script type="application/json">` that holds a report's runs. */
export const REPORT_DATA_ID = 'regscope-report-data';

export type PanelTab = 'overview' | 'landscape' | 'hessian' | 'noise' | 'weights' | 'compare';

/** What a panel keeps through a window reload (`setState`), and the serializer reads back. */
export interface PanelState {
  readonly runDir: string;
  readonly tab: PanelTab;
  /** Per-chart choices (log axes, surface angle, compared runs). */
  readonly ui: Readonly<Record<string, string | number | boolean | readonly string[]>>;
}

export type HostToPanel =
  | { readonly type: 'bundle'; readonly bundle: RunBundle }
  | { readonly type: 'event'; readonly runId: string; readonly seq: number; readonly event: ProbeEvent }
  | { readonly type: 'runs'; readonly runs: readonly ListedRun[] }
  | { readonly type: 'compare'; readonly bundles: readonly RunBundle[] }
  | { readonly type: 'exported'; readonly file: string | null };

export type PanelToHost =
  | { readonly type: 'ready' }
  | { readonly type: 'reveal'; readonly line: number; readonly column?: number }
  | { readonly type: 'export'; readonly name: string; readonly mime: string; readonly data: string; readonly encoding: 'utf8' | 'base64' }
  | { readonly type: 'listRuns' }
  | { readonly type: 'compare'; readonly runDirs: readonly string[] }
  /** The panel saw events it cannot place (a gap in `seq`): send the whole bundle again. */
  | { readonly type: 'reload' };
