import type { CallInfo, ScriptFacts } from '../facts/scriptFacts';
import type { TechniqueKind, TechniqueModel } from './trainingScript';

/**
 * Regularization and training techniques a script uses, recognized by the APIs that
 * implement them. Each entry points at the call that turns it on.
 */
const BY_NAME: ReadonlyArray<[RegExp, TechniqueKind]> = [
  [/^(manual_seed|manual_seed_all|seed_everything|set_seed|set_random_seed|PRNGKey|key)$/, 'seed'],
  [/^(Mixup|mixup|mixup_data|mixup_criterion|FastCollateMixup)$/, 'mixup'],
  [/^(CutMix|cutmix|cutmix_data|RandomCutmix)$/, 'cutmix'],
  [/^(EarlyStopping|early_stopping)$/, 'early_stopping'],
  [/^(RandomResizedCrop|RandomCrop|RandomHorizontalFlip|RandAugment|AutoAugment|TrivialAugmentWide|ColorJitter|RandomErasing|RandomFlip|RandomRotation|RandomZoom|RandomTranslation|create_transform)$/, 'augmentation'],
  [/^(AveragedModel|ModelEma|ModelEmaV2|ModelEmaV3|ExponentialMovingAverage|swa_utils)$/, 'ema'],
  [/^(GradScaler|autocast)$/, 'amp'],
  [/^(clip_grad_norm_|clip_grad_value_|clip_by_global_norm)$/, 'gradient_clipping'],
  [/^(KLDivLoss|kl_div|DistillationLoss|DistillKL)$/, 'distillation'],
];

export function extractTechniques(facts: ScriptFacts): TechniqueModel[] {
  const out: TechniqueModel[] = [];
  const add = (kind: TechniqueKind, call: CallInfo, detail: string) => out.push({ kind, call, detail });
  const anyName = new RegExp(BY_NAME.map(([re]) => `(?:${re.source})`).join('|'));
  for (const call of facts.calls) {
    if (call.keywords.size === 0 && !anyName.test(call.name)) continue; // most calls: one test
    for (const [re, kind] of BY_NAME) {
      if (!re.test(call.name)) continue;
      if (kind === 'seed' && (call.name === 'key' || call.name === 'PRNGKey') && !/jax|random/.test(call.qualified)) continue;
      add(kind, call, call.callee || call.name);
    }
    const smoothing = call.keywords.get('label_smoothing') ?? call.keywords.get('label_smoothing_factor') ?? call.keywords.get('smoothing');
    if (smoothing) add('label_smoothing', call, `${call.name}(label_smoothing=…)`);
    if (call.keywords.has('gradient_accumulation_steps') || call.keywords.has('accumulate_grad_batches')) add('gradient_accumulation', call, call.name);
    if (call.keywords.has('max_grad_norm') || call.keywords.has('gradient_clip_val') || call.keywords.has('clipnorm') || call.keywords.has('global_clipnorm')) add('gradient_clipping', call, call.name);
    if (call.keywords.has('teacher') || call.keywords.has('teacher_model')) add('distillation', call, call.name);
  }
  return out;
}
