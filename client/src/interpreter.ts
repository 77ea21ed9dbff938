import { execFile } from 'node:child_process';
import * as vscode from 'vscode';

export interface Interpreter {
  readonly path: string;
  /** Where the choice came from, shown to the user. */
  readonly via: 'setting' | 'python-extension' | 'PATH';
}

/**
 * The Python a probe would run in: the `regscope.python.interpreter` setting, else the Python
 * extension's active environment for the file, else `python3` on PATH. Nothing runs here;
 * the probe engine checks that the interpreter has torch.
 */
export async function findInterpreter(resource: vscode.Uri | undefined): Promise<Interpreter | undefined> {
  const configured = vscode.workspace.getConfiguration('regscope', resource).get<string>('python.interpreter', '').trim();
  if (configured) return { path: configured, via: 'setting' };
  try {
    const { PythonExtension } = await import('@vscode/python-extension');
    const api = await PythonExtension.api();
    const active = api.environments.getActiveEnvironmentPath(resource);
    const env = await api.environments.resolveEnvironment(active);
    const exe = env?.executable.uri?.fsPath;
    if (exe) return { path: exe, via: 'python-extension' };
  } catch {
    // The Python extension is not installed or not active: fall back to PATH.
  }
  const onPath = await new Promise<string | undefined>((resolve) => {
    execFile('python3', ['-c', 'import sys; print(sys.executable)'], { timeout: 5000 }, (err, stdout) => resolve(err ? undefined : stdout.trim() || undefined));
  });
  return onPath ? { path: onPath, via: 'PATH' } : undefined;
}
