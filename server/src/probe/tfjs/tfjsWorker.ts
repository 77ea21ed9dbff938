/**
 * The embedded engine's worker thread (bundled as dist/tfjsWorker.js): the surrogate trains and
 * is measured here, so the language server's thread stays free for the user's typing. Events go
 * to the parent as messages; cancel is `worker.terminate()`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ProbePlan } from '../../protocol';
import type { BackendChoice } from './backend';
import { runSurrogateProbe } from './surrogateProbe';
import type { SurrogateSpec } from './surrogateSpec';

export interface WorkerInput {
  readonly spec: SurrogateSpec;
  readonly plan: ProbePlan;
  readonly backend: BackendChoice;
  readonly labelNoise: number;
  readonly dataFile?: string;
}

export type WorkerMessage = { readonly type: 'event'; readonly event: unknown } | { readonly type: 'end'; readonly status: 'ok' | 'error' };

const input = workerData as WorkerInput;
const post = (m: WorkerMessage): void => parentPort!.postMessage(m);
runSurrogateProbe({ ...input, emit: (event) => post({ type: 'event', event }) })
  .then((status) => post({ type: 'end', status }))
  .catch((e: unknown) => {
    post({ type: 'event', event: { v: 1, type: 'error', t: 0, kind: 'harness', message: `the embedded engine failed to start: ${(e as Error).message}` } });
    post({ type: 'end', status: 'error' });
  });
