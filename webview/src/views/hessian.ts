/** Hessian: top eigenvalues against the stability threshold over probe steps, spectral density, per-layer traces. */
import { barChartHeight, drawBarChart } from '../charts/barChart';
import { chart } from '../charts/chartFrame';
import { drawLineChart, type Series } from '../charts/lineChart';
import { num, withUncertainty } from '../format';
import { dataArray, dataNumber, dataString, latest, thresholdLabel } from '../runView';
import { card, costText, empty, h, section, type ViewContext } from './viewContext';

export function renderHessian(root: HTMLElement, ctx: ViewContext): void {
  const run = ctx.run;
  const tops = run.metrics.get('hessian.top') ?? [];
  const stab = run.metrics.get('stability.sharpness') ?? [];
  const top = tops.at(-1);
  const trace = latest(run, 'hessian.trace');
  const st = stab.at(-1);
  const sgd = latest(run, 'stability.sgd_trace');
  if (!top && !trace) {
    root.append(empty(run.status === 'running' ? 'Waiting for the first probe step…' : 'This run measured no curvature (add "hessian" to the metrics).'));
    return;
  }
  const ratio = st?.value ?? null;
  const rule = dataString(st, 'rule');
  root.append(h('div', { class: 'cards' },
    card('λ₁ (sharpness)', withUncertainty(top?.value, top?.uncertainty), costText(top?.cost)),
    card('trace tr(H)', withUncertainty(trace?.value, trace?.uncertainty), costText(trace?.cost)),
    card(`λ₁ / ${thresholdLabel(rule)}`, num(ratio), st ? `${rule === 'adam' ? 'preconditioned ' : ''}sharpness ${num(dataNumber(st, 'sharpness'))} vs ${num(dataNumber(st, 'threshold'))}` : undefined,
      ratio === null ? undefined : ratio >= 1 ? 'bad' : ratio >= 0.5 ? 'warn' : 'ok'),
    ...(sgd ? [card('tr(H) / (2/η)', num(sgd.value), 'SGD noise-driven stability')] : [])));

  // Eigenvalues over probe steps: one series per rank, plus the preconditioned sharpness for Adam.
  const k = Math.max(0, ...tops.map((m) => dataArray(m, 'eigenvalues').length));
  const series: Series[] = [];
  for (let i = 0; i < k; i++) {
    series.push({
      name: `λ${sub(i + 1)}`, markers: true, color: i,
      points: tops.map((m) => {
        const ev = dataArray(m, 'eigenvalues')[i] ?? Number.NaN;
        const res = dataArray(m, 'residuals')[i];
        return { x: m.step, y: Number.isFinite(ev) ? ev : null, ...(res !== undefined ? { lo: ev - res, hi: ev + res } : {}) };
      }),
    });
  }
  if (rule === 'adam') series.push({ name: 'preconditioned λ₁', dashed: true, color: 'red', markers: true, points: stab.map((m) => ({ x: m.step, y: dataNumber(m, 'sharpness') ?? null })) });
  const threshold = dataNumber(st, 'threshold');
  const lr = dataNumber(st, 'lr');
  root.append(section('Sharpness against the stability threshold',
    chart({
      id: 'eigenvalues', title: 'Top Hessian eigenvalues over the probe steps',
      description: `Top ${k} eigenvalues at each probe step (Lanczos, Ritz bounds as bars)${threshold !== undefined ? `; the dashed line is the stability threshold ${thresholdLabel(rule)} = ${num(threshold)} at η = ${num(lr)}` : ''}. Above it, full-batch training with this learning rate cannot stay stable along the top eigenvector.`,
      // Log by default when the threshold is far above the spectrum, so both stay readable.
      toggles: [{ key: 'log', label: 'log y', initial: threshold !== undefined && typeof top?.value === 'number' && top.value > 0 && threshold / top.value > 20 }],
      draw: (svg, size, o, t) => drawLineChart(svg, size, {
        xLabel: 'step', yLabel: 'eigenvalue', xInteger: true, series,
        hlines: threshold !== undefined ? [{ at: threshold, label: thresholdLabel(rule), color: 'red', id: 'threshold' }] : [],
      }, { yLog: o['log'] }, t),
      table: () => ({ header: ['step', 'rank', 'eigenvalue', 'residual'], rows: tops.flatMap((m) => dataArray(m, 'eigenvalues').map((ev, i) => [m.step, i + 1, ev, dataArray(m, 'residuals')[i] ?? null])) }),
      data: () => ({ eigenvalues: tops.map((m) => ({ step: m.step, ...m.data })), stability: stab.map((m) => ({ step: m.step, ...m.data })) }),
    }, ctx.chart)));

  const density = latest(run, 'hessian.density');
  if (density) {
    const grid = dataArray(density, 'grid');
    const dens = dataArray(density, 'density');
    const outliers = dataArray(density, 'outliers');
    root.append(section('Spectral density',
      chart({
        id: 'density', title: 'Hessian eigenvalue density (stochastic Lanczos quadrature)',
        description: `Smoothed density of the Hessian's eigenvalues after deflating the top ${outliers.length} (marked as dashed lines); implied trace ${withUncertainty(density.value, density.uncertainty)}. ${costText(density.cost)}.`,
        toggles: [{ key: 'log', label: 'log y', initial: true }],
        draw: (svg, size, o, t) => {
          const floor = Math.max(...dens.filter(Number.isFinite)) * 1e-7;
          return drawLineChart(svg, size, {
            xLabel: 'eigenvalue', yLabel: 'density',
            series: [{ name: 'bulk density', markers: false, points: grid.map((x, i) => ({ x, y: o['log'] ? Math.max(dens[i]!, floor) : dens[i]! })) }],
            vlines: outliers.map((v, i) => ({ at: v, label: `λ${sub(i + 1)}`, color: 'red' as const })),
          }, { yLog: o['log'] }, t);
        },
        table: () => ({ header: ['eigenvalue', 'density'], rows: grid.map((x, i) => [x, dens[i] ?? null]) }),
        data: () => density.data,
      }, ctx.chart)));
  }

  if (trace?.layers?.length) {
    const layers = trace.layers;
    const estimates = dataArray(trace, 'estimates');
    root.append(section('Curvature by layer',
      chart({
        id: 'layer-trace', title: 'Trace of each layer’s Hessian block', height: barChartHeight(layers.length),
        description: `tr(H) restricted to each layer, with 95 % intervals; click a layer (or press Enter) to go to its definition. Total ${withUncertainty(trace.value, trace.uncertainty)}.`,
        toggles: [{ key: 'log', label: 'log x', initial: false }],
        draw: (svg, size, o, t) => drawBarChart(svg, size, {
          valueLabel: 'tr(H_layer)',
          bars: layers.map((l) => {
            const hw = l.uncertainty?.halfWidth;
            return { label: l.name, value: l.value, ...(hw !== undefined && l.value !== null ? { lo: l.value - hw, hi: l.value + hw } : {}), activate: ctx.reveal(run.bundle.anchors?.layers[l.name]) };
          }),
        }, { log: o['log'] }, t),
        table: () => ({ header: ['layer', 'trace', 'half_width_95'], rows: layers.map((l) => [l.name, l.value, l.uncertainty?.halfWidth ?? null]) }),
        data: () => layers,
      }, ctx.chart)));
    if (estimates.length > 1) {
      root.append(chart({
        id: 'trace-convergence', title: 'Hutchinson trace estimate by number of probes', height: 220,
        description: `Each Rademacher probe's estimate zᵀHz of the trace (dots) and their running mean (line), ${estimates.length} probes; sampling stops when the 95 % interval is within the tolerance or at the probe budget. The final value also adds the exactly computed top-eigenvalue part.`,
        draw: (svg, size, _o, t) => drawLineChart(svg, size, {
          xLabel: 'probes', yLabel: 'tr(H) estimate', xInteger: true,
          series: [
            { name: 'single probe', noLine: true, markers: true, color: 'muted', points: estimates.map((y, i) => ({ x: i + 1, y })) },
            { name: 'running mean', markers: false, points: runningMean(estimates).map((y, i) => ({ x: i + 1, y })) },
          ],
          hlines: trace.value !== null && trace.value !== undefined ? [{ at: trace.value, label: 'reported', color: 'red' }] : [],
        }, {}, t),
        table: () => ({ header: ['probes', 'estimate', 'running_mean'], rows: runningMean(estimates).map((m, i) => [i + 1, estimates[i]!, m]) }),
        data: () => estimates,
      }, ctx.chart));
    }
  }
}

export function sub(n: number): string {
  return String(n).split('').map((d) => '₀₁₂₃₄₅₆₇₈₉'[Number(d)]).join('');
}

function runningMean(xs: readonly number[]): number[] {
  let sum = 0;
  return xs.map((x, i) => (sum += x) / (i + 1));
}
