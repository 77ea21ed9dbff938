import type { Framework } from './trainingScript';

/** What the analysis knows of each library API it recognizes: family, defaults, semantics. */
export type OptimizerFamily = 'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad' | 'adadelta' | 'lion' | 'muon' | 'adafactor' | 'lbfgs' | 'other';

export interface OptimizerApi {
  readonly className: string;
  readonly framework: Framework;
  readonly family: OptimizerFamily;
  /** Weight decay added to the gradient (L2), as opposed to decoupled (AdamW). */
  readonly coupledDecay: boolean;
  /** Adaptive (per-coordinate) step sizes. */
  readonly adaptive: boolean;
  /** Keyword → library default; positional order for the first few arguments after params. */
  readonly defaults: Readonly<Record<string, number | boolean | readonly number[] | null>>;
  readonly positional: readonly string[];
  /** Keyword names the library uses for lr and decay. */
  readonly lrKey: string;
  readonly decayKey: string;
}

const torchAdamLike = (className: string, family: OptimizerFamily, coupled: boolean, decay: number, extra: Record<string, number | boolean | null> = {}): OptimizerApi => ({
  className, framework: 'pytorch', family, coupledDecay: coupled, adaptive: true,
  defaults: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: decay, ...extra },
  positional: ['lr', 'betas', 'eps', 'weight_decay'], lrKey: 'lr', decayKey: 'weight_decay',
});

export const TORCH_OPTIMIZERS: readonly OptimizerApi[] = [
  { className: 'SGD', framework: 'pytorch', family: 'sgd', coupledDecay: true, adaptive: false,
    defaults: { lr: 1e-3, momentum: 0, dampening: 0, weight_decay: 0, nesterov: false },
    positional: ['lr', 'momentum', 'dampening', 'weight_decay', 'nesterov'], lrKey: 'lr', decayKey: 'weight_decay' },
  torchAdamLike('Adam', 'adam', true, 0, { amsgrad: false }),
  torchAdamLike('AdamW', 'adamw', false, 0.01, { amsgrad: false }),
  torchAdamLike('NAdam', 'adam', true, 0, { momentum_decay: 4e-3 }),
  torchAdamLike('RAdam', 'adam', true, 0),
  torchAdamLike('Adamax', 'adam', true, 0),
  { className: 'RMSprop', framework: 'pytorch', family: 'rmsprop', coupledDecay: true, adaptive: true,
    defaults: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weight_decay: 0, momentum: 0, centered: false },
    positional: ['lr', 'alpha', 'eps', 'weight_decay', 'momentum', 'centered'], lrKey: 'lr', decayKey: 'weight_decay' },
  { className: 'Adagrad', framework: 'pytorch', family: 'adagrad', coupledDecay: true, adaptive: true,
    defaults: { lr: 1e-2, lr_decay: 0, weight_decay: 0, initial_accumulator_value: 0, eps: 1e-10 },
    positional: ['lr', 'lr_decay', 'weight_decay', 'initial_accumulator_value', 'eps'], lrKey: 'lr', decayKey: 'weight_decay' },
  { className: 'Adadelta', framework: 'pytorch', family: 'adadelta', coupledDecay: true, adaptive: true,
    defaults: { lr: 1.0, rho: 0.9, eps: 1e-6, weight_decay: 0 },
    positional: ['lr', 'rho', 'eps', 'weight_decay'], lrKey: 'lr', decayKey: 'weight_decay' },
  { className: 'LBFGS', framework: 'pytorch', family: 'lbfgs', coupledDecay: false, adaptive: false,
    defaults: { lr: 1 }, positional: ['lr'], lrKey: 'lr', decayKey: 'weight_decay' },
  { className: 'Muon', framework: 'pytorch', family: 'muon', coupledDecay: false, adaptive: false,
    defaults: { lr: 0.02, momentum: 0.95, nesterov: true, weight_decay: 0 },
    positional: ['lr', 'weight_decay', 'momentum'], lrKey: 'lr', decayKey: 'weight_decay' },
  { className: 'Lion', framework: 'pytorch', family: 'lion', coupledDecay: false, adaptive: true,
    defaults: { lr: 1e-4, betas: [0.9, 0.99], weight_decay: 0 },
    positional: ['lr', 'betas', 'weight_decay'], lrKey: 'lr', decayKey: 'weight_decay' },
  { className: 'Adafactor', framework: 'huggingface', family: 'adafactor', coupledDecay: false, adaptive: true,
    defaults: { lr: null, weight_decay: 0 }, positional: ['lr'], lrKey: 'lr', decayKey: 'weight_decay' },
];

