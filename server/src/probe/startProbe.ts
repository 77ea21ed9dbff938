/**
 * Which engine runs a probe. `auto` (the default in the editor and the CLI) uses the Python
 * engine when an interpreter with torch is found, else the embedded TensorFlow.js engine on a
 * surrogate of the script's model; the run's `engineReason` says which and why.
 */
import type { PythonParser } from '../analysis/syntax/pythonParser';
import { defaultCandidates, findTorchInterpreter } from './interpreter';
import { startPythonProbe, type ProbeListener, type RunningProbe } from './pythonEngine';
import { startTfjsProbe, type TfjsRequest } from './tfjs/tfjsEngine';

export type EngineChoice = 'auto' | 'python' | 'tfjs';

export async function startProbe(parser: PythonParser, req: TfjsRequest & { readonly engine?: EngineChoice }, listener: ProbeListener = {}): Promise<RunningProbe> {
  const engine = req.engine ?? 'auto';
  if (engine === 'python') return startPythonProbe(parser, req, listener);
  if (engine === 'tfjs') return startTfjsProbe(parser, { ...req, why: req.why ?? 'asked for with --engine tfjs' }, listener);
  const search = await findTorchInterpreter(req.candidates ?? defaultCandidates(), {});
  if ('found' in search) return startPythonProbe(parser, { ...req, candidates: [search.found.candidate] }, listener);
  const first = search.missing.split('\n')[0]!.replace(/\.$/, '');
  return startTfjsProbe(parser, { ...req, why: `no Python with torch was found (${first})` }, listener);
}
