/** What every view gets, and the small DOM pieces they share. */
import type { ListedRun, RunBundle, ScriptRef } from '../../../server/src/protocol';
import type { ChartContext } from '../charts/chartFrame';
import type { Host } from '../host';
import type { RunView } from '../runView';

export interface ViewContext {
  readonly host: Host;
  readonly run: RunView;
  readonly chart: ChartContext;
  /** A "go to line" action, or undefined in a report (no editor to go to). */
  reveal(ref: ScriptRef | undefined): (() => void) | undefined;
  getUi<T extends string | number | boolean | readonly string[]>(key: string, initial: T): T;
  setUi(key: string, value: string | number | boolean | readonly string[]): void;
  /** Runs the user can compare with (webview) and those loaded for comparison. */
  readonly listed: readonly ListedRun[];
  readonly compared: readonly RunBundle[];
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

export function section(title: string, ...children: (Node | string)[]): HTMLElement {
  return h('section', {}, h('h2', {}, title), ...children);
}

/** A headline number: label, value, the uncertainty and cost in small print. */
export function card(label: string, value: string, detail?: string, level?: 'ok' | 'warn' | 'bad'): HTMLElement {
  const c = h('div', { class: `card${level ? ` ${level}` : ''}`, role: 'group', 'aria-label': label },
    h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value));
  if (detail) c.append(h('div', { class: 'card-detail' }, detail));
  return c;
}

/** `line 42` as a link to the script line in the editor, plain text in a report. */
export function lineLink(ctx: ViewContext, ref: ScriptRef | undefined, text?: string): Node {
  if (!ref) return document.createTextNode('–');
  const label = text ?? `line ${ref.line}`;
  const go = ctx.reveal(ref);
  if (!go) return h('span', { class: 'line-ref' }, label);
  const a = h('a', { href: '#', class: 'line-link', 'data-line': String(ref.line), 'aria-label': `Go to ${label} of the script` }, label);
  a.addEventListener('click', (e) => { e.preventDefault(); go(); });
  return a;
}

export function empty(message: string): HTMLElement {
  return h('p', { class: 'empty' }, message);
}

export function costText(cost: { hvps: number; passes: number; seconds: number } | undefined): string {
  if (!cost) return '';
  const parts: string[] = [];
  if (cost.hvps) parts.push(`${cost.hvps} HVPs`);
  if (cost.passes) parts.push(`${cost.passes} passes`);
  parts.push(`${cost.seconds < 1 ? `${Math.round(cost.seconds * 1000)} ms` : `${cost.seconds.toFixed(1)} s`}`);
  return `cost: ${parts.join(', ')}`;
}