/** Modules whose optimizers follow torch.optim's signatures. */
export const TORCH_OPTIMIZER_MODULES = ['torch.optim', 'torch.optim.', 'timm.optim', 'bitsandbytes.optim', 'bnb.optim', 'apex.optimizers', 'transformers', 'muon', 'lion_pytorch', 'torch_optimizer'];

const kerasOpt = (className: string, family: OptimizerFamily, adaptive: boolean, lr: number, extra: Record<string, number | boolean | null> = {}): OptimizerApi => ({
  className, framework: 'keras', family, coupledDecay: false, adaptive,
  defaults: { learning_rate: lr, weight_decay: null, ...extra }, positional: ['learning_rate'], lrKey: 'learning_rate', decayKey: 'weight_decay',
});

/** Keras 3 / tf.keras ≥ 2.11: `weight_decay` is decoupled in every optimizer. */
export const KERAS_OPTIMIZERS: readonly OptimizerApi[] = [
  kerasOpt('SGD', 'sgd', false, 0.01, { momentum: 0, nesterov: false }),
  kerasOpt('Adam', 'adam', true, 1e-3, { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }),
  kerasOpt('AdamW', 'adamw', true, 1e-3, { weight_decay: 0.004, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }),
  kerasOpt('Nadam', 'adam', true, 1e-3, { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }),
  kerasOpt('RMSprop', 'rmsprop', true, 1e-3, { rho: 0.9, momentum: 0, epsilon: 1e-7 }),
  kerasOpt('Adagrad', 'adagrad', true, 1e-3, { epsilon: 1e-7 }),
  kerasOpt('Adadelta', 'adadelta', true, 1e-3, { rho: 0.95, epsilon: 1e-7 }),
  kerasOpt('Adamax', 'adam', true, 1e-3, { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }),
  kerasOpt('Lion', 'lion', true, 1e-4, { beta_1: 0.9, beta_2: 0.99 }),
];

/** Optax transformations that are whole optimizers. First positional argument is the lr. */
export const OPTAX_OPTIMIZERS: readonly OptimizerApi[] = [
  { className: 'sgd', framework: 'jax', family: 'sgd', coupledDecay: false, adaptive: false, defaults: { learning_rate: null, momentum: null, nesterov: false }, positional: ['learning_rate', 'momentum', 'nesterov'], lrKey: 'learning_rate', decayKey: 'weight_decay' },
  { className: 'adam', framework: 'jax', family: 'adam', coupledDecay: false, adaptive: true, defaults: { learning_rate: null, b1: 0.9, b2: 0.999, eps: 1e-8 }, positional: ['learning_rate', 'b1', 'b2', 'eps'], lrKey: 'learning_rate', decayKey: 'weight_decay' },
  { className: 'adamw', framework: 'jax', family: 'adamw', coupledDecay: false, adaptive: true, defaults: { learning_rate: null, b1: 0.9, b2: 0.999, eps: 1e-8, weight_decay: 1e-4, mask: null }, positional: ['learning_rate', 'b1', 'b2', 'eps', 'eps_root', 'mu_dtype', 'weight_decay', 'mask'], lrKey: 'learning_rate', decayKey: 'weight_decay' },
  { className: 'lion', framework: 'jax', family: 'lion', coupledDecay: false, adaptive: true, defaults: { learning_rate: null, b1: 0.9, b2: 0.99, weight_decay: 1e-3 }, positional: ['learning_rate', 'b1', 'b2'], lrKey: 'learning_rate', decayKey: 'weight_decay' },
  { className: 'rmsprop', framework: 'jax', family: 'rmsprop', coupledDecay: false, adaptive: true, defaults: { learning_rate: null, decay: 0.9, eps: 1e-8 }, positional: ['learning_rate'], lrKey: 'learning_rate', decayKey: 'weight_decay' },
  { className: 'adafactor', framework: 'jax', family: 'adafactor', coupledDecay: false, adaptive: true, defaults: { learning_rate: null }, positional: ['learning_rate'], lrKey: 'learning_rate', decayKey: 'weight_decay_rate' },
];

