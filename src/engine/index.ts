// src/engine: the typed face of the native engine. It validates specs and data before
// anything reaches C++, and gives training, prediction and gradient checks as promises.
import { addon, type NativeData, type NativeEpochMetrics, type NativeModel, type NativeTrainer } from './native.js';
import {
  GradCheckSpecSchema,
  TrainerSpecSchema,
  resolveNetwork,
  resolveTraining,
  validate,
  type GradCheckSpec,
  type TrainerSpec,
} from './config.js';
import { EngineError, awaitNative, callNative } from './errors.js';
import {
  MODEL_FORMAT,
  MODEL_VERSION,
  SavedModelSchema,
  fromSavedModel,
  toSavedModel,
  type SavedModel,
} from './model-format.js';

export { EngineError, ErrorCodes, type ErrorCode } from './errors.js';
export {
  TrainerSpecSchema,
  GradCheckSpecSchema,
  resolveLoss,
  validate,
  type TrainerSpec,
  type GradCheckSpec,
} from './config.js';
export { SavedModelSchema, MODEL_FORMAT, MODEL_VERSION, type SavedModel } from './model-format.js';

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
}

/** Gradient-check verdicts (COURSE-NOTES.md): at most 1e-7 is right, up to 1e-5 deserves a look. */
export const GRADIENT_CHECK_PASS = 1e-7;
export const GRADIENT_CHECK_WARN = 1e-5;

export interface GradCheckResult {
  difference: number;
  layers: number[];
  parameters: number;
  passed: boolean;
}

function toEpochMetrics(metrics: NativeEpochMetrics): EpochMetrics {
  const { learningRate, ...rest } = metrics;
  return { ...rest, lr: learningRate };
}

function toNativeData(data: Dataset, name: string): NativeData {
  if (!(data.x instanceof Float32Array) || !(data.y instanceof Float32Array))
    throw new EngineError('INVALID_ARGUMENT', `${name}: x and y must be Float32Arrays`);
  return { x: data.x, y: data.y, rows: data.rows, features: data.features };
}

/** Trains one network. The data are copied into the engine when the trainer is made. */
export class Trainer {
  private constructor(
    private readonly native: NativeTrainer,
    readonly spec: TrainerSpec,
  ) {}

  /** Validates the spec and the data; throws EngineError (INVALID_SPEC, SHAPE_MISMATCH, INVALID_DATA). */
  static create(spec: TrainerSpec, train: Dataset, dev?: Dataset): Trainer {
    const valid = validate(TrainerSpecSchema, spec);
    const network = resolveNetwork(valid.model, valid.loss, train.features);
    const training = resolveTraining(valid.training, valid.normalize);
    const trainData = toNativeData(train, 'train');
    const devData = dev === undefined || dev.rows === 0 ? null : toNativeData(dev, 'dev');
    return new Trainer(callNative(() => new addon.Trainer(network, training, trainData, devData)), valid);
  }

  get epochsDone(): number {
    return callNative(() => this.native.epochsDone());
  }

  /** The rate the next epoch will use (after decay and any setLearningRate). */
  get nextLearningRate(): number {
    return callNative(() => this.native.nextLearningRate());
  }

  /**
   * Runs `epochs` epochs on a background thread, calling `onEpoch` after each, in order.
   * Rejects with CANCELLED after cancel() (the trainer stays as it was before the
   * interrupted epoch), DIVERGED when the cost or parameters stop being finite, BUSY
   * when another run is in progress, or the error `onEpoch` threw.
   */
  async run(epochs: number, onEpoch?: (metrics: EpochMetrics) => void): Promise<EpochMetrics[]> {
    const history: EpochMetrics[] = [];
    await awaitNative(() =>
      this.native.train(epochs, (native) => {
        const metrics = toEpochMetrics(native);
        history.push(metrics);
        onEpoch?.(metrics);
      }),
    );
    return history;
  }

  /** One epoch. */
  async epoch(): Promise<EpochMetrics> {
    const [metrics] = await this.run(1);
    return metrics as EpochMetrics;
  }

  /** Stops a run between mini-batches. */
  cancel(): void {
    this.native.cancel();
  }

  /**
   * Sets the rate from the next epoch on; a learning-rate decay restarts from it. Safe
   * while a run is in progress: the running epoch finishes at its own rate.
   */
  setLearningRate(learningRate: number): void {
    callNative(() => this.native.setLearningRate(learningRate));
  }

  /** Cost and accuracy in inference mode (batch-norm running averages, no dropout). */
  evaluate(data: Dataset): Promise<PartMetrics> {
    return awaitNative(() => this.native.evaluate(toNativeData(data, 'data')));
  }

  /** Everything to resume training bit for bit: an opaque, versioned byte string. */
  checkpoint(): Uint8Array {
    return callNative(() => this.native.checkpoint());
  }

  /** Throws INVALID_CHECKPOINT (leaving the trainer as it was) for another network's bytes. */
  restore(bytes: Uint8Array): void {
    callNative(() => this.native.restore(bytes));
  }

  /** The trained model in the saved-model format; `classes` names the classes by index. */
  model(classes?: string[]): SavedModel {
    return toSavedModel(callNative(() => this.native.model()), classes);
  }
}

export interface Prediction {
  /** rows x output units: probabilities for softmax and sigmoid outputs. */
  outputs: Float32Array;
  /** Classifiers: the predicted class of each row (argmax, or p > 0.5 for one sigmoid unit). */
  classes?: Int32Array;
}

/** A trained model, for inference. */
export class Model {
  private constructor(
    private readonly native: NativeModel,
    private readonly saved: SavedModel,
  ) {}

  /** Reads a saved model (an object or its JSON text); throws INVALID_MODEL or SHAPE_MISMATCH. */
  static load(source: SavedModel | string): Model {
    let parsed: unknown = source;
    if (typeof source === 'string') {
      try {
        parsed = JSON.parse(source);
      } catch (error) {
        throw new EngineError('INVALID_MODEL', `the model is not JSON: ${(error as Error).message}`);
      }
    }
    let saved: SavedModel;
    try {
      saved = validate(SavedModelSchema, parsed);
    } catch (error) {
      const invalid = error as EngineError;
      throw new EngineError('INVALID_MODEL', `not a ${MODEL_FORMAT} v${MODEL_VERSION} document: ${invalid.message}`, invalid.path);
    }
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
 * network, dropout off, on `data` as given (no input normalization).
 */
export async function gradCheck(
  spec: GradCheckSpec,
  data: Dataset,
  options: { seed?: number; epsilon?: number } = {},
): Promise<GradCheckResult> {
  const valid = validate(GradCheckSpecSchema, spec);
  const network = resolveNetwork(valid.model, valid.loss, data.features);
  const result = await awaitNative(() =>
    addon.gradCheck(network, valid.l2 ?? 0, toNativeData(data, 'data'), options.seed ?? 0, options.epsilon ?? 1e-7),
  );
  return { ...result, passed: result.difference <= GRADIENT_CHECK_PASS };
}

/** The BLAS library and the CPU kernels it chose, for start-up logs. */
export function blasInfo(): string {
  return addon.blasInfo();
}
