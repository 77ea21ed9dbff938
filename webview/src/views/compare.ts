/** Compare: stored runs side by side (lr 1e-3 against 3e-3, before and after a fix). */
import type { RunBundle } from '../../../server/src/protocol';
import { barChartHeight, drawBarChart } from '../charts/barChart';
import { chart } from '../charts/chartFrame';
import { drawContourChart, type TrajectoryPoint } from '../charts/contourChart';
import { drawLineChart } from '../charts/lineChart';
import { num } from '../format';
import { toGrid } from '../landscapeData';
import { dataNumber, deriveRun, latest, type RunView } from '../runView';
import { button, checkbox } from '../ui';
import { empty, h, section, type ViewContext } from './viewContext';
import { directionLabels } from './landscape';

/** A short label: script, the args that differ, and the time. */
export function runLabel(r: RunView, all: readonly RunView[]): string {
  const sameScript = all.every((x) => x.scriptName === r.scriptName);
  const args = r.bundle.record.args.join(' ');
  const time = r.bundle.record.startedAt.slice(11, 19);
  return [sameScript ? '' : r.scriptName, args, all.filter((x) => x.scriptName === r.scriptName && x.bundle.record.args.join(' ') === args).length > 1 || !args ? time : ''].filter(Boolean).join(' ');
}

interface Row { readonly label: string; readonly value: (r: RunView) => number | null | undefined }

const ROWS: readonly Row[] = [
  { label: 'final loss', value: (r) => r.steps.at(-1)?.loss },
  { label: 'learning rate', value: (r) => r.steps.at(-1)?.lr },
  { label: 'λ₁', value: (r) => latest(r, 'hessian.top')?.value },
  { label: 'λ₁ / threshold', value: (r) => latest(r, 'stability.sharpness')?.value },
  { label: 'tr(H)', value: (r) => latest(r, 'hessian.trace')?.value },
  { label: 'B_noise', value: (r) => latest(r, 'noise.scale')?.value },
  { label: 'batch size', value: (r) => dataNumber(latest(r, 'noise.scale'), 'batchSize') },
  { label: 'tail index α', value: (r) => latest(r, 'noise.tail_index')?.value },
  { label: 'weights median α', value: (r) => latest(r, 'weights.alpha')?.value },
  { label: 'update/weight', value: (r) => latest(r, 'weights.update_ratio')?.value },
  { label: 'findings', value: (r) => r.bundle.record.findings.length },
];

export function renderCompare(root: HTMLElement, ctx: ViewContext, request: (runDirs: string[]) => void): void {
  const self = ctx.run;
  if (ctx.host.kind === 'vscode') {
    const chosen = new Set(ctx.getUi<readonly string[]>('compare.runs', []));
    const others = ctx.listed.filter((r) => r.runDir !== self.bundle.runDir);
    const picker = section('Runs to compare');
    if (!others.length) picker.append(empty('No other stored runs in this workspace yet. Probe the script again with another setting to compare.'));
    const list = h('div', { class: 'run-list', role: 'group', 'aria-label': 'Stored runs' });
    for (const r of others.slice(0, 50)) {
      list.append(h('div', {}, checkbox(`${r.id} · ${r.status}${r.args.length ? ` · ${r.args.join(' ')}` : ''}`, chosen.has(r.runDir), (on) => {
        if (on) chosen.add(r.runDir); else chosen.delete(r.runDir);
        ctx.setUi('compare.runs', [...chosen]);
      })));
    }
    picker.append(list, button('Compare', () => request([...chosen])));
    root.append(picker);
  }
  const bundles: RunBundle[] = [self.bundle, ...ctx.compared.filter((b) => b.runDir !== self.bundle.runDir)];
  if (bundles.length < 2) {
    root.append(empty(ctx.host.kind === 'vscode' ? 'Pick one or more runs above and press Compare.' : 'This report holds one run; `regscope report RUN_DIR RUN_DIR… --html` puts several side by side.'));
    return;
  }
  const runs = bundles.map((b) => (b === self.bundle ? self : deriveRun(b)));
  const labels = runs.map((r) => runLabel(r, runs) || r.id);

  const table = h('table', { class: 'compare' }, h('thead', {}, h('tr', {}, h('th', {}, ''), ...labels.map((l) => h('th', { scope: 'col' }, l)))));
  const body = h('tbody');
  for (const row of ROWS) {
    const vals = runs.map(row.value);
    if (vals.every((v) => v === null || v === undefined)) continue;
    body.append(h('tr', {}, h('th', { scope: 'row' }, row.label), ...vals.map((v) => h('td', { class: 'num' }, num(v ?? null)))));
  }
  table.append(body);
  root.append(section('Side by side', table));

  root.append(h('div', { class: 'grid2' },
    chart({
      id: 'compare-loss', title: 'Loss of each run', height: 260,
      description: `Training loss over the probe steps of ${runs.length} runs.`,
      toggles: [{ key: 'log', label: 'log y', initial: false }],
      draw: (svg, size, o, t) => drawLineChart(svg, size, { xLabel: 'step', yLabel: 'loss', xInteger: true, series: runs.map((r, i) => ({ name: labels[i]!, points: r.steps.map((s) => ({ x: s.step, y: s.loss })) })) }, { yLog: o['log'] }, t),
      table: () => ({ header: ['run', 'step', 'loss'], rows: runs.flatMap((r) => r.steps.map((s) => [r.id, s.step, s.loss])) }),
      data: () => runs.map((r) => ({ id: r.id, steps: r.steps })),
    }, ctx.chart),
    chart({
      id: 'compare-stability', title: 'Sharpness over its threshold', height: barChartHeight(runs.length) + 14,
      description: 'λ₁ divided by the stability threshold of each run’s optimizer (2/η for GD); at 1 and above the run is at the edge of stability.',
      draw: (svg, size, _o, t) => drawBarChart(svg, size, { valueLabel: 'λ₁ / threshold', band: { lo: 0, hi: 1, label: 'stable below 1' }, bars: runs.map((r, i) => ({ label: labels[i]!, value: latest(r, 'stability.sharpness')?.value ?? null })) }, {}, t),
      table: () => ({ header: ['run', 'ratio'], rows: runs.map((r) => [r.id, latest(r, 'stability.sharpness')?.value ?? null]) }),
      data: () => runs.map((r) => ({ id: r.id, stability: latest(r, 'stability.sharpness')?.data })),
    }, ctx.chart)));

  const thumbs = h('div', { class: 'thumbs' });
  runs.forEach((r, i) => {
    const m = latest(r, 'landscape.2d');
    const grid = toGrid(m?.data);
    if (!m || !grid) return;
    const [xl, yl] = directionLabels(typeof m.data?.['directions'] === 'string' ? (m.data['directions'] as string) : undefined);
    thumbs.append(chart({
      id: `compare-landscape-${i}`, title: labels[i]!, height: 320,
      description: `Loss landscape of ${r.id}.`,
      draw: (svg, size, _o, t) => drawContourChart(svg, size, { grid, trajectory: (m.data?.['trajectory'] as TrajectoryPoint[] | undefined) ?? [], xLabel: xl, yLabel: yl, refining: false }, { logLevels: true }, t),
      table: () => ({ header: ['a', 'b', 'loss'], rows: grid.loss.flatMap((row, j) => row.map((v, k) => [grid.xs[k]!, grid.ys[j]!, v])) }),
      data: () => m.data,
    }, ctx.chart));
  });
  if (thumbs.childElementCount) root.append(section('Landscapes', thumbs));
}
