// Runs the Python probe runtime's own unit tests (server/python/tests, unittest) with an
// interpreter that has torch: one node test per Python test module, so a failure names its module.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const PYTHON_DIR = path.resolve(__dirname, '../../python');
const TEST_DIR = path.join(PYTHON_DIR, 'tests');

/** The first of these that imports torch; the tests need exactly what a user's probe needs. */
export function torchPython(): string | undefined {
  const candidates = [process.env['REGSCOPE_TEST_PYTHON'], 'python3', '/usr/bin/python3', 'python'].filter((c): c is string => !!c);
  for (const c of candidates) {
    const r = spawnSync(c, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
    if (r.status === 0) return c;
  }
  return undefined;
}

const python = torchPython();
const modules = fs.readdirSync(TEST_DIR).filter((f) => /^test_.*\.py$/.test(f)).sort();

for (const file of modules) {
  const name = `tests.${file.replace(/\.py$/, '')}`;
  test(`python ${name}`, { timeout: 300_000 }, (t) => {
    if (!python) {
      if (process.env['CI'] === 'true') assert.fail('no Python interpreter with torch (CI installs python3-torch)');
      t.skip('no Python interpreter with torch: apt install python3-torch (or pip install torch)');
      return;
    }
    try {
      execFileSync(python, ['-m', 'unittest', '-v', name], { cwd: PYTHON_DIR, stdio: 'pipe', encoding: 'utf8', maxBuffer: 64 << 20 });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      assert.fail(`${name} failed:\n${(err.stderr ?? '').slice(-20_000)}${(err.stdout ?? '').slice(-4000)}`);
    }
  });
}
