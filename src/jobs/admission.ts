// What a job spec must satisfy beyond its schema before a job is accepted: a network the
// engine can build, a dataset that exists, and an output layer that fits its labels.
import { access } from 'node:fs/promises';
import {
  DataError,
  FASHION_MNIST_CLASSES,
  fashionMnistFiles,
  resolveDataset,
  isGenerated,
  type DataErrorCode,
  type Labels,
} from '../data/index.js';
import { Defaults, checkClassWeightNames, checkTrainerSpec, classWeightNames, resolveLoss } from '../engine/index.js';
import type { JobSpec } from './spec.js';
import type { JobStore } from './store.js';
import { NO_COLUMN_TYPES, trainerSpec } from './training.js';
import { readTable } from './datasets.js';
import { maxCategories, resolveColumnTypes } from '../data/columns.js';
import { inputCountBound } from '../data/preprocess.js';

/** A spec the service refuses, with the field at fault. */
export class SpecError extends Error {
  constructor(
    readonly code: DataErrorCode | 'TOO_LARGE',
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

interface Shape {
  features: number;
  labels: Labels;
  /** All rows, test part included. */
  rows: number;
}

const FASHION_MNIST_ROWS = 70_000;
const DEFAULT_GENERATED_SAMPLES = 300;

async function builtinShape(dataset: Extract<JobSpec['dataset'], { builtin: string }>): Promise<Shape> {
  if (dataset.builtin === 'fashion-mnist') {
    const { train } = fashionMnistFiles();
    try {
      await access(train.images);
    } catch {
      throw new SpecError('DATASET_NOT_FOUND', 'Fashion-MNIST is not installed on the server (package dataset-fashion-mnist)', '/dataset/builtin');
    }
    const labels: Labels = { kind: 'classes', count: FASHION_MNIST_CLASSES.length, names: [...FASHION_MNIST_CLASSES] };
    return { features: 28 * 28, labels, rows: FASHION_MNIST_ROWS };
  }
  // A few rows tell the shape of a generated set; the course's sets are small files.
  const generated = isGenerated(dataset.builtin);
  const sample = generated ? { ...dataset, samples: Math.min(dataset.samples ?? DEFAULT_GENERATED_SAMPLES, 32) } : dataset;
  try {
    const { train, test, labels } = await resolveDataset(sample);
    const rows = generated ? (dataset.samples ?? DEFAULT_GENERATED_SAMPLES) : train.rows + (test?.rows ?? 0);
    return { features: train.features, labels, rows };
  } catch (error) {
    if (error instanceof DataError) {
      const path = error.code === 'DATASET_NOT_FOUND' ? '/dataset/builtin' : '/dataset';
      throw new SpecError(error.code, error.message, path);
    }
    throw error;
  }
}

async function datasetShape(spec: JobSpec, store: JobStore): Promise<Shape> {
  const { dataset } = spec;
  if (typeof dataset === 'string') {
    const record = await store.getDataset(dataset);
    if (record === undefined) throw new SpecError('DATASET_NOT_FOUND', `no dataset '${dataset}': upload one with POST /v1/datasets`, '/dataset');
    const rows = record.rows + record.testRows;
    const table = readTable(await store.datasetFiles(record.id));
    if (table === undefined) {
      if (spec.columns !== undefined) throw new SpecError('INVALID_SPEC', NO_COLUMN_TYPES, '/columns');
      return { ...record, rows };
    }
    // The types the job will train with, each override checked against what its column holds.
    const types = resolveColumnTypes(table.columns, spec.columns, { label: table.label, maxCategories: maxCategories() });
    return { ...record, rows, features: inputCountBound(table.columns, types) };
  }
  if ('path' in dataset)
    throw new SpecError('INVALID_SPEC', 'files on disk are for the command line; upload them with POST /v1/datasets and use the id', '/dataset/path');
  if (spec.columns !== undefined) throw new SpecError('INVALID_SPEC', NO_COLUMN_TYPES, '/columns');
  return builtinShape(dataset);
}

/** Whether the network's output gives one class per row (F1 needs one). */
function isClassifier(spec: JobSpec): boolean {
  const output = spec.model.layers[spec.model.layers.length - 1] as { units: number; activation: string };
  return output.activation === 'softmax' || (output.activation === 'sigmoid' && output.units === 1);
}

/** Why the output layer cannot learn these labels, or undefined when it can. */
function outputProblem(spec: JobSpec, labels: Labels): string | undefined {
  const output = spec.model.layers[spec.model.layers.length - 1] as { units: number; activation: string };
  const loss = resolveLoss(spec.model, spec.loss);
  if (labels.kind === 'values') {
    if (loss !== 'mse' && output.activation === 'softmax') return `the dataset's targets are values, which softmax does not fit: use a linear output with mse`;
    if (output.units !== labels.width) return `the dataset has ${labels.width} target values per row; the output layer must have ${labels.width} units, not ${output.units}`;
    return undefined;
  }
  if (output.activation === 'softmax' && output.units !== labels.count)
    return `the dataset has ${labels.count} classes; a softmax output needs ${labels.count} units, not ${output.units}`;
  if (output.activation === 'sigmoid' && output.units === 1 && labels.count !== 2)
    return `one sigmoid unit separates 2 classes; the dataset has ${labels.count}: use a softmax of ${labels.count} units`;
  if (output.activation !== 'softmax' && output.activation !== 'sigmoid' && output.units !== 1)
    return `class labels are one value per row; a ${output.activation} output would need 1 unit, not ${output.units}`;
  return undefined;
}

/** A training process before its data and network: Node, the addon, and OpenBLAS's buffers once its products are large (70 MB idle, about 130 MB at most, measured). */
const PROCESS_BYTES = 128 * 2 ** 20;

/**
 * The bytes a training process will need at its peak, from measured peaks (the tests hold
 * the estimate to them): the process itself; the data ten times (made or read, shuffled,
 * split into parts, normalized, and the engine's copies); the parameters 24 times
 * (weights, gradients, two optimizer moments, the epoch's rollback copy of weights and
 * moments, a checkpoint with its copies on the way to the server, the saved model); four
 * activations a unit for one mini-batch. On a busy machine the garbage collector falls
 * behind and the peaks run up to a third above a quiet machine's: the factors cover that.
 */
export function estimateJobBytes(spec: JobSpec, shape: Pick<Shape, 'features' | 'rows'>): { process: number; data: number; network: number } {
  const FLOAT = 4;
  const output = spec.model.layers[spec.model.layers.length - 1] as { units: number };
  const width = 1 + output.units;
  const data = 10 * shape.rows * (shape.features + width) * FLOAT;
  let inputs = shape.features;
  let parameters = 0;
  let units = 0;
  for (const layer of spec.model.layers) {
    parameters += (inputs + 1) * layer.units + (layer.batchNorm === true ? 4 * layer.units : 0);
    units += layer.units;
    inputs = layer.units;
  }
  const batch = Math.min(spec.training.batchSize ?? Defaults.batchSize, shape.rows);
  return { process: PROCESS_BYTES, data, network: 24 * parameters * FLOAT + 4 * batch * units * FLOAT };
}

/** Throws SpecError (or the engine's INVALID_SPEC) for a spec the service must refuse. */
export async function admit(spec: JobSpec, store: JobStore, memoryLimitBytes: number): Promise<void> {
  checkTrainerSpec(trainerSpec(spec));
  const watched = spec.training.earlyStopping?.metric;
  if (watched?.startsWith('dev') === true && spec.split?.dev === 0)
    throw new SpecError('INVALID_SPEC', `early stopping on ${watched} needs a dev part: set split.dev above 0`, '/training/earlyStopping/metric');
  if (watched?.endsWith('f1') === true && !isClassifier(spec))
    throw new SpecError('INVALID_SPEC', `early stopping on ${watched} needs a classifier (a softmax output, or one sigmoid unit)`, '/training/earlyStopping/metric');
  const shape = await datasetShape(spec, store);
  const problem = outputProblem(spec, shape.labels);
  if (problem !== undefined) throw new SpecError('INVALID_SPEC', problem, `/model/layers/${spec.model.layers.length - 1}/units`);
  const { classWeights } = spec.training;
  if (classWeights !== undefined) {
    if (shape.labels.kind !== 'classes')
      throw new SpecError('INVALID_SPEC', "class weights need class labels; the dataset's targets are values", '/training/classWeights');
    checkClassWeightNames(classWeights, classWeightNames(shape.labels.count, shape.labels.names));
  }
  const { process, data, network } = estimateJobBytes(spec, shape);
  if (process + data + network > memoryLimitBytes) {
    const mib = (bytes: number) => `${Math.ceil(bytes / 2 ** 20)} MiB`;
    const problem = `the job would need about ${mib(process + data + network)} (data ${mib(data)}, network ${mib(network)}, the training process ${mib(process)}); a job may use ${mib(memoryLimitBytes)} (CAVIAR_JOB_MEMORY_MB)`;
    throw new SpecError('TOO_LARGE', problem, data > network ? '/dataset' : '/model/layers');
  }
}
