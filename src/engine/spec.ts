// The vocabulary of a network and its training: the shapes a spec's model and training
// sections take, one definition for validation, the OpenAPI document and the types.
import { Type, type Static, type TLiteral, type TUnion } from '@sinclair/typebox';

const Strict = { additionalProperties: false } as const;

/** A union of string literals that keeps each literal in the static type. */
export function oneOf<Names extends string[]>(...names: Names): TUnion<TLiteral<Names[number]>[]> {
  return Type.Union(names.map((name) => Type.Literal(name)));
}

export const ActivationName = oneOf('relu', 'leaky-relu', 'tanh', 'sigmoid', 'softmax', 'linear');
export const LossName = oneOf('cross-entropy', 'binary-cross-entropy', 'mse');
export const InitName = oneOf('he', 'xavier', 'glorot', 'normal', 'zeros');
export const NormalizationName = oneOf('standard', 'minmax', 'none');
export const OptimizerName = oneOf('sgd', 'momentum', 'rmsprop', 'adam', 'adamw');
export const DecayName = oneOf('inverse-time', 'staircase', 'exponential', 'sqrt', 'step', 'cosine');

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
    metric: oneOf('dev.loss', 'dev.accuracy', 'dev.f1', 'train.loss', 'train.accuracy'),
    patience: Type.Integer({ minimum: 1, maximum: 1e6 }),
    minDelta: Type.Optional(Type.Number({ minimum: 0 })),
    restoreBest: Type.Optional(Type.Boolean()),
  },
  Strict,
);

/** The largest class weight: a bound, as every input has, far above any balance a data set needs. */
export const MAX_CLASS_WEIGHT = 1e6;

export const ClassWeightsSchema = Type.Union(
  [
    Type.Literal('balanced', {
      description: "each class's weight n / (classes x its rows), over the train part (scikit-learn's compute_class_weight)",
    }),
    Type.Record(Type.String(), Type.Number({ exclusiveMinimum: 0, maximum: MAX_CLASS_WEIGHT }), {
      maxProperties: 1000,
      description: 'weights by class name (by index, "0", "1", ..., when the labels have no names); a class left out weighs 1',
    }),
  ],
  {
    description:
      "each row's loss times its class's weight, in the cost training minimizes: (1/m) sum w_y L (Keras's class_weight); classifiers only",
  },
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
    classWeights: Type.Optional(ClassWeightsSchema),
  },
  Strict,
);

export type LayerSpec = Static<typeof LayerSchema>;
export type ModelSpec = Static<typeof ModelSchema>;
export type OptimizerSpec = Static<typeof OptimizerSchema>;
export type DecaySpec = Static<typeof DecaySchema>;
export type TrainingSpec = Static<typeof TrainingSchema>;
export type ClassWeightsSpec = Static<typeof ClassWeightsSchema>;
export type ActivationName = Static<typeof ActivationName>;
export type LossName = Static<typeof LossName>;
export type OptimizerName = Static<typeof OptimizerName>;
