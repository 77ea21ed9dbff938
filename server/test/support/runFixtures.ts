/**
 * Recorded probe runs (server/test/fixtures/runs/, made by scripts/record-panel-fixtures.sh
 * from real runs of the examples), copied into a temporary workspace with the script path made
 * absolute again, and loaded as the panels load them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPythonParser } from '../../src/host/parserLoader';
import type { ProbeEvent, RunBundle } from '../../src/protocol';
import { loadRunBundle } from '../../src/probe/runBundle';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const FIXTURE_RUNS = path.join(ROOT, 'server', 'test', 'fixtures', 'runs');

/** A fixture run as a run folder of a fresh workspace; returns the folder. */
export function fixtureRunDir(name: string, workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-runs-'))): string {
  const src = path.join(FIXTURE_RUNS, name);
  const record = JSON.parse(fs.readFileSync(path.join(src, 'run.json'), 'utf8')) as { id: string; script: string };
  const dir = path.join(workspace, '.regscope', 'runs', record.id);
  fs.mkdirSync(dir, { recursive: true });
  for (const file of ['run.json', 'plan.json']) {
    const data = JSON.parse(fs.readFileSync(path.join(src, file), 'utf8')) as Record<string, unknown>;
    data['script'] = path.join(ROOT, data['script'] as string);
    if (typeof data['cwd'] === 'string') data['cwd'] = path.join(ROOT, data['cwd']);
    fs.writeFileSync(path.join(dir, file), JSON.stringify(data));
  }
  fs.copyFileSync(path.join(src, 'events.jsonl'), path.join(dir, 'events.jsonl'));
  return dir;
}

export async function fixtureBundle(name: string, workspace?: string): Promise<RunBundle> {
  return loadRunBundle(await loadPythonParser(), fixtureRunDir(name, workspace));
}

export function fixtureEvents(name: string): ProbeEvent[] {
  return fs.readFileSync(path.join(FIXTURE_RUNS, name, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeEvent);
}
