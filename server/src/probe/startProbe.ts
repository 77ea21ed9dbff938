/**
 * Which engine runs a probe. `auto` (the default in the editor and the CLI) uses the Python
 * engine when an interpreter with torch is found, else the embedded TensorFlow.js engine on a
 * surrogate of the script's model; the run's `engineReason` says which and why.
 */
import type { PythonParser } from '../analysis/syntax/pythonParser';
import { defaultCandidates, findTorchInterpreter } from './interpreter';
import { analyzeProbeScript, ProbeSetupError, startPythonProbe, type ProbeListener, type RunningProbe } from './pythonEngine';
import { startSlurmProbe, type SlurmOptions } from './remote/slurmEngine';
import { startSshProbe, type SshRequest } from './remote/sshEngine';
import { startTfjsProbe, type TfjsRequest } from './tfjs/tfjsEngine';

export type EngineChoice = 'auto' | 'python' | 'tfjs' | 'ssh' | 'slurm';

/** What any engine may be asked; each reads its own fields. */
export type AnyProbeRequest = TfjsRequest & Partial<Omit<SshRequest, keyof TfjsRequest>> & SlurmOptions & { readonly engine?: EngineChoice };

export async function startProbe(parser: PythonParser, req: AnyProbeRequest, listener: ProbeListener = {}): Promise<RunningProbe> {
  const engine = req.engine ?? 'auto';
  if (engine === 'slurm') return startSlurmProbe(parser, req, listener);
  if (engine === 'ssh') {
    if (!req.host) throw new ProbeSetupError('the ssh engine needs a host: --host user@gpu-box (or regscope.remote.host)');
    return startSshProbe(parser, { ...req, host: req.host }, listener);
  }
  const python = async (r: typeof req): Promise<RunningProbe> => {
    const probe = await startPythonProbe(parser, r, listener);
    return r.dataFile ? { ...probe, planNotes: [...probe.planNotes, 'the data file is for the embedded engine: the Python engine runs the script on its own data'] } : probe;
  };
  if (engine === 'python') return python(req);
  if (engine === 'tfjs') return startTfjsProbe(parser, { ...req, why: req.why ?? 'asked for with --engine tfjs' }, listener);
  // The Python harness hooks PyTorch; a Keras script's probe is the surrogate's. The engine
  // reuses this analysis.
  const analyzed = analyzeProbeScript(parser, req);
  const { frameworks } = analyzed.analysis.model;
  if (frameworks.includes('keras') && !frameworks.includes('pytorch')) return startTfjsProbe(parser, { ...req, analyzed, why: 'a Keras script: the Python engine probes PyTorch scripts' }, listener);
  const search = await findTorchInterpreter(req.candidates ?? defaultCandidates(), {});
  if ('found' in search) return python({ ...req, analyzed, candidates: [search.found.candidate] });
  const first = search.missing.split('\n')[0]!.replace(/\.$/, '');
  return startTfjsProbe(parser, { ...req, analyzed, why: `no Python with torch was found (${first})` }, listener);
}
