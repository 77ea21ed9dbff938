/** Weights: per-layer eigenvalue spectra with the fitted power law, α against the 2–6 band, update/weight ratios. */
import { barChartHeight, drawBarChart } from '../charts/barChart';
import { chart } from '../charts/chartFrame';
import { drawLineChart } from '../charts/lineChart';
import { num } from '../format';
import { latest } from '../runView';
import { dropdown } from '../ui';
import { empty, section, type ViewContext } from './viewContext';
import { logHistogram, weightLayers } from '../weightsData';

export function renderWeights(root: HTMLElement, ctx: ViewContext): void {
  const run = ctx.run;
  const alphaM = latest(run, 'weights.alpha');
  const upd = latest(run, 'weights.update_ratio');
  if (!alphaM && !upd) {
    root.append(empty(run.status === 'running' ? 'Weight spectra are measured at the last probe step…' : 'This run measured no weight spectra (add "weights" to the metrics).'));
    return;
  }
  const layers = weightLayers(alphaM?.data);
  if (layers.length) {
    root.append(section('Heavy-tailed self-regularization',
      chart({
        id: 'alpha', title: 'Power-law exponent α of each layer’s eigenvalue spectrum', height: barChartHeight(layers.length) + 14,
        description: `α of the fitted power law p(λ) ∝ λ^(−α) in the tail of each weight matrix's spectrum (median ${num(alphaM?.value)}). Well-trained layers usually sit in 2–6; below 2 suggests over-fitting to a few directions, above 6 an under-trained layer. Click a layer to go to its definition.`,
        draw: (svg, size, _o, t) => drawBarChart(svg, size, { valueLabel: 'α', band: { lo: 2, hi: 6, label: 'usual 2–6' }, bars: layers.map((l) => ({ label: l.layer, value: l.alpha, note: l.skipped ?? (l.ks !== null ? `KS ${num(l.ks, 3)}, tail ${l.nTail}` : undefined), activate: ctx.reveal(run.bundle.anchors?.layers[l.layer]) })) }, {}, t),
        table: () => ({ header: ['layer', 'shape', 'alpha', 'xmin', 'ks', 'n_tail', 'stable_rank', 'spectral_norm'], rows: layers.map((l) => [l.layer, l.shape.join('x'), l.alpha, l.xmin, l.ks, l.nTail, l.stableRank, l.spectralNorm]) }),
        data: () => layers,
      }, ctx.chart)));
    const withSpectrum = layers.filter((l) => l.eigenvalues.length > 2);
    if (withSpectrum.length) {
      const chosen = ctx.getUi<string>('weights.layer', withSpectrum[0]!.layer);
      const l = withSpectrum.find((x) => x.layer === chosen) ?? withSpectrum[0]!;
      const positive = l.eigenvalues.filter((x) => x > 0);
      const hist = logHistogram(positive, Math.min(40, Math.max(8, Math.round(Math.sqrt(positive.length) * 2))));
      // The fitted power law above x_min, scaled by the tail's share of all eigenvalues:
      // density (α−1)/x_min·(x/x_min)^−α, survival (x/x_min)^(1−α).
      const tailShare = l.nTail && l.numEigenvalues ? l.nTail / l.numEigenvalues : 0;
      const fits = l.alpha !== null && l.xmin !== null && l.alpha > 1 && tailShare > 0;
      const tailXs = positive.filter((x) => x >= (l.xmin ?? Infinity));
      const fitDensity = fits ? hist.filter((b) => b.x >= l.xmin!).map((b) => ({ x: b.x, y: (tailShare * (l.alpha! - 1)) / l.xmin! * (b.x / l.xmin!) ** -l.alpha! })) : [];
      const fitCcdf = fits && tailXs.length ? [l.xmin!, Math.max(...tailXs)].map((x) => ({ x, y: tailShare * (x / l.xmin!) ** (1 - l.alpha!) })) : [];
      const sec = section('Eigenvalue spectrum of a layer');
      sec.append(dropdown('layer', withSpectrum.map((x) => ({ value: x.layer, label: `${x.layer} ${x.shape.join('×')}` })), l.layer, (v) => { ctx.setUi('weights.layer', v); }));
      sec.append(chart({
        id: 'esd', title: `Empirical spectral density of ${l.layer} (${l.shape.join('×')})`,
        description: `The ${l.numEigenvalues} eigenvalues of WᵀW/N for ${l.layer}: as a survival function P(λ ≥ x) (a power law is a straight line there) or a log-binned density; dashed: the power law fitted above x_min = ${num(l.xmin)} with α = ${num(l.alpha)}. Stable rank ${num(l.stableRank)}, spectral norm ${num(l.spectralNorm)}.`,
        toggles: [{ key: 'ccdf', label: 'survival P(λ ≥ x)', initial: true }, { key: 'logx', label: 'log x', initial: true }, { key: 'logy', label: 'log y', initial: true }],
        draw: (svg, size, o, t) => drawLineChart(svg, size, {
          xLabel: 'eigenvalue of WᵀW/N', yLabel: o['ccdf'] ? 'P(λ ≥ x)' : 'density',
          series: o['ccdf']
            ? [{ name: 'eigenvalues', markers: positive.length < 60, points: l.eigenvalues.map((x, i) => ({ x, y: l.ccdf[i] ?? null })) }, ...(fitCcdf.length ? [{ name: `power law α = ${num(l.alpha, 3)}`, dashed: true, color: 'red' as const, markers: false, points: fitCcdf }] : [])]
            : [{ name: 'ESD', markers: true, points: hist.map((b) => ({ x: b.x, y: b.density > 0 ? b.density : null })) }, ...(fitDensity.length ? [{ name: `power law α = ${num(l.alpha, 3)}`, dashed: true, color: 'red' as const, markers: false, points: fitDensity }] : [])],
          vlines: l.xmin !== null ? [{ at: l.xmin, label: 'x_min', color: 'muted' as const, id: 'xmin' }] : [],
        }, { xLog: o['logx'], yLog: o['logy'] }, t),
        table: () => ({ header: ['eigenvalue', 'ccdf'], rows: l.eigenvalues.map((v, i) => [v, l.ccdf[i] ?? null]) }),
        data: () => l,
      }, ctx.chart));
      root.append(sec);
    }
  }
  if (upd?.layers?.length) {
    const ls = upd.layers;
    root.append(section('Update size',
      chart({
        id: 'update-ratio', title: '‖Δθ‖ / ‖θ‖ per step, by layer', height: barChartHeight(ls.length) + 14,
        description: `Relative size of one optimizer update of each layer (median ${num(upd.value)}). Around 1e-3 is the common rule of thumb; far above, the layer is thrashing; far below, it barely moves.`,
        toggles: [{ key: 'log', label: 'log x', initial: true }],
        draw: (svg, size, o, t) => drawBarChart(svg, size, { valueLabel: '‖Δθ‖/‖θ‖', band: { lo: 3e-4, hi: 3e-3, label: '≈1e-3 rule of thumb' }, bars: ls.map((l) => ({ label: l.name, value: l.value, activate: ctx.reveal(run.bundle.anchors?.layers[l.name]) })) }, { log: o['log'] }, t),
        table: () => ({ header: ['layer', 'update_ratio'], rows: ls.map((l) => [l.name, l.value]) }),
        data: () => ls,
      }, ctx.chart)));
  }
}
