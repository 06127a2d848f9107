#!/usr/bin/env node
// `caviar`: train, check and use models from a terminal, with the same job spec, events
// and model format as the service.
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DataError, resolveDataset, type LoadedDataset } from './data/index.js';
import { readDataFile } from './data/files.js';
import { predictionCsv, readPredictionCsv } from './data/predict-csv.js';
import {
  EngineError,
  GRADIENT_CHECK_COORDINATES,
  GRADIENT_CHECK_PASS,
  GRADIENT_CHECK_WARN,
  Model,
  Trainer,
  gradCheck,
  serializeModel,
  validate,
  type Dataset,
  type EpochMetrics,
} from './engine/index.js';
import type { JobEvent, JobResult, ResultPart, UnsequencedEvent } from './jobs/events.js';
import { JobSpecSchema, type JobSpec } from './jobs/spec.js';
import { SweepSpecSchema, type RankedTrial, type SweepEvent, type SweepView } from './jobs/sweep-spec.js';
import { runLocalSweep } from './jobs/local-sweep.js';
import { StoreDamagedError } from './jobs/sqlite-store.js';
import { availableCores, availableMemory } from './engine/machine.js';
import type { Static, TSchema } from '@sinclair/typebox';
import { epochEvent, jobData, needsDevF1, scoreJob, trainJob, trainerSpec, type EarlyStoppingResult } from './jobs/training.js';

/** A mistake in how the command was called: exit code 2, as for a usage error. */
class UsageError extends Error {}

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(positionals: string[], values: Record<string, string | boolean | (string | boolean)[] | undefined>): Promise<number>;
}

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** How often a gradient check still running says so. */
const GRADCHECK_HEARTBEAT_MS = 5000;

function readJson<Schema extends TSchema>(path: string, schema: Schema): Static<Schema> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read the spec ${path}: ${(error as Error).message}`);
  }
  return validate(schema, parsed);
}

const readSpec = (path: string): JobSpec => readJson(path, JobSpecSchema);

async function loadSpecData(spec: JobSpec, specPath: string): Promise<LoadedDataset> {
  if (typeof spec.dataset === 'string')
    throw new UsageError(`dataset "${spec.dataset}" is a server dataset id; locally, use { "builtin": ... } or { "path": ... }`);
  return resolveDataset(spec.dataset, { baseDirectory: dirname(resolve(specPath)) });
}

/** Writes through a temporary file and a rename, so a crash never leaves half a file. */
function writeAtomically(path: string, content: string | Uint8Array): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, path);
}

const format = (value: number | undefined, digits = 4) => (value === undefined ? '-' : value.toFixed(digits));

function summaryLine(metrics: EpochMetrics, epochs: number): string {
  const width = String(epochs).length;
  return [
    `epoch ${String(metrics.epoch).padStart(width)}/${epochs}`,
    `loss ${format(metrics.train.loss)}`,
    `acc ${format(metrics.train.accuracy)}`,
    `dev loss ${format(metrics.dev?.loss)}`,
    `dev acc ${format(metrics.dev?.accuracy)}`,
    `lr ${metrics.lr.toPrecision(3)}`,
    metrics.seconds < 0.1 ? `${(metrics.seconds * 1000).toFixed(1)}ms` : `${metrics.seconds.toFixed(2)}s`,
  ].join('  ');
}

/** A bar over the run's epochs on a terminal's stderr; nothing when stderr is not a terminal. */
class ProgressBar {
  private readonly active = process.stderr.isTTY === true;

  constructor(private readonly total: number) {}

  update(done: number): void {
    if (!this.active) return;
    const width = 30;
    const filled = Math.round((width * done) / this.total);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} epochs`);
  }

  clear(): void {
    if (this.active) process.stderr.write('\r\x1b[K');
  }
}

