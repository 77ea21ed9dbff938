/** The readable summary `regscope probe` prints: each number with its uncertainty and its cost. */
import type { MetricEvent, ProbeFinding, RunRecord } from '../protocol';
import { numberIn, type RunSummary } from '../probe/runSummary';

export const fmt = (x: number | null | undefined): string => {
  if (x === null || x === undefined || Number.isNaN(x)) return 'n/a';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) return x.toExponential(2);
  return Number(x.toPrecision(4)).toString();
};

const cost = (m: MetricEvent): string => {
  const parts = [];
  if (m.cost.hvps) parts.push(`${m.cost.hvps} HVPs`);
  if (m.cost.passes) parts.push(`${m.cost.passes} passes`);
  parts.push(`${m.cost.seconds.toFixed(2)} s`);
  return `[${parts.join(', ')}]`;
};

const pm = (m: MetricEvent): string => {
  const u = m.uncertainty;
  if (!u) return '';
  if (u.kind === 'ci95' && u.halfWidth !== undefined) return ` ± ${fmt(u.halfWidth)} (95 % CI)`;
  if (u.kind === 'residual' && u.halfWidth !== undefined) return ` (error ≤ ${fmt(u.halfWidth)})`;
  if (u.kind === 'stderr' && u.halfWidth !== undefined) return ` ± ${fmt(u.halfWidth)} (s.e.)`;
  if (u.kind === 'interval90' && u.low !== undefined && u.high !== undefined) return ` (90 % interval ${fmt(u.low)}–${fmt(u.high)})`;
  return '';
};

