/**
 * The run panel (and the HTML report: same code). Holds the run's bundle and the events that
 * stream in, redraws the visible tab at most once per animation frame, and keeps its choices
 * (tab, log axes, compared runs) in the webview state so a window reload restores them.
 */
import type {
  HostToPanel, ListedRun, PanelState, PanelTab, ProbeEvent, RunBundle, ScriptRef,
} from '../../server/src/protocol';
import type { ChartContext } from './charts/chartFrame';
import { connectHost, reportData } from './host';
import { deriveRun } from './runView';
import { registerUi, tabs as makeTabs, type Tabs } from './ui';
import { renderCompare } from './views/compare';
import { renderHessian } from './views/hessian';
import { enableSurfaceDrag, renderLandscape } from './views/landscape';
import { renderNoise } from './views/noise';
import { renderOverview } from './views/overview';
import { h, type ViewContext } from './views/viewContext';
import { renderWeights } from './views/weights';

const TABS: readonly { id: PanelTab; label: string }[] = [
  { id: 'overview', label: 'Overview' }, { id: 'landscape', label: 'Landscape' }, { id: 'hessian', label: 'Hessian' },
  { id: 'noise', label: 'Noise' }, { id: 'weights', label: 'Weights' }, { id: 'compare', label: 'Compare' },
];

let bundle: RunBundle | undefined;
let events: ProbeEvent[] = [];
let listed: readonly ListedRun[] = [];
let compared: readonly RunBundle[] = [];
let tabsUi: Tabs | undefined;
let frame = 0;
let firstPaint = false;

const host = connectHost(onMessage);
let state: PanelState = host.state() ?? { runDir: '', tab: 'overview', ui: {} };
const root = document.getElementById('app')!;

function save(): void {
  host.saveState(state);
}

function onMessage(m: HostToPanel): void {
  switch (m.type) {
    case 'bundle':
      bundle = m.bundle;
      events = [...m.bundle.events];
      state = { ...state, runDir: m.bundle.runDir };
      save();
      schedule();
      break;
    case 'event':
      if (!bundle || m.runId !== bundle.record.id || m.seq < events.length) return;
      if (m.seq > events.length) { host.post({ type: 'reload' }); return; }
      events.push(m.event);
      schedule();
      break;
    case 'runs':
      listed = m.runs;
      if (state.tab === 'compare') schedule();
      break;
    case 'compare':
      compared = m.bundles;
      schedule();
      break;
    case 'exported':
      break;
  }
}

function schedule(): void {
  if (frame) return;
  frame = requestAnimationFrame(() => { frame = 0; render(); });
}

function chartContext(runId: string): ChartContext {
  return {
    host, runId,
    getOption: (key, initial) => { const v = state.ui[key]; return typeof v === 'boolean' ? v : initial; },
    setOption: (key, value) => { state = { ...state, ui: { ...state.ui, [key]: value } }; save(); },
  };
}

function viewContext(b: RunBundle): ViewContext {
  return {
    host,
    run: deriveRun(b, events),
    chart: chartContext(b.record.id),
    reveal: (ref: ScriptRef | undefined) => (ref && host.kind === 'vscode' ? () => host.post({ type: 'reveal', line: ref.line, ...(ref.column !== undefined ? { column: ref.column } : {}) }) : undefined),
    getUi: <T extends string | number | boolean | readonly string[]>(key: string, initial: T): T => {
      const v = state.ui[key];
      return (v !== undefined && typeof v === typeof initial ? v : initial) as T;
    },
    setUi: (key, value) => { state = { ...state, ui: { ...state.ui, [key]: value } }; save(); schedule(); },
    listed, compared,
  };
}

let slowestRenderMs = 0;
/** What the visible view was last drawn from; an event that changes none of it skips the redraw. */
let drawnKey = '';

/**
 * The inputs of a view, as a string: a streamed step event redraws the overview but not a
 * 41×41 landscape that did not change.
 */