/** Each part's F1 (or regression errors), and the per-class table of the last held-out part. */
function printPredictionMetrics(result: JobResult): void {
  const parts = (['train', 'dev', 'test'] as const).filter((name) => result[name] !== undefined);
  for (const name of parts) {
    const metrics = result[name] as ResultPart;
    if (metrics.macroF1 !== undefined) {
      const auc = metrics.auc === undefined ? '' : `  ROC AUC ${format(metrics.auc)}`;
      console.log(`${name.padEnd(6)} macro F1 ${format(metrics.macroF1)}  weighted F1 ${format(metrics.weightedF1)}${auc}`);
    } else if (metrics.rmse !== undefined) {
      console.log(`${name.padEnd(6)} rmse ${format(metrics.rmse)}  mae ${format(metrics.mae)}  r2 ${format(metrics.r2)}`);
    }
  }
  const last = parts.at(-1);
  const perClass = last === undefined ? undefined : result[last]?.perClass;
  if (last === undefined || perClass === undefined) return;
  const width = Math.max(5, ...perClass.map((metrics) => String(metrics.class).length));
  console.log(`${last} by class: ${'class'.padEnd(width)}  precision  recall  f1      support`);
  for (const metrics of perClass) {
    const cells = [format(metrics.precision).padEnd(9), format(metrics.recall).padEnd(6), format(metrics.f1).padEnd(6), String(metrics.support)];
    console.log(`${' '.repeat(last.length + 11)}${String(metrics.class).padEnd(width)}  ${cells.join('  ')}`);
  }
}

function printResult(result: JobResult): void {
  const part = (name: string, metrics: { loss: number; accuracy?: number } | undefined) =>
    metrics && console.log(`${name.padEnd(6)} loss ${format(metrics.loss)}  accuracy ${format(metrics.accuracy)}`);
  part('train', result.train);
  part('dev', result.dev);
  part('test', result.test);
  printPredictionMetrics(result);
  if (result.classWeights !== undefined) {
    const weights = Object.entries(result.classWeights).map(([name, weight]) => `${name} ${format(weight)}`);
    console.log(`class weights (in the cost trained on; the losses above are unweighted): ${weights.join(', ')}`);
  }
  const { diagnosis } = result;
  const bias = diagnosis.avoidableBiasIsUpperBound
    ? `avoidable bias at most ${format(diagnosis.avoidableBias)}, measured against 0 error`
    : `avoidable bias ${format(diagnosis.avoidableBias)}`;
  // A dev error below the train error is no variance, not a negative amount of it (a note says why).
  const variance =
    diagnosis.variance === undefined ? '' : diagnosis.variance < 0 ? '; no variance' : `; variance ${format(diagnosis.variance)}`;
  console.log(`diagnosis: ${diagnosis.verdict} (${bias}${variance})`);
  for (const advice of diagnosis.advice) console.log(`  - ${advice}`);
  for (const note of diagnosis.notes ?? []) console.log(`  note: ${note}`);
  const early = result.earlyStopping;
  if (early?.stoppedAt !== undefined)
    console.log(`early stopping: stopped after epoch ${early.stoppedAt}; best epoch ${early.bestEpoch}${early.restored ? ', its weights restored' : ''}`);
}

