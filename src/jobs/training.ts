// One job from spec to result, the same way in the CLI and in a worker process: the data
// split as the spec says, a trainer, epoch events, and a result scored and diagnosed.
import { DataError, splitDataset, splitIndices, type LoadedDataset } from '../data/index.js';
import { maxCategories, resolveColumnTypes } from '../data/columns.js';
import { inputNames, preprocessParts } from '../data/preprocess.js';
import { requireTwoLabels } from '../data/labels.js';
import { EngineError, Model, type Dataset, type EpochMetrics, type ModelColumns, type PartMetrics, type Trainer, type TrainerSpec } from '../engine/index.js';
import { classification, macroF1, regression } from './metrics.js';
import { diagnose } from './diagnosis.js';
import type { EpochEvent, JobResult, ResultPart } from './events.js';
import type { JobSpec } from './spec.js';

type EarlyStoppingSpec = NonNullable<JobSpec['training']['earlyStopping']>;
/** What early stopping looks at in an epoch. */
export type EpochScores = Pick<EpochMetrics, 'epoch' | 'train' | 'dev'>;

/**
 * Early stopping (training.earlyStopping): training stops once the metric has not improved
 * by more than minDelta for `patience` epochs in a row.
 */
export class EarlyStopper {
  private best: number | undefined;
  private waited = 0;
  bestEpoch: number | undefined;

  constructor(
    private readonly rule: EarlyStoppingSpec,
    history: EpochScores[] = [],
  ) {
    for (const epoch of history) this.observe(epoch);
  }

  /** Whether this epoch is the best so far, and whether training should stop after it. */
  observe(epoch: EpochScores): { improved: boolean; stop: boolean } {
    const [part, name] = this.rule.metric.split('.') as ['train' | 'dev', 'loss' | 'accuracy' | 'f1'];
    const value = epoch[part]?.[name];
    if (value === undefined) return { improved: false, stop: false };
    const oriented = name === 'loss' ? -value : value;
    if (this.best === undefined || oriented > this.best + (this.rule.minDelta ?? 0)) {
      this.best = oriented;
      this.bestEpoch = epoch.epoch;
      this.waited = 0;
      return { improved: true, stop: false };
    }
    this.waited += 1;
    return { improved: false, stop: this.waited >= this.rule.patience };
  }
}

/**
 * How long a job's short epochs train between two hand-overs: what a crash may make it train
 * again (from its last checkpoint), and how late a watcher may see an epoch.
 */
const REPORT_SECONDS = 0.1;

export interface TrainOptions {
  /** Epochs already trained (a resumed job), for early stopping's memory. */
  history?: EpochScores[];
  /** The best epoch's checkpoint so far, when the job restores it at the end. */
  bestCheckpoint?: Uint8Array;
  /**
   * Epochs in order, with the trainer after the last of them, and whether that one is early
   * stopping's best so far. A job whose every epoch must be looked at (early stopping, an
   * outside judge, dev.f1) hands over each epoch alone; any other hands over the epochs of
   * REPORT_SECONDS together, so that short epochs cost one hand-over, one message and one
   * commit an interval rather than one an epoch.
   */
  onEpochs(epochs: EpochMetrics[], best: boolean): void;
  /**
   * When given, epochs run one at a time and the next starts only once this resolves,
   * true to go on: an outside judge (a sweep's stopping rule) decides between epochs.
   */
  betweenEpochs?(): Promise<boolean>;
  /**
   * The dev part, when each epoch's dev metrics must carry the macro F1 (early stopping or a
   * sweep ranks by dev.f1): epochs then run one at a time, each followed by a pass over it.
   */
  devF1?: Dataset | undefined;
}

/** Whether a job's epochs need dev.f1: its early stopping, or its sweep's ranking, watches it. */
export function needsDevF1(spec: JobSpec, sweepMetric?: string): boolean {
  return spec.training.earlyStopping?.metric === 'dev.f1' || sweepMetric === 'dev.f1';
}

