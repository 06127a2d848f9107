// src/engine: the typed face of the native engine. It validates specs and data before
// anything reaches C++, and gives training, prediction and gradient checks as promises.
import { Type, type Static } from '@sinclair/typebox';
import { EPOCH_FIELDS, addon, namedBlasKernels, type NativeData, type NativeModel, type NativeTrainer } from './native.js';
import {
  checkGradCheckSpec,
  checkTrainerSpec,
  resolveClassWeights,
  resolveNetwork,
  resolveTraining,
  validate,
  type GradCheckSpec,
  type TrainerSpec,
} from './config.js';
import { EngineError, awaitNative, callNative } from './errors.js';
import { inputCount, type Preprocessing } from '../data/preprocess.js';
import {
  MODEL_FORMAT,
  MODEL_VERSION,
  SavedModelSchema,
  fromSavedModel,
  toSavedModel,
  verifyChecksum,
  type ModelColumns,
  type SavedModel,
} from './model-format.js';

export { EngineError, ErrorCodes, type ErrorCode } from './errors.js';
export {
  TrainerSpecSchema,
  GradCheckSpecSchema,
  checkTrainerSpec,
  checkGradCheckSpec,
  resolveLoss,
  validate,
  Defaults,
  classWeightNames,
  checkClassWeightNames,
  type TrainerSpec,
  type GradCheckSpec,
} from './config.js';
export { SavedModelSchema, MODEL_FORMAT, MODEL_VERSION, serializeModel, type ModelColumns, type SavedModel } from './model-format.js';

/**
 * Rows of features and their targets, row-major. `y` holds one class index per row for a
 * softmax output, and one value per output unit otherwise (0 or 1 for a sigmoid).
 */
export interface Dataset {
  x: Float32Array;
  y: Float32Array;
  rows: number;
  features: number;
}

export interface PartMetrics {
  loss: number;
  accuracy?: number;
  /** dev's macro F1, which a job that ranks by it adds between epochs (the engine has none). */
  f1?: number;
}

/** One epoch, named as the service's epoch event names it. */
export interface EpochMetrics {
  epoch: number;
  lr: number;
  seconds: number;
  samplesPerSecond: number;
  train: PartMetrics;
  dev?: PartMetrics;
  layers: { weightNorm: number; gradNorm: number }[];
  /** The `change` of the setLearningRate this epoch applied, when it was given one. */
  appliedRateChange?: number;
}

/** Gradient-check verdicts (COURSE-NOTES.md): at most 1e-7 is right, up to 1e-5 deserves a look. */
export const GRADIENT_CHECK_PASS = 1e-7;
export const GRADIENT_CHECK_WARN = 1e-5;
/** The step of the centred differences (COURSE-NOTES.md). */
export const GRADIENT_CHECK_EPSILON = 1e-7;
/**
 * Coordinates checked per parameter tensor (a layer's weights; its biases, or its gamma and
 * beta) unless told otherwise: each costs two forward passes, and a wrong gradient spoils
 * a whole tensor's, so a sample finds it in seconds where every coordinate of a
 * Fashion-MNIST MLP takes minutes.
 */
export const GRADIENT_CHECK_COORDINATES = 200;

const GradCheckOptionsSchema = Type.Object(
  {
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    epsilon: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
    coordinates: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), Type.Literal('all')], {
        description: `per parameter tensor, drawn from the seed (default ${GRADIENT_CHECK_COORDINATES}), or 'all'`,
      }),
    ),
    classNames: Type.Optional(Type.Array(Type.String(), { description: "the names the spec's classWeights go by (else \"0\", \"1\", ...)" })),
  },
  { additionalProperties: false },
);
export type GradCheckOptions = Static<typeof GradCheckOptionsSchema>;

export interface GradCheckResult {
  difference: number;
  layers: number[];
  parameters: number;
  /** The coordinates compared: all of them, or the sample's. */
  checked: number;
  passed: boolean;
}

/** Each of EPOCH_FIELDS's place in a row. */
const FIELD = Object.fromEntries(EPOCH_FIELDS.map((name, index) => [name, index])) as Record<(typeof EPOCH_FIELDS)[number], number>;

/** Rows that cross to another process (packEpochs) have dev's F1 after the engine's fields. */
const DEV_F1 = EPOCH_FIELDS.length;
const PACKED_FIELDS = EPOCH_FIELDS.length + 1;