const train: Command = {
  summary: 'train a model from a job spec, locally',
  usage: `caviar train SPEC.json [options]

Trains the network of a job spec (see the README) on its dataset: a built-in
({"builtin": "moons"}) or files ({"path": "train.csv", "label": "y"}, relative to the
spec's folder). Prints one line per epoch (every k-th of a run over 100 epochs, so
about 100 lines) and the bias/variance diagnosis at the end.

Options:
  --json              print the job's events (as the websocket sends them), one JSON
                      object per line, and nothing else on stdout
  --save FILE         write the trained model (saved-model JSON) to FILE
  --checkpoint FILE   write a checkpoint to FILE after every epoch (epochs shorter
                      than 0.1 s: after those of every 0.1 s)
  --resume FILE       continue from a checkpoint written with --checkpoint
  -h, --help          show this help`,
  options: {
    ...HELP,
    json: { type: 'boolean' },
    save: { type: 'string' },
    checkpoint: { type: 'string' },
    resume: { type: 'string' },
  },
  async run([specPath], values) {
    if (specPath === undefined) throw new UsageError('which spec? caviar train SPEC.json');
    const spec = readSpec(specPath);
    const json = values.json === true;
    const jobId = json ? randomUUID() : '';
    let seq = 0;
    /** The events as --json prints them, numbered as a job's are; none without --json. */
    const eventLines = (events: UnsequencedEvent[]): string[] =>
      json ? events.map((event) => JSON.stringify({ seq: (seq += 1), ...event } as JobEvent)) : [];
    const write = (lines: string[]) => {
      if (lines.length > 0) console.log(lines.join('\n'));
    };
    const emit = (event: UnsequencedEvent) => write(eventLines([event]));

    const loaded = await loadSpecData(spec, specPath);
    const data = jobData(loaded, spec.split, spec.columns);
    const trainer = Trainer.create(trainerSpec(spec), data.train, data.dev, { classNames: data.classNames });
    if (typeof values.resume === 'string') trainer.restore(readFileSync(values.resume));
    const epochs = spec.training.epochs;
    if (!json) {
      const parts = [`train ${data.train.rows}`, data.dev && `dev ${data.dev.rows}`, data.test && `test ${data.test.rows}`];
      console.log(`${loaded.name}: ${parts.filter(Boolean).join(', ')} rows, ${data.train.features} features`);
    }

    const progress = new ProgressBar(epochs);
    const printEvery = Math.ceil(epochs / 100);
    const interrupt = () => trainer.cancel();
    process.once('SIGINT', interrupt);
    emit({ type: 'status', jobId, status: 'running' });
    let earlyStopping: EarlyStoppingResult | undefined;
    try {
      earlyStopping = await trainJob(trainer, spec, {
        ...(needsDevF1(spec) ? { devF1: data.dev } : {}),
        onEpochs: (batch) => {
          // A hand-over's lines leave in one write: a write each cost thousands of tiny
          // epochs more than their training.
          const lines = json
            ? eventLines(batch.map((metrics) => epochEvent(jobId, metrics)))
            : batch.filter((metrics) => metrics.epoch % printEvery === 0 || metrics.epoch === epochs).map((metrics) => summaryLine(metrics, epochs));
          if (lines.length > 0) progress.clear();
          write(lines);
          if (typeof values.checkpoint === 'string') writeAtomically(values.checkpoint, trainer.checkpoint());
          if (!json) progress.update((batch[batch.length - 1] as EpochMetrics).epoch);
        },
      });
    } catch (error) {
      progress.clear();
      const failure = error as EngineError;
      const status = failure.code === 'CANCELLED' ? 'cancelled' : 'failed';
      emit({ type: 'done', jobId, status, error: { code: failure.code, message: failure.message } });
      if (json) return 1;
      throw error;
    } finally {
      process.removeListener('SIGINT', interrupt);
    }
    progress.clear();
    const result = await scoreJob(trainer, data, spec, earlyStopping);
    emit({ type: 'done', jobId, status: 'succeeded', result });
    if (typeof values.save === 'string') {
      writeAtomically(values.save, serializeModel(trainer.model(data.classNames, data.columns)));
    }
    if (!json) printResult(result);
    return 0;
  },
};

