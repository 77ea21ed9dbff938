/**
 * How a run ends, whatever the engine: the closing events an engine could not send itself (it
 * was killed, timed out, crashed) and the final run record.
 */
import type { ErrorEvent, MalformedLine, ProbeEvent, ProbeFinding, ProbePlan, RunRecord } from '../protocol';
import type { ExitInfo } from './pythonProcess';
import type { RunSummary } from './runSummary';

/** The events the harness could not send itself: it was killed, timed out or died. */
export function closingEvents(events: readonly ProbeEvent[], exit: ExitInfo, plan: ProbePlan): ProbeEvent[] {
  if (events.some((e) => e.type === 'done') && exit.reason === 'exited') return [];
  const t = events.at(-1)?.t ?? 0;
  const lastStep = [...events].reverse().find((e) => e.type === 'step');
  const step = lastStep?.type === 'step' ? lastStep.step : 0;
  const hadError = events.some((e) => e.type === 'error');
  const out: ProbeEvent[] = [];
  const error = (kind: ErrorEvent['kind'], message: string): void => {
    if (!hadError) out.push({ v: 1, type: 'error', t, kind, message, step });
  };
  switch (exit.reason) {
    case 'timeout':
      error('timeout', `the probe did not finish within ${plan.budget.timeoutSeconds} s and was killed after ${step} steps (the stack of the hang is in stderr.log)`);
      break;
    case 'cancelled':
      error('cancelled', `the probe was cancelled after ${step} steps`);
      break;
    case 'spawn-error':
      error('spawn', exit.spawnError ?? 'the interpreter could not be started');
      break;
    case 'exited':
      error('harness', `the probe process ended (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`}) without reporting a result; its output is in stderr.log`);
      break;
  }
  if (!events.some((e) => e.type === 'done')) {
    const status = exit.reason === 'cancelled' ? 'cancelled' : 'error';
    out.push({ v: 1, type: 'done', t, status, steps: step, seconds: exit.seconds, cost: { hvps: 0, passes: 0 } });
  }
  return out;
}

export function finalRecord(initial: RunRecord, summary: RunSummary, findings: readonly ProbeFinding[], malformed: readonly MalformedLine[], exit: ExitInfo): RunRecord {
  const headline: Record<string, number | null> = {};
  for (const [name, m] of summary.metrics) headline[name] = typeof m.value === 'number' ? m.value : null;
  const warnings = [...initial.warnings, ...summary.warnings];
  if (malformed.length > 0) warnings.push(`${malformed.length} line(s) of the probe's output were not valid events (first: ${malformed[0]!.reason})`);
  // A run killed by the backstop may still have said `cancelled` on its way out: it timed out.
  const status = exit.reason === 'timeout' ? 'error' : summary.done?.status ?? 'error';
  const error = exit.reason === 'timeout' && summary.error?.kind !== 'timeout'
    ? { kind: 'timeout' as const, message: 'the probe did not finish in time and was killed' }
    : summary.error ? { kind: summary.error.kind, message: summary.error.message } : null;
  return {
    ...initial,
    status,
    endedAt: new Date().toISOString(),
    steps: summary.done?.steps ?? summary.steps.length,
    device: summary.hello ? `${summary.hello.device.type}: ${summary.hello.device.name}` : null,
    torch: summary.hello?.torch ?? initial.torch,
    error,
    headline,
    findings,
    warnings,
    cost: { hvps: summary.cost.hvps, passes: summary.cost.passes, seconds: exit.seconds },
  };
}