export function formatProbeSummary(record: RunRecord, summary: RunSummary, findings: readonly ProbeFinding[], displayPath: string): string {
  const lines: string[] = [];
  const hello = summary.hello;
  lines.push(`RegScope probe of ${displayPath}: ${record.status}`);
  lines.push(`  engine    ${record.engineReason}`);
  const sch = record.scheduler;
  if (sch) lines.push(`  slurm     job ${sch.jobId} ${sch.state}${sch.nodes ? ` on ${sch.nodes}` : ''}${sch.exitCode ? ` (exit ${sch.exitCode})` : ''}: queued ${sch.queueSeconds.toFixed(1)} s, ran ${sch.runSeconds === null ? 'not at all' : `${sch.runSeconds.toFixed(1)} s`}`);
  if (hello?.runtime) lines.push(`  runtime   ${hello.runtime}; HVPs ${hello.hvpMethod}`);
  else if (hello) lines.push(`  device    ${hello.device.type} (${hello.device.name}), torch ${hello.torch}, Python ${hello.python}, HVPs by ${hello.hvpMethod}`);
  lines.push(`  budget    ${record.steps} optimizer steps in ${record.cost.seconds.toFixed(1)} s; measurements cost ${summary.cost.hvps} Hessian-vector products and ${summary.cost.passes} forward/backward passes`);
  const opt = summary.hparams?.optimizers[0];
  if (opt) {
    const g = opt.groups[0];
    if (g) {
      const extra = [g.momentum !== undefined ? `momentum ${fmt(g.momentum)}` : '', g.betas ? `betas (${g.betas.map(fmt).join(', ')})` : '', g.weightDecay !== undefined ? `weight_decay ${fmt(g.weightDecay)}` : '']
        .filter(Boolean).join(', ');
      lines.push(`  live      ${opt.class}: lr ${fmt(g.lr)}${extra ? `, ${extra}` : ''} (read from the optimizer at step ${summary.hparams?.step})`);
    }
  }
  const m = (name: string): MetricEvent | undefined => summary.metrics.get(name);
  const row = (label: string, text: string, metric: MetricEvent): void => { lines.push(`  ${label.padEnd(10)}${text}  ${cost(metric)}`); };
  const top = m('hessian.top');
  if (top) {
    const eig = Array.isArray(top.data?.['eigenvalues']) ? (top.data['eigenvalues'] as number[]) : [];
    row('λ₁', `${fmt(top.value)}${pm(top)} at step ${top.step}; top ${eig.length}: ${eig.map(fmt).join(', ')}`, top);
  }
  const trace = m('hessian.trace');
  if (trace) row('tr(H)', `${fmt(trace.value)}${pm(trace)} from ${numberIn(trace.data, 'probes') ?? '?'} Hutchinson probes; per layer: ${(trace.layers ?? []).map((l) => `${l.name} ${fmt(l.value)}`).join(', ')}`, trace);
  const density = m('hessian.density');
  if (density) row('density', `trace implied by the spectral density ${fmt(density.value)}${pm(density)}`, density);
  for (const s of summary.history.filter((h) => h.name.startsWith('stability.') && h.step === (top?.step ?? h.step))) {
    const rule = String(s.data?.['rule'] ?? '');
    const label = rule === 'sgd_trace' ? 'tr(H) vs 2/η' : rule === 'adam' ? 'Adam preconditioned λ₁ vs (2+2β₁)/((1−β₁)η)' : rule === 'momentum' ? 'λ₁ vs (2+2β)/η' : 'λ₁ vs 2/η';
    row('stability', `${label}: ${fmt(numberIn(s.data, 'sharpness') ?? numberIn(s.data, 'trace'))} / ${fmt(numberIn(s.data, 'threshold'))} = ${fmt(s.value)}`, s);
  }
  const timing = m('cost.hvp_ratio');
  if (timing) row('cost', `one HVP = ${fmt(timing.value)}× one forward+backward (${fmt((numberIn(timing.data, 'hvpSeconds') ?? 0) * 1000)} vs ${fmt((numberIn(timing.data, 'forwardBackwardSeconds') ?? 0) * 1000)} ms)`, timing);
  const land = m('landscape.2d');
  if (land) {
    const xs = (land.data?.['xs'] as number[] | undefined) ?? [];
    const loss = (land.data?.['loss'] as (number | null)[][] | undefined) ?? [];
    let best: { v: number; x: number; y: number } | undefined;
    loss.forEach((r, i) => r.forEach((v, j) => { if (v !== null && (!best || v < best.v)) best = { v, x: xs[j] ?? 0, y: xs[i] ?? 0 }; }));
    const n = loss.flat().filter((v) => v !== null).length;
    row('landscape', `centre loss ${fmt(land.value)}; ${n} points (${land.data?.['complete'] ? 'full grid' : 'preview'}); lowest ${fmt(best?.v)} at (${fmt(best?.x)}, ${fmt(best?.y)}) along ${String(land.data?.['directions'])} directions`, land);
  }
  const gns = m('noise.scale');
  if (gns) {
    const reason = typeof gns.data?.['reason'] === 'string' && gns.data['reason'] ? ` (${gns.data['reason']})` : '';
    row('noise', `gradient noise scale B_noise ${fmt(gns.value)}${pm(gns)} vs batch size ${fmt(numberIn(gns.data, 'batchSize'))}${reason}`, gns);
  }
  const spec = m('noise.spectrum');
  if (spec) row('', `noise spectrum spike λ₁/median ${fmt(spec.value)}, λ₁/λ₂ ${fmt(numberIn(spec.data, 'ratio12'))}`, spec);
  const gsnr = m('noise.gsnr');
  if (gsnr) row('', `GSNR ${fmt(gsnr.value)} (micro-batches of ${fmt(numberIn(gsnr.data, 'microBatch'))})`, gsnr);
  const tail = m('noise.tail_index');
  if (tail) row('', `tail index α ${fmt(tail.value)} (2 = Gaussian; lower = heavier tails)`, tail);
  const alpha = m('weights.alpha');
  if (alpha) row('weights', `power-law α median ${fmt(alpha.value)}; per layer: ${(alpha.layers ?? []).map((l) => `${l.name} ${fmt(l.value)}`).join(', ')}`, alpha);
  const upd = m('weights.update_ratio');
  if (upd) row('', `update/weight ratio ${fmt(upd.value)} per step`, upd);
  const col = m('collapse.softmax');
  if (col) row('collapse', `risk ${String(col.data?.['risk'] ?? 'n/a')}; saturated softmax outputs ${fmt((numberIn(col.data, 'saturated') ?? 0) * 100)} %; logit norm ${fmt(numberIn(col.data, 'logitNorm'))}`, col);
  for (const w of record.warnings) lines.push(`  warning   ${w}`);
  if (record.error) lines.push(`  error     ${record.error.kind}: ${record.error.message}`);
  if (findings.length > 0) {
    lines.push('findings');
    for (const f of findings) lines.push(`  ${displayPath}:${f.line ?? '?'}${f.column !== undefined ? `:${f.column + 1}` : ''}  ${f.rule} ${f.severity}  ${f.message}`);
  } else if (record.status === 'ok') {
    lines.push('findings: none (no probe rule fired)');
  }
  return `${lines.join('\n')}\n`;
}
