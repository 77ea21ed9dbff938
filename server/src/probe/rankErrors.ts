/**
 * Errors of ranks other than 0 in a distributed probe. Only rank 0 writes events; another rank
 * that fails writes one line `regscope-rank-error {json}` to stderr (distributed.py). They become
 * the run's error events, and the run's error and status: rank 0's own report after such a
 * failure (stopped, or a collective that lost its peer) is a consequence, not the cause.
 */
import type { ErrorEvent, ProbeErrorKind, RunRecord } from '../protocol';

const MARKER = 'regscope-rank-error ';
const KINDS: readonly ProbeErrorKind[] = ['script', 'nan', 'oom', 'timeout', 'exit', 'harness', 'no-steps', 'cancelled', 'spawn', 'connection'];

export class RankErrors {
  private buffer = '';
  private readonly seen: ErrorEvent[] = [];

  /** Stderr text in; the error events of the complete marker lines in it out. */
  push(text: string): ErrorEvent[] {
    this.buffer += text;
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop()!;
    return lines.flatMap((l) => this.parse(l));
  }

  flush(): ErrorEvent[] {
    const rest = this.buffer;
    this.buffer = '';
    return this.parse(rest);
  }

  /** The final record, with the first failed rank's error as the run's. */
  failed(record: RunRecord): RunRecord {
    const first = this.seen[0];
    if (!first || first.kind === 'cancelled') return record;
    return { ...record, status: 'error', error: { kind: first.kind, message: first.message } };
  }

  private parse(line: string): ErrorEvent[] {
    const at = line.indexOf(MARKER);
    if (at < 0) return [];
    let raw: Record<string, unknown>;
    try { raw = JSON.parse(line.slice(at + MARKER.length)) as Record<string, unknown>; } catch { return []; }
    const kind = KINDS.includes(raw['kind'] as ProbeErrorKind) ? (raw['kind'] as ProbeErrorKind) : 'script';
    const event: ErrorEvent = {
      v: 1, type: 'error', t: 0, kind, message: `rank ${String(raw['rank'] ?? '?')}: ${String(raw['message'] ?? 'failed')}`,
      ...(typeof raw['step'] === 'number' ? { step: raw['step'] } : {}),
      ...(typeof raw['traceback'] === 'string' ? { traceback: raw['traceback'] } : {}),
    };
    this.seen.push(event);
    return [event];
  }
}
