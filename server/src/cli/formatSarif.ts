import type { RuleSpec } from '../analysis/rules/ruleSpec';
import { docsUrl } from '../analysis/catalogue';
import type { FindingRecord } from './findingRecord';

const LEVEL = { error: 'error', warning: 'warning', information: 'note', hint: 'note' } as const;

/** SARIF 2.1.0 log: one run, the whole rule catalogue as `tool.driver.rules`. */
export function formatSarif(records: readonly FindingRecord[], rules: readonly RuleSpec[], version: string, baseDir: string): object {
  const index = new Map(rules.map((r, i) => [r.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{
      tool: {
        driver: {
          name: 'RegScope',
          version,
          informationUri: 'https://github.com/regscope/regscope',
          rules: rules.map((r) => ({
            id: r.id,
            name: r.title.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : '')),
            shortDescription: { text: r.title },
            fullDescription: { text: `${r.title}. Reference: ${r.reference}.` },
            helpUri: docsUrl(r.id),
            help: { text: `See ${docsUrl(r.id)}` },
            defaultConfiguration: { level: LEVEL[r.severity] },
            properties: { family: r.family, fix: r.fix },
          })),
        },
      },
      originalUriBaseIds: { SRCROOT: { uri: `file://${baseDir.endsWith('/') ? baseDir : `${baseDir}/`}` } },
      results: records.map((f) => ({
        ruleId: f.rule,
        ...(index.has(f.rule) ? { ruleIndex: index.get(f.rule) } : {}),
        level: LEVEL[f.severity],
        message: { text: f.message },
        locations: [{
          physicalLocation: {
            artifactLocation: { uri: f.file.split('/').map(encodeURIComponent).join('/'), uriBaseId: 'SRCROOT' },
            region: { startLine: f.line, startColumn: f.column, endLine: f.endLine, endColumn: f.endColumn },
          },
        }],
        ...(f.fixes.length > 0 ? {
          fixes: f.fixes.map((x) => ({
            description: { text: x.title },
            artifactChanges: [{
              artifactLocation: { uri: f.file.split('/').map(encodeURIComponent).join('/'), uriBaseId: 'SRCROOT' },
              replacements: x.edits.map((e) => ({
                deletedRegion: { startLine: e.line, startColumn: e.column, endLine: e.endLine, endColumn: e.endColumn },
                insertedContent: { text: e.newText },
              })),
            }],
          })),
        } : {}),
      })),
    }],
  };
}