const gradcheck: Command = {
  summary: "check backprop's gradients against centred differences",
  usage: `caviar gradcheck SPEC.json [options]

Compares the network's backprop gradients with centred differences, in double
precision and with dropout off, on a few rows of the spec's dataset: by default on up to
${GRADIENT_CHECK_COORDINATES} coordinates of each parameter tensor (a layer's weights; its biases, or its
gamma and beta), drawn from the seed, so that it answers in seconds. Prints the verdict
(PASSED or FAILED, the difference and the threshold), the difference of each layer, and
progress on stderr.

Exit status: 0 when the difference is at most ${GRADIENT_CHECK_PASS} (right); 0 with a
warning up to ${GRADIENT_CHECK_WARN} (worth a look); 1 above (almost surely a bug).

Options:
  --samples N       rows to check on (default 16)
  --coordinates N   coordinates per parameter tensor (default ${GRADIENT_CHECK_COORDINATES}), or "all"
  --seed N          initialization and sampling seed (default the spec's training seed)
  -h, --help        show this help`,
  options: { ...HELP, samples: { type: 'string' }, coordinates: { type: 'string' }, seed: { type: 'string' } },
  async run([specPath], values) {
    if (specPath === undefined) throw new UsageError('which spec? caviar gradcheck SPEC.json');
    const spec = readSpec(specPath);
    const samples = Number(values.samples ?? 16);
    if (!Number.isInteger(samples) || samples < 1) throw new UsageError('--samples takes a positive integer');
    const coordinates = values.coordinates === 'all' ? 'all' : Number(values.coordinates ?? GRADIENT_CHECK_COORDINATES);
    if (coordinates !== 'all' && (!Number.isInteger(coordinates) || coordinates < 1))
      throw new UsageError('--coordinates takes a positive integer or "all"');
    // The rows as the network takes them: a table's preprocessed as training would.
    const { train, classNames } = jobData(await loadSpecData(spec, specPath), spec.split, spec.columns);
    const rows = Math.min(samples, train.rows);
    const width = train.y.length / train.rows;
    const sample: Dataset = {
      x: train.x.subarray(0, rows * train.features),
      y: train.y.subarray(0, rows * width),
      rows,
      features: train.features,
    };
    const { model, loss } = spec;
    const started = Date.now();
    const each = coordinates === 'all' ? 'every coordinate' : `up to ${coordinates} coordinates of each tensor`;
    console.error(`gradcheck: ${each}, ${rows} rows, ${model.layers.length} layers...`);
    // The check runs on a background thread in one call: say every few seconds that it is alive.
    const heartbeat = setInterval(
      () => console.error(`gradcheck: still checking, ${Math.round((Date.now() - started) / 1000)} s`),
      GRADCHECK_HEARTBEAT_MS,
    );
    let result;
    try {
      const { l2, classWeights } = spec.training;
      result = await gradCheck(
        { model, ...(loss === undefined ? {} : { loss }), ...(l2 === undefined ? {} : { l2 }), ...(classWeights === undefined ? {} : { classWeights }) },
        sample,
        { seed: Number(values.seed ?? spec.training.seed ?? 0), coordinates, classNames },
      );
    } finally {
      clearInterval(heartbeat);
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const difference = result.difference.toExponential(2);
    const checked = `${result.checked} of ${result.parameters} coordinates, ${rows} rows, ${seconds} s`;
    if (result.difference <= GRADIENT_CHECK_PASS) console.log(`PASSED: difference ${difference} <= ${GRADIENT_CHECK_PASS} (${checked})`);
    else if (result.difference <= GRADIENT_CHECK_WARN)
      console.log(`PASSED with a warning: difference ${difference} > ${GRADIENT_CHECK_PASS} but <= ${GRADIENT_CHECK_WARN}: it deserves a look (${checked})`);
    else console.log(`FAILED: difference ${difference} > ${GRADIENT_CHECK_WARN}: the gradients are almost surely wrong (${checked})`);
    result.layers.forEach((layer, index) => console.log(`  layer ${index}: ${layer.toExponential(2)}`));
    return result.difference <= GRADIENT_CHECK_WARN ? 0 : 1;
  },
};

const predict: Command = {
  summary: 'predict the rows of a CSV file with a saved model',
  usage: `caviar predict MODEL.json DATA.csv [options]

DATA.csv has a header row and one row per example. A model trained on a CSV reads its
raw columns by name, in any order: text, empty cells and NA are taken as they were in
training (a column left out is a gap in every row), and a column the model does not know
is refused, but for its label column, which is left out. A model trained on numbers alone
reads its feature columns (by name, in any order, when it records their names; else the
first columns, in order) and optionally a label column, left out: the one --label names,
else the model's label column, else one last column beyond the features. A first row of
numbers only is refused: it is data, not a header.

Writes DATA.csv's rows back with the prediction appended: predicted_<label> (the class
name when the model knows it) and the probability of each class (p_<class>...), or the
predicted values of a regression. Fields are quoted as RFC 4180 says, and a cell that
starts with = + - @ a tab or a carriage return (but for a plain number) gets a leading '
so that a spreadsheet does not run it as a formula.

Options:
  --label COLUMN   a column of DATA.csv to leave out
  --output FILE    write to FILE instead of stdout
  -h, --help       show this help`,
  options: { ...HELP, label: { type: 'string' }, output: { type: 'string' } },
  async run([modelPath, dataPath], values) {
    if (modelPath === undefined || dataPath === undefined)
      throw new UsageError('which model and data? caviar predict MODEL.json DATA.csv');
    const model = Model.load(readFileSync(modelPath, 'utf8'));
    const label = typeof values.label === 'string' ? values.label : undefined;
    const rows = readPredictionCsv(await readDataFile(dataPath), model, { label, source: dataPath });
    const { outputs, classes } = await model.predict(rows.x, rows.rows);
    const text = predictionCsv(rows.input, { outputs, units: model.outputs, classes, classNames: model.classNames, labelName: model.labelName });
    if (typeof values.output === 'string') writeAtomically(values.output, text);
    else process.stdout.write(text);
    return 0;
  },
};

/** The distributed mode's settings, as serve and worker list them. */
const DISTRIBUTED_SETTINGS = `  CAVIAR_DATABASE_URL (postgres://...) and CAVIAR_REDIS_URL (redis://...), both or
  neither: the distributed mode, with PostgreSQL as the store and a BullMQ queue on Redis;
  CAVIAR_LOCK_MS (30000: how long a silent worker host keeps its jobs before they move),
  CAVIAR_REDIS_PREFIX (caviar: the prefix of its Redis keys and channel)`;

/** The service's settings, read once; a mode that cannot work is a one-line error. */
async function serviceConfig() {
  const { ConfigError, loadConfig } = await import('./server/config.js');
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

const serve: Command = {
  summary: 'run the training service (HTTP API, websockets, dashboard)',
  usage: `caviar serve [--workers N]

Runs the service until SIGTERM or SIGINT (then it stops taking jobs, returns running
ones to the queue at their last checkpoint, and exits 0). Settings come from the
environment:
  CAVIAR_PORT (8080), CAVIAR_HOST (127.0.0.1), CAVIAR_DATA_DIR (./data: the SQLite store,
  datasets, checkpoints, models), CAVIAR_CONCURRENCY (jobs at once; default: the cores),
  CAVIAR_TOKEN (when set, requests need Authorization: Bearer <token>),
  CAVIAR_MAX_UPLOAD_MB (256), CAVIAR_MAX_CATEGORIES (1000: the distinct values a CSV
  column may have and still be one-hot encoded), CAVIAR_MAX_COLUMNS (65536),
  CAVIAR_MAX_CELL_BYTES (4096: the longest text cell), CAVIAR_MIN_FREE_MB (64: below it
  /readyz answers 507), LOG_LEVEL (info)
${DISTRIBUTED_SETTINGS}

Options:
  --workers N  in the distributed mode, train N jobs at once in this process too
               (default 0: the API only; jobs train on \`caviar worker\` hosts)
  -h, --help   show this help`,
  options: { ...HELP, workers: { type: 'string' } },
  async run(_positionals, values) {
    const config = await serviceConfig();
    let workers: number | undefined;
    if (values.workers !== undefined) {
      workers = Number(values.workers);
      if (!Number.isInteger(workers) || workers < 0) throw new UsageError('--workers takes a whole number of jobs (0 or more)');
      if (config.distributed === undefined)
        throw new UsageError('--workers is for the distributed mode (CAVIAR_DATABASE_URL and CAVIAR_REDIS_URL); on one machine, CAVIAR_CONCURRENCY sets the slots');
    }
    const { serve: runService } = await import('./server/index.js');
    await runService(config, workers === undefined ? {} : { workers });
    return 0;
  },
};

const worker: Command = {
  summary: 'run a worker host of the distributed mode: it trains jobs from the queue',
  usage: `caviar worker

Takes jobs from the distributed mode's queue, CAVIAR_CONCURRENCY at once (default: the
cores), and trains each in its own process, until SIGTERM or SIGINT (then it returns
running jobs to the queue at their last checkpoint, for another host, and exits 0).
A host that dies has its jobs moved to another host after CAVIAR_LOCK_MS, to resume
from their last checkpoints. Settings come from the environment:
${DISTRIBUTED_SETTINGS}
  CAVIAR_DATA_DIR (./data: this host's cache of datasets), LOG_LEVEL (info)

Options:
  -h, --help   show this help`,
  options: { ...HELP },
  async run() {
    const config = await serviceConfig();
    const { distributed } = config;
    if (distributed === undefined)
      throw new UsageError("caviar worker takes jobs from the distributed mode's queue: set CAVIAR_DATABASE_URL and CAVIAR_REDIS_URL");
    const { work } = await import('./server/index.js');
    await work({ ...config, distributed });
    return 0;
  },
};

/** Trials as a table, best first: rank, trial, status, metric, then each sampled value. */
function trialTable(trials: Pick<RankedTrial, 'trial' | 'status' | 'metric' | 'values'>[], metricName: string, limit: number): string {
  const pointers = [...new Set(trials.flatMap((trial) => Object.keys(trial.values)))];
  const show = (value: unknown) => (typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toPrecision(3)) : String(value));
  const rows = [
    ['#', 'trial', 'status', metricName, ...pointers.map((pointer) => pointer.split('/').pop() as string)],
    ...trials.slice(0, limit).map((trial, rank) => [
      String(rank + 1),
      String(trial.trial),
      trial.status,
      trial.metric === undefined ? '-' : trial.metric.toFixed(4),
      ...pointers.map((pointer) => (trial.values[pointer] === undefined ? '-' : show(trial.values[pointer]))),
    ]),
  ];
  const widths = (rows[0] as string[]).map((_, column) => Math.max(...rows.map((row) => (row[column] as string).length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] as number)).join('  ')).join('\n');
}

