import type { ProbeMetric } from '../protocol';
import type { Severity } from '../analysis/findings';

/**
 * The extension's settings, declared once. package.json's `contributes.configuration`
 * must equal `SETTINGS_SCHEMA` (a test checks), and `readEditorSettings` validates what
 * the client sends against the same declarations.
 */
export const SETTINGS_SCHEMA = {
  'regscope.select': {
    type: 'array',
    items: { type: 'string' },
    default: [],
    markdownDescription: 'Rule ids or prefixes to run (`WD`, `LOOP001`). Empty runs every rule. `[tool.regscope] select` in `pyproject.toml` is used when this is empty.',
  },
  'regscope.ignore': {
    type: 'array',
    items: { type: 'string' },
    default: [],
    markdownDescription: 'Rule ids or prefixes never to report, added to `[tool.regscope] ignore` from `pyproject.toml`.',
  },
  'regscope.severity': {
    type: 'object',
    additionalProperties: { type: 'string', enum: ['error', 'warning', 'information', 'hint', 'off'] },
    default: {},
    markdownDescription: 'Severity per rule id, e.g. `{"WD003": "warning", "SEED001": "off"}`. Overrides `pyproject.toml`.',
  },
  'regscope.rules': {
    type: 'object',
    default: {},
    markdownDescription: 'Per-rule thresholds, e.g. `{"OPT005": {"lr_range": {"adamw": [1e-6, 3e-3]}}}`. Each rule\'s documentation page lists its keys.',
  },
  'regscope.inlayHints.enabled': {
    type: 'boolean',
    default: true,
    markdownDescription: 'Show the resolved value of hyperparameters that the code only names (`lr=args.lr` ▸ `0.1 (--lr default)`).',
  },
  'regscope.codeLens.enabled': {
    type: 'boolean',
    default: true,
    markdownDescription: 'Show **Probe** code lenses above optimizers and training loops.',
  },
  'regscope.python.interpreter': {
    type: 'string',
    default: '',
    markdownDescription: 'Python interpreter for probe runs. Empty: the Python extension\'s active environment, else `python3` on `PATH`.',
  },
  'regscope.probe.steps': {
    type: 'integer',
    default: 10,
    minimum: 1,
    maximum: 100000,
    markdownDescription: 'Optimizer steps of a probe run: curvature is measured half way and at this step (everything else at this step), then the script is stopped.',
  },
  'regscope.probe.engine': {
    type: 'string',
    enum: ['auto', 'python', 'tfjs', 'ssh', 'slurm'],
    default: 'auto',
    markdownDescription: 'Where probes run. `auto`: your Python when it has torch, else the embedded TensorFlow.js engine on a surrogate rebuilt from the script. `python`: always your Python. `tfjs`: always the embedded engine (no Python needed). `ssh`: on `regscope.remote.host` over SSH. `slurm`: as a Slurm batch job (submitted here, or on `regscope.remote.host` as the login node), with `regscope.slurm.*`.',
  },
  'regscope.probe.dataFile': {
    type: 'string',
    default: '',
    markdownDescription: 'Data for the embedded engine: a `.csv`, `.npy` or `.npz` file (relative to the workspace folder) the surrogate trains on instead of synthetic teacher data. The last column is the label (or the targets), or the arrays are named `x` and `y`. The Python engine runs your script on its own data and ignores this.',
  },
  'regscope.remote.host': {
    type: 'string',
    default: '',
    markdownDescription: 'Remote host for the `ssh` engine and **RegScope: Probe on Remote Host…**: `user@gpu-box` or a `Host` alias of your `~/.ssh/config`. Your own ssh client, keys, agent and known hosts are used; RegScope never handles a password.',
  },
  'regscope.remote.hosts': {
    type: 'array',
    items: { type: 'string' },
    default: [],
    markdownDescription: 'Hosts offered by **RegScope: Probe on Remote Host…**, besides the `Host` aliases of `~/.ssh/config`.',
  },
  'regscope.remote.python': {
    type: 'string',
    default: 'python3',
    markdownDescription: 'The Python interpreter on the remote host (it needs torch).',
  },
  'regscope.remote.dir': {
    type: 'string',
    default: '',
    markdownDescription: 'Where remote probes make their per-run folder, relative to the remote home unless absolute. Empty: `.cache/regscope/runs`.',
  },
  'regscope.remote.gpus': {
    type: 'string',
    default: '0',
    markdownDescription: '`CUDA_VISIBLE_DEVICES` for remote probes (`0`, `2,3`). Empty: leave it as the host has it.',
  },
  'regscope.remote.keep': {
    type: 'boolean',
    default: false,
    markdownDescription: 'Keep the remote run folder after a probe (it is removed by default).',
  },
  'regscope.remote.sshConfig': {
    type: 'string',
    default: '',
    markdownDescription: 'An ssh configuration file to use instead of `~/.ssh/config` (`ssh -F`).',
  },
  'regscope.slurm.partition': {
    type: 'string',
    default: '',
    markdownDescription: 'Slurm partition for probes and sweeps (`sbatch --partition`). Empty: the cluster\'s default.',
  },
  'regscope.slurm.gres': {
    type: 'string',
    default: '',
    markdownDescription: 'Generic resources for Slurm probes (`sbatch --gres`, for example `gpu:1`).',
  },
  'regscope.slurm.time': {
    type: 'string',
    default: '',
    markdownDescription: 'Time limit of a Slurm probe (`sbatch --time`, for example `00:15:00`). Empty: the probe\'s timeout plus a minute.',
  },
  'regscope.slurm.account': {
    type: 'string',
    default: '',
    markdownDescription: 'Slurm account to charge (`sbatch --account`).',
  },
  'regscope.probe.metrics': {
    type: 'array',
    items: { type: 'string', enum: ['hessian', 'landscape', 'noise', 'weights', 'collapse'] },
    default: ['hessian', 'landscape', 'noise', 'weights', 'collapse'],
    markdownDescription: 'Measurements of a default probe run.',
  },
  'regscope.trace.server': {
    type: 'string',
    enum: ['off', 'messages', 'verbose'],
    default: 'off',
    markdownDescription: 'Log the messages between VS Code and the RegScope language server in the **RegScope** output channel.',
  },
} as const;

