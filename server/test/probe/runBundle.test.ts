import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadPythonParser } from '../../src/host/parserLoader';
import { loadRunBundle } from '../../src/probe/runBundle';
import { fixtureRunDir, ROOT } from '../support/runFixtures';

describe('run bundles (what a panel or report gets)', () => {
  it('every layer the run reports links to its constructor, and lr to its line, on the script as it is now', async () => {
    const bundle = await loadRunBundle(await loadPythonParser(), fixtureRunDir('cnn_batchnorm_adamw'));
    const script = fs.readFileSync(path.join(ROOT, 'examples', 'cnn_batchnorm_adamw.py'), 'utf8').split('\n');
    assert.equal(bundle.plan?.v, 1);
    assert.ok(bundle.events.length > 30);
    assert.deepEqual(bundle.problems, []);
    const trace = bundle.events.find((e) => e.type === 'metric' && e.name === 'hessian.trace');
    assert.ok(trace?.type === 'metric' && trace.layers?.length);
    for (const layer of trace.layers!) {
      const ref = bundle.anchors?.layers[layer.name];
      assert.ok(ref, `layer ${layer.name} has a line`);
      assert.match(script[ref.line - 1]!, /nn\.(Conv2d|BatchNorm2d|Linear)\(/, `line ${ref.line} defines ${layer.name}`);
    }
    const lr = bundle.anchors?.hparams['lr'];
    assert.ok(lr);
    assert.match(script[lr.line - 1]!, /lr/);
  });

  it('a run whose script is gone still loads, without links, and says why', async () => {
    const dir = fixtureRunDir('mlp_sgd');
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as Record<string, unknown>;
    record['script'] = path.join(dir, 'moved_away.py');
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(record));
    fs.appendFileSync(path.join(dir, 'events.jsonl'), '{"not": "an event"\n');
    const bundle = await loadRunBundle(await loadPythonParser(), dir);
    assert.equal(bundle.anchors, null);
    assert.ok(bundle.problems.some((p) => /moved_away\.py is gone/.test(p)));
    assert.ok(bundle.problems.some((p) => /1 line\(s\) of events\.jsonl did not decode/.test(p)));
    assert.equal(bundle.record.status, 'ok');
  });
});
