/**
 * Where the page lives: a VS Code webview (messages to the extension host, state that survives a
 * reload) or a standalone report file (data embedded in the page, downloads instead of saves).
 */
import { REPORT_DATA_ID, type HostToPanel, type PanelState, type PanelToHost, type RunBundle } from '../../server/src/protocol';

export interface Host {
  readonly kind: 'vscode' | 'report';
  post(message: PanelToHost): void;
  state(): PanelState | undefined;
  saveState(state: PanelState): void;
  /** Saves an exported chart: a save dialog in VS Code, a download in a report. */
  save(name: string, mime: string, data: string, encoding: 'utf8' | 'base64'): void;
}

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare const acquireVsCodeApi: (() => VsCodeApi) | undefined;


export interface ReportData {
  readonly bundles: readonly RunBundle[];
  readonly generatedAt: string;
  readonly generator: string;
}

export function connectHost(onMessage: (message: HostToPanel) => void): Host {
  if (typeof acquireVsCodeApi === 'function') {
    const api = acquireVsCodeApi();
    window.addEventListener('message', (e: MessageEvent<HostToPanel>) => onMessage(e.data));
    return {
      kind: 'vscode',
      post: (m) => api.postMessage(m),
      state: () => (api.getState() as PanelState | undefined) ?? undefined,
      saveState: (s) => api.setState(s),
      save: (name, mime, data, encoding) => api.postMessage({ type: 'export', name, mime, data, encoding } satisfies PanelToHost),
    };
  }
  let state: PanelState | undefined;
  return {
    kind: 'report',
    post: () => undefined,
    state: () => state,
    saveState: (s) => { state = s; },
    save: (name, mime, data, encoding) => {
      const bytes = encoding === 'base64' ? Uint8Array.from(atob(data), (c) => c.charCodeAt(0)) : new TextEncoder().encode(data);
      const url = URL.createObjectURL(new Blob([bytes], { type: mime }));
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
  };
}

/** The runs embedded in a report page, or undefined in a webview. */
export function reportData(): ReportData | undefined {
  const node = document.getElementById(REPORT_DATA_ID);
  if (!node?.textContent) return undefined;
  return JSON.parse(node.textContent) as ReportData;
}
