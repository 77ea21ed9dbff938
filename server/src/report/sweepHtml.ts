/**
 * A sweep's report: one self-contained HTML page, no script, a strict CSP. Heatmaps over the grid
 * (the first axis down, the second across, one grid per value of any further axes) of the final
 * loss, sharpness against the optimizer's stability threshold (2/η for plain SGD), the gradient
 * noise scale, and a thumbnail of each point's loss landscape. A point that failed shows as
 * failed, with its error; the others still show. Pure: a record in, a string out.
 */
import { randomBytes } from 'node:crypto';
import { interpolateRdBu, interpolateViridis } from 'd3-scale-chromatic';
import type { SweepPoint, SweepRecord } from '../protocol';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
const fmt = (x: number | null): string => (x === null ? '–' : Math.abs(x) >= 1000 || (Math.abs(x) < 0.01 && x !== 0) ? x.toExponential(2) : Number(x.toPrecision(3)).toString());

interface MetricView {
  readonly title: string;
  readonly note: string;
  readonly value: (p: SweepPoint) => number | null;
  /** A colour for a value, given the finite values of the grid. */
  readonly color: (x: number, all: readonly number[]) => string;
}

const logSpan = (all: readonly number[]): [number, number] => {
  const pos = all.filter((x) => x > 0).map(Math.log10);
  return pos.length ? [Math.min(...pos), Math.max(...pos)] : [0, 1];
};
const unit = (x: number, lo: number, hi: number): number => (hi > lo ? (x - lo) / (hi - lo) : 0.5);

const METRICS: readonly MetricView[] = [
  {
    title: 'Final training loss', note: 'at the last probe step (lower is darker)',
    value: (p) => p.finalLoss,
    color: (x, all) => interpolateViridis(unit(x, Math.min(...all), Math.max(...all))),
  },
  {
    title: 'Sharpness / stability threshold', note: 'λ₁ against 2/η (or its momentum or Adam form): red above 1 is past the edge of stability, blue is well inside',
    value: (p) => p.sharpnessRatio,
    // Diverging around 1 on a log scale, saturating at 10× either way.
    color: (x) => interpolateRdBu(0.5 - Math.max(-1, Math.min(1, Math.log10(Math.max(x, 1e-12)))) / 2),
  },
  {
    title: 'Gradient noise scale B_noise', note: 'the batch size past which larger batches stop helping (log colour scale)',
    value: (p) => p.noiseScale,
    color: (x, all) => { const [lo, hi] = logSpan(all); return interpolateViridis(unit(Math.log10(Math.max(x, 1e-12)), lo, hi)); },
  },
];

