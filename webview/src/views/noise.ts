/** Gradient noise: covariance spectrum per layer, noise scale against the batch size, GSNR, tail index. */
import { barChartHeight, drawBarChart } from '../charts/barChart';
import { chart } from '../charts/chartFrame';
import { drawLineChart, type Series } from '../charts/lineChart';
import { num, withUncertainty } from '../format';
import { dataArray, dataNumber, latest } from '../runView';
import { card, costText, empty, h, section, type ViewContext } from './viewContext';

interface LayerSpectrum { readonly name: string; readonly eigenvalues: number[]; readonly spike?: number }

export function renderNoise(root: HTMLElement, ctx: ViewContext): void {
  const run = ctx.run;
  const scale = latest(run, 'noise.scale');
  const spectrum = latest(run, 'noise.spectrum');
  const gsnr = latest(run, 'noise.gsnr');
  const tail = latest(run, 'noise.tail_index');
  const align = latest(run, 'noise.alignment');
  if (!scale && !spectrum && !gsnr) {
    root.append(empty(run.status === 'running' ? 'Gradient noise is measured at the last probe step…' : 'This run measured no gradient noise (add "noise" to the metrics; it needs the loss closure).'));
    return;
  }
  const batch = dataNumber(scale, 'batchSize');
  const alpha = tail?.value ?? null;
  root.append(h('div', { class: 'cards' },
    card('gradient noise scale B_noise', withUncertainty(scale?.value, scale?.uncertainty), scale?.value === null ? String(scale?.data?.['reason'] ?? '') : `batch size ${num(batch)} · ${costText(scale?.cost)}`),
    card('spike score λ₁/median', num(spectrum?.value), 'of the noise covariance'),
    card('mean GSNR', num(gsnr?.value), 'signal-to-noise per parameter'),
    card('tail index α', num(alpha), alpha === null ? undefined : alpha < 2 ? 'heavy-tailed (α < 2)' : 'Gaussian-like (α = 2)', alpha !== null && alpha < 1.5 ? 'warn' : undefined),
    ...(align ? [card(`‖g‖² in top-${num(align.data?.['k'] as number)} eigenspace`, num(align.value))] : [])));

  if (spectrum) {
    const layers: LayerSpectrum[] = [];
    const raw = spectrum.data?.['layers'];
    if (Array.isArray(raw)) for (const l of raw as { name?: string; eigenvalues?: number[] }[]) {
      if (typeof l.name === 'string' && Array.isArray(l.eigenvalues)) layers.push({ name: l.name, eigenvalues: l.eigenvalues, spike: spectrum.layers?.find((x) => x.name === l.name)?.value ?? undefined });
    }
    const whole = dataArray(spectrum, 'eigenvalues');
    const series: Series[] = [
      { name: `whole model (spike ${num(spectrum.value, 3)})`, points: whole.map((y, i) => ({ x: i + 1, y })), markers: true },
      ...layers.map((l, i) => ({ name: `${l.name} (spike ${num(l.spike ?? null, 3)})`, color: i + 1, dashed: true, points: l.eigenvalues.map((y, k) => ({ x: k + 1, y })) })),
    ];
    root.append(section('Noise covariance spectrum',
      chart({
        id: 'noise-spectrum', title: 'Eigenvalues of the gradient noise covariance',
        description: `Eigenvalues of the covariance of ${num(dataNumber(spectrum, 'microBatches'))} micro-batch gradients, by rank, for the whole model and each layer. A spike score (λ₁ over the median) far above 1 means the noise is concentrated in a few directions.`,
        toggles: [{ key: 'logx', label: 'log x', initial: true }, { key: 'logy', label: 'log y', initial: true }],
        draw: (svg, size, o, t) => drawLineChart(svg, size, { xLabel: 'rank', yLabel: 'eigenvalue', series }, { xLog: o['logx'], yLog: o['logy'] }, t),
        table: () => ({ header: ['scope', 'rank', 'eigenvalue'], rows: [...whole.map((y, i) => ['model', i + 1, y] as (string | number)[]), ...layers.flatMap((l) => l.eigenvalues.map((y, i) => [l.name, i + 1, y]))] }),
        data: () => spectrum.data,
      }, ctx.chart)));
  }

  if (scale && typeof scale.value === 'number' && batch) {
    const bn = scale.value;
    const lo = scale.uncertainty?.low;
    const hi = scale.uncertainty?.high;
    const bs: number[] = [];
    for (let e = -3; e <= 3; e += 0.1) bs.push(Math.max(1, Math.round(bn * 10 ** e)));
    bs.push(batch);
    const uniq = [...new Set(bs)].sort((a, b) => a - b);
    const eff = (b: number, n: number): number => b / (b + n);
    root.append(section('Gradient noise scale against the batch size',
      chart({
        id: 'noise-scale', title: 'Per-step progress relative to a noiseless gradient',
        description: `B/(B + B_noise): the share of a full-batch step that a step with batch size B achieves (McCandlish et al.). B_noise = ${withUncertainty(bn, scale.uncertainty)}; the script uses B = ${batch}. Far below B_noise a larger batch is almost free speed-up; far above it, extra examples are wasted.`,
        draw: (svg, size, _o, t) => drawLineChart(svg, size, {
          xLabel: 'batch size B', yLabel: 'B / (B + B_noise)',
          series: [{ name: 'efficiency', band: lo !== undefined && hi !== undefined, markers: false, points: uniq.map((b) => ({ x: b, y: eff(b, bn), ...(lo !== undefined && hi !== undefined ? { lo: eff(b, Math.max(hi, 1e-12)), hi: eff(b, Math.max(lo, 1e-12)) } : {}) })) }],
          vlines: [{ at: batch, label: `batch size ${batch}`, color: 'red', id: 'batch' }, { at: bn, label: 'B_noise', color: 'muted', id: 'bnoise' }],
        }, { xLog: true }, t),
        table: () => ({ header: ['batch_size', 'efficiency', 'efficiency_low', 'efficiency_high'], rows: uniq.map((b) => [b, eff(b, bn), hi !== undefined ? eff(b, hi) : null, lo !== undefined ? eff(b, Math.max(lo, 1e-12)) : null]) }),
        data: () => scale.data,
      }, ctx.chart)));
  }

  if (gsnr?.layers?.length) {
    const layers = gsnr.layers;
    root.append(section('Gradient signal-to-noise by layer',
      chart({
        id: 'gsnr', title: 'GSNR per layer', height: barChartHeight(layers.length),
        description: 'Mean over each layer’s parameters of E[g]² / Var[g] across micro-batches. Layers with a very low GSNR learn mostly noise at this batch size.',
        toggles: [{ key: 'log', label: 'log x', initial: true }],
        draw: (svg, size, o, t) => drawBarChart(svg, size, { valueLabel: 'GSNR', bars: layers.map((l) => ({ label: l.name, value: l.value, activate: ctx.reveal(run.bundle.anchors?.layers[l.name]) })) }, { log: o['log'] }, t),
        table: () => ({ header: ['layer', 'gsnr'], rows: layers.map((l) => [l.name, l.value]) }),
        data: () => layers,
      }, ctx.chart)));
  }
  if (tail) root.append(h('p', { class: 'muted' }, `Tail index α = ${num(tail.value)} from ${num(dataNumber(tail, 'samples'))} gradient-noise samples (estimator of Mohammadi et al.; α = 2 is Gaussian, smaller is heavier-tailed).`));
}