const sweep: Command = {
  summary: 'run a hyperparameter sweep locally, trials in parallel',
  usage: `caviar sweep SWEEP.json [options]

Runs the trials of a sweep spec (see the README: a base job spec, a search space of
JSON pointers into it, a strategy and a metric) on this machine, several at once, each
in its own process, and prints the trials ranked by the metric. On a terminal the
table updates as trials run.

Options:
  --json               print the sweep's events and its trials' job events, one JSON
                       object per line, and nothing else on stdout
  --concurrency N      trials at once (default: the cores)
  -h, --help           show this help`,
  options: { ...HELP, json: { type: 'boolean' }, concurrency: { type: 'string' } },
  async run([specPath], values) {
    if (specPath === undefined) throw new UsageError('which sweep? caviar sweep SWEEP.json');
    const spec = readJson(specPath, SweepSpecSchema);
    if (typeof spec.base.dataset !== 'object' || !('builtin' in spec.base.dataset))
      throw new UsageError('a local sweep trains on a built-in dataset; for your own data, upload it to the service');
    const cores = availableCores();
    const concurrency = values.concurrency === undefined ? cores : Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency takes a positive integer');
    const json = values.json === true;
    const live = !json && process.stdout.isTTY === true;
    const trials = new Map<number, Pick<RankedTrial, 'trial' | 'status' | 'metric' | 'values'>>();
    const metricName = spec.metric ?? 'metric';
    const mode = spec.mode ?? (metricName.endsWith('loss') ? 'min' : 'max');
    let drawn = 0;
    const redraw = () => {
      const ranked = [...trials.values()].sort((a, b) => {
        if (a.metric === undefined || b.metric === undefined) return (a.metric === undefined ? 1 : 0) - (b.metric === undefined ? 1 : 0);
        return mode === 'max' ? b.metric - a.metric : a.metric - b.metric;
      });
      const table = trialTable(ranked, metricName, 20);
      process.stdout.write(`${drawn > 0 ? `\x1b[${drawn}A\x1b[J` : ''}${table}\n`);
      drawn = table.split('\n').length;
    };
    const onEvent = (event: SweepEvent | JobEvent) => {
      if (json) {
        process.stdout.write(`${JSON.stringify(event)}\n`);
        return;
      }
      if (!('sweepId' in event) || event.type !== 'trial') return;
      trials.set(event.trial, event);
      if (live) redraw();
      else if (event.status !== 'running') console.log(`trial ${event.trial} ${event.status}${event.metric === undefined ? '' : ` ${metricName} ${event.metric.toFixed(4)}`}`);
    };
    const run = await runLocalSweep(spec, { concurrency, cores, memoryLimitBytes: 0.8 * availableMemory(), onEvent });
    const interrupt = () => run.cancel();
    process.once('SIGINT', interrupt);
    let view: SweepView;
    try {
      view = await run.done;
    } finally {
      process.removeListener('SIGINT', interrupt);
    }
    if (json) return 0;
    if (live) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
    console.log(trialTable(view.trials, view.spec.metric, view.trials.length));
    if (view.best !== undefined)
      console.log(`best: trial ${view.best.trial}, ${view.spec.metric} ${view.best.metric?.toFixed(4)} at epoch ${view.best.bestEpoch}`);
    return view.status === 'succeeded' ? 0 : 1;
  },
};

/** `caviar serve` found its store damaged: a supervisor's restart would meet the same. */
const EXIT_STORE_DAMAGED = 3;

const commands: Record<string, Command> = { train, gradcheck, predict, sweep, serve, worker };

function usage(): string {
  const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(10)} ${command.summary}`);
  return `usage: caviar COMMAND [options]\n\nCommands:\n${lines.join('\n')}\n\nRun caviar COMMAND --help for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) throw new UsageError(`unknown command '${name}'\n\n${usage()}`);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${command.usage}`);
  }
  if (parsed.values.help === true) {
    console.log(command.usage);
    return 0;
  }
  return command.run(parsed.positionals, parsed.values);
}

// A reader that closed the output (`caviar train spec.json | head`) wants no more of it: the
// command ends quietly, as a Unix tool does on SIGPIPE, rather than with a stack.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`caviar: ${error.message}`);
      process.exitCode = 2;
      return;
    }
    if (error instanceof StoreDamagedError) {
      console.error(`caviar: ${error.message}`);
      process.exitCode = EXIT_STORE_DAMAGED;
      return;
    }
    if (error instanceof EngineError || error instanceof DataError) {
      const where = error instanceof EngineError && error.path ? ` (at ${error.path})` : '';
      console.error(`caviar: ${error.code}: ${error.message}${where}`);
      process.exitCode = 1;
      return;
    }
    throw error;
  },
);
