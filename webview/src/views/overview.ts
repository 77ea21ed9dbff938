/** Overview: status and progress, measured hyperparameters beside where the script sets them, findings, loss and lr curves. */
import type { ScriptRef } from '../../../server/src/protocol';
import { chart } from '../charts/chartFrame';
import { drawLineChart } from '../charts/lineChart';
import { num, seconds, withUncertainty } from '../format';
import { dataString, latest } from '../runView';
import { tag } from '../ui';
import { card, empty, h, lineLink, section, type ViewContext } from './viewContext';

export function renderOverview(root: HTMLElement, ctx: ViewContext): void {
  const run = ctx.run;
  const r = run.bundle.record;
  const status = h('div', { class: 'status-row' }, tag(run.status === 'running' ? 'running' : run.status), h('span', { class: 'run-id' }, r.id));
  const meta = h('dl', { class: 'meta' });
  const add = (k: string, v: string | Node): void => { meta.append(h('dt', {}, k), h('dd', {}, v)); };
  add('script', r.script + (r.args.length ? ` ${r.args.join(' ')}` : ''));
  // The engine's reason names the interpreter it chose first, then every one it passed over.
  const [chosen, ...passed] = (r.engineReason || r.engine).split('; ');
  add('engine', passed.length ? h('details', {}, h('summary', {}, chosen!), h('span', { class: 'muted' }, `also considered: ${passed.join('; ')}`)) : chosen!);
  if (run.runtime) add('runtime', run.runtime);
  else if (run.device) add('device', run.device);
  if (run.torch) add('torch', run.torch);
  const sch = r.scheduler;
  if (sch) add('Slurm', `job ${sch.jobId} ${sch.state}${sch.nodes ? ` on ${sch.nodes}` : ''}${sch.exitCode ? ` (exit ${sch.exitCode})` : ''} · queued ${seconds(sch.queueSeconds)}${sch.runSeconds === null ? '' : ` · ran ${seconds(sch.runSeconds)}`}`);
  add('started', new Date(r.startedAt).toLocaleString());
  if (run.done) add('took', `${seconds(run.done.seconds)} · ${run.done.steps} steps · ${run.done.cost.hvps} HVPs, ${run.done.cost.passes} passes`);
  root.append(section('Run', status, meta));
  if (r.engine === 'tfjs') {
    // Every number of this run describes a rebuilt model on synthetic data: say so first.
    root.append(h('p', { class: 'surrogate-note', role: 'note' }, 'Surrogate run: the embedded engine rebuilt the script’s model and trained it on synthetic data. The numbers describe that surrogate; probe with a Python that has torch for the script’s own run.'));
  }

  if (run.status === 'running') {
    const step = run.steps.at(-1)?.step ?? 0;
    const bar = h('progress', { max: String(run.plannedSteps), value: String(step), 'aria-label': `step ${step} of ${run.plannedSteps}` });
    const msg = run.progress ? `${run.progress.phase}: ${run.progress.message ?? `${run.progress.done}/${run.progress.total}`}` : 'starting the script…';
    root.append(h('div', { class: 'progress', role: 'status', 'aria-live': 'polite' }, bar, h('span', {}, `step ${step} of ${run.plannedSteps} · ${msg}`)));
  }

  const findings = r.findings;
  const fsec = section('Findings');
  if (!findings.length) fsec.append(empty(run.status === 'running' ? 'Findings appear when the run ends.' : 'No probe findings: every measured quantity is inside its threshold.'));
  else {
    const table = h('table', { class: 'findings' }, h('thead', {}, h('tr', {}, h('th', {}, 'rule'), h('th', {}, 'finding'), h('th', {}, 'measured'), h('th', {}, 'threshold'), h('th', {}, 'where'))));
    const body = h('tbody');
    for (const f of findings) {
      const ref: ScriptRef | undefined = f.line ? { line: f.line, column: f.column } : undefined;
      body.append(h('tr', { class: `sev-${f.severity}` }, h('td', {}, h('span', { class: `sev ${f.severity}` }, f.severity), ` ${f.rule}`), h('td', {}, f.message), h('td', { class: 'num' }, num(f.measured)), h('td', { class: 'num' }, num(f.threshold)), h('td', {}, lineLink(ctx, ref))));
    }
    table.append(body);
    fsec.append(table);
  }
  root.append(fsec);
  root.append(section('Hyperparameters as the optimizer held them', hparamTable(ctx)));

  const steps = run.steps;
  if (steps.length) {
    root.append(h('div', { class: 'grid2' },
      chart({
        id: 'loss', title: 'Training loss of the probe steps', height: 240,
        description: `Loss at each of ${steps.length} optimizer steps; last ${num(steps.at(-1)!.loss)}.`,
        toggles: [{ key: 'log', label: 'log y', initial: false }],
        draw: (svg, size, o, t) => drawLineChart(svg, size, { xLabel: 'step', yLabel: 'loss', xInteger: true, series: [{ name: 'loss', points: steps.map((s) => ({ x: s.step, y: s.loss })) }] }, { yLog: o['log'] }, t),
        table: () => ({ header: ['step', 'loss', 'lr', 'grad_norm', 'update_ratio', 'seconds'], rows: steps.map((s) => [s.step, s.loss, s.lr, s.gradNorm, s.updateRatio ?? null, s.seconds]) }),
        data: () => steps,
      }, ctx.chart),
      chart({
        id: 'lr', title: 'Learning rate', height: 240,
        description: `Learning rate of the first parameter group at each step; last ${num(steps.at(-1)!.lr)}.`,
        toggles: [{ key: 'log', label: 'log y', initial: false }],
        draw: (svg, size, o, t) => drawLineChart(svg, size, { xLabel: 'step', yLabel: 'learning rate', xInteger: true, series: [{ name: 'lr', points: steps.map((s) => ({ x: s.step, y: s.lr })), color: 1 }] }, { yLog: o['log'] }, t),
        table: () => ({ header: ['step', 'lr'], rows: steps.map((s) => [s.step, s.lr]) }),
        data: () => steps.map((s) => ({ step: s.step, lr: s.lr })),
      }, ctx.chart)));
  }

  const collapse = latest(run, 'collapse.softmax');
  if (collapse) {
    const risk = dataString(collapse, 'risk') ?? 'low';
    root.append(section('Softmax collapse', h('div', { class: 'cards' },
      card('saturated outputs', num(collapse.value), `risk: ${risk}`, risk === 'high' ? 'bad' : risk === 'rising' ? 'warn' : 'ok'),
      card('logit norm', withUncertainty(collapse.data?.['logitNorm'] as number | undefined)))));
  }

  if (run.warnings.length || run.bundle.problems.length) {
    root.append(section('Warnings', h('ul', { class: 'warnings' }, ...[...run.warnings, ...run.bundle.problems].map((w) => h('li', {}, w)))));
  }
  for (const e of run.errors) {
    root.append(section(`Error (${e.kind})`, h('p', {}, e.message), ...(e.traceback ? [h('pre', { class: 'traceback' }, e.traceback)] : [])));
  }
}

