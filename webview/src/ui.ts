/**
 * The only module that knows which web-component library draws our controls. Today it is
 * `@vscode/webview-ui-toolkit` (deprecated upstream); swapping to `@vscode-elements/elements`
 * means rewriting this file and nothing else. Only the components we use are registered, so the
 * bundle carries only them. The toolkit reads the page's nonce from `<meta property="csp-nonce">`
 * for the one `<style>` element it creates (a feature test), so the panels' CSP needs no
 * 'unsafe-inline'.
 */
import {
  provideVSCodeDesignSystem, vsCodeButton, vsCodeCheckbox, vsCodeDropdown, vsCodeOption, vsCodePanels, vsCodePanelTab, vsCodePanelView,
} from '@vscode/webview-ui-toolkit';

let registered = false;

export function registerUi(): void {
  if (registered) return;
  registered = true;
  provideVSCodeDesignSystem().register(
    vsCodeButton(), vsCodeCheckbox(), vsCodeDropdown(), vsCodeOption(), vsCodePanels(), vsCodePanelTab(), vsCodePanelView(),
  );
}

export function button(label: string, onClick: () => void, opts: { secondary?: boolean; ariaLabel?: string; title?: string } = {}): HTMLElement {
  const b = document.createElement('vscode-button');
  b.textContent = label;
  if (opts.secondary) b.setAttribute('appearance', 'secondary');
  if (opts.ariaLabel) b.setAttribute('aria-label', opts.ariaLabel);
  if (opts.title) b.title = opts.title;
  b.addEventListener('click', onClick);
  return b;
}

export function checkbox(label: string, checked: boolean, onChange: (checked: boolean) => void): HTMLElement {
  const c = document.createElement('vscode-checkbox') as HTMLElement & { checked: boolean };
  c.textContent = label;
  c.checked = checked;
  if (checked) c.setAttribute('checked', '');
  c.addEventListener('change', () => onChange(c.checked));
  return c;
}

export function dropdown(label: string, options: readonly { value: string; label: string }[], value: string, onChange: (value: string) => void): HTMLElement {
  const wrap = document.createElement('label');
  wrap.className = 'dropdown';
  wrap.append(document.createTextNode(`${label} `));
  const d = document.createElement('vscode-dropdown') as HTMLElement & { value: string };
  d.setAttribute('aria-label', label);
  for (const o of options) {
    const opt = document.createElement('vscode-option');
    opt.setAttribute('value', o.value);
    opt.textContent = o.label;
    if (o.value === value) opt.setAttribute('selected', '');
    d.append(opt);
  }
  d.addEventListener('change', () => onChange(d.value));
  wrap.append(d);
  return wrap;
}

/**
 * A status label. Not the toolkit's `vscode-tag`: its template binds a `style` attribute,
 * which the panels' CSP (no 'unsafe-inline') blocks.
 */
export function tag(text: string): HTMLElement {
  const t = document.createElement('span');
  t.className = `tag tag-${text.replace(/[^a-z]/gi, '')}`;
  t.textContent = text;
  return t;
}

export interface Tabs {
  readonly element: HTMLElement;
  /** The container of each tab's content. */
  readonly views: ReadonlyMap<string, HTMLElement>;
  select(id: string): void;
}

/** Tabs with arrow-key navigation (the toolkit's panels); `onSelect` fires with the shown tab's id. */
export function tabs(items: readonly { id: string; label: string }[], active: string, onSelect: (id: string) => void): Tabs {
  const panels = document.createElement('vscode-panels') as HTMLElement & { activeid: string };
  panels.setAttribute('aria-label', 'Run views');
  const views = new Map<string, HTMLElement>();
  for (const it of items) {
    const tab = document.createElement('vscode-panel-tab');
    tab.id = `tab-${it.id}`;
    tab.textContent = it.label;
    panels.append(tab);
  }
  for (const it of items) {
    const view = document.createElement('vscode-panel-view');
    view.id = `view-${it.id}`;
    const inner = document.createElement('div');
    inner.className = 'view';
    view.append(inner);
    panels.append(view);
    views.set(it.id, inner);
  }
  panels.setAttribute('activeid', `tab-${active}`);
  panels.addEventListener('change', (e) => {
    const id = (e.target as HTMLElement & { activeid?: string }).activeid ?? panels.activeid;
    if (typeof id === 'string' && id.startsWith('tab-')) onSelect(id.slice(4));
  });
  return {
    element: panels,
    views,
    select: (id) => { panels.activeid = `tab-${id}`; panels.setAttribute('activeid', `tab-${id}`); },
  };
}