/** The epoch's metrics with the dev part's macro F1, from one pass of the weights it ended with. */
async function withDevF1(trainer: Trainer, metrics: EpochMetrics, dev: Dataset): Promise<EpochMetrics> {
  if (metrics.dev === undefined) return metrics;
  const model = Model.load(trainer.model());
  const { classes } = await model.predict(dev.x, dev.rows);
  if (classes === undefined) return metrics;
  const scored: PartMetrics = { ...metrics.dev, f1: macroF1(dev.y, classes, classCount(model)) };
  return { ...metrics, dev: scored };
}

/** A classifier's classes: its softmax's units, or two for one sigmoid unit. */
const classCount = (model: Model) => (model.outputs === 1 ? 2 : model.outputs);

export type EarlyStoppingResult = NonNullable<JobResult['earlyStopping']>;

/**
 * Trains the epochs a job has left, with its early stopping: the trainer ends at the last
 * epoch trained, or at the best one when the rule says restoreBest.
 */
export async function trainJob(trainer: Trainer, spec: JobSpec, options: TrainOptions): Promise<EarlyStoppingResult | undefined> {
  const rule = spec.training.earlyStopping;
  const stopper = rule === undefined ? undefined : new EarlyStopper(rule, options.history);
  let bestCheckpoint = options.bestCheckpoint;
  let stoppedAt: number | undefined;
  const onEpoch = (metrics: EpochMetrics) => {
    const verdict = stopper?.observe(metrics) ?? { improved: false, stop: false };
    if (verdict.improved && rule?.restoreBest === true) bestCheckpoint = trainer.checkpoint();
    options.onEpochs([metrics], verdict.improved);
    if (verdict.stop) {
      stoppedAt = metrics.epoch;
      trainer.cancel();
    }
  };
  try {
    const { betweenEpochs, devF1 } = options;
    if (devF1 !== undefined) {
      // The F1 pass runs between epochs, so each epoch is a run of its own.
      while (trainer.epochsDone < spec.training.epochs && stoppedAt === undefined) {
        const [metrics] = await trainer.run(1);
        onEpoch(await withDevF1(trainer, metrics as EpochMetrics, devF1));
        if (stoppedAt === undefined && betweenEpochs !== undefined && !(await betweenEpochs())) throw new EngineError('CANCELLED', 'stopped between epochs');
      }
    } else if (betweenEpochs === undefined) {
      const remaining = spec.training.epochs - trainer.epochsDone;
      if (remaining > 0 && stopper === undefined) await trainer.runBatched(remaining, REPORT_SECONDS, (epochs) => options.onEpochs(epochs, false));
      else if (remaining > 0) await trainer.run(remaining, onEpoch);
    } else {
      while (trainer.epochsDone < spec.training.epochs && stoppedAt === undefined) {
        await trainer.run(1, onEpoch);
        if (!(await betweenEpochs())) throw new EngineError('CANCELLED', 'stopped between epochs');
      }
    }
  } catch (error) {
    if (stoppedAt === undefined || (error as { code?: string }).code !== 'CANCELLED') throw error;
  }
  if (stopper?.bestEpoch === undefined) return undefined;
  const restore = rule?.restoreBest === true && bestCheckpoint !== undefined && stopper.bestEpoch !== trainer.epochsDone;
  if (restore) trainer.restore(bestCheckpoint as Uint8Array);
  return { ...(stoppedAt === undefined ? {} : { stoppedAt }), bestEpoch: stopper.bestEpoch, restored: restore || stopper.bestEpoch === trainer.epochsDone };
}

export interface JobData {
  train: Dataset;
  dev?: Dataset;
  test?: Dataset;
  /** The class names by index, when the labels were names. */
  classNames?: string[];
  /** The columns the inputs and the label came from, and a table's preprocessing: recorded in the saved model. */
  columns: ModelColumns;
}

/**
 * A job's parts: split as the spec says, and for a table (a CSV) its columns typed (inferred,
 * or as the spec's `columns` say) and preprocessed, fitted on the train part alone.
 */
