import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunBundle } from '../../src/protocol';
import { jsonForScript, panelCsp, panelHtml, reportHtml } from '../../src/report/panelHtml';

describe('panel and report HTML', () => {
  it('the panel CSP allows nothing by default, scripts only by nonce, no eval and no inline styles', () => {
    const csp = panelCsp('https://file+.vscode-resource.vscode-cdn.net', 'abc');
    assert.match(csp, /^default-src 'none'/);
    assert.match(csp, /script-src 'nonce-abc'(;|$)/);
    assert.match(csp, /style-src https:\/\/file\+\.vscode-resource\.vscode-cdn\.net 'nonce-abc'/);
    assert.doesNotMatch(csp, /unsafe-eval|unsafe-inline|\*/);
    const html = panelHtml({ cspSource: 'https://x', scriptUri: 'https://x/webview.js', styleUri: 'https://x/webview.css', nonce: 'abc', title: 'Probe: <b>' });
    assert.match(html, /<script nonce="abc" src="https:\/\/x\/webview\.js"><\/script>/);
    assert.match(html, /<meta property="csp-nonce" content="abc">/, 'the toolkit reads the nonce for its one <style>');
    assert.match(html, /<title>Probe: &lt;b><\/title>/);
  });

  it('run data embedded in a report cannot close its script element', () => {
    const hostile = '</script><script>alert(1)</script><!--';
    assert.doesNotMatch(jsonForScript({ m: hostile }), /<\/script|<!--/i);
    assert.deepEqual(JSON.parse(jsonForScript({ m: hostile, s: '\u2028' })), { m: hostile, s: '\u2028' });
    const bundle = { record: { id: 'r', script: '/x/train.py' }, events: [{ type: 'warning', message: hostile }] } as unknown as RunBundle;
    const html = reportHtml({ script: 'void 0;', css: '', bundles: [bundle], generator: 'RegScope test', generatedAt: 'now', nonce: 'n' });
    assert.equal(html.split('</script>').length - 1, 2, 'only the data element and the bundle close a script');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; script-src 'nonce-n'; style-src 'nonce-n'; img-src data: blob:"/);
  });

  it('a bundle that contains </script> cannot break out of the report either', () => {
    const html = reportHtml({ script: 'const s = "</script>";', css: 'a{}</style>', bundles: [], generator: 'g', generatedAt: 'now', nonce: 'n' });
    assert.equal(html.split('</script>').length - 1, 2);
    assert.equal(html.split('</style>').length - 1, 1);
  });
});
