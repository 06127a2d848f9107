// One job from spec to result, the same way in the CLI and in a worker process: the data
// split as the spec says, a trainer, epoch events, and a result scored and diagnosed.
import { splitDataset, type LoadedDataset } from '../data/index.js';
import type { Dataset, EpochMetrics, PartMetrics, Trainer, TrainerSpec } from '../engine/index.js';
import { diagnose } from './diagnosis.js';
import type { EpochEvent, JobResult } from './events.js';
import type { JobSpec } from './spec.js';

export interface JobData {
  train: Dataset;
  dev?: Dataset;
  test?: Dataset;
  /** The class names by index, when the labels were names. */
  classNames?: string[];
}

export function jobData(loaded: LoadedDataset, split: JobSpec['split']): JobData {
  const parts = splitDataset(loaded, split ?? {});
  const classNames = loaded.labels.kind === 'classes' ? loaded.labels.names : undefined;
  return { ...parts, ...(classNames === undefined ? {} : { classNames }) };
}

/** The part of a job spec a trainer takes. */
export function trainerSpec(spec: JobSpec): TrainerSpec {
  const { model, loss, normalize, training } = spec;
  return { model, training, ...(loss === undefined ? {} : { loss }), ...(normalize === undefined ? {} : { normalize }) };
}

export function epochEvent(jobId: string, metrics: EpochMetrics): Omit<EpochEvent, 'seq'> {
  const { epoch, lr, seconds, train, dev, layers } = metrics;
  return { type: 'epoch', jobId, epoch, lr, seconds, train, ...(dev === undefined ? {} : { dev }), layers };
}

/** Each part scored in one pass in inference mode, and the bias/variance diagnosis. */
export async function scoreJob(trainer: Trainer, data: JobData, spec: JobSpec): Promise<JobResult> {
  const train = await trainer.evaluate(data.train);
  const dev = data.dev === undefined ? undefined : await trainer.evaluate(data.dev);
  const test = data.test === undefined ? undefined : await trainer.evaluate(data.test);
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
  };
}