export type SchedulerKind = 'epoch' | 'iteration' | 'plateau' | 'either';

/** PyTorch schedulers and whether they are meant to step once per epoch or per iteration. */
export const TORCH_SCHEDULERS: Readonly<Record<string, SchedulerKind>> = {
  StepLR: 'epoch', MultiStepLR: 'epoch', ExponentialLR: 'epoch', CosineAnnealingLR: 'either',
  CosineAnnealingWarmRestarts: 'either', ReduceLROnPlateau: 'plateau', OneCycleLR: 'iteration', CyclicLR: 'iteration',
  LambdaLR: 'either', MultiplicativeLR: 'either', LinearLR: 'either', ConstantLR: 'either', PolynomialLR: 'either',
  SequentialLR: 'either', ChainedScheduler: 'either',
};

/** Positional parameters after the optimizer, as PyTorch and transformers declare them. */
export const SCHEDULER_POSITIONAL: Readonly<Record<string, readonly string[]>> = {
  StepLR: ['step_size', 'gamma'],
  MultiStepLR: ['milestones', 'gamma'],
  ExponentialLR: ['gamma'],
  CosineAnnealingLR: ['T_max', 'eta_min'],
  CosineAnnealingWarmRestarts: ['T_0', 'T_mult', 'eta_min'],
  LinearLR: ['start_factor', 'end_factor', 'total_iters'],
  ConstantLR: ['factor', 'total_iters'],
  PolynomialLR: ['total_iters', 'power'],
  OneCycleLR: ['max_lr', 'total_steps', 'epochs', 'steps_per_epoch', 'pct_start', 'anneal_strategy', 'cycle_momentum', 'base_momentum', 'max_momentum', 'div_factor', 'final_div_factor', 'three_phase'],
  LambdaLR: ['lr_lambda'],
  get_linear_schedule_with_warmup: ['num_warmup_steps', 'num_training_steps'],
  get_cosine_schedule_with_warmup: ['num_warmup_steps', 'num_training_steps', 'num_cycles'],
  get_constant_schedule_with_warmup: ['num_warmup_steps'],
};

/** Positional parameters of layer constructors beyond those every kind shares (extractModel.layerHyper). */
export const LAYER_POSITIONAL: Readonly<Record<string, readonly string[]>> = {
  Embedding: ['num_embeddings', 'embedding_dim', 'padding_idx'], LayerNorm: ['normalized_shape', 'eps'],
  MaxPool1d: ['kernel_size', 'stride', 'padding'], AvgPool1d: ['kernel_size', 'stride', 'padding'], MaxPool2d: ['kernel_size', 'stride', 'padding'], AvgPool2d: ['kernel_size', 'stride', 'padding'],
  AdaptiveAvgPool1d: ['output_size'], AdaptiveAvgPool2d: ['output_size'], AdaptiveMaxPool1d: ['output_size'], AdaptiveMaxPool2d: ['output_size'],
  LeakyReLU: ['negative_slope'],
};

/** The same for Keras layers. */
export const KERAS_LAYER_POSITIONAL: Readonly<Record<string, readonly string[]>> = {
  Conv1D: ['filters', 'kernel_size', 'strides', 'padding'], Conv2D: ['filters', 'kernel_size', 'strides', 'padding'],
  MaxPooling1D: ['pool_size', 'strides', 'padding'], MaxPooling2D: ['pool_size', 'strides', 'padding'],
  AveragePooling1D: ['pool_size', 'strides', 'padding'], AveragePooling2D: ['pool_size', 'strides', 'padding'],
  Embedding: ['input_dim', 'output_dim'], Activation: ['activation'], LayerNormalization: ['axis', 'epsilon'], LeakyReLU: ['negative_slope'],
};

/** Hugging Face / timm schedule factories that count optimizer steps. */
export const STEP_SCHEDULE_FACTORIES = new Set([
  'get_linear_schedule_with_warmup', 'get_cosine_schedule_with_warmup', 'get_constant_schedule_with_warmup',
  'get_polynomial_decay_schedule_with_warmup', 'get_cosine_with_hard_restarts_schedule_with_warmup',
  'get_inverse_sqrt_schedule', 'get_wsd_schedule', 'get_scheduler',
]);

