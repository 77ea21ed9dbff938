/** SVG element helpers and the theme colours, read from VS Code's CSS variables at draw time. */

export const SVG_NS = 'http://www.w3.org/2000/svg';

type Attrs = Record<string, string | number | undefined>;

export function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, parent?: Element): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) node.setAttribute(k, String(v));
  parent?.append(node);
  return node;
}

export function text(parent: Element, x: number, y: number, content: string, attrs: Attrs = {}): SVGTextElement {
  const t = el('text', { x, y, ...attrs }, parent);
  t.textContent = content;
  return t;
}

/**
 * Concrete colours (not `var(--…)`) so an exported SVG or PNG looks like the panel did. The
 * `--vscode-charts-*` variables are VS Code's own chart palette and follow the theme,
 * including high contrast.
 */
export interface Theme {
  readonly fg: string;
  readonly muted: string;
  readonly bg: string;
  readonly grid: string;
  readonly font: string;
  readonly fontSize: number;
  readonly series: readonly string[];
  readonly red: string;
  readonly yellow: string;
  readonly green: string;
  readonly focus: string;
  readonly dark: boolean;
}

let cached: Theme | undefined;
let watching = false;

/**
 * The theme, read once and again only after VS Code changes it (it rewrites the style of
 * <html> and the class of <body>): reading sixteen CSS variables per chart adds up in a redraw.
 */
export function readTheme(): Theme {
  if (!watching && typeof MutationObserver !== 'undefined') {
    watching = true;
    const forget = (): void => { cached = undefined; };
    new MutationObserver(forget).observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
    new MutationObserver(forget).observe(document.body, { attributes: true, attributeFilter: ['style', 'class'] });
    window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener?.('change', forget);
  }
  cached ??= computeTheme();
  return cached;
}

function computeTheme(): Theme {
  const cs = getComputedStyle(document.body);
  const v = (name: string, fallback: string): string => cs.getPropertyValue(name).trim() || fallback;
  const bg = v('--vscode-editor-background', '#ffffff');
  const dark = luminance(bg) < 0.4;
  const fg = v('--vscode-editor-foreground', dark ? '#cccccc' : '#333333');
  return {
    fg,
    bg,
    dark,
    muted: v('--vscode-descriptionForeground', dark ? '#9d9d9d' : '#717171'),
    grid: v('--vscode-editorWidget-border', dark ? '#454545' : '#d4d4d4'),
    font: v('--vscode-font-family', 'system-ui, sans-serif'),
    fontSize: 11,
    series: [
      v('--vscode-charts-blue', '#3794ff'), v('--vscode-charts-orange', '#d18616'), v('--vscode-charts-green', '#89d185'),
      v('--vscode-charts-purple', '#b180d7'), v('--vscode-charts-red', '#f14c4c'), v('--vscode-charts-yellow', '#cca700'),
      v('--vscode-charts-foreground', fg),
    ],
    red: v('--vscode-charts-red', '#f14c4c'),
    yellow: v('--vscode-charts-yellow', '#cca700'),
    green: v('--vscode-charts-green', '#89d185'),
    focus: v('--vscode-focusBorder', '#007fd4'),
  };
}

/** Relative luminance of a CSS colour in #rgb, #rrggbb or rgb() form (0 for anything else). */
export function luminance(color: string): number {
  let r = 0;
  let g = 0;
  let b = 0;
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})/i.exec(color.trim());
  const rgb = /^rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)/i.exec(color.trim());
  if (hex) {
    const h = hex[1]!.length === 3 ? [...hex[1]!].map((c) => c + c).join('') : hex[1]!;
    r = parseInt(h.slice(0, 2), 16); g = parseInt(h.slice(2, 4), 16); b = parseInt(h.slice(4, 6), 16);
  } else if (rgb) {
    r = Number(rgb[1]); g = Number(rgb[2]); b = Number(rgb[3]);
  } else return 0;
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}
