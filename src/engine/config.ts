// From a user's spec to the engine's full configuration: schema validation (the job
// spec's own TypeBox schemas), the checks a schema cannot express, and every default.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import {
  ClassWeightsSchema,
  LossName,
  ModelSchema,
  NormalizationName,
  TrainingSchema,
  type ClassWeightsSpec,
  type DecaySpec,
  type LossName as Loss,
  type ModelSpec,
  type OptimizerSpec,
  type TrainingSpec,
} from './spec.js';
import { EngineError } from './errors.js';
import type { NativeNetworkConfig, NativeTrainingConfig } from './native.js';

/** What a trainer needs of a job spec: everything but the dataset. */
export const TrainerSpecSchema = Type.Object(
  {
    model: ModelSchema,
    loss: Type.Optional(LossName),
    normalize: Type.Optional(NormalizationName),
    training: TrainingSchema,
  },
  { additionalProperties: false },
);
export type TrainerSpec = Static<typeof TrainerSpecSchema>;

/** What a gradient check needs: a network, its loss, the L2 strength and the class weights. */
export const GradCheckSpecSchema = Type.Object(
  {
    model: ModelSchema,
    loss: Type.Optional(LossName),
    l2: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6 })),
    classWeights: Type.Optional(ClassWeightsSchema),
  },
  { additionalProperties: false },
);
export type GradCheckSpec = Static<typeof GradCheckSpecSchema>;

// A job spec's defaults live here alone: the engine has none of its own and requires every
// field (native/engine/spec.h), so these are the values every trainer is built with.
export const Defaults = {
  batchSize: 64,
  seed: 0,
  init: 'he',
  initScale: 0.01,
  normalize: 'standard',
  optimizer: 'adam',
} as const;

// Each optimizer's fields and their defaults; a field of another optimizer is an error.
const optimizerDefaults: Record<OptimizerSpec['type'], Partial<Record<keyof OptimizerSpec, number>>> = {
  sgd: { learningRate: 0.01 },
  momentum: { learningRate: 0.01, beta: 0.9 },
  rmsprop: { learningRate: 0.001, beta: 0.9, epsilon: 1e-8 },
  adam: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
  adamw: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 },
};

// The same for learning-rate decay (native/engine/spec.h lists the formulas).
const decayDefaults: Record<DecaySpec['type'], Partial<Record<keyof DecaySpec, number>>> = {
  'inverse-time': { rate: 1 },
  staircase: { rate: 1, interval: 1 },
  exponential: { rate: 0.95 },
  sqrt: { rate: 1 },
  step: { rate: 0.1, interval: 10 },
  cosine: { floor: 0, period: 0 }, // period 0 stands for the run's epochs
};

const compiled = new Map<TSchema, ReturnType<typeof TypeCompiler.Compile>>();

/** Checks `value` against `schema`; throws INVALID_SPEC naming the first wrong field. */
export function validate<T extends TSchema>(schema: T, value: unknown, pathPrefix = ''): Static<T> {
  let checker = compiled.get(schema);
  if (checker === undefined) {
    checker = TypeCompiler.Compile(schema);
    compiled.set(schema, checker);
  }
  if (checker.Check(value)) return value;
  const first = closest(checker.Errors(value).First());
  const path = pathPrefix + (first?.path ?? '');
  throw new EngineError('INVALID_SPEC', `${path || 'spec'}: ${describe(first)}`, path || '/');
}

/** Whether a union's error is about a choice of names ("must be one of ..."). */
function namesChoice(error: ValueError): boolean {
  const choices = (error.schema as { anyOf?: { const?: unknown }[] }).anyOf;
  return choices?.every((choice) => choice.const !== undefined) === true;
}

/**
 * The error to report. A union's own error names the union ("/dataset: expected union
 * value"); the error of the variant the value comes closest to names the field at fault:
 * the variant whose first error lies deepest, then the one with the fewest errors.
 */
function closest(error: ValueError | undefined): ValueError | undefined {
  if (error === undefined || error.type !== ValueErrorType.Union || namesChoice(error)) return error;
  let best: { error: ValueError; depth: number; count: number } | undefined;
  for (const variant of error.errors) {
    let variantFirst: ValueError | undefined;
    let count = 0;
    for (const variantError of variant) {
      variantFirst ??= variantError;
      count += 1;
      if (count >= 64) break;
    }
    if (variantFirst === undefined) continue;
    const depth = variantFirst.path.split('/').length;
    if (best === undefined || depth > best.depth || (depth === best.depth && count < best.count)) best = { error: variantFirst, depth, count };
  }
  return best === undefined ? error : closest(best.error);
}

