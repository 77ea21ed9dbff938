import * as vscode from 'vscode';

/**
 * Routes server notifications to whoever started the run (or sweep) with that id. They can
 * arrive before the start request's answer, so they wait for the listener (the last 1,000).
 */
export class KeyedEvents<E> {
  private readonly listeners = new Map<string, (event: E) => void>();
  private readonly early = new Map<string, E[]>();

  dispatch(key: string, event: E): void {
    const listener = this.listeners.get(key);
    if (listener) listener(event);
    else this.early.set(key, [...(this.early.get(key) ?? []), event].slice(-1000));
  }

  listen(key: string, listener: (event: E) => void): vscode.Disposable {
    this.listeners.set(key, listener);
    for (const e of this.early.get(key) ?? []) listener(e);
    this.early.delete(key);
    return new vscode.Disposable(() => this.listeners.delete(key));
  }
}