export function jobData(loaded: LoadedDataset, split: JobSpec['split'], columnTypes?: JobSpec['columns']): JobData {
  const classNames = loaded.labels.kind === 'classes' ? loaded.labels.names : undefined;
  const named = classNames === undefined ? {} : { classNames };
  const label = loaded.labelColumn === undefined ? {} : { label: loaded.labelColumn };
  const { columns } = loaded;
  if (columns === undefined) {
    if (columnTypes !== undefined) throw new DataError('INVALID_SPEC', NO_COLUMN_TYPES, { path: '/columns' });
    return { ...splitDataset(loaded, split ?? {}), ...named, columns: { features: loaded.featureNames, ...label } };
  }
  requireTwoLabels(loaded, loaded.name);
  const types = resolveColumnTypes(columns, columnTypes, { label: loaded.labelColumn, maxCategories: maxCategories() });
  const { preprocessing, ...parts } = preprocessParts({ ...loaded, columns }, splitIndices(loaded, split ?? {}), types);
  return { ...parts, ...named, columns: { features: inputNames(preprocessing), ...label, preprocessing } };
}

/** Why a spec's `columns` cannot apply to a dataset that is no table. */
export const NO_COLUMN_TYPES =
  'columns types the columns of a CSV dataset; this one has none to type (a built-in, JSON or IDX set, or one uploaded before column types existed: upload it again)';

/** The part of a job spec a trainer takes. */
export function trainerSpec(spec: JobSpec): TrainerSpec {
  const { model, loss, normalize, training } = spec;
  return { model, training, ...(loss === undefined ? {} : { loss }), ...(normalize === undefined ? {} : { normalize }) };
}

export function epochEvent(jobId: string, metrics: EpochMetrics): Omit<EpochEvent, 'seq'> {
  const { epoch, lr, seconds, train, dev, layers } = metrics;
  return { type: 'epoch', jobId, epoch, lr, seconds, train, ...(dev === undefined ? {} : { dev }), layers };
}

/**
 * Each part scored in inference mode, and the bias/variance diagnosis: its loss and accuracy
 * from the engine, and from one pass of predictions what they tell (per-class metrics, the
 * confusion matrix and ROC AUC of a classifier; RMSE, MAE and R^2 of a regression).
 */
export async function scoreJob(trainer: Trainer, data: JobData, spec: JobSpec, earlyStopping?: EarlyStoppingResult): Promise<JobResult> {
  const model = Model.load(trainer.model());
  const score = async (part: Dataset): Promise<ResultPart> => {
    const metrics = await trainer.evaluate(part);
    const { outputs, classes } = await model.predict(part.x, part.rows);
    return { ...metrics, ...predictionMetrics(model, part, outputs, classes, data.classNames) };
  };
  const train = await score(data.train);
  const dev = data.dev === undefined ? undefined : await score(data.dev);
  const test = data.test === undefined ? undefined : await score(data.test);
  const regression = train.accuracy === undefined;
  const error = (part: PartMetrics) => (regression ? part.loss : 1 - (part.accuracy as number));
  const diagnosis = diagnose({
    trainError: error(train),
    ...(dev === undefined ? {} : { devError: error(dev) }),
    ...(spec.training.humanLevelError === undefined ? {} : { humanLevelError: spec.training.humanLevelError }),
    regression,
  });
  return {
    epochs: trainer.epochsDone,
    train,
    ...(dev === undefined ? {} : { dev }),
    ...(test === undefined ? {} : { test }),
    diagnosis,
    ...(earlyStopping === undefined ? {} : { earlyStopping }),
    ...(trainer.classWeights === undefined ? {} : { classWeights: trainer.classWeights }),
  };
}

/** What a part's predictions tell: a classifier's class metrics, a regression's errors. */
function predictionMetrics(model: Model, part: Dataset, outputs: Float32Array, classes: Int32Array | undefined, names: string[] | undefined) {
  const units = model.outputs;
  if (classes !== undefined) {
    const count = classCount(model);
    // The second class's probability ranks the rows for the ROC curve.
    const scores = count === 2 ? Float32Array.from({ length: part.rows }, (_, row) => outputs[units === 1 ? row : row * 2 + 1] as number) : undefined;
    return classification(part.y, classes, count, { names, ...(scores === undefined ? {} : { scores }) });
  }
  return model.save().network.loss === 'mse' ? regression(part.y, outputs, units) : {};
}
