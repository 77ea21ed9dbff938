/**
 * Probe runs started from the editor: starts and cancels them, forwards their events, remembers
 * the latest finished run of each script, and turns it into PRB diagnostics on the current text
 * (so a finding follows its line while the user edits). LSP-free: the binding file wires it.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnalysisResult } from '../analysis/analyze';
import type { ParsedDocument } from '../analysis/document';
import type { PythonParser } from '../analysis/syntax/pythonParser';
import type {
  HparamsEvent, ListedRun, ProbeEventParams, ProbeFinding, ProbeListResult, ProbeStartParams, ProbeStartResult, RunBundle,
} from '../protocol';
import { defaultCandidates, type InterpreterCandidate } from '../probe/interpreter';
import { probeAnchors } from '../probe/probeAnchors';
import { probeFindings } from '../probe/probeFindings';
import type { RunningProbe } from '../probe/pythonEngine';
import type { SlurmOptions } from '../probe/remote/slurmEngine';
import { startProbe, type AnyProbeRequest, type EngineChoice } from '../probe/startProbe';
import { loadRunBundle } from '../probe/runBundle';
import { STORE_DIR, isValidRunId, listRuns, readRun, runDir } from '../probe/runStore';
import { summarizeEvents, type RunSummary } from '../probe/runSummary';
import { filePath } from './analysisService';
import { DEFAULT_EDITOR_SETTINGS, type RemoteSettings } from './settingsSchema';

export interface ProbeHost {
  event(params: ProbeEventParams): void;
  /** A run of this script finished: its diagnostics changed. */
  refresh(scriptUri: string): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

interface LatestRun {
  readonly runId: string;
  readonly root: string;
  readonly summary: RunSummary;
}

export class ProbeService {
  private readonly running = new Map<string, RunningProbe>();
  private readonly latest = new Map<string, LatestRun | null>();

  constructor(
    private readonly parser: PythonParser,
    private readonly host: ProbeHost,
    private readonly folders: () => readonly string[],
    private readonly pythonSetting: () => string | undefined,
    private readonly engineSetting: () => EngineChoice = () => 'auto',
    private readonly dataFileSetting: () => string = () => '',
    private readonly remoteSetting: () => RemoteSettings = () => DEFAULT_EDITOR_SETTINGS.remote,
    private readonly slurmSetting: () => SlurmOptions = () => ({}),
  ) {}

  /** The workspace folder holding the script (its runs go under `<folder>/.regscope/`), else the script's folder. */
  storeRootFor(script: string): string {
    const roots = this.folders().map(filePath).filter((p): p is string => !!p)
      .filter((r) => script === r || script.startsWith(r.endsWith(path.sep) ? r : r + path.sep))
      .sort((a, b) => b.length - a.length);
    return roots[0] ?? path.dirname(script);
  }

  async start(params: ProbeStartParams): Promise<ProbeStartResult> {
    const script = filePath(params.uri);
    if (!script) throw new Error(`only files on disk can be probed (${params.uri})`);
    const candidates: InterpreterCandidate[] = [];
    const setting = this.pythonSetting();
    if (setting) candidates.push({ path: setting, origin: 'setting', name: 'regscope.pythonPath' });
    if (params.python && params.python !== setting) candidates.push({ path: params.python, origin: 'python-extension', name: "the Python extension's interpreter" });
    candidates.push(...defaultCandidates());
    const root = this.storeRootFor(script);
    let runId = '';
    let seq = 0;
    const probe = await startProbe(this.parser, {
      ...this.optionsFor(root, params.engine, params.host),
      script, args: params.args ?? [], storeRoot: root, steps: params.steps, metrics: params.metrics, candidates,
    }, {
      event: (event) => { const n = seq++; if (runId) this.host.event({ runId, seq: n, event }); },
      malformed: (line) => this.host.log('warn', `probe ${runId}: ${line.reason}: ${line.line.slice(0, 200)}`),
    });
    runId = probe.runId;
    this.running.set(runId, probe);
    this.host.log('info', `probe ${runId} of ${script}: ${probe.engineReason}`);
    void probe.done.then((finished) => {
      this.running.delete(runId);
      this.latest.set(script, { runId, root, summary: finished.summary });
      this.host.log('info', `probe ${runId} ended: ${finished.record.status}${finished.record.error ? ` (${finished.record.error.kind}: ${finished.record.error.message})` : ''}`);
      this.host.refresh(pathToFileURL(script).href);
    }, (e: unknown) => {
      this.running.delete(runId);
      this.host.log('error', `probe ${runId} failed: ${(e as Error).stack ?? e}`);
    });
    return { runId, runDir: probe.runDir, interpreter: probe.interpreter?.path ?? null, engineReason: probe.engineReason };
  }

