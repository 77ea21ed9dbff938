/**
 * The frame every chart lives in: a titled figure, its toggles (log axes and the like), export
 * buttons (PNG, SVG, CSV, JSON), a tooltip with exact values that follows the mouse and the
 * keyboard (arrow keys walk the points, Enter follows a point's link), and a text description
 * for screen readers. Charts draw into a fixed 640-wide viewBox that scales with the panel.
 */
import type { Host } from '../host';
import { toCsv } from '../format';
import { button, checkbox } from '../ui';
import { el, readTheme, type Theme } from './svg';

export const CHART_WIDTH = 640;

export interface HoverPoint {
  readonly x: number;
  readonly y: number;
  /** Tooltip text; a function for charts with thousands of points, so labels are built only when shown. */
  readonly label: string | (() => string);
  /** What Enter or a click on the point does (reveal a layer's line). */
  readonly activate?: () => void;
}

export interface ChartToggle {
  readonly key: string;
  readonly label: string;
  readonly initial: boolean;
}

export interface ChartSpec {
  /** Stable id: file names of exports, test hooks. */
  readonly id: string;
  readonly title: string;
  /** What the chart shows, in words (aria-label and figure caption). */
  readonly description: string;
  readonly height?: number;
  readonly toggles?: readonly ChartToggle[];
  readonly extraControls?: (redraw: () => void) => HTMLElement[];
  draw(svg: SVGSVGElement, size: { width: number; height: number }, options: Readonly<Record<string, boolean>>, theme: Theme): HoverPoint[];
  table(): { header: string[]; rows: (string | number | null)[][] };
  data(): unknown;
}

export interface ChartContext {
  readonly host: Host;
  readonly runId: string;
  getOption(key: string, initial: boolean): boolean;
  setOption(key: string, value: boolean): void;
}

