/**
 * The run panel in headless Chromium (the browser tests' page, production CSP): bundle size,
 * first paint of a stored run, one draw of each view with a 41×41 landscape, and frame times
 * while 50 events a second stream in with the landscape tab showing (a 41×41 grid refined in
 * place, the heaviest view). A frame over 33 ms misses two vsyncs: that is what "dropped" counts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { MetricEvent, ProbeEvent, RunBundle } from '../src/protocol';
import { browserAvailable, launch, openPanel, PanelServer, showTab, waitUntil, WEBVIEW_DIST } from '../test/support/panelPage';
import { fixtureBundle } from '../test/support/runFixtures';

const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A 41×41 landscape (an anisotropic bowl with a ridge), with the points of `stride` computed. */
function landscape41(stride: number, t: number): MetricEvent {
  const n = 41;
  const xs = Array.from({ length: n }, (_, i) => -1 + i / 20);
  const loss = xs.map((y, j) => xs.map((x, i) => (i % stride === 0 && j % stride === 0 ? 0.5 + 3 * (x - 0.2) ** 2 + 0.5 * (y + 0.1) ** 2 + 0.3 * Math.sin(4 * x * y) ** 2 : null)));
  return { v: 1, type: 'metric', t, name: 'landscape.2d', step: 10, value: 0.6, data: { xs, ys: xs, loss, directions: 'random', complete: stride === 1, trajectory: [] }, cost: { hvps: 0, passes: 0, seconds: 0 } };
}

export const PANEL_BENCH_HEADER = ['measure', 'value', 'target'];

export async function panelBench(): Promise<string[][]> {
  const js = fs.readFileSync(path.join(WEBVIEW_DIST, 'webview.js'));
  const css = fs.readFileSync(path.join(WEBVIEW_DIST, 'webview.css'));
  const rows: string[][] = [
    ['webview bundle (webview.js + css)', `${kib(js.length + css.length)} (${kib(zlib.gzipSync(js).length + zlib.gzipSync(css).length)} gzip)`, 'lean'],
  ];
  if (!browserAvailable()) return [...rows, ['browser measures', 'skipped: no /usr/bin/chromium', '']];
  const server = new PanelServer();
  await server.start();
  const browser = await launch();
  try {
    const stored = await fixtureBundle('tiny_transformer_lm');
    const paints: number[] = [];
    for (let i = 0; i < 7; i++) {
      const p = await openPanel(browser, server);
      await waitUntil(p.page, 'window.__posted.some((m) => m.type === "ready")');
      const t0 = Number(await p.page.evaluate('performance.now()'));
      await p.send({ type: 'bundle', bundle: stored });
      await waitUntil(p.page, 'document.body.dataset.firstPaintMs !== undefined');
      paints.push(Number(await p.page.evaluate('Number(document.body.dataset.firstPaintMs)')) - t0);
      await p.close();
    }
    rows.push([`first paint of a stored run (${stored.events.length} events), from its arrival`, `${median(paints).toFixed(0)} ms (median of 7)`, '≤ 300 ms']);

    // Each view once with a full 41×41 landscape.
    const big: RunBundle = { ...stored, events: [...stored.events.filter((e) => !(e.type === 'metric' && e.name === 'landscape.2d')), landscape41(1, 99)] };
    const p = await openPanel(browser, server);
    await waitUntil(p.page, 'window.__posted.some((m) => m.type === "ready")');
    await p.send({ type: 'bundle', bundle: big });
    await waitUntil(p.page, `document.body.dataset.events === "${big.events.length}"`);
    for (const tab of ['landscape', 'hessian', 'noise', 'weights', 'overview']) {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        await showTab(p, tab === 'overview' ? 'hessian' : 'overview');
        await showTab(p, tab);
        times.push(Number(await p.page.evaluate('Number(document.body.dataset.renderMs)')));
      }
      rows.push([`draw the ${tab} view${tab === 'landscape' ? ' (41×41: contours, 3D surface, slices)' : ''}`, `${median(times).toFixed(1)} ms`, '< 16 ms a frame']);
    }
    await p.close();

    // 50 events a second for 6 s, landscape tab showing, the 41×41 grid refined in place.
    const base: RunBundle = { ...stored, events: [], record: { ...stored.record, status: 'running', findings: [] } };
    const stream: ProbeEvent[] = [];
    const steps = stored.events.filter((e) => e.type !== 'done' && !(e.type === 'metric' && e.name === 'landscape.2d'));
    for (let i = 0; i < 300; i++) {
      if (i % 25 === 0) stream.push(landscape41([10, 5, 4, 2, 1][Math.min(4, Math.floor(i / 60))]!, i / 50));
      else stream.push({ ...steps[i % steps.length]!, t: i / 50 } as ProbeEvent);
    }
    const live = await openPanel(browser, server);
    await waitUntil(live.page, 'window.__posted.some((m) => m.type === "ready")');
    await live.send({ type: 'bundle', bundle: base });
    await showTab(live, 'landscape');
    const messages = stream.map((event, seq) => ({ type: 'event', runId: stored.record.id, seq, event }));
    const measured = await live.page.evaluate(`new Promise((resolve) => {
      const messages = ${JSON.stringify(messages)};
      const gaps = [];
      const renders = [];
      new MutationObserver(() => renders.push(Number(document.body.dataset.renderMs))).observe(document.body, { attributes: true, attributeFilter: ['data-render-ms'] });
      let last = performance.now();
      let running = true;
      const tick = (now) => { gaps.push(now - last); last = now; if (running) requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
      let i = 0;
      const timer = setInterval(() => {
        window.postMessage(messages[i++], '*');
        if (i === messages.length) { clearInterval(timer); setTimeout(() => { running = false; resolve({ gaps, renders }); }, 200); }
      }, 20);
    })`) as { gaps: number[]; renders: number[] };
    const frames = measured.gaps;
    const over = frames.filter((g) => g > 33.4).length;
    rows.push(['stream 50 events/s for 6 s, 41×41 landscape refining', `${frames.length} frames, ${over} over 33 ms (${((100 * over) / frames.length).toFixed(1)} %), longest ${Math.max(...frames).toFixed(0)} ms`, 'no dropped frames']);
    const renders = measured.renders.filter(Number.isFinite);
    rows.push(['redraws during the stream (the rest were skipped: nothing shown changed)', `${renders.length}, median ${median(renders).toFixed(1)} ms, slowest ${Math.max(...renders).toFixed(1)} ms`, '< 16 ms']);
    await live.close();
  } finally {
    await browser.close();
    await server.stop();
  }
  return rows;
}