export function sweepHtml(record: SweepRecord, title = `RegScope sweep of ${record.script.split(/[\\/]/).pop()}`): string {
  const nonce = randomBytes(16).toString('base64');
  const [rows, cols, ...rest] = record.axes;
  const facets = facetValues(rest);
  const failed = record.points.filter((p) => p.status !== 'ok');
  const body: string[] = [];
  body.push(`<h1>${esc(title)}</h1>`);
  body.push(`<p class="meta">${esc(record.script)} ${esc(record.args.join(' '))}<br>${record.axes.map((a) => `<b>${esc(a.key)}</b> ∈ {${a.values.map(String).join(', ')}} via <code>${esc(a.via)}</code>`).join('; ')}<br>${esc(record.engineReason)} · status <b>${esc(record.status)}</b> · ${record.points.filter((p) => p.status === 'ok').length} of ${record.points.length} points finished · ${record.seconds.toFixed(1)} s${record.scheduler ? ` · Slurm job ${esc(record.scheduler.jobId)}: queued ${fmt(record.scheduler.queueSeconds)} s, ran ${fmt(record.scheduler.runSeconds)} s` : ''}</p>`);
  for (const m of METRICS) {
    body.push(`<h2>${esc(m.title)}</h2><p class="note">${esc(m.note)}</p>`);
    for (const f of facets) body.push(grid(record, rows!, cols, f, (p) => valueCell(p, m, record.points)));
  }
  body.push('<h2>Loss landscapes</h2><p class="note">the loss on a plane of two random filter-normalized directions around each point’s final weights (each thumbnail on its own colour scale)</p>');
  for (const f of facets) body.push(grid(record, rows!, cols, f, landscapeCell));
  if (failed.length) {
    body.push('<h2>Points that did not finish</h2><ul>');
    for (const p of failed) body.push(`<li><b>${esc(describe(p))}</b>: ${esc(p.status)}${p.error ? ` — ${esc(p.error)}` : ''}${p.runId ? ` (run ${esc(p.runId)})` : ''}</li>`);
    body.push('</ul>');
  }
  body.push('<h2>Points</h2><table class="list"><tr><th>point</th><th>status</th><th>final loss</th><th>sharpness / threshold</th><th>B_noise</th><th>run</th></tr>');
  for (const p of record.points) body.push(`<tr><td>${esc(describe(p))}</td><td>${esc(p.status)}</td><td>${fmt(p.finalLoss)}</td><td>${fmt(p.sharpnessRatio)}</td><td>${fmt(p.noiseScale)}</td><td>${esc(p.runId ?? '–')}${p.task ? ` (task ${esc(p.task)})` : ''}</td></tr>`);
  body.push('</table>');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${nonce}'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style nonce="${nonce}">
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2328; background: #fff; }
@media (prefers-color-scheme: dark) { body { color: #e6edf3; background: #0d1117; } table.grid th { color: #9198a1; } }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; } .meta, .note { color: #59636e; } code { font-size: 12px; }
table.grid { border-collapse: separate; border-spacing: 3px; margin: 8px 0 16px; }
table.grid th { font-weight: 500; font-size: 12px; color: #59636e; padding: 2px 6px; }
table.grid td { width: 92px; height: 56px; text-align: center; font-variant-numeric: tabular-nums; border-radius: 4px; }
td.failed { background: repeating-linear-gradient(45deg, #8884 0 6px, transparent 6px 12px); color: #b42318; font-size: 12px; }
td.pending { color: #59636e; font-size: 12px; }
table.list { border-collapse: collapse; } table.list td, table.list th { border-bottom: 1px solid #8884; padding: 3px 10px; text-align: left; }
.facet { font-size: 12px; color: #59636e; }
</style></head>
<body>
${body.join('\n')}
</body></html>
`;
}

const describe = (p: SweepPoint): string => Object.entries(p.values).map(([k, v]) => `${k}=${v}`).join(', ');

/** Every combination of the axes beyond the first two (one grid each); [{}] when there are none. */
function facetValues(rest: readonly SweepRecord['axes'][number][]): Record<string, number>[] {
  let out: Record<string, number>[] = [{}];
  for (const a of rest) out = out.flatMap((f) => a.values.map((v) => ({ ...f, [a.key]: v })));
  return out;
}

function grid(record: SweepRecord, rows: SweepRecord['axes'][number], cols: SweepRecord['axes'][number] | undefined, facet: Record<string, number>, cell: (p: SweepPoint) => string): string {
  const at = (r: number, c: number | undefined): SweepPoint | undefined => record.points.find((p) =>
    p.values[rows.key] === r && (cols === undefined || p.values[cols.key] === c) && Object.entries(facet).every(([k, v]) => p.values[k] === v));
  const head = Object.keys(facet).length ? `<div class="facet">${esc(Object.entries(facet).map(([k, v]) => `${k}=${v}`).join(', '))}</div>` : '';
  const colValues = cols ? cols.values : [undefined];
  const out = [`${head}<table class="grid"><tr><th>${esc(rows.key)}${cols ? ` ↓ · ${esc(cols.key)} →` : ''}</th>${colValues.map((c) => `<th>${c === undefined ? '' : c}</th>`).join('')}</tr>`];
  for (const r of rows.values) {
    out.push(`<tr><th>${r}</th>${colValues.map((c) => { const p = at(r, c); return p ? cell(p) : '<td></td>'; }).join('')}</tr>`);
  }
  out.push('</table>');
  return out.join('');
}

function statusCell(p: SweepPoint): string | undefined {
  if (p.status === 'ok') return undefined;
  if (p.status === 'pending' || p.status === 'running') return `<td class="pending" title="${esc(p.error ?? p.status)}">${esc(p.status)}</td>`;
  return `<td class="failed" title="${esc(p.error ?? p.status)}">${esc(p.status === 'error' ? 'failed' : p.status)}</td>`;
}

function valueCell(p: SweepPoint, m: MetricView, all: readonly SweepPoint[]): string {
  const s = statusCell(p);
  if (s) return s;
  const v = m.value(p);
  if (v === null) return '<td title="not measured">–</td>';
  const finite = all.map(m.value).filter((x): x is number => x !== null && Number.isFinite(x));
  const bg = m.color(v, finite);
  // An SVG swatch: colours as attributes, which the CSP allows (inline style attributes it does not).
  return `<td title="${esc(describe(p))}: ${fmt(v)}"><svg width="92" height="56" viewBox="0 0 92 56" role="img" aria-label="${esc(fmt(v))}"><rect width="92" height="56" rx="4" fill="${bg}"/><text x="46" y="33" text-anchor="middle" font-size="13" fill="${textOn(bg)}">${fmt(v)}</text></svg></td>`;
}

/** Text colour that reads on a background (`#rrggbb` or `rgb(r, g, b)`, as d3's schemes give them). */
function textOn(color: string): string {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  const [r, g, b] = hex ? hex.slice(1).map((h) => parseInt(h, 16)) : (color.match(/\d+/g) ?? ['0', '0', '0']).map(Number);
  return 0.299 * r! + 0.587 * g! + 0.114 * b! > 140 ? '#111' : '#fff';
}

/** A tiny SVG heatmap of the point's landscape grid (attributes only: no inline style under the CSP). */
function landscapeCell(p: SweepPoint): string {
  const s = statusCell(p);
  if (s) return s;
  // A preview fills every k-th point of the grid: keep the rows and columns that were measured.
  const full = p.landscape?.loss ?? [];
  const rowsKept = full.filter((row) => row.some((v) => typeof v === 'number' && Number.isFinite(v)));
  const colsKept = (full[0] ?? []).map((_, j) => j).filter((j) => full.some((row) => typeof row[j] === 'number' && Number.isFinite(row[j]!)));
  const loss = rowsKept.map((row) => colsKept.map((j) => (typeof row[j] === 'number' ? row[j]! : Number.NaN)));
  if (!loss.length || !colsKept.length) return '<td title="no landscape measured">–</td>';
  const n = loss.length;
  const flat = loss.flat().filter((x) => Number.isFinite(x));
  const lo = Math.min(...flat), hi = Math.max(...flat);
  const size = 80 / Math.max(n, colsKept.length);
  const rects: string[] = [];
  loss.forEach((row, i) => row.forEach((v, j) => {
    const color = Number.isFinite(v) ? interpolateViridis(1 - unit(Math.log10(v - lo + 1e-9), Math.log10(1e-9), Math.log10(hi - lo + 1e-9))) : '#888';
    // Row i is the second direction (y), drawn bottom-up.
    rects.push(`<rect x="${(j * size).toFixed(2)}" y="${((n - 1 - i) * size).toFixed(2)}" width="${(size + 0.05).toFixed(2)}" height="${(size + 0.05).toFixed(2)}" fill="${color}"/>`);
  }));
  return `<td title="${esc(describe(p))}: loss ${fmt(lo)} to ${fmt(hi)}"><svg width="80" height="80" viewBox="0 0 80 80" role="img" aria-label="loss landscape">${rects.join('')}</svg></td>`;
}