export type LayerKind =
  | 'linear' | 'conv' | 'dropout' | 'batchnorm' | 'layernorm' | 'groupnorm' | 'activation' | 'softmax' | 'embedding'
  | 'rnn' | 'attention' | 'transformer' | 'pool' | 'flatten' | 'other';

export const TORCH_LAYERS: Readonly<Record<string, LayerKind>> = {
  Linear: 'linear', LazyLinear: 'linear', Bilinear: 'linear',
  Conv1d: 'conv', Conv2d: 'conv', Conv3d: 'conv', ConvTranspose1d: 'conv', ConvTranspose2d: 'conv', ConvTranspose3d: 'conv', LazyConv2d: 'conv',
  Dropout: 'dropout', Dropout1d: 'dropout', Dropout2d: 'dropout', Dropout3d: 'dropout', AlphaDropout: 'dropout', FeatureAlphaDropout: 'dropout',
  BatchNorm1d: 'batchnorm', BatchNorm2d: 'batchnorm', BatchNorm3d: 'batchnorm', SyncBatchNorm: 'batchnorm', LazyBatchNorm2d: 'batchnorm',
  LayerNorm: 'layernorm', RMSNorm: 'layernorm', GroupNorm: 'groupnorm', InstanceNorm1d: 'groupnorm', InstanceNorm2d: 'groupnorm',
  ReLU: 'activation', ReLU6: 'activation', LeakyReLU: 'activation', GELU: 'activation', SiLU: 'activation', Mish: 'activation', ELU: 'activation',
  SELU: 'activation', Tanh: 'activation', Sigmoid: 'activation', Softplus: 'activation', PReLU: 'activation', Hardswish: 'activation', GLU: 'activation',
  Softmax: 'softmax', LogSoftmax: 'softmax',
  Embedding: 'embedding', EmbeddingBag: 'embedding',
  LSTM: 'rnn', GRU: 'rnn', RNN: 'rnn', LSTMCell: 'rnn', GRUCell: 'rnn',
  MultiheadAttention: 'attention', TransformerEncoderLayer: 'transformer', TransformerDecoderLayer: 'transformer',
  TransformerEncoder: 'transformer', TransformerDecoder: 'transformer', Transformer: 'transformer',
  MaxPool1d: 'pool', MaxPool2d: 'pool', AvgPool2d: 'pool', AdaptiveAvgPool2d: 'pool', AdaptiveAvgPool1d: 'pool',
  Flatten: 'flatten', Identity: 'other',
};

export const KERAS_LAYERS: Readonly<Record<string, LayerKind>> = {
  Dense: 'linear', Conv1D: 'conv', Conv2D: 'conv', Conv3D: 'conv', DepthwiseConv2D: 'conv', SeparableConv2D: 'conv', Conv2DTranspose: 'conv',
  Dropout: 'dropout', SpatialDropout1D: 'dropout', SpatialDropout2D: 'dropout', AlphaDropout: 'dropout', GaussianDropout: 'dropout',
  BatchNormalization: 'batchnorm', LayerNormalization: 'layernorm', GroupNormalization: 'groupnorm',
  ReLU: 'activation', LeakyReLU: 'activation', PReLU: 'activation', ELU: 'activation', Activation: 'activation',
  Softmax: 'softmax', Embedding: 'embedding', LSTM: 'rnn', GRU: 'rnn', SimpleRNN: 'rnn', Bidirectional: 'rnn',
  MultiHeadAttention: 'attention', MaxPooling2D: 'pool', GlobalAveragePooling2D: 'pool', AveragePooling2D: 'pool', Flatten: 'flatten',
};

export const TORCH_LOSSES = new Set([
  'CrossEntropyLoss', 'NLLLoss', 'BCELoss', 'BCEWithLogitsLoss', 'MSELoss', 'L1Loss', 'SmoothL1Loss', 'HuberLoss',
  'KLDivLoss', 'CTCLoss', 'MultiLabelSoftMarginLoss', 'CosineEmbeddingLoss', 'MarginRankingLoss', 'TripletMarginLoss', 'PoissonNLLLoss', 'GaussianNLLLoss',
]);

