import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { ListedRun, MetricEvent, PanelToHost, ProbeEvent, RunBundle, StepEvent } from '../../src/protocol';
import { browserAvailable, launch, openPanel, PanelServer, SHOTS, showTab, waitUntil, type PanelPage, type Theme } from '../support/panelPage';
import { fixtureBundle, ROOT } from '../support/runFixtures';

/**
 * The run panel in headless Chromium under its production CSP, fed with recorded event streams
 * of real probe runs of the examples. Assertions are on what is drawn.
 */
const CONTOUR_LEVELS = 14;

function lastMetric(events: readonly ProbeEvent[], name: string): MetricEvent {
  const m = [...events].reverse().find((e): e is MetricEvent => e.type === 'metric' && e.name === name);
  assert.ok(m, `the fixture has a ${name} event`);
  return m;
}

async function openWith(browser: Browser, server: PanelServer, bundle: RunBundle, theme: Theme = 'light'): Promise<PanelPage> {
  const p = await openPanel(browser, server, { theme });
  await waitUntil(p.page, 'window.__posted.some((m) => m.type === "ready")');
  await p.send({ type: 'bundle', bundle });
  await waitUntil(p.page, `document.body.dataset.events === "${bundle.events.length}"`);
  return p;
}

function assertClean(p: PanelPage): void {
  assert.deepEqual(p.problems, [], 'no console error and no CSP violation');
}