/**
 * A hand-over's rows of numbers (native.ts's EPOCH_FIELDS, `fields` of them with dev's F1
 * after, then the layers') as epochs. NaN stands for a part or a value the epoch lacks.
 */
function readEpochs(values: Float64Array, count: number, fields: number = EPOCH_FIELDS.length): EpochMetrics[] {
  const stride = count === 0 ? 0 : values.length / count;
  const layerCount = (stride - fields) / 2;
  const part = (loss: number, accuracy: number): PartMetrics => (Number.isNaN(accuracy) ? { loss } : { loss, accuracy });
  const epochs: EpochMetrics[] = [];
  for (let row = 0; row < count; row += 1) {
    const at = (index: number) => values[row * stride + index] as number;
    const layers: EpochMetrics['layers'] = [];
    for (let layer = 0; layer < layerCount; layer += 1) {
      const offset = fields + 2 * layer;
      layers.push({ weightNorm: at(offset), gradNorm: at(offset + 1) });
    }
    const metrics: EpochMetrics = {
      epoch: at(FIELD.epoch),
      lr: at(FIELD.learningRate),
      seconds: at(FIELD.seconds),
      samplesPerSecond: at(FIELD.samplesPerSecond),
      train: part(at(FIELD.trainLoss), at(FIELD.trainAccuracy)),
      layers,
    };
    if (!Number.isNaN(at(FIELD.devLoss))) {
      metrics.dev = part(at(FIELD.devLoss), at(FIELD.devAccuracy));
      if (fields > DEV_F1 && !Number.isNaN(at(DEV_F1))) metrics.dev.f1 = at(DEV_F1);
    }
    if (!Number.isNaN(at(FIELD.appliedRateChange))) metrics.appliedRateChange = at(FIELD.appliedRateChange);
    epochs.push(metrics);
  }
  return epochs;
}

/** Epochs as one array of numbers, and how many: what a worker process sends of them. */
export interface PackedEpochs {
  rows: Float64Array;
  count: number;
}

/**
 * Epochs as rows of numbers, for another process: v8's serializer copies a typed array
 * whole, where it spends about 5 us an epoch rebuilding the objects' properties.
 */
export function packEpochs(epochs: EpochMetrics[]): PackedEpochs {
  const stride = PACKED_FIELDS + 2 * (epochs[0]?.layers.length ?? 0);
  const rows = new Float64Array(epochs.length * stride);
  epochs.forEach((metrics, row) => {
    const values = rows.subarray(row * stride, (row + 1) * stride);
    values[FIELD.epoch] = metrics.epoch;
    values[FIELD.learningRate] = metrics.lr;
    values[FIELD.seconds] = metrics.seconds;
    values[FIELD.samplesPerSecond] = metrics.samplesPerSecond;
    values[FIELD.trainLoss] = metrics.train.loss;
    values[FIELD.trainAccuracy] = metrics.train.accuracy ?? NaN;
    values[FIELD.devLoss] = metrics.dev?.loss ?? NaN;
    values[FIELD.devAccuracy] = metrics.dev?.accuracy ?? NaN;
    values[DEV_F1] = metrics.dev?.f1 ?? NaN;
    values[FIELD.appliedRateChange] = metrics.appliedRateChange ?? NaN;
    metrics.layers.forEach(({ weightNorm, gradNorm }, layer) => {
      values[PACKED_FIELDS + 2 * layer] = weightNorm;
      values[PACKED_FIELDS + 2 * layer + 1] = gradNorm;
    });
  });
  return { rows, count: epochs.length };
}

