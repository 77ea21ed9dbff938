import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findingsOf, lineWith, linesOf } from './fixRoundTrip';

const script = (signature: string, body: string, args: string) => `import argparse
import torch.nn.functional as F
from transformers import Trainer, TrainingArguments

class MyTrainer(Trainer):
    def compute_loss(${signature}):
${body}

parser = argparse.ArgumentParser()
parser.add_argument("--accum", type=int, default=4)
cli = parser.parse_args()
args = TrainingArguments(output_dir="out", ${args})
trainer = MyTrainer(model=None, args=args)
`;

const MEAN = `        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = F.cross_entropy(outputs.logits.flatten(0, 1), labels.flatten())
        return (loss, outputs) if return_outputs else loss`;

describe('FW001 compute_loss override ignoring num_items_in_batch under accumulation', () => {
  it('fires on the def line when the parameter is missing and accumulation is on', async () => {
    const text = script('self, model, inputs, return_outputs=False', MEAN, 'gradient_accumulation_steps=8');
    const f = await findingsOf(text, 'FW001');
    assert.deepEqual(f.map((x) => x.range.start.line + 1), [lineWith(text, 'def compute_loss')]);
    assert.equal(f[0]!.range.start.line, f[0]!.range.end.line, 'only the def line');
    assert.match(f[0]!.message, /gradient_accumulation_steps=8/);
    assert.match(f[0]!.message, /TypeError/);
  });

  it('fires when **kwargs swallows the count, with the value resolved from argparse', async () => {
    const text = script('self, model, inputs, return_outputs=False, **kwargs', MEAN, 'gradient_accumulation_steps=cli.accum');
    const f = await findingsOf(text, 'FW001');
    assert.equal(f.length, 1);
    assert.match(f[0]!.message, /swallows num_items_in_batch in \*\*kwargs/);
    assert.match(f[0]!.message, /--accum default/);
  });

  it('fires when accumulation is set to a value it cannot resolve', async () => {
    const text = script('self, model, inputs, return_outputs=False', MEAN, 'gradient_accumulation_steps=int(input())');
    assert.equal((await findingsOf(text, 'FW001')).length, 1);
  });

  it('stays silent without accumulation, or when the override uses or forwards the count', async () => {
    assert.deepEqual(await linesOf(script('self, model, inputs, return_outputs=False', MEAN, 'learning_rate=5e-5'), 'FW001'), []);
    assert.deepEqual(await linesOf(script('self, model, inputs, return_outputs=False', MEAN, 'gradient_accumulation_steps=1'), 'FW001'), []);
    const uses = `        outputs = model(**inputs)
        loss = F.cross_entropy(outputs.logits.flatten(0, 1), inputs["labels"].flatten(), reduction="sum")
        if num_items_in_batch is not None:
            loss = loss / num_items_in_batch
        return loss`;
    assert.deepEqual(await linesOf(script('self, model, inputs, return_outputs=False, num_items_in_batch=None', uses, 'gradient_accumulation_steps=8'), 'FW001'), []);
    const forwards = `        return super().compute_loss(model, inputs, return_outputs, **kwargs)`;
    assert.deepEqual(await linesOf(script('self, model, inputs, return_outputs=False, **kwargs', forwards, 'gradient_accumulation_steps=8'), 'FW001'), []);
  });

  it('stays silent when the class sets model_accepts_loss_kwargs = False or a compute_loss_func is given', async () => {
    const own = script('self, model, inputs, return_outputs=False', MEAN, 'gradient_accumulation_steps=8')
      .replace('class MyTrainer(Trainer):\n', 'class MyTrainer(Trainer):\n    def __init__(self, *a, **k):\n        super().__init__(*a, **k)\n        self.model_accepts_loss_kwargs = False\n\n');
    assert.deepEqual(await linesOf(own, 'FW001'), []);
    const func = script('self, model, inputs, return_outputs=False', MEAN, 'gradient_accumulation_steps=8')
      .replace('MyTrainer(model=None, args=args)', 'MyTrainer(model=None, args=args, compute_loss_func=my_loss)');
    assert.deepEqual(await linesOf(func, 'FW001'), []);
  });

  it('ignores classes that are not Hugging Face trainers', async () => {
    const text = `class Trainer:
    pass

class MyTrainer(Trainer):
    def compute_loss(self, model, inputs):
        return 0

cfg = dict(gradient_accumulation_steps=4)
`;
    assert.deepEqual(await linesOf(text, 'FW001'), []);
  });
});