describe('run panel in Chromium', { skip: browserAvailable() ? false : 'needs /usr/bin/chromium and a built dist/webview (npm run build)' }, () => {
  const server = new PanelServer();
  let browser: Browser;
  let full: RunBundle;
  let eos: RunBundle;
  let eos01: RunBundle;
  let adam: RunBundle;

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    await server.start();
    browser = await launch();
    [full, eos, eos01, adam] = (await Promise.all(['mlp_sgd_full', 'edge_of_stability', 'edge_of_stability_lr01', 'cnn_batchnorm_adamw'].map((n) => fixtureBundle(n)))) as [RunBundle, RunBundle, RunBundle, RunBundle];
  });
  after(async () => {
    await browser?.close();
    await server.stop();
  });

  it('asks its host for the run, draws it, and saves the run folder in its state', async () => {
    const p = await openWith(browser, server, eos);
    const posted = await p.posted();
    assert.equal(posted[0]?.type, 'ready');
    assert.equal(await p.page.textContent('header.title h1'), 'edge_of_stability.py');
    assert.equal((await p.state())?.runDir, eos.runDir);
    // The finding and its numbers are in the overview.
    const row = await p.page.textContent('table.findings tbody tr');
    assert.match(row ?? '', /PRB001/);
    assertClean(p);
    await p.close();
  });

  it('draws the landscape with the expected contour levels and the minimum where the data puts it', async () => {
    const p = await openWith(browser, server, full);
    await showTab(p, 'landscape');
    const data = lastMetric(full.events, 'landscape.2d').data as { xs: number[]; ys: number[]; loss: (number | null)[][] };
    // The minimum, found here independently of the page's code.
    let best = { x: 0, y: 0, loss: Infinity };
    data.loss.forEach((row, j) => row.forEach((v, i) => { if (v !== null && v < best.loss) best = { x: data.xs[i]!, y: data.ys[j]!, loss: v }; }));
    const chart = p.page.locator('[data-chart="landscape-contour"]');
    const levels = await chart.locator('path.contour-level').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-level'))));
    assert.equal(levels.length, CONTOUR_LEVELS);
    const flat = data.loss.flat().filter((v): v is number => v !== null);
    for (let i = 0; i < levels.length; i++) {
      assert.ok(levels[i]! > Math.min(...flat) && levels[i]! < Math.max(...flat), 'levels lie strictly inside the loss range');
      if (i) assert.ok(levels[i]! > levels[i - 1]!, 'levels increase');
    }
    assert.equal(await chart.locator('g.contours').getAttribute('data-known'), String(data.xs.length * data.ys.length));
    const marker = chart.locator('.min-marker');
    assert.equal(Number(await marker.getAttribute('data-x')), best.x);
    assert.equal(Number(await marker.getAttribute('data-y')), best.y);
    assert.equal(Number(await marker.getAttribute('data-loss')), best.loss);
    // The marker sits at the data point in the plot's pixel coordinates: the current point (0, 0) is the centre.
    const centre = await chart.locator('circle.current-point').first().evaluate((c) => [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))]);
    const plotBox = await chart.locator('g.contours rect').first().evaluate((r) => [Number(r.getAttribute('x')), Number(r.getAttribute('y')), Number(r.getAttribute('width'))]);
    const [x0, y0, side] = plotBox as [number, number, number];
    assert.ok(Math.abs(centre[0]! - (x0 + side / 2)) < 0.5 && Math.abs(centre[1]! - (y0 + side / 2)) < 0.5, 'θ at the centre of the plot');
    // The trajectory of every step is drawn.
    const trajectory = (lastMetric(full.events, 'landscape.2d').data as { trajectory: unknown[] }).trajectory;
    assert.equal(await chart.locator('circle.trajectory-point').count(), trajectory.length);
    // The 3D surface and the slices are there too.
    assert.ok(await p.page.locator('[data-chart="landscape-surface"] polygon').count() >= (data.xs.length - 1) ** 2);
    assert.equal(await p.page.locator('[data-chart="landscape-slices"] g.series').count(), 2);
    assertClean(p);
    await p.close();
  });

  it('puts the stability threshold line at 2/η', async () => {
    const p = await openWith(browser, server, eos);
    await showTab(p, 'hessian');
    const lr = (eos.events.find((e): e is StepEvent => e.type === 'step'))!.lr;
    const line = p.page.locator('[data-chart="eigenvalues"] line.hline[data-id="threshold"]');
    assert.equal(Number(await line.getAttribute('data-value')), 2 / lr);
    // Its pixel height agrees with the y axis: interpolate between the labelled ticks.
    const y = Number(await line.getAttribute('y1'));
    const ticks = await p.page.locator('[data-chart="eigenvalues"] g.axes text[text-anchor="end"]').evaluateAll((els) => els.map((e) => [Number(e.textContent), Number(e.getAttribute('y')) - 4]));
    const sorted = (ticks as [number, number][]).filter(([v]) => Number.isFinite(v)).sort((a, b) => a[0] - b[0]);
    const lo = [...sorted].reverse().find(([v]) => v <= 2 / lr)!;
    const hi = sorted.find(([v]) => v >= 2 / lr)!;
    const expected = hi[0] === lo[0] ? lo[1] : lo[1] + ((2 / lr - lo[0]) / (hi[0] - lo[0])) * (hi[1] - lo[1]);
    assert.ok(Math.abs(y - expected) < 1, `threshold at y=${y}, axis says ${expected}`);
    // λ₁ of the last probe step is drawn below it, as measured (ratio 0.91).
    const top = lastMetric(eos.events, 'hessian.top').value!;
    assert.ok(top < 2 / lr && top > 0.8 * (2 / lr));
    assertClean(p);
    await p.close();
  });

  it('follows a layer to its line by click and by keyboard', async () => {
    const p = await openWith(browser, server, eos);
    await showTab(p, 'hessian');
    const script = fs.readFileSync(path.join(ROOT, 'examples', 'edge_of_stability.py'), 'utf8').split('\n');
    const first = p.page.locator('[data-chart="layer-trace"] g.bar.linked').first();
    const name = await first.getAttribute('data-label');
    const expected = eos.anchors?.layers[name!]?.line;
    assert.ok(expected, `the bundle knows where layer ${name} is defined`);
    assert.match(script[expected - 1]!, /nn\.\w+\(/, 'the anchor is a layer constructor');
    await first.locator('rect.bar-rect').click();
    let reveals = (await p.posted()).filter((m): m is Extract<PanelToHost, { type: 'reveal' }> => m.type === 'reveal');
    assert.deepEqual(reveals.map((r) => r.line), [expected]);
    // Keyboard: focus the chart, walk to the first bar, press Enter.
    await p.page.locator('[data-chart="layer-trace"] svg.chart-svg').focus();
    await p.page.keyboard.press('Home');
    assert.match((await p.page.locator('[data-chart="layer-trace"] .tooltip').textContent()) ?? '', new RegExp(`^${name}: tr`));
    await p.page.keyboard.press('Enter');
    reveals = (await p.posted()).filter((m): m is Extract<PanelToHost, { type: 'reveal' }> => m.type === 'reveal');
    assert.equal(reveals.length, 2);
    assertClean(p);
    await p.close();
  });

  it('exports a chart as PNG and SVG and its data as CSV and JSON', async () => {
    const p = await openWith(browser, server, eos);
    await showTab(p, 'hessian');
    const tools = p.page.locator('[data-chart="eigenvalues"] .chart-tools');
    for (const label of ['PNG', 'SVG', 'CSV', 'JSON']) await tools.getByText(label, { exact: true }).click();
    await waitUntil(p.page, 'window.__posted.filter((m) => m.type === "export").length === 4');
    const exports = (await p.posted()).filter((m): m is Extract<PanelToHost, { type: 'export' }> => m.type === 'export');
    const byMime = new Map(exports.map((e) => [e.mime, e]));
    const png = Buffer.from(byMime.get('image/png')!.data, 'base64');
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    assert.equal(png.readUInt32BE(16), 1280, 'twice the chart width');
    assert.ok(png.length > 5000, 'not blank');
    const svg = byMime.get('image/svg+xml')!;
    assert.equal(svg.encoding, 'utf8');
    const parsed = await p.page.evaluate(`(() => { const d = new DOMParser().parseFromString(${JSON.stringify(svg.data)}, 'image/svg+xml'); return { error: d.getElementsByTagName('parsererror').length, root: d.documentElement.tagName, lines: d.querySelectorAll('line.hline').length }; })()`) as { error: number; root: string; lines: number };
    assert.deepEqual(parsed, { error: 0, root: 'svg', lines: 1 });
    const csv = byMime.get('text/csv')!.data.trim().split('\r\n');
    const tops = eos.events.filter((e) => e.type === 'metric' && e.name === 'hessian.top') as MetricEvent[];
    assert.equal(csv[0], 'step,rank,eigenvalue,residual');
    assert.equal(csv.length - 1, tops.reduce((n, m) => n + (m.data!['eigenvalues'] as number[]).length, 0));
    assert.equal(Number(csv[1]!.split(',')[2]), (tops[0]!.data!['eigenvalues'] as number[])[0]);
    const json = JSON.parse(byMime.get('application/json')!.data) as { eigenvalues: unknown[] };
    assert.equal(json.eigenvalues.length, tops.length);
    assert.ok(exports.every((e) => e.name.startsWith(eos.record.id)), 'file names carry the run id');
    assertClean(p);
    await p.close();
  });

  it('fills in live from streamed events: the coarse landscape first, refined in place', async () => {
    const p = await openPanel(browser, server);
    await waitUntil(p.page, 'window.__posted.some((m) => m.type === "ready")');
    const running: RunBundle = { ...full, events: [], record: { ...full.record, status: 'running', findings: [] } };
    await p.send({ type: 'bundle', bundle: running });
    await showTab(p, 'landscape');
    const strides: string[] = [];
    for (let seq = 0; seq < full.events.length; seq++) {
      const event = full.events[seq]!;
      await p.send({ type: 'event', runId: full.record.id, seq, event });
      if (event.type === 'metric' && event.name === 'landscape.2d') {
        await waitUntil(p.page, `document.body.dataset.events === "${seq + 1}"`);
        strides.push((await p.page.locator('[data-chart="landscape-contour"] g.contours').getAttribute('data-stride')) ?? '');
      }
    }
    await waitUntil(p.page, `document.body.dataset.events === "${full.events.length}"`);
    assert.equal(strides[0], '5', 'the 5×5 preview is drawn first');
    assert.equal(strides.at(-1), '1', 'and refined to the full grid');
    // A resent event is ignored; a gap asks the host for the whole run.
    await p.send({ type: 'event', runId: full.record.id, seq: 3, event: full.events[3]! });
    assert.equal(await p.page.evaluate('document.body.dataset.events'), String(full.events.length));
    await p.send({ type: 'event', runId: full.record.id, seq: full.events.length + 5, event: full.events[3]! });
    await waitUntil(p.page, 'window.__posted.some((m) => m.type === "reload")');
    assert.equal(await p.page.locator('[data-chart="landscape-contour"] path.contour-level').count(), CONTOUR_LEVELS);
    assertClean(p);
    await p.close();
  });

  it('restores its tab and chart options after a reload', async () => {
    const first = await openWith(browser, server, eos);
    await showTab(first, 'hessian');
    await first.page.locator('[data-chart="eigenvalues"] .chart-tools vscode-checkbox').click();
    const saved = await first.state();
    assert.equal(saved?.tab, 'hessian');
    assert.equal(saved?.ui['eigenvalues.log'], true);
    await first.close();
    const p = await openPanel(browser, server, { state: saved });
    await waitUntil(p.page, 'window.__posted.some((m) => m.type === "ready")');
    await p.send({ type: 'bundle', bundle: eos });
    await waitUntil(p.page, 'document.body.dataset.tab === "hessian"');
    assert.match((await p.page.locator('[data-chart="eigenvalues"] .axis-label').textContent()) ?? '', /\(log\)/);
    assertClean(p);
    await p.close();
  });

  it('compares stored runs side by side', async () => {
    const p = await openWith(browser, server, eos);
    await showTab(p, 'compare');
    await waitUntil(p.page, 'window.__posted.some((m) => m.type === "listRuns")');
    const listed: ListedRun[] = [{ ...eos.record, runDir: eos.runDir }, { ...eos01.record, runDir: eos01.runDir }];
    await p.send({ type: 'runs', runs: listed });
    const box = p.page.locator('.run-list vscode-checkbox');
    await box.first().waitFor();
    assert.equal(await box.count(), 1, 'the panel’s own run is not offered');
    await box.first().click();
    await p.page.getByText('Compare', { exact: true }).last().click();
    await waitUntil(p.page, 'window.__posted.some((m) => m.type === "compare")');
    const request = (await p.posted()).find((m) => m.type === 'compare') as Extract<PanelToHost, { type: 'compare' }>;
    assert.deepEqual(request.runDirs, [eos01.runDir]);
    await p.send({ type: 'compare', bundles: [eos01] });
    await p.page.locator('table.compare').waitFor();
    const header = await p.page.locator('table.compare thead th').allTextContents();
    assert.equal(header.length, 3);
    assert.ok(header.some((h) => h.includes('--lr 0.1')), header.join(' | '));
    const lambda = await p.page.locator('table.compare tbody tr', { hasText: 'λ₁ / threshold' }).locator('td').allTextContents();
    assert.equal(lambda.length, 2);
    assert.ok(Number(lambda[0]) > 0.8 && Number(lambda[1]) < 0.5, `lr 0.4 near the edge, lr 0.1 far from it: ${lambda.join(', ')}`);
    assert.equal(await p.page.locator('[data-chart^="compare-landscape-"]').count(), 2);
    assertClean(p);
    await p.close();
  });

  it('draws every view in light and dark themes (screenshots in test-results/panels/)', async () => {
    for (const theme of ['light', 'dark'] as const) {
      for (const [bundle, label] of [[full, 'sgd'], [adam, 'adamw']] as const) {
        const p = await openWith(browser, server, bundle, theme);
        const bg = await p.page.evaluate('getComputedStyle(document.body).backgroundColor') as string;
        assert.equal(bg, theme === 'dark' ? 'rgb(31, 31, 31)' : 'rgb(255, 255, 255)');
        for (const tab of ['overview', 'landscape', 'hessian', 'noise', 'weights']) {
          await showTab(p, tab);
          assert.ok(await p.page.locator(`#view-${tab} figure.chart svg, #view-${tab} table`).count() > 0, `${tab} draws something for ${label}`);
          await p.page.screenshot({ path: path.join(SHOTS, `${label}-${tab}-${theme}.png`), fullPage: true });
        }
        if (label === 'adamw') {
          // Adam: the preconditioned sharpness is drawn against Adam's own threshold.
          await showTab(p, 'hessian');
          assert.equal(await p.page.locator('[data-chart="eigenvalues"] g.series[data-series="preconditioned λ₁"]').count(), 1);
        }
        assertClean(p);
        await p.close();
      }
    }
    // High contrast: black background, the HC palette in the charts.
    const hc = await openWith(browser, server, eos, 'high-contrast');
    assert.equal(await hc.page.evaluate('getComputedStyle(document.body).backgroundColor'), 'rgb(0, 0, 0)');
    await showTab(hc, 'hessian');
    assert.equal(await hc.page.locator('[data-chart="eigenvalues"] line.hline').getAttribute('stroke'), '#f48771');
    await hc.page.screenshot({ path: path.join(SHOTS, 'eos-hessian-high-contrast.png'), fullPage: true });
    assertClean(hc);
    await hc.close();
    const p = await openWith(browser, server, eos, 'dark');
    await showTab(p, 'compare');
    await p.send({ type: 'compare', bundles: [eos01] });
    await p.page.locator('table.compare').waitFor();
    await p.page.screenshot({ path: path.join(SHOTS, `compare-dark.png`), fullPage: true });
    await p.send({ type: 'compare', bundles: [eos01] });
    await p.close();
    await openWith(browser, server, eos, 'light').then(async (q) => {
      await showTab(q, 'compare');
      await q.send({ type: 'compare', bundles: [eos01] });
      await q.page.locator('table.compare').waitFor();
      await q.page.screenshot({ path: path.join(SHOTS, `compare-light.png`), fullPage: true });
      assertClean(q);
      await q.close();
    });
  });

  it('a crashed run shows its error and traceback; malformed metric data is skipped, never thrown', async () => {
    const head = eos.events.filter((e) => e.type === 'hello' || (e.type === 'step' && e.step <= 3));
    const broken: ProbeEvent[] = [
      ...head,
      { v: 1, type: 'metric', t: 1, name: 'landscape.2d', step: 3, value: 1, data: { xs: [0, 1], ys: [0, 1], loss: [[1, 2], [3]] }, cost: { hvps: 0, passes: 0, seconds: 0 } },
      { v: 1, type: 'metric', t: 1, name: 'hessian.top', step: 3, value: 1, data: { eigenvalues: 'oops', residuals: null }, cost: { hvps: 0, passes: 0, seconds: 0 } },
      { v: 1, type: 'metric', t: 1, name: 'weights.alpha', step: 3, value: 1, data: { layers: [{ name: 'x', eigenvalues: 'no' }, 7] }, cost: { hvps: 0, passes: 0, seconds: 0 } },
      { v: 1, type: 'error', t: 2, kind: 'script', message: 'RuntimeError: mat1 and mat2 shapes cannot be multiplied', traceback: 'Traceback (most recent call last):\n  File "train.py", line 40, in <module>\n    out = model(x)' },
      { v: 1, type: 'done', t: 2, status: 'error', steps: 3, seconds: 2, cost: { hvps: 0, passes: 0 } },
    ];
    const bundle: RunBundle = { ...eos, events: broken, record: { ...eos.record, status: 'error', findings: [], error: { kind: 'script', message: 'RuntimeError' } } };
    const p = await openWith(browser, server, bundle);
    assert.match((await p.page.textContent('header.title .status')) ?? '', /^error/);
    assert.match((await p.page.textContent('pre.traceback')) ?? '', /out = model\(x\)/);
    for (const tab of ['landscape', 'hessian', 'noise', 'weights']) {
      await showTab(p, tab);
      assert.ok(await p.page.locator(`#view-${tab} .view > *`).count() > 0, `${tab} says something`);
    }
    await showTab(p, 'landscape');
    assert.match((await p.page.textContent('#view-landscape .empty')) ?? '', /no loss landscape/);
    assertClean(p);
    await p.close();
  });

  it('the tabs work from the keyboard', async () => {
    const p = await openWith(browser, server, eos);
    await p.page.locator('#tab-overview').focus();
    await p.page.keyboard.press('ArrowRight');
    await waitUntil(p.page, 'document.body.dataset.tab === "landscape"');
    await p.page.keyboard.press('End');
    await waitUntil(p.page, 'document.body.dataset.tab === "compare"');
    assert.equal(await p.page.locator('#view-landscape').getAttribute('role'), 'tabpanel');
    assertClean(p);
    await p.close();
  });

  it('a standalone report (regscope report) draws the same views from one file, under its own CSP', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-report-')), 'report.html');
    execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'report', eos.runDir, eos01.runDir, '--html', out], { encoding: 'utf8' });
    const html = fs.readFileSync(out, 'utf8');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; script-src 'nonce-/);
    assert.doesNotMatch(html, /<script src=|<link /, 'nothing is loaded from outside the file');
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective))`);
    await page.goto(`file://${out}`);
    await waitUntil(page, 'document.body.dataset.firstPaintMs !== undefined');
    assert.equal(await page.textContent('header.title h1'), 'edge_of_stability.py');
    await page.click('#tab-compare');
    await waitUntil(page, 'document.body.dataset.tab === "compare"');
    assert.equal(await page.locator('[data-chart^="compare-landscape-"]').count(), 2);
    // No editor here: layers are labelled, not linked.
    await page.click('#tab-hessian');
    await waitUntil(page, 'document.body.dataset.tab === "hessian"');
    assert.equal(await page.locator('[data-chart="layer-trace"] g.bar.linked').count(), 0);
    await page.screenshot({ path: path.join(SHOTS, 'report-hessian.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });
});
