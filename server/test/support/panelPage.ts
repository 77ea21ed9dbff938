/**
 * The run panel in headless Chromium, as VS Code shows it: the production HTML and CSP
 * (panelHtml), the built bundle served from a local origin that plays the webview's resource
 * origin, VS Code's theme variables, and a stub of `acquireVsCodeApi` that records what the
 * page posts and keeps its state. The test plays the extension host: it posts messages in.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { HostToPanel, PanelState, PanelToHost } from '../../src/protocol';
import { makeNonce, panelHtml, themeCss, type ThemeKind } from '../../src/report/panelHtml';
import { ROOT } from './runFixtures';

export const CHROMIUM = '/usr/bin/chromium';
export const WEBVIEW_DIST = path.join(ROOT, 'dist', 'webview');
export const SHOTS = path.join(ROOT, 'test-results', 'panels');

export function browserAvailable(): boolean {
  return fs.existsSync(CHROMIUM) && fs.existsSync(path.join(WEBVIEW_DIST, 'webview.js'));
}

export type Theme = ThemeKind;

/** Serves the panel page (per theme), the bundle, its stylesheet and the theme variables. */
export class PanelServer {
  private server!: http.Server;
  origin = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const asked = url.searchParams.get('theme');
      const theme: Theme = asked === 'dark' || asked === 'high-contrast' ? asked : 'light';
      const send = (type: string, body: string | Buffer): void => { res.writeHead(200, { 'content-type': type }); res.end(body); };
      if (url.pathname === '/panel.html') {
        const nonce = makeNonce();
        const html = panelHtml({ cspSource: this.origin, scriptUri: `${this.origin}/webview.js`, styleUri: `${this.origin}/webview.css`, nonce, title: 'Probe' })
          // VS Code puts its theme variables on the page itself; a stylesheet from the resource origin does the same here.
          .replace('</head>', `<link rel="stylesheet" href="${this.origin}/theme-${theme}.css">\n</head>`);
        send('text/html; charset=utf-8', html);
      } else if (url.pathname === '/webview.js') send('text/javascript', fs.readFileSync(path.join(WEBVIEW_DIST, 'webview.js')));
      else if (url.pathname === '/webview.css') send('text/css', fs.readFileSync(path.join(WEBVIEW_DIST, 'webview.css')));
      else if (/^\/theme-(light|dark|high-contrast)\.css$/.test(url.pathname)) {
        send('text/css', themeCss(url.pathname.slice(7, -4) as Theme));
      }
      else if (url.pathname === '/favicon.ico') { res.writeHead(204); res.end(); }
      else { res.writeHead(404); res.end(); }
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface PanelPage {
  readonly page: Page;
  /** Console errors, page errors and CSP violations seen so far. */
  readonly problems: string[];
  /** Messages the page posted to its host. */
  posted(): Promise<PanelToHost[]>;
  send(message: HostToPanel): Promise<void>;
  state(): Promise<PanelState | undefined>;
  close(): Promise<void>;
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
}

/** Opens the panel; `state` is what `getState()` returns (a restored panel). */
export async function openPanel(browser: Browser, server: PanelServer, opts: { theme?: Theme; state?: PanelState; width?: number } = {}): Promise<PanelPage> {
  const theme = opts.theme ?? 'light';
  const page = await browser.newPage({ viewport: { width: opts.width ?? 1100, height: 900 }, colorScheme: theme === 'light' ? 'light' : 'dark' });
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // The stub VS Code API, as a script string: it runs in the page, not in Node.
  await page.addInitScript(`
    window.__posted = [];
    window.__state = ${JSON.stringify(opts.state ?? null)} ?? undefined;
    let acquired = false;
    window.acquireVsCodeApi = () => {
      if (acquired) throw new Error('acquireVsCodeApi called twice');
      acquired = true;
      return { postMessage: (m) => window.__posted.push(m), getState: () => window.__state, setState: (s) => { window.__state = s; } };
    };
    document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
  `);
  await page.goto(`${server.origin}/panel.html?theme=${theme}`);
  return {
    page, problems,
    posted: () => page.evaluate('window.__posted') as Promise<PanelToHost[]>,
    send: async (message) => { await page.evaluate(`window.postMessage(${JSON.stringify(message)}, '*')`); },
    state: () => page.evaluate('window.__state') as Promise<PanelState | undefined>,
    close: () => page.close(),
  };
}

/**
 * Polls a page expression until it is truthy. Not `waitForFunction` with a string: that
 * evaluates with `new Function` inside the page, which the panel's CSP (rightly) refuses.
 */
export async function waitUntil(page: Page, expression: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await page.evaluate(expression)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${expression}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Shows a tab and waits until it is drawn. */
export async function showTab(p: PanelPage, tab: string): Promise<void> {
  await p.page.click(`#tab-${tab}`);
  await waitUntil(p.page, `document.body.dataset.tab === ${JSON.stringify(tab)}`);
}