export interface EditorSettings {
  readonly select: readonly string[];
  readonly ignore: readonly string[];
  readonly severity: Readonly<Record<string, Severity | 'off'>>;
  readonly rules: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly inlayHints: boolean;
  readonly codeLens: boolean;
  /** Empty: let discovery choose. */
  readonly pythonInterpreter: string;
  readonly probeSteps: number;
  readonly probeEngine: 'auto' | 'python' | 'tfjs' | 'ssh' | 'slurm';
  readonly remote: RemoteSettings;
  /** regscope.slurm.*: only what is set. */
  readonly slurm: { readonly partition?: string; readonly gres?: string; readonly time?: string; readonly account?: string };
  /** Empty: synthetic teacher data. */
  readonly probeDataFile: string;
  readonly probeMetrics: readonly ProbeMetric[];
}

const ALL_PROBE_METRICS = SETTINGS_SCHEMA['regscope.probe.metrics'].items.enum;

export const DEFAULT_EDITOR_SETTINGS: EditorSettings = {
  select: [], ignore: [], severity: {}, rules: {}, inlayHints: true, codeLens: true,
  pythonInterpreter: '', probeSteps: SETTINGS_SCHEMA['regscope.probe.steps'].default, probeEngine: 'auto', probeDataFile: '', probeMetrics: ALL_PROBE_METRICS,
  remote: { host: '', hosts: [], python: 'python3', dir: '', gpus: '0', keep: false, sshConfig: '' },
  slurm: {},
};

/** The ssh engine's settings (regscope.remote.*). */
export interface RemoteSettings {
  readonly host: string;
  readonly hosts: readonly string[];
  readonly python: string;
  readonly dir: string;
  readonly gpus: string;
  readonly keep: boolean;
  readonly sshConfig: string;
}

/**
 * The `regscope` section as the client sends it (nested: `{select, inlayHints: {enabled}}`).
 * Invalid values fall back to defaults and produce a message naming the setting.
 */