/** The epochs packEpochs packed. */
export function unpackEpochs({ rows, count }: PackedEpochs): EpochMetrics[] {
  return readEpochs(rows, count, PACKED_FIELDS);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** The shape of a dataset; the engine checks its values (NaN, classes) and reports the row. */
function toNativeData(data: Dataset, name: string): NativeData {
  if (typeof data !== 'object' || data === null)
    throw new EngineError('INVALID_ARGUMENT', `${name}: a dataset is an object {x, y, rows, features}`);
  const { x, y, rows, features } = data;
  if (!(x instanceof Float32Array) || !(y instanceof Float32Array))
    throw new EngineError('INVALID_ARGUMENT', `${name}: x and y must be Float32Arrays`);
  if (!isCount(rows) || !isCount(features))
    throw new EngineError('INVALID_ARGUMENT', `${name}: rows and features must be non-negative integers`);
  if (x.length !== rows * features)
    throw new EngineError('SHAPE_MISMATCH', `${name}: x has ${x.length} values, not rows x features = ${rows} x ${features}`);
  if (rows > 0 && y.length % rows !== 0)
    throw new EngineError('SHAPE_MISMATCH', `${name}: y has ${y.length} values, not a whole number per row for ${rows} rows`);
  return { x, y, rows, features };
}

// Trainers with a run in progress. At process exit libuv waits for its threads, so a run
// left going would hold the process until its last epoch: the exit handler stops them.
const running = new Set<NativeTrainer>();
let exitHandlerInstalled = false;

function track(native: NativeTrainer, run: Promise<unknown>): void {
  if (!exitHandlerInstalled) {
    process.once('exit', () => {
      for (const trainer of running) trainer.cancel();
    });
    exitHandlerInstalled = true;
  }
  running.add(native);
  const untrack = () => running.delete(native);
  run.then(untrack, untrack);
}

export interface TrainerOptions {
  /** The class names by index, which the spec's classWeights name classes by (else "0", "1", ...). */
  classNames?: string[] | undefined;
}

/** Trains one network. The data are copied into the engine when the trainer is made. */
export class Trainer {
  private constructor(
    private readonly native: NativeTrainer,
    readonly spec: TrainerSpec,
    /** The weight of each class in the cost, by class name, when the spec gives class weights. */
    readonly classWeights: Record<string, number> | undefined,
  ) {}

  /**
   * Validates the spec and the data; throws EngineError (INVALID_SPEC, SHAPE_MISMATCH,
   * INVALID_DATA). "balanced" class weights are computed from `train`.
   */
  static create(spec: TrainerSpec, train: Dataset, dev?: Dataset, options: TrainerOptions = {}): Trainer {
    const valid = checkTrainerSpec(spec);
    const trainData = toNativeData(train, 'train');
    const devData = dev === undefined || dev.rows === 0 ? null : toNativeData(dev, 'dev');
    const network = resolveNetwork(valid.model, valid.loss, trainData.features);
    const { classWeights } = valid.training;
    const weights =
      classWeights === undefined ? undefined : resolveClassWeights(classWeights, valid.model, valid.loss, trainData.y, options.classNames);
    const training = resolveTraining(valid.training, valid.normalize, weights?.values);
    return new Trainer(callNative(() => new addon.Trainer(network, training, trainData, devData)), valid, weights?.byName);
  }

  /** Epochs completed over the trainer's life (restores included). */
  get epochsDone(): number {
    return callNative(() => this.native.epochsDone());
  }

  /** The rate the next epoch will use (after decay and any setLearningRate). */
  get nextLearningRate(): number {
    return callNative(() => this.native.nextLearningRate());
  }

  /**
   * Runs `epochs` epochs on a background thread, calling `onEpoch` after each, in order.
   * The training thread waits for each `onEpoch` to return before it starts the next
   * epoch, so inside `onEpoch` the trainer is between epochs: `checkpoint()`, `model()`,
   * `epochsDone` and `nextLearningRate` work there, and `setLearningRate` or `cancel`
   * take effect from the very next epoch. Outside it, a run refuses every other call
   * with BUSY except `cancel` and `setLearningRate`. Without `onEpoch` the epochs run
   * back to back, handed over together at the end.
   *
   * Rejects with CANCELLED after cancel() (the trainer is left at the end of its last
   * completed epoch), DIVERGED when the cost or parameters stop being finite (the failed
   * epoch is undone), BUSY when another run or evaluation is in progress, or the error
   * `onEpoch` threw.
   */
  async run(epochs: number, onEpoch?: (metrics: EpochMetrics) => void): Promise<EpochMetrics[]> {
    if (onEpoch === undefined) return this.train(epochs, Infinity);
    return this.train(epochs, 0, (batch) => batch.forEach((metrics) => onEpoch(metrics)));
  }

  /**
   * Runs `epochs` epochs as run() does, but hands epochs shorter than `reportEverySeconds`
   * over together, at least that far apart, plus once after the last epoch and once before
   * a failure (DIVERGED): for small networks, whose epochs take less than the hop to the JS
   * thread. `onEpochs` gets each hand-over's epochs in order, with the trainer between
   * epochs after the last of them (`checkpoint()`, `model()` and `epochsDone` there are
   * that epoch's). `cancel` and `setLearningRate` work as in run(), a rate set between
   * hand-overs applying from the next epoch; a cancel drops the epochs since the last
   * hand-over: `onEpochs` never sees them, though the trainer has trained them. Resolves
   * with every epoch's metrics.
   */
  async runBatched(epochs: number, reportEverySeconds: number, onEpochs: (batch: EpochMetrics[]) => void): Promise<EpochMetrics[]> {
    return this.train(epochs, reportEverySeconds, onEpochs);
  }

  private async train(epochs: number, reportEverySeconds: number, onEpochs?: (batch: EpochMetrics[]) => void): Promise<EpochMetrics[]> {
    const history: EpochMetrics[] = [];
    await awaitNative(() => {
      const training = this.native.train(
        epochs,
        (values, count) => {
          const batch = readEpochs(values, count);
          // One at a time: a batch may hold more epochs than a call takes arguments.
          for (const metrics of batch) history.push(metrics);
          onEpochs?.(batch);
        },
        reportEverySeconds,
      );
      track(this.native, training);
      return training;
    });
    return history;
  }

  /** One epoch. */
  async epoch(): Promise<EpochMetrics> {
    const [metrics] = await this.run(1);
    return metrics as EpochMetrics;
  }

  /**
   * Stops a run between mini-batches; the run rejects with CANCELLED. Called inside
   * `onEpoch`, no further epoch starts. Does nothing when no run is in progress.
   */
  cancel(): void {
    this.native.cancel();
  }

  /**
   * Sets the rate of the next epoch to start: that epoch trains at exactly `learningRate`,
   * and a learning-rate decay restarts there, running on as from its first epoch. Safe
   * while a run is in progress: an epoch under way finishes at its own rate. The latest
   * rate set before an epoch starts is the one it applies, once. `change`, a positive
   * integer, names this change: the epoch that applies it reports it as
   * `appliedRateChange`. Until an epoch has applied it, a change is not in a checkpoint.
   */
  setLearningRate(learningRate: number, change?: number): void {
    callNative(() => this.native.setLearningRate(learningRate, change));
  }

  /** Cost and accuracy in inference mode (batch-norm running averages, no dropout). */
  evaluate(data: Dataset): Promise<PartMetrics> {
    return awaitNative(() => this.native.evaluate(toNativeData(data, 'data')));
  }

  /** Everything to resume training bit for bit: an opaque, versioned byte string. */
  checkpoint(): Uint8Array {
    return callNative(() => this.native.checkpoint());
  }

  /**
   * Throws CHECKPOINT_CORRUPT for bytes that do not match their checksum (damaged after
   * they were written) and INVALID_CHECKPOINT for another network's; either leaves the
   * trainer as it was.
   */
  restore(bytes: Uint8Array): void {
    callNative(() => this.native.restore(bytes));
  }

  /**
   * The trained model in the saved-model format; `classes` names the classes by index,
   * `columns` the training data's feature and label columns. `serializeModel` makes its
   * text, checksum and all.
   */
  model(classes?: string[], columns?: ModelColumns): SavedModel {
    const state = callNative(() => this.native.model());
    const names = columns?.features;
    if (names !== undefined && names.length !== state.network.inputs)
      throw new EngineError('SHAPE_MISMATCH', `${names.length} feature names for a network of ${state.network.inputs} inputs`);
    return toSavedModel(state, classes, columns);
  }
}

export interface Prediction {
  /** rows x output units: probabilities for softmax and sigmoid outputs. */
  outputs: Float32Array;
  /** Classifiers: the predicted class of each row (argmax, or p > 0.5 for one sigmoid unit). */
  classes?: Int32Array;
}

/**
 * Reads a saved model (an object or its JSON text) as a document: its checksum verified,
 * when it has one, then its fields checked. Throws MODEL_CORRUPT or INVALID_MODEL.
 */
export function readSavedModel(source: SavedModel | string): SavedModel {
  let parsed: unknown = source;
  if (typeof source === 'string') {
    try {
      parsed = JSON.parse(source);
    } catch (error) {
      throw new EngineError('INVALID_MODEL', `the model is not JSON: ${(error as Error).message}`);
    }
  }
  verifyChecksum(parsed);
  let saved: SavedModel;
  try {
    saved = validate(SavedModelSchema, parsed);
  } catch (error) {
    const invalid = error as EngineError;
    throw new EngineError('INVALID_MODEL', `not a ${MODEL_FORMAT} v${MODEL_VERSION} document: ${invalid.message}`, invalid.path);
  }
  if (saved.features !== undefined && saved.features.length !== saved.network.inputs) {
    const problem = `features names ${saved.features.length} columns, but the network has ${saved.network.inputs} inputs`;
    throw new EngineError('INVALID_MODEL', problem, '/features');
  }
  if (saved.preprocessing !== undefined && inputCount(saved.preprocessing) !== saved.network.inputs) {
    const problem = `preprocessing makes ${inputCount(saved.preprocessing)} inputs, but the network has ${saved.network.inputs}`;
    throw new EngineError('INVALID_MODEL', problem, '/preprocessing');
  }
  return saved;
}

/** A trained model, for inference. */
export class Model {
  private constructor(
    private readonly native: NativeModel,
    private readonly saved: SavedModel,
  ) {}

  /** Reads a saved model (an object or its JSON text); throws MODEL_CORRUPT, INVALID_MODEL or SHAPE_MISMATCH. */
  static load(source: SavedModel | string): Model {
    const saved = readSavedModel(source);
    const state = fromSavedModel(saved);
    return new Model(callNative(() => new addon.Model(state)), saved);
  }

  get inputs(): number {
    return this.saved.network.inputs;
  }

  get outputs(): number {
    return (this.saved.network.layers[this.saved.network.layers.length - 1] as { units: number }).units;
  }

  get classNames(): string[] | undefined {
    return this.saved.classes;
  }

  /** The input columns' names, in order, when the model records them. */
  get featureNames(): string[] | undefined {
    return this.saved.features;
  }

  /** The training data's label column, when the model records it. */
  get labelName(): string | undefined {
    return this.saved.label;
  }

  /** How raw columns become the inputs, for a model trained on a table. */
  get preprocessing(): Preprocessing | undefined {
    return this.saved.preprocessing;
  }

  save(): SavedModel {
    return this.saved;
  }

  /** Predicts `rows` rows of raw (unnormalized) features, on a background thread. */
  async predict(inputs: Float32Array, rows: number): Promise<Prediction> {
    const outputs = await awaitNative(() => this.native.predict(inputs, rows));
    const units = this.outputs;
    const loss = this.saved.network.loss;
    // Regression has no classes; several sigmoid units are independent labels.
    if (loss === 'mse' || (loss === 'binary-cross-entropy' && units > 1)) return { outputs };
    const classes = new Int32Array(rows);
    for (let row = 0; row < rows; row += 1) {
      if (units === 1) {
        classes[row] = (outputs[row] as number) > 0.5 ? 1 : 0;
        continue;
      }
      let best = 0;
      for (let unit = 1; unit < units; unit += 1) {
        if ((outputs[row * units + unit] as number) > (outputs[row * units + best] as number)) best = unit;
      }
      classes[row] = best;
    }
    return { outputs, classes };
  }
}

/**
 * Gradient checking (COURSE-NOTES.md) in double precision on a freshly initialized
 * network, dropout off, on `data` as given (no input normalization), over a seeded sample
 * of each tensor's coordinates (`coordinates`) or all of them. The cost is the one training
 * minimizes: with L2 and class weights ("balanced" computed from `data`).
 */
export async function gradCheck(
  spec: GradCheckSpec,
  data: Dataset,
  options: GradCheckOptions = {},
): Promise<GradCheckResult> {
  const valid = checkGradCheckSpec(spec);
  const {
    seed = 0,
    epsilon = GRADIENT_CHECK_EPSILON,
    coordinates = GRADIENT_CHECK_COORDINATES,
    classNames,
  } = validate(GradCheckOptionsSchema, options);
  const nativeData = toNativeData(data, 'data');
  const network = resolveNetwork(valid.model, valid.loss, data.features);
  const perTensor = coordinates === 'all' ? 0 : coordinates;
  const weights =
    valid.classWeights === undefined
      ? new Float32Array(0)
      : resolveClassWeights(valid.classWeights, valid.model, valid.loss, nativeData.y, classNames, '/classWeights').values;
  const result = await awaitNative(() => addon.gradCheck(network, valid.l2 ?? 0, weights, nativeData, seed, epsilon, perTensor));
  return { ...result, passed: result.difference <= GRADIENT_CHECK_PASS };
}

/** The BLAS library, its CPU kernels and the threads that train, for start-up logs. */
export function blasInfo(): string {
  const info = addon.blasInfo();
  return namedBlasKernels === undefined ? info : `${info}; OPENBLAS_CORETYPE=${namedBlasKernels}, named from the CPU's features`;
}