function hparamTable(ctx: ViewContext): HTMLElement {
  const run = ctx.run;
  const anchors = run.bundle.anchors?.hparams ?? {};
  const sources = run.bundle.plan?.hparamSources ?? [];
  const where = (key: string, planName: string, live?: number): Node => {
    const ref = anchors[key];
    const src = sources.find((s) => s.name === planName && s.optimizer === 0);
    const text = ref?.detail ?? src?.text;
    const wrap = h('span', {}, lineLink(ctx, ref ?? (src ? { line: src.line } : undefined)));
    if (text) wrap.append(h('span', { class: 'muted' }, ` ${text}`));
    // The analyzer's value against the optimizer's: a param group, a scheduler or code the
    // analyzer cannot follow can make them differ, and that is worth seeing.
    const written = text ? Number(/^[-+]?[\d.]+(?:e[-+]?\d+)?/i.exec(text)?.[0]) : Number.NaN;
    if (live !== undefined && Number.isFinite(written) && Math.abs(written - live) > 1e-9 * Math.max(Math.abs(live), Math.abs(written))) {
      wrap.append(h('span', { class: 'differs' }, ' · differs at run time (param group, scheduler or code)'));
    }
    return wrap;
  };
  const rows: [string, string, Node][] = [];
  const hp = run.hparams;
  for (const opt of hp?.optimizers ?? []) {
    rows.push([`optimizer ${opt.index}`, opt.class, opt.index === 0 ? where('optimizer', 'optimizer') : document.createTextNode('–')]);
    for (const g of opt.groups) {
      const p = opt.groups.length > 1 ? `group ${g.index} ` : '';
      const main = opt.index === 0 && g.index === 0;
      rows.push([`${p}lr`, num(g.lr), main ? where('lr', 'lr', g.lr) : document.createTextNode('–')]);
      if (g.momentum !== undefined) rows.push([`${p}momentum`, num(g.momentum) + (g.nesterov ? ' (Nesterov)' : ''), main ? where('momentum', 'momentum') : document.createTextNode('–')]);
      if (g.betas) rows.push([`${p}betas`, g.betas.map((b) => num(b)).join(', '), main ? where('betas', 'betas') : document.createTextNode('–')]);
      if (g.eps !== undefined) rows.push([`${p}eps`, num(g.eps), main ? where('eps', 'eps') : document.createTextNode('–')]);
      if (g.weightDecay !== undefined) rows.push([`${p}weight decay`, num(g.weightDecay), main ? where('weightDecay', 'weight_decay', g.weightDecay) : document.createTextNode('–')]);
      rows.push([`${p}parameters`, g.numel.toLocaleString('en-US'), document.createTextNode('')]);
    }
  }
  const bs = latest(run, 'noise.scale')?.data?.['batchSize'];
  if (typeof bs === 'number') rows.push(['batch size', String(bs), where('batchSize', 'batch_size')]);
  if (!rows.length) return empty('The optimizer has not stepped yet.');
  const table = h('table', { class: 'hparams' }, h('thead', {}, h('tr', {}, h('th', {}, 'hyperparameter'), h('th', {}, 'at run time'), h('th', {}, 'set in the script'))));
  const body = h('tbody');
  for (const [k, v, w] of rows) body.append(h('tr', {}, h('th', { scope: 'row' }, k), h('td', { class: 'num' }, v), h('td', {}, w)));
  table.append(body);
  return table;
}
