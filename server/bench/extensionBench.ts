/**
 * Extension activation time in a real VS Code (code-server): the extension logs how long
 * `activate` took to its output channel, which VS Code writes to a log file in the profile.
 * Skipped (with a note) when code-server is not installed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { CodeServer, ROOT, codeServerInstalled } from '../test/e2e/codeServer';

function findFiles(dir: string, re: RegExp): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? findFiles(p, re) : re.test(e.name) ? [p] : [];
  });
}

export async function extensionBench(): Promise<string[][]> {
  if (!codeServerInstalled() || !fs.existsSync('/usr/bin/chromium')) return [['extension activation', 'skipped', 'code-server or chromium not installed', '']];
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-bench-'));
  const ws = path.join(home, 'ws');
  fs.mkdirSync(ws);
  fs.copyFileSync(path.join(ROOT, 'examples', 'cnn_adam_problems.py'), path.join(ws, 'train.py'));
  const vsix = path.join(home, 'regscope.vsix');
  spawnSync('npx', ['vsce', 'package', '--no-dependencies', '--out', vsix], { cwd: ROOT });
  const server = new CodeServer(home, vsix);
  server.installExtension();
  server.writeUserSettings({ 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false });
  const url = await server.start(ws);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await page.keyboard.press('Control+P');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type('train.py');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'train.py' }).first().click({ timeout: 20_000 });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      for (const log of findFiles(server.userDataDir, /RegScope\.log$/)) {
        const m = /activated in (\d+(?:\.\d+)?) ms/.exec(fs.readFileSync(log, 'utf8'));
        if (m) return [['extension activation (activate() until the language client is running)', `${Number(m[1]).toFixed(0)} ms`, 'code-server 4.100.3', '']];
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    return [['extension activation', 'not measured', 'no activation line in the RegScope log', '']];
  } finally {
    await browser.close();
    await server.stop();
  }
}