  /** What the editor's settings ask of a run under `root` (engine, data file, remote host, Slurm). */
  optionsFor(root: string, engineOverride?: EngineChoice, host?: string): Omit<AnyProbeRequest, 'script' | 'args' | 'storeRoot'> {
    const dataFile = this.dataFileSetting();
    const engine = engineOverride ?? this.engineSetting();
    const remote = this.remoteSetting();
    const home = (p: string): string => (p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p);
    const viaSsh = engine === 'ssh' || (engine === 'slurm' && !!(host ?? remote.host));
    return {
      engine, ...(dataFile ? { dataFile: path.resolve(root, dataFile) } : {}),
      ...(viaSsh ? {
        host: host ?? remote.host, remotePython: remote.python, gpus: remote.gpus, keepRemote: remote.keep,
        ...(remote.dir ? { remoteDir: remote.dir } : {}), ...(remote.sshConfig ? { sshConfig: home(remote.sshConfig) } : {}),
      } : {}),
      ...(engine === 'slurm' ? { remotePython: remote.python, ...this.slurmSetting() } : {}),
    };
  }

  async cancel(runId: string): Promise<boolean> {
    const probe = this.running.get(runId);
    if (!probe) return false;
    await probe.cancel();
    return true;
  }

  async list(uri: string | undefined): Promise<ProbeListResult> {
    const roots = uri
      ? [filePath(uri)].filter((p): p is string => !!p).map((p) => (p.endsWith('.py') ? this.storeRootFor(p) : p))
      : this.folders().map(filePath).filter((p): p is string => !!p);
    const runs: ListedRun[] = [];
    for (const root of new Set(roots)) runs.push(...(await listRuns(root)).map((r) => ({ ...r, runDir: runDir(root, r.id) })));
    runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    return { runs };
  }

  /** A run folder's bundle for a panel. The folder comes from the client, so it must be a run folder. */
  async load(dir: string): Promise<RunBundle> {
    const resolved = path.resolve(dir);
    const runs = path.dirname(resolved);
    if (!isValidRunId(path.basename(resolved)) || path.basename(runs) !== 'runs' || path.basename(path.dirname(runs)) !== STORE_DIR) {
      throw new Error(`${dir} is not a RegScope run folder (<workspace>/${STORE_DIR}/runs/<id>)`);
    }
    return loadRunBundle(this.parser, resolved);
  }

  /** Loads the newest finished run of the script from the store, once, so findings survive a restart. */
  async loadLatest(scriptUri: string): Promise<void> {
    const script = filePath(scriptUri);
    if (!script || this.latest.has(script)) return;
    this.latest.set(script, null);
    const root = this.storeRootFor(script);
    const record = (await listRuns(root)).find((r) => r.script === script && r.status !== 'running');
    if (!record) return;
    const stored = await readRun(runDir(root, record.id));
    this.latest.set(script, { runId: record.id, root, summary: summarizeEvents(stored.events) });
    this.host.refresh(scriptUri);
  }

  /** PRB findings of the script's latest run, placed on the current text. */
  findingsFor(uri: string, doc: ParsedDocument, analysis: AnalysisResult): { findings: ProbeFinding[]; runDir: string } | undefined {
    const script = filePath(uri);
    const latest = script ? this.latest.get(script) : undefined;
    if (!latest) return undefined;
    return { findings: probeFindings(latest.summary, probeAnchors(doc, analysis), latest.runId), runDir: runDir(latest.root, latest.runId) };
  }

  /** The live hyperparameters of the script's latest run, for hovers. */
  liveFor(uri: string): { runId: string; event: HparamsEvent } | undefined {
    const script = filePath(uri);
    const latest = script ? this.latest.get(script) : undefined;
    return latest?.summary.hparams ? { runId: latest.runId, event: latest.summary.hparams } : undefined;
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.running.values()].map((p) => p.cancel()));
  }
}
