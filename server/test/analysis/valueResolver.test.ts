import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { formatValue } from '../../src/analysis/values/pyValue';
import { analyzeText } from '../support/analyzeFile';

/** Resolves `lr=` of the first optimizer in the script. */
async function lrOf(script: string, file?: string) {
  const r = await analyzeText(script, undefined, file);
  const opt = r.model.optimizers[0];
  assert.ok(opt, 'an optimizer is found');
  return opt.hyper.get('lr')!.resolved;
}

const HEAD = 'import torch\nfrom torch import nn\nmodel = nn.Linear(2, 2)\n';

describe('value resolution', () => {
  it('literals, constants and arithmetic', async () => {
    assert.equal(formatValue((await lrOf(`${HEAD}opt = torch.optim.SGD(model.parameters(), lr=0.1)`)).value), '0.1');
    const c = await lrOf(`${HEAD}BASE_LR = 0.1\nBATCH = 512\nopt = torch.optim.SGD(model.parameters(), lr=BASE_LR * BATCH / 256)`);
    assert.equal(formatValue(c.value), '0.2');
    assert.equal(c.source, 'constant');
    const e = await lrOf(`${HEAD}opt = torch.optim.SGD(model.parameters(), lr=2 ** -3)`);
    assert.equal(formatValue(e.value), '0.125');
  });

  it('argparse defaults through args.x, with type conversion and store_true', async () => {
    const r = await lrOf(`${HEAD}import argparse\np = argparse.ArgumentParser()\np.add_argument("--learning-rate", type=float, default="3e-4")\nargs = p.parse_args()\nopt = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)`);
    assert.equal(formatValue(r.value), '3e-4');
    assert.equal(r.source, 'argparse');
    assert.equal(r.detail, '--learning-rate default');
    assert.equal(r.origin.line, 5);
  });

  it('argparse flags reach functions that take args as a parameter', async () => {
    const r = await lrOf(`${HEAD}import argparse\ndef build(args):\n    return torch.optim.AdamW(model.parameters(), lr=args.lr)\np = argparse.ArgumentParser()\np.add_argument("--lr", default=0.01, type=float)\nbuild(p.parse_args())`);
    assert.equal(formatValue(r.value), '0.01');
    assert.equal(r.source, 'argparse');
  });

  it('dicts, dataclasses, namespaces and .get with defaults', async () => {
    assert.equal(formatValue((await lrOf(`${HEAD}cfg = {"optim": {"lr": 5e-4}}\nopt = torch.optim.AdamW(model.parameters(), lr=cfg["optim"]["lr"])`)).value), '5e-4');
    assert.equal(formatValue((await lrOf(`${HEAD}cfg = dict(lr=0.3)\nopt = torch.optim.SGD(model.parameters(), lr=cfg.get("lr", 0.1))`)).value), '0.3');
    assert.equal(formatValue((await lrOf(`${HEAD}cfg = {}\nopt = torch.optim.SGD(model.parameters(), lr=cfg.get("lr", 0.05))`)).value), '0.05');
    const dc = await lrOf(`${HEAD}from dataclasses import dataclass\n@dataclass\nclass Config:\n    lr: float = 1e-3\n    wd: float = 0.1\ncfg = Config(wd=0.05)\nopt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.wd)`);
    assert.equal(formatValue(dc.value), '0.001');
    assert.equal(dc.source, 'config');
    assert.equal(formatValue((await lrOf(`${HEAD}from types import SimpleNamespace\nhp = SimpleNamespace(lr=0.02)\nopt = torch.optim.SGD(model.parameters(), lr=hp.lr)`)).value), '0.02');
  });

  it('function parameters: the one call site, else the default; disagreeing call sites are unknown', async () => {
    const one = await lrOf(`${HEAD}def make(m, lr=1e-3):\n    return torch.optim.AdamW(m.parameters(), lr=lr)\nopt = make(model, lr=4e-4)`);
    assert.equal(formatValue(one.value), '4e-4');
    const def = await lrOf(`${HEAD}def make(m, lr=1e-3):\n    return torch.optim.AdamW(m.parameters(), lr=lr)\nopt = make(model)`);
    assert.equal(formatValue(def.value), '0.001');
    assert.equal(def.source, 'parameter');
    const two = await lrOf(`${HEAD}def make(m, lr=1e-3):\n    return torch.optim.AdamW(m.parameters(), lr=lr)\na = make(model, lr=0.1)\nb = make(model, lr=0.2)`);
    assert.equal(two.value, undefined);
  });

  it('Lightning self.hparams from __init__ parameters', async () => {
    const r = await lrOf(`import torch\nimport lightning as L\nclass M(L.LightningModule):\n    def __init__(self, lr=2e-4):\n        super().__init__()\n        self.save_hyperparameters()\n    def configure_optimizers(self):\n        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)\n`);
    assert.equal(formatValue(r.value), '2e-4');
  });

  it('YAML and JSON files loaded by a literal path keep their file and line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-'));
    fs.mkdirSync(path.join(dir, 'configs'));
    fs.writeFileSync(path.join(dir, 'configs', 'train.yaml'), 'model: mlp\noptim:\n  name: adamw\n  lr: 6.0e-4\n');
    fs.writeFileSync(path.join(dir, 'hp.json'), '{\n  "lr": 0.25\n}\n');
    const script = path.join(dir, 'train.py');
    const y = await lrOf(`${HEAD}import yaml\nwith open("configs/train.yaml") as f:\n    cfg = yaml.safe_load(f)\nopt = torch.optim.AdamW(model.parameters(), lr=cfg["optim"]["lr"])`, script);
    assert.equal(formatValue(y.value), '6e-4');
    assert.equal(y.source, 'config');
    assert.deepEqual([y.origin.file, y.origin.line], ['configs/train.yaml', 3]);
    const j = await lrOf(`${HEAD}import json\ncfg = json.load(open("hp.json"))\nopt = torch.optim.SGD(model.parameters(), lr=cfg["lr"])`, script);
    assert.equal(formatValue(j.value), '0.25');
    assert.deepEqual([j.origin.file, j.origin.line], ['hp.json', 1]);
    const o = await lrOf(`${HEAD}from omegaconf import OmegaConf\ncfg = OmegaConf.load("configs/train.yaml")\nopt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr)`, script);
    assert.equal(formatValue(o.value), '6e-4');
  });

  it('unknown stays unknown: environment, conditionals, loops, missing files', async () => {
    for (const expr of ['float(os.environ["LR"])', 'a if flag else b', 'cfg["lr"]', 'lr']) {
      const r = await lrOf(`${HEAD}import os, yaml\nflag = os.environ.get("X")\na, b = 0.1, 0.2\ncfg = yaml.safe_load(open("missing.yaml"))\nfor lr in [0.1, 0.01]:\n    opt = torch.optim.SGD(model.parameters(), lr=${expr})`);
      assert.equal(r.value, undefined, expr);
    }
    const cond = await lrOf(`${HEAD}import sys\nlr = 0.1\nif len(sys.argv) > 1:\n    lr = 0.5\nopt = torch.optim.SGD(model.parameters(), lr=lr)`);
    assert.equal(cond.value, undefined);
  });

  it('the library default when the script sets nothing', async () => {
    const r = await analyzeText(`${HEAD}opt = torch.optim.AdamW(model.parameters())`);
    const wd = r.model.optimizers[0]!.hyper.get('weight_decay')!;
    assert.equal(formatValue(wd.resolved.value), '0.01');
    assert.equal(wd.resolved.source, 'default');
    assert.equal(wd.node, undefined);
  });
});
