// A worker process: runs the tasks the server sends (train a job, check gradients, import a
// dataset), one at a time, and reports over IPC. A native crash here fails one task alone.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { DataError, Random, parseCsv, parseJson, resolveDataset, type LoadedDataset } from '../data/index.js';
import { EngineError, Trainer, gradCheck, packEpochs, serializeModel, type Dataset } from '../engine/index.js';
import { estimateJobBytes } from './admission.js';
import { readDataset, writeDatasetArrays } from './datasets.js';
import { columnView } from '../data/columns.js';
import { requireTwoLabels } from '../data/labels.js';
import type { FromWorker, GradCheckTask, ImportTask, ToWorker, TrainTask, WorkerError } from './protocol.js';
import { jobData, needsDevF1, scoreJob, trainJob, trainerSpec, type JobData } from './training.js';

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

function toWorkerError(error: unknown): WorkerError {
  if (error instanceof EngineError)
    return { code: error.code, message: error.message, ...(error.path === undefined ? {} : { path: error.path }) };
  if (error instanceof DataError) return { code: error.code, message: error.message, ...(error.path === undefined ? {} : { path: error.path }) };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/** What the server asked of the task so far; it may ask before the trainer exists. */
interface Control {
  trainer?: Trainer;
  cancelled: boolean;
  /** The latest rate set, and its change's number. */
  learningRate?: number;
  rateChange?: number;
  /** A stepwise task: the server's words after epochs, not yet waited for (they may come
   * before the wait starts), and the wait in progress. */
  epochDoneReceived: number;
  awaitingEpochDone?: () => void;
}

/** Data kept for the next task at most this size: a sweep's trials are mostly small. */
const KEPT_DATA_BYTES = 64 * 1024 * 1024;
/**
 * The last task's data, split. A sweep's trials, and jobs on one dataset, come one after
 * another to the same process, and need not generate or read it again (the engine copies
 * what it trains on, so the arrays stay as they were).
 */
let keptData: { key: string; data: JobData } | undefined;

async function loadJobData(task: TrainTask): Promise<JobData> {
  const { spec } = task;
  const key = JSON.stringify([task.dataset ?? spec.dataset, spec.split ?? null, spec.columns ?? null]);
  if (keptData?.key === key) return keptData.data;
  keptData = undefined;
  let loaded: LoadedDataset;
  if (task.dataset !== undefined) loaded = readDataset(task.dataset);
  else if (typeof spec.dataset === 'object' && 'builtin' in spec.dataset) loaded = await resolveDataset(spec.dataset);
  else throw new EngineError('INVALID_SPEC', 'the service trains on built-in datasets or dataset ids', '/dataset');
  const data = jobData(loaded, spec.split, spec.columns);
  const bytes = [data.train, data.dev, data.test].reduce((sum, part) => sum + (part === undefined ? 0 : part.x.byteLength + part.y.byteLength), 0);
  if (bytes <= KEPT_DATA_BYTES) keptData = { key, data };
  return data;
}

/**
 * A finished task whose trainer held at least this much is collected at once, so that the
 * next task finds the memory the server's admission counted on. V8 sees none of a trainer's
 * native memory, so only a collection frees it; but a full one costs about 15 ms, as much
 * as a whole small sweep trial, so after smaller tasks it waits until the process is idle.
 */
const COLLECT_AT_ONCE_BYTES = 32 * 1024 * 1024;
const COLLECT_WHEN_IDLE_MS = 1000;
let idleCollection: NodeJS.Timeout | undefined;
/** What the last task's trainer held, as the server's admission estimates it. */
let trainerBytes = 0;

async function train(task: TrainTask, control: Control): Promise<FromWorker> {
  const { spec } = task;
  const data = await loadJobData(task);
  const rows = data.train.rows + (data.dev?.rows ?? 0) + (data.test?.rows ?? 0);
  const estimate = estimateJobBytes(spec, { rows, features: data.train.features });
  trainerBytes = estimate.data + estimate.network;
  const trainer = Trainer.create(trainerSpec(spec), data.train, data.dev, { classNames: data.classNames });
  if (task.checkpoint !== undefined) trainer.restore(task.checkpoint);
  // A rate that came while the trainer was being made is newer than the task's.
  if (control.learningRate !== undefined) trainer.setLearningRate(control.learningRate, control.rateChange);
  else if (task.learningRate !== undefined) trainer.setLearningRate(task.learningRate, task.rateChange);
  if (control.cancelled) return { type: 'cancelled' };
  control.trainer = trainer;
  const earlyStopping = await trainJob(trainer, spec, {
    ...(task.history === undefined ? {} : { history: task.history }),
    ...(task.bestCheckpoint === undefined ? {} : { bestCheckpoint: task.bestCheckpoint }),
    ...((task.devF1 === true || needsDevF1(spec)) && data.dev !== undefined ? { devF1: data.dev } : {}),
    onEpochs: (epochs, best) => void send({ type: 'epochs', epochs: packEpochs(epochs), checkpoint: trainer.checkpoint(), best }),
    ...(task.stepwise === true
      ? {
          betweenEpochs: () =>
            new Promise<boolean>((resolve) => {
              control.awaitingEpochDone = () => {
                control.epochDoneReceived -= 1;
                control.awaitingEpochDone = undefined;
                resolve(!control.cancelled);
              };
              if (control.epochDoneReceived > 0) control.awaitingEpochDone();
            }),
        }
      : {}),
  });
  const result = await scoreJob(trainer, data, spec, earlyStopping);
  return { type: 'succeeded', result, model: serializeModel(trainer.model(data.classNames, data.columns)) };
}

/** Gradient checking needs the math, not real data: standard normal inputs, random targets. */
async function checkGradients(task: GradCheckTask): Promise<FromWorker> {
  const { samples, features, seed } = task;
  const random = new Random(seed);
  const layers = task.spec.model.layers;
  const output = layers[layers.length - 1] as { units: number; activation: string };
  const x = Float32Array.from({ length: samples * features }, () => random.normal());
  const softmax = output.activation === 'softmax';
  const width = softmax ? 1 : output.units;
  const y = Float32Array.from({ length: samples * width }, () => {
    if (softmax) return random.below(output.units);
    if (output.activation === 'sigmoid') return random.below(2);
    return random.normal();
  });
  const data: Dataset = { x, y, rows: samples, features };
  return { type: 'gradcheck', result: await gradCheck(task.spec, data, { seed }) };
}

async function importDataset(task: ImportTask, heartbeatMs: number): Promise<FromWorker> {
  // Messages name the upload as its sender knows it, not the server's file.
  const options = { name: task.name, source: task.name };
  const bytes = readFileSync(task.file);
  // A file is read in one synchronous stretch, which the heartbeat's timer cannot interrupt:
  // the reader beats between rows instead, so a long read is not taken for a stalled one
  // (but for JSON.parse itself, one call: about 7 s for 256 MB on a busy 2-core machine).
  let lastBeat = Date.now();
  const onProgress = () => {
    const now = Date.now();
    if (now - lastBeat < heartbeatMs) return;
    lastBeat = now;
    void send({ type: 'heartbeat' });
  };
  const loaded =
    task.format === 'csv'
      ? parseCsv(bytes, { ...options, onProgress, ...(task.label === undefined ? {} : { label: task.label }) })
      : parseJson(bytes, { ...options, onProgress });
  requireTwoLabels(loaded, task.name);
  writeDatasetArrays(task.directory, loaded);
  const { name, featureNames, labels, labelColumn, columns, train, test } = loaded;
  return {
    type: 'imported',
    // A JSON body's own name, when it has one, names the dataset.
    dataset: {
      name,
      featureNames,
      labels,
      ...(labelColumn === undefined ? {} : { labelColumn }),
      ...(columns === undefined ? {} : { columns: columns.map(columnView) }),
      rows: train.rows,
      features: train.features,
      testRows: test?.rows ?? 0,
    },
  };
}

/** Whether a task is in progress (its native work perhaps on a background thread). */
let busy = false;

async function run(message: Extract<ToWorker, { type: 'task' }>, control: Control) {
  clearTimeout(idleCollection);
  trainerBytes = 0;
  const heartbeat = setInterval(() => void send({ type: 'heartbeat' }), message.heartbeatMs);
  busy = true;
  let outcome: FromWorker;
  try {
    const { task } = message;
    if (task.kind === 'train') outcome = await train(task, control);
    else if (task.kind === 'gradcheck') outcome = await checkGradients(task);
    else outcome = await importDataset(task, message.heartbeatMs);
  } catch (error) {
    outcome =
      error instanceof EngineError && error.code === 'CANCELLED'
        ? { type: 'cancelled' }
        : { type: 'failed', error: toWorkerError(error) };
  }
  busy = false;
  clearInterval(heartbeat);
  await send(outcome);
  // The process waits for its next task: the finished one's trainer and data go now, or
  // once no next task has come for a while.
  if (trainerBytes >= COLLECT_AT_ONCE_BYTES) globalThis.gc?.();
  else idleCollection = setTimeout(() => globalThis.gc?.(), COLLECT_WHEN_IDLE_MS).unref();
}

// The server's link is this process's lifeline: when it closes, nobody wants the result.
// An idle process exits; a busy one dies at once, as an exit would wait for the training
// thread to end its mini-batch (seconds of a large one) and train on unrecorded meanwhile.
process.on('disconnect', () => (busy ? process.kill(process.pid, 'SIGKILL') : process.exit(0)));
// Prefer this process to the server when the kernel must kill one for memory.
try {
  writeFileSync('/proc/self/oom_score_adj', '1000');
} catch {
  // Not Linux, or not allowed: the kernel chooses as it would.
}

// Training yields the CPU to the server, whose requests and events must stay prompt while
// every core trains; alone on a core, a worker runs as fast at nice 10 as at 0. Linux keeps
// a nice value per thread: the threads that exist now (BLAS's) are lowered one by one, and
// those started later (the addon's background thread) inherit the main thread's.
const TRAINING_NICE = 10;
try {
  for (const thread of readdirSync('/proc/self/task')) setPriority(Number(thread), TRAINING_NICE);
} catch {
  setPriority(TRAINING_NICE);
}

// What the server said about the task in progress; each task starts afresh.
let control: Control = { cancelled: false, epochDoneReceived: 0 };
process.on('message', (message: ToWorker) => {
  if (message.type === 'task') {
    control = { cancelled: false, epochDoneReceived: 0 };
    void run(message, control);
  } else if (message.type === 'cancel') {
    control.cancelled = true;
    control.trainer?.cancel();
  } else if (message.type === 'epochDone') {
    control.epochDoneReceived += 1;
    control.awaitingEpochDone?.();
  } else {
    control.learningRate = message.learningRate;
    control.rateChange = message.change;
    control.trainer?.setLearningRate(message.learningRate, message.change);
  }
});