function viewKey(tab: PanelTab): string {
  const count = (prefixes: readonly string[]): number => {
    let n = 0;
    for (const e of events) if (e.type === 'metric' && prefixes.some((p) => e.name.startsWith(p))) n++;
    return n;
  };
  const done = events.some((e) => e.type === 'done');
  const common = `${tab}|${bundle?.runDir}|${bundle?.record.status}|${bundle?.record.findings.length}|${done}|${JSON.stringify(state.ui)}`;
  switch (tab) {
    case 'landscape': return `${common}|${count(['landscape.'])}`;
    case 'hessian': return `${common}|${count(['hessian.', 'stability.'])}`;
    case 'noise': return `${common}|${count(['noise.'])}`;
    case 'weights': return `${common}|${count(['weights.'])}`;
    case 'compare': return `${common}|${listed.length}|${compared.map((b) => b.runDir).join(',')}|${events.length}`;
    default: return `${common}|${events.length}`;
  }
}

function render(): void {
  if (!bundle) return;
  const started = performance.now();
  const ctx = viewContext(bundle);
  if (!tabsUi) {
    tabsUi = makeTabs(TABS, state.tab, (id) => {
      if (id === state.tab) return;
      state = { ...state, tab: id as PanelTab };
      save();
      if (id === 'compare') host.post({ type: 'listRuns' });
      schedule();
    });
    root.replaceChildren(h('header', { class: 'title' }), tabsUi.element);
    if (state.tab === 'compare') host.post({ type: 'listRuns' });
  }
  const title = root.querySelector('header.title')!;
  title.replaceChildren(h('h1', {}, `${ctx.run.scriptName}`), h('span', { class: `status status-${ctx.run.status}`, role: 'status' }, statusText(ctx)));
  document.body.dataset['events'] = String(events.length);
  const key = viewKey(state.tab);
  if (key === drawnKey) return;
  drawnKey = key;
  const view = tabsUi.views.get(state.tab)!;
  const focused = (document.activeElement as HTMLElement | null)?.closest?.('[data-chart]')?.getAttribute('data-chart');
  view.replaceChildren();
  try {
    switch (state.tab) {
      case 'overview': renderOverview(view, ctx); break;
      case 'landscape': renderLandscape(view, ctx); enableSurfaceDrag(view, ctx, schedule); break;
      case 'hessian': renderHessian(view, ctx); break;
      case 'noise': renderNoise(view, ctx); break;
      case 'weights': renderWeights(view, ctx); break;
      case 'compare': renderCompare(view, ctx, (runDirs) => host.post({ type: 'compare', runDirs })); break;
    }
  } catch (e) {
    // Data no view expected (an older or damaged run) costs that view, never the panel.
    view.replaceChildren(h('p', { class: 'empty', role: 'alert' }, `This view could not be drawn from this run's data: ${(e as Error).message}`));
    console.warn(`RegScope: the ${state.tab} view failed: ${(e as Error).stack ?? e}`);
  }
  if (focused) view.querySelector<SVGSVGElement>(`[data-chart="${focused}"] svg`)?.focus();
  // Read by the browser tests (what has been drawn) and the benchmark (how long it took).
  const took = performance.now() - started;
  slowestRenderMs = Math.max(slowestRenderMs, took);
  document.body.dataset['renderMs'] = took.toFixed(1);
  document.body.dataset['slowestRenderMs'] = slowestRenderMs.toFixed(1);
  document.body.dataset['tab'] = state.tab;
  if (!firstPaint) {
    firstPaint = true;
    document.body.dataset['firstPaintMs'] = performance.now().toFixed(1);
  }
}

function statusText(ctx: ViewContext): string {
  const run = ctx.run;
  if (run.status === 'running') return `running · step ${run.steps.at(-1)?.step ?? 0} of ${run.plannedSteps}`;
  return `${run.status}${run.done ? ` · ${run.done.seconds.toFixed(1)} s` : ''} · ${run.bundle.record.findings.length} finding${run.bundle.record.findings.length === 1 ? '' : 's'}`;
}

registerUi();
const report = reportData();
if (report) {
  const [main, ...rest] = report.bundles;
  compared = rest;
  if (main) onMessage({ type: 'bundle', bundle: main });
  else root.textContent = 'This report holds no runs.';
} else {
  host.post({ type: 'ready' });
}
