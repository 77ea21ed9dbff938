/**
 * Where a remote engine's run goes: the run store, the listener, and at the end the closing
 * events, the findings and the final record. The event stream arrives as raw bytes (ssh's or a
 * follower's stdout) and is split and validated here, like the local harness's.
 */
import type { AnalysisResult } from '../analysis/analyze';
import type { ParsedDocument } from '../analysis/document';
import type { AnalysisSettings } from '../analysis/settings';
import type { MalformedLine, ProbeEvent, ProbePlan, RunRecord } from '../protocol';
import { decodeEventLine, EventLineSplitter } from './events';
import { probeAnchors } from './probeAnchors';
import { RankErrors } from './rankErrors';
import { filterProbeFindings } from './probeFindingFilter';
import { probeFindings } from './probeFindings';
import type { FinishedProbe, ProbeListener } from './pythonEngine';
import type { ExitInfo } from './pythonProcess';
import { closingEvents, finalRecord } from './runEnd';
import { RunWriter } from './runStore';
import { summarizeEvents } from './runSummary';

export class RunSink {
  readonly events: ProbeEvent[] = [];
  private readonly malformed: MalformedLine[] = [];
  private readonly splitter = new EventLineSplitter();
  /** Errors of ranks other than 0 (distributed runs), marked lines of the stderr stream. */
  private readonly ranks = new RankErrors();
  private readonly anchors;
  /** The last few KiB of the stderr stream, for error messages. */
  stderrTail = '';

  private constructor(
    readonly writer: RunWriter,
    private readonly initial: RunRecord,
    private readonly plan: ProbePlan,
    private readonly analysis: AnalysisResult & { document: ParsedDocument },
    private readonly settings: AnalysisSettings,
    private readonly listener: ProbeListener,
  ) {
    this.anchors = probeAnchors(analysis.document, analysis);
  }

  static async open(storeRoot: string, plan: ProbePlan, initial: RunRecord, analysis: AnalysisResult & { document: ParsedDocument }, settings: AnalysisSettings, listener: ProbeListener): Promise<RunSink> {
    return new RunSink(await RunWriter.create(storeRoot, initial.id, plan, initial), initial, plan, analysis, settings, listener);
  }

  record(event: ProbeEvent): void {
    this.events.push(event);
    this.writer.appendEvent(event);
    this.listener.event?.(event);
  }

  /** A line of the stream that is not a valid event (counted in the record's warnings). */
  malformedLine(line: MalformedLine): void {
    this.malformed.push(line);
    this.listener.malformed?.(line);
  }

  /** Raw bytes of the event stream. */
  stdout(chunk: Buffer): void {
    this.dispatch(this.splitter.push(chunk));
  }

  stderr(text: string): void {
    this.stderrTail = (this.stderrTail + text).slice(-4000);
    this.writer.appendStderr(text);
    this.listener.output?.(text);
    for (const e of this.ranks.push(text)) this.record({ ...e, t: this.events.at(-1)?.t ?? 0 });
  }

  get lastStep(): number {
    const s = [...this.events].reverse().find((e) => e.type === 'step');
    return s?.type === 'step' ? s.step : 0;
  }

  hasDone(): boolean {
    return this.events.some((e) => e.type === 'done');
  }

  /** Closing events, findings and the final record; `patch` adds engine facts (warnings, scheduler times). */
  async finish(exit: ExitInfo, patch: (r: RunRecord) => RunRecord = (r) => r): Promise<FinishedProbe> {
    this.dispatch(this.splitter.flush());
    for (const e of this.ranks.flush()) this.record({ ...e, t: this.events.at(-1)?.t ?? 0 });
    for (const e of closingEvents(this.events, exit, this.plan)) this.record(e);
    const summary = summarizeEvents(this.events);
    const findings = filterProbeFindings(probeFindings(summary, this.anchors, this.initial.id), this.analysis.document.text, this.settings);
    const final = patch(this.ranks.failed(finalRecord(this.initial, summary, findings, this.malformed, exit)));
    await this.writer.writeRecord(final);
    await this.writer.close();
    return { record: final, summary, findings, events: this.events };
  }

  private dispatch(items: ReturnType<EventLineSplitter['push']>): void {
    for (const item of items) {
      const decoded = 'line' in item ? decodeEventLine(item.line) : item;
      if ('event' in decoded) this.record(decoded.event);
      else this.malformedLine(decoded.malformed);
    }
  }
}
