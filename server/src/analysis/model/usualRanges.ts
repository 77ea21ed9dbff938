import type { OptimizerFamily } from './apiCatalogue';

/**
 * Usual values of common hyperparameters by setting, from the design's practice table
 * (shared/design/rules.md): shown in hovers next to the resolved value. These are
 * conventions from well-known recipes, not limits; rules use their own thresholds.
 */
export interface UsualRange {
  readonly setting: string;
  readonly range: string;
  readonly source: string;
}

const LR: Partial<Record<OptimizerFamily, UsualRange[]>> = {
  sgd: [{ setting: 'SGD, CNN', range: '0.1 × batch/256', source: 'Goyal et al. 2017; ResNet' }],
  adamw: [
    { setting: 'AdamW, ViT/DeiT', range: '5e-4 × batch/512', source: 'DeiT' },
    { setting: 'AdamW, LLM pretraining', range: '6e-4 → 6e-5 (GPT-3), 3e-4 (LLaMA)', source: 'GPT-3; LLaMA' },
    { setting: 'AdamW, fine-tuning', range: '2e-5 – 5e-5', source: 'BERT' },
    { setting: 'LoRA / QLoRA', range: '1e-4 – 2e-4', source: 'QLoRA' },
  ],
  adam: [{ setting: 'Adam', range: '1e-4 – 1e-3 (default 1e-3)', source: 'Adam paper; PyTorch defaults' }],
  muon: [{ setting: 'Muon', range: '0.02 (AdamW 3e-4 for the rest)', source: 'Muon reference implementation' }],
  rmsprop: [{ setting: 'RMSprop', range: '1e-4 – 1e-2', source: 'PyTorch/Keras defaults' }],
};

const DECAY: Partial<Record<OptimizerFamily, UsualRange[]>> = {
  adam: [{ setting: 'Adam (decay added to the gradient, L2)', range: '0; for weight decay use AdamW (0.01 – 0.1)', source: 'Decoupled Weight Decay Regularization' }],
  rmsprop: [{ setting: 'RMSprop (decay added to the gradient, L2)', range: '0 – 1e-5', source: 'PyTorch/Keras defaults' }],
  sgd: [{ setting: 'SGD, CNN', range: '1e-4 – 5e-4', source: 'ResNet recipe' }],
  adamw: [
    { setting: 'AdamW, ViT/DeiT', range: '0.05 – 0.1', source: 'DeiT' },
    { setting: 'AdamW, LLM pretraining', range: '0.1', source: 'GPT-3; LLaMA' },
    { setting: 'AdamW, fine-tuning', range: '0.01', source: 'BERT' },
    { setting: 'LoRA / QLoRA', range: '0', source: 'QLoRA' },
  ],
  muon: [{ setting: 'Muon', range: '0.01', source: 'Muon reference implementation' }],
};

const OTHER: Readonly<Record<string, UsualRange[]>> = {
  momentum: [{ setting: 'SGD', range: '0.9 (Muon: 0.95, Nesterov)', source: 'Goyal et al. 2017' }],
  betas: [
    { setting: 'AdamW, vision / fine-tuning', range: '(0.9, 0.999)', source: 'PyTorch default' },
    { setting: 'AdamW, LLM pretraining', range: '(0.9, 0.95)', source: 'GPT-3; LLaMA' },
  ],
  eps: [{ setting: 'Adam family', range: '1e-8 (≥ 1e-6 with fp16 parameters)', source: 'PyTorch default; pytorch#147437' }],
  p: [{ setting: 'dropout', range: '0 – 0.1 (transformers), ≤ 0.5 (MLP heads), 0.2 – 0.5 (RNNs)', source: 'Srivastava et al. 2014' }],
  rate: [{ setting: 'dropout', range: '0 – 0.5', source: 'Srivastava et al. 2014' }],
  label_smoothing: [{ setting: 'classification', range: '0 – 0.1 (≤ 0.3)', source: 'Szegedy et al. 2016' }],
  max_norm: [{ setting: 'gradient clipping', range: '1.0 (RNNs 0.25 – 5; QLoRA 0.3)', source: 'GPT-3; Pascanu et al. 2013' }],
  max_grad_norm: [{ setting: 'gradient clipping', range: '1.0', source: 'HF TrainingArguments default' }],
  warmup_ratio: [{ setting: 'fine-tuning', range: '0.06 – 0.1 (LoRA 0.03)', source: 'RoBERTa; QLoRA' }],
  warmup_steps: [{ setting: 'LLM pretraining', range: '~2000 steps', source: 'GPT-3' }],
};

export function usualRanges(name: string, family: OptimizerFamily | undefined): readonly UsualRange[] {
  if ((name === 'lr' || name === 'learning_rate') && family) return LR[family] ?? [];
  if ((name === 'weight_decay' || name === 'decay') && family) return DECAY[family] ?? [];
  return OTHER[name] ?? [];
}