function describe(error: ValueError | undefined): string {
  if (error === undefined) return 'is invalid';
  const choices = (error.schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (choices?.every((choice) => choice.const !== undefined))
    return `must be one of ${choices.map((choice) => JSON.stringify(choice.const)).join(', ')}`;
  return error.message.charAt(0).toLowerCase() + error.message.slice(1);
}

function reject(path: string, message: string): never {
  throw new EngineError('INVALID_SPEC', `${path}: ${message}`, path);
}

/** The loss a network uses: the spec's, or the one its output activation implies. */
export function resolveLoss(model: ModelSpec, loss: Loss | undefined): Loss {
  const output = model.layers[model.layers.length - 1]?.activation;
  // "cross-entropy" names the family: with a sigmoid output it is the binary one.
  if (loss === undefined || (loss === 'cross-entropy' && output === 'sigmoid')) {
    if (output === 'softmax') return 'cross-entropy';
    if (output === 'sigmoid') return 'binary-cross-entropy';
    return 'mse';
  }
  return loss;
}

// Which output activations each loss is defined for.
const lossOutputs: Record<Loss, { fits: (activation: string) => boolean; needs: string }> = {
  'cross-entropy': { fits: (activation) => activation === 'softmax', needs: 'a softmax output layer' },
  'binary-cross-entropy': { fits: (activation) => activation === 'sigmoid', needs: 'a sigmoid output layer' },
  mse: { fits: (activation) => activation !== 'softmax', needs: 'an output layer other than softmax' },
};

/** The rules of a network that its schema cannot state; throws INVALID_SPEC at the field. */
export function checkModel(model: ModelSpec, loss: Loss | undefined): void {
  const last = model.layers.length - 1;
  model.layers.forEach((layer, index) => {
    const path = `/model/layers/${index}`;
    if (index < last) {
      if (layer.activation === 'softmax') reject(`${path}/activation`, 'softmax belongs on the output layer only');
      return;
    }
    if (layer.activation === 'softmax' && layer.units < 2) reject(`${path}/units`, 'a softmax output needs at least 2 units');
    if (layer.batchNorm === true) reject(`${path}/batchNorm`, 'the output layer takes no batch norm');
    if ((layer.dropout ?? 0) > 0) reject(`${path}/dropout`, 'the output layer takes no dropout');
  });
  const output = model.layers[last]?.activation ?? 'linear';
  const resolved = resolveLoss(model, loss);
  const rule = lossOutputs[resolved];
  if (!rule.fits(output)) reject('/loss', `${resolved} needs ${rule.needs}, not ${output}`);
  if (model.initScale !== undefined && model.init !== 'normal')
    reject('/model/initScale', 'is a setting of the "normal" init only');
}

export function resolveNetwork(model: ModelSpec, loss: Loss | undefined, inputs: number): NativeNetworkConfig {
  return {
    inputs,
    layers: model.layers.map((layer) => ({
      units: layer.units,
      activation: layer.activation,
      batchNorm: layer.batchNorm ?? false,
      dropout: layer.dropout ?? 0,
    })),
    loss: resolveLoss(model, loss),
    init: model.init ?? Defaults.init,
    initScale: model.initScale ?? Defaults.initScale,
  };
}

/**
 * The classes a network picks one of per row, which class weights go to: a softmax's units,
 * or 2 (0 and 1) for one sigmoid unit; 0 for regression and for several sigmoid units, which
 * are independent labels (native/engine/spec.h's classCount).
 */
function classCount(model: ModelSpec, loss: Loss | undefined): number {
  const units = model.layers[model.layers.length - 1]?.units ?? 0;
  const resolved = resolveLoss(model, loss);
  if (resolved === 'cross-entropy') return units;
  return resolved === 'binary-cross-entropy' && units === 1 ? 2 : 0;
}

function checkClassWeightsFit(model: ModelSpec, loss: Loss | undefined, weights: ClassWeightsSpec | undefined, path: string): void {
  if (weights !== undefined && classCount(model, loss) === 0)
    reject(path, 'class weights need a classifier: a softmax output (cross-entropy), or one sigmoid unit (binary cross-entropy)');
}

/** The names class weights go by: the data's class names, else the indices "0", "1", ... */
export function classWeightNames(classes: number, names?: readonly string[]): string[] {
  return Array.from({ length: classes }, (_, index) => names?.[index] ?? String(index));
}

/** A JSON pointer's token for a name (RFC 6901): "~" and "/" escaped. */
const pointerToken = (name: string) => name.replaceAll('~', '~0').replaceAll('/', '~1');

/** Throws INVALID_SPEC at the weight of a class that is not among `names`. */
export function checkClassWeightNames(weights: ClassWeightsSpec, names: readonly string[], path = '/training/classWeights'): void {
  if (weights === 'balanced') return;
  const known = new Set(names);
  for (const name of Object.keys(weights)) {
    if (known.has(name)) continue;
    const shown = names.length <= 20 ? names.map((each) => JSON.stringify(each)).join(', ') : `${names.length} of them`;
    reject(`${path}/${pointerToken(name)}`, `the data has no class ${JSON.stringify(name)} (its classes: ${shown})`);
  }
}

export interface ClassWeights {
  /** One weight per class, in class order, as the engine takes them. */
  values: Float32Array;
  /** The same by class name, as a job's result reports them. */
  byName: Record<string, number>;
}

/**
 * Each class's weight. A map gives them by name, and a class it leaves out weighs 1 (as
 * scikit-learn's compute_class_weight). "balanced" is n / (k count_c) over the training
 * targets, n rows and k classes, as scikit-learn's: every class then weighs as much in the
 * cost, and the weights of all the rows still add up to n. A class with no training row
 * cannot take that formula; it weighs 1, weighing no row, and k counts the classes present.
 */
export function resolveClassWeights(
  weights: ClassWeightsSpec,
  model: ModelSpec,
  loss: Loss | undefined,
  targets: Float32Array,
  names: readonly string[] | undefined,
  path = '/training/classWeights',
): ClassWeights {
  const classes = classCount(model, loss);
  const named = classWeightNames(classes, names);
  checkClassWeightNames(weights, named, path);
  let resolved: number[];
  if (weights === 'balanced') {
    const counts = new Array<number>(classes).fill(0);
    // A sigmoid target is class 1 from 0.5, as accuracy judges it; a softmax target is its index.
    const binary = resolveLoss(model, loss) === 'binary-cross-entropy';
    for (const target of targets) {
      const index = binary ? (target >= 0.5 ? 1 : 0) : target;
      if (Number.isInteger(index) && index >= 0 && index < classes) counts[index] = (counts[index] as number) + 1;
    }
    const present = counts.filter((count) => count > 0).length;
    resolved = counts.map((count) => (count === 0 ? 1 : targets.length / (present * count)));
  } else {
    resolved = named.map((name) => (Object.hasOwn(weights, name) ? (weights[name] as number) : 1));
  }
  return { values: Float32Array.from(resolved), byName: Object.fromEntries(named.map((name, index) => [name, resolved[index] as number])) };
}

/** Rejects the settings of `given` that its type does not have (beta1 on sgd, ...). */
function checkSettings(given: object, defaults: object, path: string, type: string): void {
  for (const key of Object.keys(given)) {
    if (key !== 'type' && !(key in defaults)) reject(`${path}/${key}`, `is not a setting of ${type}`);
  }
}

/** The rules of a training spec that its schema cannot state; throws INVALID_SPEC at the field. */
export function checkTraining(training: TrainingSpec): void {
  if (training.optimizer !== undefined)
    checkSettings(training.optimizer, optimizerDefaults[training.optimizer.type], '/training/optimizer', training.optimizer.type);
  if (training.lrDecay !== undefined)
    checkSettings(training.lrDecay, decayDefaults[training.lrDecay.type], '/training/lrDecay', training.lrDecay.type);
}

/**
 * Validates a trainer spec (a job spec's model, loss, normalize and training): the schema,
 * then the rules a schema cannot state. Throws INVALID_SPEC with the JSON pointer of the
 * first wrong field, so a service can refuse a job before it is queued.
 */
export function checkTrainerSpec(spec: unknown): TrainerSpec {
  const valid = validate(TrainerSpecSchema, spec);
  checkModel(valid.model, valid.loss);
  checkTraining(valid.training);
  checkClassWeightsFit(valid.model, valid.loss, valid.training.classWeights, '/training/classWeights');
  return valid;
}

/** The same for a gradient check's spec. */
export function checkGradCheckSpec(spec: unknown): GradCheckSpec {
  const valid = validate(GradCheckSpecSchema, spec);
  checkModel(valid.model, valid.loss);
  checkClassWeightsFit(valid.model, valid.loss, valid.classWeights, '/classWeights');
  return valid;
}

// Settings the engine reads for every optimizer but uses only for some; these values
// stand in for the ones the chosen optimizer ignores.
const ignoredSettings = { beta: 0.9, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };

function resolveOptimizer(optimizer: OptimizerSpec | undefined): NativeTrainingConfig['optimizer'] {
  const { type, ...given } = optimizer ?? { type: Defaults.optimizer };
  return { learningRate: 0.001, ...ignoredSettings, ...optimizerDefaults[type], ...given, type };
}

function resolveDecay(decay: DecaySpec | undefined, epochs: number): NativeTrainingConfig['decay'] {
  const none = { type: 'none', rate: 1, interval: 1, floor: 0, period: epochs };
  if (decay === undefined) return none;
  const { type, ...given } = decay;
  const settings = { ...none, ...decayDefaults[type], ...given };
  return { ...settings, type, period: settings.period || epochs };
}

/** `classWeights`: resolved (resolveClassWeights), or none. */
export function resolveTraining(
  training: TrainingSpec,
  normalize: TrainerSpec['normalize'],
  classWeights?: Float32Array,
): NativeTrainingConfig {
  return {
    batchSize: training.batchSize ?? Defaults.batchSize,
    shuffle: training.shuffle ?? true,
    seed: training.seed ?? Defaults.seed,
    optimizer: resolveOptimizer(training.optimizer),
    decay: resolveDecay(training.lrDecay, training.epochs),
    l2: training.l2 ?? 0,
    normalize: normalize ?? Defaults.normalize,
    classWeights: classWeights ?? new Float32Array(0),
  };
}
