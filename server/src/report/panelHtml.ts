/**
 * The HTML around the webview bundle: one function for the editor's panel (resources by URI
 * under the webview's CSP source) and one for the standalone report (bundle, styles and runs
 * inlined in a single file). Both load the same `dist/webview/webview.js`: the report is not a
 * second implementation. CSP: nothing by default, scripts and styles only with the page's
 * nonce or from the extension's webview folder, images only from data:/blob: (PNG export),
 * no eval.
 */
import { randomBytes } from 'node:crypto';
import { REPORT_DATA_ID, type RunBundle } from '../protocol';

export function makeNonce(): string {
  return randomBytes(18).toString('base64url');
}

export interface PanelHtmlOptions {
  /** `webview.cspSource`. */
  readonly cspSource: string;
  readonly scriptUri: string;
  readonly styleUri: string;
  readonly nonce: string;
  readonly title: string;
}

export function panelCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data: blob:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

export function panelHtml(o: PanelHtmlOptions): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${attr(panelCsp(o.cspSource, o.nonce))}">
<meta property="csp-nonce" content="${attr(o.nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${text(o.title)}</title>
<link rel="stylesheet" href="${attr(o.styleUri)}" nonce="${attr(o.nonce)}">
</head>
<body>
<main id="app" aria-live="off"><p>Loading the run…</p></main>
<script nonce="${attr(o.nonce)}" src="${attr(o.scriptUri)}"></script>
</body>
</html>
`;
}

export interface ReportHtmlOptions {
  readonly script: string;
  readonly css: string;
  readonly bundles: readonly RunBundle[];
  readonly generator: string;
  readonly generatedAt: string;
  readonly nonce?: string;
}

/**
 * The VS Code theme variables the page reads (our charts and the toolkit's controls), with the
 * values of VS Code's default light and dark themes. A panel gets them from the editor; a
 * report defines them itself (following the reader's colour scheme); tests use them to draw a
 * panel in either theme.
 */
export type ThemeKind = 'light' | 'dark' | 'high-contrast';

export const THEME_VARIABLES: Readonly<Record<ThemeKind, Readonly<Record<string, string>>>> = {
  light: {
    'editor-background': '#ffffff', 'editor-foreground': '#1f1f1f', foreground: '#3b3b3b', descriptionForeground: '#616161',
    'editorWidget-border': '#d4d4d4', focusBorder: '#005fb8', 'textLink-foreground': '#005fb8', 'textLink-activeForeground': '#005fb8',
    'charts-foreground': '#1f1f1f', 'charts-blue': '#1a85ff', 'charts-orange': '#d18616', 'charts-green': '#388a34',
    'charts-purple': '#652d90', 'charts-red': '#e51400', 'charts-yellow': '#bf8803',
    'editorHoverWidget-background': '#f8f8f8', 'editorHoverWidget-border': '#c8c8c8', errorForeground: '#a1260d',
    'button-background': '#005fb8', 'button-foreground': '#ffffff', 'button-hoverBackground': '#0258a8', 'button-border': 'transparent',
    'button-secondaryBackground': '#e5e5e5', 'button-secondaryForeground': '#3b3b3b', 'button-secondaryHoverBackground': '#cccccc',
    'checkbox-background': '#f8f8f8', 'checkbox-border': '#cecece', 'checkbox-foreground': '#3b3b3b',
    'dropdown-background': '#ffffff', 'dropdown-border': '#cecece', 'dropdown-foreground': '#3b3b3b', 'settings-dropdownListBorder': '#cecece',
    'panel-background': '#ffffff', 'panel-border': '#e5e5e5', 'panelTitle-activeBorder': '#005fb8',
    'panelTitle-activeForeground': '#3b3b3b', 'panelTitle-inactiveForeground': '#3b3b3bb3',
    'list-activeSelectionBackground': '#e8e8e8', 'list-activeSelectionForeground': '#000000', 'list-hoverBackground': '#f2f2f2',
    'badge-background': '#cccccc', 'badge-foreground': '#3b3b3b', 'textCodeBlock-background': '#f2f2f2',
  },
  dark: {
    'editor-background': '#1f1f1f', 'editor-foreground': '#cccccc', foreground: '#cccccc', descriptionForeground: '#9d9d9d',
    'editorWidget-border': '#454545', focusBorder: '#0078d4', 'textLink-foreground': '#4daafc', 'textLink-activeForeground': '#4daafc',
    'charts-foreground': '#cccccc', 'charts-blue': '#3794ff', 'charts-orange': '#d18616', 'charts-green': '#89d185',
    'charts-purple': '#b180d7', 'charts-red': '#f14c4c', 'charts-yellow': '#cca700',
    'editorHoverWidget-background': '#252526', 'editorHoverWidget-border': '#454545', errorForeground: '#f85149',
    'button-background': '#0078d4', 'button-foreground': '#ffffff', 'button-hoverBackground': '#026ec1', 'button-border': 'transparent',
    'button-secondaryBackground': '#313131', 'button-secondaryForeground': '#cccccc', 'button-secondaryHoverBackground': '#3c3c3c',
    'checkbox-background': '#313131', 'checkbox-border': '#3c3c3c', 'checkbox-foreground': '#cccccc',
    'dropdown-background': '#313131', 'dropdown-border': '#3c3c3c', 'dropdown-foreground': '#cccccc', 'settings-dropdownListBorder': '#454545',
    'panel-background': '#1f1f1f', 'panel-border': '#2b2b2b', 'panelTitle-activeBorder': '#0078d4',
    'panelTitle-activeForeground': '#cccccc', 'panelTitle-inactiveForeground': '#9d9d9d',
    'list-activeSelectionBackground': '#04395e', 'list-activeSelectionForeground': '#ffffff', 'list-hoverBackground': '#2a2d2e',
    'badge-background': '#616161', 'badge-foreground': '#f8f8f8', 'textCodeBlock-background': '#2b2b2b',
  },
  // VS Code's "Dark High Contrast": black, white text, bright chart colours, borders everywhere.
  'high-contrast': {
    'editor-background': '#000000', 'editor-foreground': '#ffffff', foreground: '#ffffff', descriptionForeground: '#ffffff',
    'editorWidget-border': '#6fc3df', focusBorder: '#f38518', 'textLink-foreground': '#21a6ff', 'textLink-activeForeground': '#21a6ff',
    contrastBorder: '#6fc3df', contrastActiveBorder: '#f38518',
    'charts-foreground': '#ffffff', 'charts-blue': '#3794ff', 'charts-orange': '#ff8c00', 'charts-green': '#89d185',
    'charts-purple': '#b180d7', 'charts-red': '#f48771', 'charts-yellow': '#ffd700',
    'editorHoverWidget-background': '#0c141f', 'editorHoverWidget-border': '#6fc3df', errorForeground: '#f48771',
    'button-background': '#000000', 'button-foreground': '#ffffff', 'button-hoverBackground': '#000000', 'button-border': '#6fc3df',
    'button-secondaryBackground': '#000000', 'button-secondaryForeground': '#ffffff', 'button-secondaryHoverBackground': '#000000',
    'checkbox-background': '#000000', 'checkbox-border': '#6fc3df', 'checkbox-foreground': '#ffffff',
    'dropdown-background': '#000000', 'dropdown-border': '#6fc3df', 'dropdown-foreground': '#ffffff', 'settings-dropdownListBorder': '#6fc3df',
    'panel-background': '#000000', 'panel-border': '#6fc3df', 'panelTitle-activeBorder': '#6fc3df',
    'panelTitle-activeForeground': '#ffffff', 'panelTitle-inactiveForeground': '#ffffff',
    'list-activeSelectionBackground': '#000000', 'list-activeSelectionForeground': '#ffffff', 'list-hoverBackground': '#000000',
    'badge-background': '#000000', 'badge-foreground': '#ffffff', 'textCodeBlock-background': '#000000',
  },
};

/** `body { --vscode-…: … }` for one theme. */
export function themeCss(theme: ThemeKind, selector = 'body'): string {
  const fonts = '--vscode-font-family: system-ui, -apple-system, "Segoe UI", Ubuntu, sans-serif; --vscode-font-size: 13px; --vscode-font-weight: 400; --vscode-editor-font-family: ui-monospace, "DejaVu Sans Mono", monospace;';
  return `${selector} { ${fonts} ${Object.entries(THEME_VARIABLES[theme]).map(([k, v]) => `--vscode-${k}: ${v};`).join(' ')} }`;
}

const REPORT_THEME = `:root { color-scheme: light dark; }
${themeCss('light')}
@media (prefers-color-scheme: dark) { ${themeCss('dark')} }`;

export function reportHtml(o: ReportHtmlOptions): string {
  const nonce = o.nonce ?? makeNonce();
  const csp = ["default-src 'none'", `script-src 'nonce-${nonce}'`, `style-src 'nonce-${nonce}'`, 'img-src data: blob:'].join('; ');
  const data = { bundles: o.bundles, generatedAt: o.generatedAt, generator: o.generator };
  const first = o.bundles[0]?.record;
  const title = first ? `RegScope probe: ${first.script.split(/[\\/]/).pop()} (${first.id})` : 'RegScope probe report';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta property="csp-nonce" content="${attr(nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${attr(o.generator)}">
<title>${text(title)}</title>
<style nonce="${nonce}">${REPORT_THEME}
${o.css.replace(/<\/style/gi, '<\\/style')}</style>
</head>
<body>
<main id="app"><p>This report needs JavaScript to draw its charts.</p></main>
<p class="report-note">Generated by ${text(o.generator)} on ${text(o.generatedAt)}. Every number carries its uncertainty and cost; see docs/probes.md.</p>
<script type="application/json" id="${REPORT_DATA_ID}">${jsonForScript(data)}</script>
<script nonce="${nonce}">${o.script.replace(/<\/script/gi, '<\\/script')}</script>
</body>
</html>
`;
}

/** JSON that cannot close its `<script>` element or open a comment. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function attr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

function text(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}
