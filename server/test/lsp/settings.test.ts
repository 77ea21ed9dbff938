import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { SETTINGS_SCHEMA, readEditorSettings } from '../../src/lsp/settingsSchema';
import { Commands } from '../../src/protocol';

const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8'));

describe('extension manifest', () => {
  it("package.json's settings equal the server's schema (npm run sync:package)", () => {
    assert.deepEqual(pkg.contributes.configuration.properties, JSON.parse(JSON.stringify(SETTINGS_SCHEMA)));
    for (const [key, spec] of Object.entries(SETTINGS_SCHEMA)) assert.ok((spec as { markdownDescription?: string }).markdownDescription, `${key} has no markdownDescription`);
  });

  it('every command the client registers is contributed with the RegScope category', () => {
    const contributed = new Map<string, { category: string }>(pkg.contributes.commands.map((c: { command: string; category: string }) => [c.command, c]));
    for (const id of Object.values(Commands)) {
      assert.ok(contributed.has(id), `${id} not in package.json`);
      assert.equal(contributed.get(id)!.category, 'RegScope');
    }
  });

  it('limits untrusted workspaces: analysis runs, probes do not', () => {
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
    assert.ok(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations.includes('regscope.python.interpreter'));
  });
});

describe('editor settings', () => {
  it('reads valid settings', () => {
    const { settings, problems } = readEditorSettings({ select: ['wd'], ignore: ['SEED001'], severity: { WD003: 'warning' }, rules: { OPT005: { lr_range: { adamw: [1e-6, 3e-3] } } }, inlayHints: { enabled: false } });
    assert.deepEqual(problems, []);
    assert.deepEqual(settings.select, ['WD']);
    assert.equal(settings.severity.WD003, 'warning');
    assert.equal(settings.inlayHints, false);
  });

  it('invalid values fall back to defaults with a message naming the setting', () => {
    const { settings, problems } = readEditorSettings({ select: 'WD001', severity: { WD003: 'loud' }, inlayHints: { enabled: 'yes' }, rules: [] });
    assert.deepEqual(settings.select, []);
    assert.equal(settings.inlayHints, true);
    assert.equal(problems.length, 4);
    assert.ok(problems.some((p) => p.startsWith('regscope.select')));
    assert.ok(problems.some((p) => p.startsWith('regscope.severity.WD003')));
  });
});