export function readEditorSettings(raw: unknown): { settings: EditorSettings; problems: string[] } {
  const problems: string[] = [];
  const obj = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const strings = (key: 'select' | 'ignore'): string[] => {
    const v = obj[key];
    if (v === undefined || v === null) return [];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.map((x) => x.toUpperCase());
    problems.push(`regscope.${key} must be a list of rule ids, e.g. ["WD001", "LOOP"]; ignoring it`);
    return [];
  };
  const severity: Record<string, Severity | 'off'> = {};
  const sev = obj.severity;
  const allowed = SETTINGS_SCHEMA['regscope.severity'].additionalProperties.enum as readonly string[];
  if (sev !== undefined && sev !== null) {
    if (typeof sev === 'object' && !Array.isArray(sev)) {
      for (const [id, s] of Object.entries(sev)) {
        if (typeof s === 'string' && allowed.includes(s)) severity[id.toUpperCase()] = s as Severity | 'off';
        else problems.push(`regscope.severity.${id} must be one of ${allowed.join(', ')}; ignoring it`);
      }
    } else problems.push('regscope.severity must be an object of rule id → severity; ignoring it');
  }
  const rules: Record<string, Record<string, unknown>> = {};
  const r = obj.rules;
  if (r !== undefined && r !== null) {
    if (typeof r === 'object' && !Array.isArray(r)) {
      for (const [id, opts] of Object.entries(r)) {
        if (typeof opts === 'object' && opts !== null && !Array.isArray(opts)) rules[id.toUpperCase()] = opts as Record<string, unknown>;
        else problems.push(`regscope.rules.${id} must be an object of thresholds; ignoring it`);
      }
    } else problems.push('regscope.rules must be an object; ignoring it');
  }
  const flag = (section: string, fallback: boolean): boolean => {
    const v = (obj[section] as Record<string, unknown> | undefined)?.enabled;
    if (v === undefined) return fallback;
    if (typeof v === 'boolean') return v;
    problems.push(`regscope.${section}.enabled must be true or false; using ${fallback}`);
    return fallback;
  };
  const python = obj.python as Record<string, unknown> | undefined;
  let pythonInterpreter = '';
  if (python?.interpreter !== undefined && python.interpreter !== null) {
    if (typeof python.interpreter === 'string') pythonInterpreter = python.interpreter.trim();
    else problems.push('regscope.python.interpreter must be a path; ignoring it');
  }
  const probe = obj.probe as Record<string, unknown> | undefined;
  let probeSteps = DEFAULT_EDITOR_SETTINGS.probeSteps;
  if (probe?.steps !== undefined) {
    if (typeof probe.steps === 'number' && Number.isInteger(probe.steps) && probe.steps >= 1) probeSteps = probe.steps;
    else problems.push(`regscope.probe.steps must be a whole number ≥ 1; using ${probeSteps}`);
  }
  let probeEngine: 'auto' | 'python' | 'tfjs' | 'ssh' | 'slurm' = 'auto';
  if (probe?.engine !== undefined) {
    if (probe.engine === 'auto' || probe.engine === 'python' || probe.engine === 'tfjs' || probe.engine === 'ssh' || probe.engine === 'slurm') probeEngine = probe.engine;
    else problems.push('regscope.probe.engine must be auto, python, tfjs, ssh or slurm; using auto');
  }
  const s0 = (obj.slurm ?? {}) as Record<string, unknown>;
  const slurm: Record<string, string> = {};
  for (const key of ['partition', 'gres', 'time', 'account']) {
    const v = s0[key];
    if (typeof v === 'string' && v.trim()) slurm[key] = v.trim();
    else if (v !== undefined && v !== null && typeof v !== 'string') problems.push(`regscope.slurm.${key} must be a string; ignoring it`);
  }
  const r0 = (obj.remote ?? {}) as Record<string, unknown>;
  const text = (key: string, fallback: string): string => {
    const v = r0[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'string') return v.trim();
    problems.push(`regscope.remote.${key} must be a string; using "${fallback}"`);
    return fallback;
  };
  const hosts = Array.isArray(r0.hosts) ? r0.hosts.filter((h): h is string => typeof h === 'string' && h.trim() !== '').map((h) => h.trim()) : [];
  if (r0.hosts !== undefined && !Array.isArray(r0.hosts)) problems.push('regscope.remote.hosts must be a list of hosts; ignoring it');
  const remote: RemoteSettings = {
    host: text('host', ''), hosts, python: text('python', 'python3') || 'python3', dir: text('dir', ''), gpus: text('gpus', '0'),
    keep: r0.keep === true, sshConfig: text('sshConfig', ''),
  };
  let probeDataFile = '';
  if (probe?.dataFile !== undefined && probe.dataFile !== null) {
    if (typeof probe.dataFile === 'string') probeDataFile = probe.dataFile.trim();
    else problems.push('regscope.probe.dataFile must be a path; ignoring it');
  }
  let probeMetrics: readonly ProbeMetric[] = ALL_PROBE_METRICS;
  if (probe?.metrics !== undefined) {
    const m = probe.metrics;
    if (Array.isArray(m) && m.every((x) => (ALL_PROBE_METRICS as readonly unknown[]).includes(x))) probeMetrics = m as ProbeMetric[];
    else problems.push(`regscope.probe.metrics must list some of ${ALL_PROBE_METRICS.join(', ')}; using all`);
  }
  return {
    settings: {
      select: strings('select'), ignore: strings('ignore'), severity, rules, inlayHints: flag('inlayHints', true), codeLens: flag('codeLens', true),
      pythonInterpreter, probeSteps, probeEngine, probeDataFile, probeMetrics, remote, slurm,
    },
    problems,
  };
}