export function chart(spec: ChartSpec, ctx: ChartContext): HTMLElement {
  const height = spec.height ?? 300;
  const figure = document.createElement('figure');
  figure.className = 'chart';
  figure.dataset['chart'] = spec.id;
  const head = document.createElement('div');
  head.className = 'chart-head';
  const title = document.createElement('h3');
  title.textContent = spec.title;
  title.id = `title-${spec.id}`;
  const tools = document.createElement('div');
  tools.className = 'chart-tools';
  head.append(title, tools);

  const body = document.createElement('div');
  body.className = 'chart-body';
  const svg = el('svg', { viewBox: `0 0 ${CHART_WIDTH} ${height}`, width: '100%', role: 'img', tabindex: 0, 'aria-labelledby': `title-${spec.id}`, 'aria-describedby': `desc-${spec.id}` });
  svg.setAttribute('class', 'chart-svg');
  const tip = document.createElement('div');
  tip.className = 'tooltip';
  tip.setAttribute('role', 'status');
  tip.hidden = true;
  body.append(svg, tip);

  const caption = document.createElement('figcaption');
  caption.id = `desc-${spec.id}`;
  caption.textContent = spec.description;

  const options: Record<string, boolean> = {};
  for (const t of spec.toggles ?? []) options[t.key] = ctx.getOption(`${spec.id}.${t.key}`, t.initial);

  let points: HoverPoint[] = [];
  let current = -1;
  let marker: SVGCircleElement | undefined;
  const redraw = (): void => {
    svg.replaceChildren();
    const theme = readTheme();
    points = spec.draw(svg, { width: CHART_WIDTH, height }, options, theme);
    const overlay = el('g', { class: 'overlay' }, svg);
    marker = el('circle', { r: 5, fill: 'none', stroke: theme.focus, 'stroke-width': 2, visibility: 'hidden' }, overlay);
    current = -1;
    tip.hidden = true;
  };

  const show = (i: number): void => {
    const p = points[i];
    if (!p || !marker) return;
    current = i;
    marker.setAttribute('cx', String(p.x));
    marker.setAttribute('cy', String(p.y));
    marker.setAttribute('visibility', 'visible');
    tip.textContent = (typeof p.label === 'function' ? p.label() : p.label) + (p.activate ? ' (Enter: go to the line)' : '');
    tip.hidden = false;
    const box = svg.getBoundingClientRect();
    const scale = box.width / CHART_WIDTH;
    tip.style.left = `${Math.min(p.x * scale + 12, box.width - 220)}px`;
    tip.style.top = `${Math.max(0, p.y * scale - 28)}px`;
  };
  const nearest = (ev: MouseEvent): number => {
    const box = svg.getBoundingClientRect();
    const scale = CHART_WIDTH / box.width;
    const x = (ev.clientX - box.left) * scale;
    const y = (ev.clientY - box.top) * scale;
    let best = -1;
    let bestD = 24 * 24;
    points.forEach((p, i) => {
      const d = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    });
    return best;
  };
  svg.addEventListener('mousemove', (ev) => {
    const i = nearest(ev);
    if (i >= 0) show(i);
    else { tip.hidden = true; marker?.setAttribute('visibility', 'hidden'); }
  });
  svg.addEventListener('mouseleave', () => { tip.hidden = true; marker?.setAttribute('visibility', 'hidden'); });
  svg.addEventListener('click', (ev) => { const i = nearest(ev); if (i >= 0) points[i]!.activate?.(); });
  svg.addEventListener('keydown', (ev) => {
    if (!points.length) return;
    if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') { show(Math.min(points.length - 1, current + 1)); ev.preventDefault(); }
    else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') { show(Math.max(0, current - 1)); ev.preventDefault(); }
    else if (ev.key === 'Home') { show(0); ev.preventDefault(); }
    else if (ev.key === 'End') { show(points.length - 1); ev.preventDefault(); }
    else if (ev.key === 'Enter' && current >= 0) { points[current]!.activate?.(); ev.preventDefault(); }
    else if (ev.key === 'Escape') { tip.hidden = true; marker?.setAttribute('visibility', 'hidden'); }
  });
  svg.addEventListener('blur', () => { tip.hidden = true; marker?.setAttribute('visibility', 'hidden'); });

  for (const t of spec.toggles ?? []) {
    tools.append(checkbox(t.label, options[t.key]!, (v) => {
      options[t.key] = v;
      ctx.setOption(`${spec.id}.${t.key}`, v);
      redraw();
    }));
  }
  if (spec.extraControls) tools.append(...spec.extraControls(redraw));
  const base = `${ctx.runId}-${spec.id}`;
  tools.append(
    button('PNG', () => { void exportPng(svg, height).then((data) => ctx.host.save(`${base}.png`, 'image/png', data, 'base64')); }, { secondary: true, ariaLabel: `Export ${spec.title} as PNG` }),
    button('SVG', () => ctx.host.save(`${base}.svg`, 'image/svg+xml', serializeSvg(svg, height), 'utf8'), { secondary: true, ariaLabel: `Export ${spec.title} as SVG` }),
    button('CSV', () => { const t = spec.table(); ctx.host.save(`${base}.csv`, 'text/csv', toCsv(t.header, t.rows), 'utf8'); }, { secondary: true, ariaLabel: `Export the data of ${spec.title} as CSV` }),
    button('JSON', () => ctx.host.save(`${base}.json`, 'application/json', JSON.stringify(spec.data(), null, 2), 'utf8'), { secondary: true, ariaLabel: `Export the data of ${spec.title} as JSON` }),
  );
  figure.append(head, body, caption);
  redraw();
  return figure;
}

/** A standalone SVG document: explicit size, the theme's background, no focus marker. */
export function serializeSvg(svg: SVGSVGElement, height: number): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  copy.querySelector('.overlay')?.remove();
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  copy.setAttribute('width', String(CHART_WIDTH));
  copy.setAttribute('height', String(height));
  copy.removeAttribute('tabindex');
  const bg = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', readTheme().bg);
  copy.insertBefore(bg, copy.firstChild);
  return new XMLSerializer().serializeToString(copy);
}

/** The chart rasterized at twice its size, as base64 PNG. */
export async function exportPng(svg: SVGSVGElement, height: number): Promise<string> {
  const source = serializeSvg(svg, height);
  const img = new Image();
  img.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(source)))}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = CHART_WIDTH * 2;
  canvas.height = height * 2;
  const g = canvas.getContext('2d')!;
  g.scale(2, 2);
  g.drawImage(img, 0, 0, CHART_WIDTH, height);
  return canvas.toDataURL('image/png').split(',')[1]!;
}
