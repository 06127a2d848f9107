// The job spec: the one definition of its shape, used by the CLI, the server, the OpenAPI
// document and the TypeScript types. Defaults are filled by resolveSpec, in one place.
import { Type, type Static } from '@sinclair/typebox';

const Strict = { additionalProperties: false } as const;

export const ActivationName = Type.Union(
  ['relu', 'leaky-relu', 'tanh', 'sigmoid', 'softmax', 'linear'].map((name) => Type.Literal(name)),
);
export const LossName = Type.Union(
  ['cross-entropy', 'binary-cross-entropy', 'mse'].map((name) => Type.Literal(name)),
);
export const InitName = Type.Union(
  ['he', 'xavier', 'glorot', 'normal', 'zeros'].map((name) => Type.Literal(name)),
);
export const NormalizationName = Type.Union(
  ['standard', 'minmax', 'none'].map((name) => Type.Literal(name)),
);
export const OptimizerName = Type.Union(
  ['sgd', 'momentum', 'rmsprop', 'adam', 'adamw'].map((name) => Type.Literal(name)),
);
export const DecayName = Type.Union(
  ['inverse-time', 'staircase', 'exponential', 'sqrt', 'step', 'cosine'].map((name) =>
    Type.Literal(name),
  ),
);

export const LayerSchema = Type.Object(
  {
    units: Type.Integer({ minimum: 1, maximum: 65536 }),
    activation: ActivationName,
    batchNorm: Type.Optional(Type.Boolean()),
    dropout: Type.Optional(
      Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'probability of dropping a unit' }),
    ),
  },
  Strict,
);

export const ModelSchema = Type.Object(
  {
    layers: Type.Array(LayerSchema, {
      minItems: 1,
      maxItems: 64,
      description: 'hidden layers, then the output layer',
    }),
    init: Type.Optional(InitName),
    initScale: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1000 })),
  },
  Strict,
);

const Rate = Type.Number({ exclusiveMinimum: 0, maximum: 1e3 });
const Beta = Type.Number({ minimum: 0, exclusiveMaximum: 1 });

export const OptimizerSchema = Type.Object(
  {
    type: OptimizerName,
    learningRate: Type.Optional(Rate),
    beta: Type.Optional(Beta),
    beta1: Type.Optional(Beta),
    beta2: Type.Optional(Beta),
    epsilon: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    weightDecay: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  Strict,
);

export const DecaySchema = Type.Object(
  {
    type: DecayName,
    rate: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6 })),
    interval: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e6 })),
    floor: Type.Optional(Type.Number({ minimum: 0 })),
    period: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e6 })),
  },
  Strict,
);

export const EarlyStoppingSchema = Type.Object(
  {
    metric: Type.Union(
      ['dev.loss', 'dev.accuracy', 'train.loss', 'train.accuracy'].map((name) => Type.Literal(name)),
    ),
    patience: Type.Integer({ minimum: 1, maximum: 1e6 }),
    minDelta: Type.Optional(Type.Number({ minimum: 0 })),
    restoreBest: Type.Optional(Type.Boolean()),
  },
  Strict,
);

export const TrainingSchema = Type.Object(
  {
    epochs: Type.Integer({ minimum: 1, maximum: 1e6 }),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1 << 20 })),
    shuffle: Type.Optional(Type.Boolean()),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    optimizer: Type.Optional(OptimizerSchema),
    lrDecay: Type.Optional(DecaySchema),
    l2: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6 })),
    earlyStopping: Type.Optional(EarlyStoppingSchema),
    humanLevelError: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  Strict,
);

export const BuiltinDatasetSchema = Type.Object(
  {
    builtin: Type.String({ minLength: 1, maxLength: 64 }),
    samples: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e7 })),
    noise: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    classes: Type.Optional(Type.Integer({ minimum: 2, maximum: 1000 })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  },
  Strict,
);

export const FileDatasetSchema = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 4096 }),
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    test: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  },
  Strict,
);

export const SplitSchema = Type.Object(
  {
    dev: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
    test: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  },
  Strict,
);

export const JobSpecSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    dataset: Type.Union([
      Type.String({ minLength: 1, maxLength: 64, description: 'a dataset id' }),
      BuiltinDatasetSchema,
      FileDatasetSchema,
    ]),
    split: Type.Optional(SplitSchema),
    normalize: Type.Optional(NormalizationName),
    model: ModelSchema,
    loss: Type.Optional(LossName),
    training: TrainingSchema,
  },
  { ...Strict, $id: 'JobSpec' },
);

export type LayerSpec = Static<typeof LayerSchema>;
export type ModelSpec = Static<typeof ModelSchema>;
export type OptimizerSpec = Static<typeof OptimizerSchema>;
export type DecaySpec = Static<typeof DecaySchema>;
export type TrainingSpec = Static<typeof TrainingSchema>;
export type JobSpec = Static<typeof JobSpecSchema>;
export type ActivationName = Static<typeof ActivationName>;
export type LossName = Static<typeof LossName>;
export type OptimizerName = Static<typeof OptimizerName>;
