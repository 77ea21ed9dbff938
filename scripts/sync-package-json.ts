// Writes package.json's contributes.configuration from the server's settings schema, the one
// source of truth (a test fails when they differ).
import * as fs from 'node:fs';
import { SETTINGS_SCHEMA } from '../server/src/lsp/settingsSchema';

const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
pkg.contributes.configuration = { title: 'RegScope', properties: SETTINGS_SCHEMA };
fs.writeFileSync('package.json', `${JSON.stringify(pkg, null, 2)}\n`);
