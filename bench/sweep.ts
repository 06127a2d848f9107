// The sweep benchmark (`npm run bench:sweep`): a 64-trial random sweep of a small network
// on moons, run three ways on this machine, with the same trials and the same data:
//   1. caviar sweep:        runLocalSweep, 2 trials at once, each in its own worker process
//                           with one OpenBLAS thread (what `caviar sweep` and the service do);
//   2. caviar one at a time: the same trial specs one after another in one process (a child
//                           node process with OPENBLAS_NUM_THREADS=1), in-process trainers;
//   3. pytorch sweep:       bench/peers/torch_sweep.py, the same trials in a multiprocessing
//                           pool of 2 processes, each with one thread.
// For each: wall seconds, trials per minute, and core utilisation = CPU seconds of every
// process involved (the runner's own and its children's) / (wall x cores). Targets (the
// issue): the sweep >= 1.8x faster than one at a time on 2 cores, and at least 10x the
// PyTorch driver's trials per minute. Printed as a table, written as JSON to bench/results/.
//   npm run bench:sweep                        the full run (about 2 minutes on 2 cores)
//   npm run bench:sweep -- --smoke             tiny sizes: checks that every part runs
//   npm run bench:sweep -- --trials 16 --epochs 20 --samples 1000 --peers caviar
//   npm run bench:sweep -- --long-trials 0     without the long-trial scaling check
//
// The trials: the sweep draws them (random search, seeded), and its view gives each trial's
// sampled values; applySample(base, values) makes each trial's job spec. Those specs, with
// the moons rows Caviar's generator made and the train/dev split Caviar's splitter chose,
// go to a JSON file that the one-at-a-time runner and the PyTorch driver both read, so all
// three train exactly the same hyperparameters on exactly the same rows.
//
// Wall seconds are each runner's own span, from the start of its sweep to the end of its
// last trial: the sweep's from runLocalSweep to `done` (store, worker processes and all);
// one at a time's from its first trial's data to its last trial's score; PyTorch's from
// creating its pool (torch already imported) to joining it. The start-up of the driving
// process (node, or python and `import torch`) is outside all three; the child runners'
// whole-process wall is reported beside as process_wall_seconds.
//
// Core utilisation counts only these processes; the CPU time the rest of the machine used
// during each runner's span (from /proc/stat) is reported as other_cpu_seconds, and a
// runner's line is flagged when it is above 5% of the machine: its figures are then noisy.
//
// Last, a diagnostic (Caviar only): the same sweep draws (seed, space) with long trials,
// --long-trials trials on moons of --long-samples points for --long-epochs epochs (about
// 2 s a trial), sweep and one at a time: the scaling once a trial's training outweighs
// the fixed cost of its worker process and the per-epoch cost of its events.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { resolveDataset, splitIndices } from '../src/data/index.js';
import { Trainer } from '../src/engine/index.js';
import { runLocalSweep } from '../src/jobs/local-sweep.js';
import { applySample } from '../src/jobs/search-space.js';
import type { JobSpec } from '../src/jobs/spec.js';
import type { SweepSpec, SweepView } from '../src/jobs/sweep-spec.js';
import { jobData, scoreJob, trainJob, trainerSpec } from '../src/jobs/training.js';
import { availableCores, availableMemory } from '../src/engine/machine.js';
import { describeLoad, describeMachine, machine, withLoad, type LoadSpan } from './machine.js';
import { count } from './options.js';
import { resultsFile, root } from './server-process.js';
import { sweepSpec } from './sweep-workload.js';

const self = fileURLToPath(import.meta.url);
const python = '/usr/bin/python3';
const torchDriver = join(root, 'bench/peers/torch_sweep.py');

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean' },
    out: { type: 'string' },
    trials: { type: 'string' },
    samples: { type: 'string' },
    epochs: { type: 'string' },
    concurrency: { type: 'string' },
    peers: { type: 'string' },
    'long-trials': { type: 'string' },
    'long-epochs': { type: 'string' },
    'long-samples': { type: 'string' },
    // Internal: the one-at-a-time runner, in a child process with one OpenBLAS thread.
    'one-at-a-time': { type: 'string' },
  },
});

/** The trials file that the one-at-a-time runner and the PyTorch driver read. */
interface TrialsFile {
  /** Caviar's moons rows, row-major, and its train/dev split (row indices, ascending). */
  data: { x: number[]; y: number[]; rows: number; features: number; train: number[]; dev: number[]; normalize: string };
  trials: { trial: number; values: Record<string, unknown>; spec: JobSpec }[];
}

/** What a runner reports of one trial. */
interface TrialOutcome {
  trial: number;
  status: string;
  /** The best dev accuracy over the trial's epochs (the sweep's metric). */
  best_dev_accuracy?: number;
  /** The dev accuracy after the last epoch. */
  final_dev_accuracy?: number;
  seconds?: number;
}

interface RunnerFigures {
  runner: string;
  description: string;
  trials: number;
  finished: number;
  wall_seconds: number;
  process_wall_seconds?: number;
  trials_per_minute: number;
  cpu_seconds: number;
  core_utilisation: number;
  /** CPU seconds that other processes of the machine used during the span. */
  other_cpu_seconds?: number;
  best_dev_accuracy?: number;
  mean_trial_seconds?: number;
  outcomes: TrialOutcome[];
}

type Failure = { runner: string; error: string };

// ---- CPU accounting (Linux) ----

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** This process's CPU seconds, all threads: user + system. */
function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** CPU seconds of this process's children that have exited and been waited for (cutime + cstime). */
function reapedChildrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // Fields after the command name in parentheses, which may hold spaces: state is field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[16 - 3]) + Number(fields[17 - 3])) / clockTicks;
}

/** Waits until this process has no child left (exited and reaped), so that cutime counts them all. */
async function childrenGone(timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const children = readdirSync('/proc').filter((entry) => {
      if (!/^\d+$/.test(entry)) return false;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid;
      } catch {
        return false;
      }
    });
    if (children.length === 0 || Date.now() > deadline) return children.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** CPU seconds of this process and its reaped children: read before and after a span. */
const cpuNow = () => ownCpuSeconds() + reapedChildrenCpuSeconds();

/** The machine's busy CPU seconds, every process's (/proc/stat: all but idle and iowait; steal counts as busy). */
function machineBusySeconds(): number {
  const [user, nice, system, , , irq, softirq, steal] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string)
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number) as number[];
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / clockTicks;
}

/** A span's CPU accounting: ours (this process and its reaped children) and the rest of the machine's. */
function startAccounting(): () => { ours: number; other: number } {
  const ours = cpuNow();
  const busy = machineBusySeconds();
  return () => {
    const oursNow = cpuNow() - ours;
    return { ours: oursNow, other: Math.max(0, machineBusySeconds() - busy - oursNow) };
  };
}

const mean = (numbers: number[]) => (numbers.length === 0 ? undefined : numbers.reduce((sum, n) => sum + n, 0) / numbers.length);
const maxOf = (numbers: (number | undefined)[]) => {
  const defined = numbers.filter((n): n is number => n !== undefined);
  return defined.length === 0 ? undefined : Math.max(...defined);
};

// ---- The one-at-a-time runner (a child process) ----

async function oneAtATime(file: string): Promise<void> {
  const { trials } = JSON.parse(readFileSync(file, 'utf8')) as TrialsFile;
  const outcomes: TrialOutcome[] = [];
  const cpuStart = ownCpuSeconds();
  const started = performance.now();
  for (const { trial, spec } of trials) {
    const trialStarted = performance.now();
    // As a worker does it: the data from the spec, split, a trainer, the epochs, the score.
    const loaded = await resolveDataset(spec.dataset as Parameters<typeof resolveDataset>[0]);
    const data = jobData(loaded, spec.split);
    const trainer = Trainer.create(trainerSpec(spec), data.train, data.dev);
    let best: number | undefined;
    await trainJob(trainer, spec, {
      onEpochs(epochs) {
        for (const metrics of epochs) {
          const accuracy = metrics.dev?.accuracy;
          if (accuracy !== undefined && (best === undefined || accuracy > best)) best = accuracy;
        }
      },
    });
    const result = await scoreJob(trainer, data, spec);
    outcomes.push({
      trial,
      status: 'succeeded',
      ...(best === undefined ? {} : { best_dev_accuracy: best }),
      ...(result.dev?.accuracy === undefined ? {} : { final_dev_accuracy: result.dev.accuracy }),
      seconds: (performance.now() - trialStarted) / 1000,
    });
  }
  const wall = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ wall_seconds: wall, cpu_seconds: ownCpuSeconds() - cpuStart, outcomes })}\n`);
}

if (values['one-at-a-time'] !== undefined) {
  await oneAtATime(values['one-at-a-time']);
  process.exit(0);
}

// ---- The benchmark ----

const smoke = values.smoke === true;
const sizes = {
  trials: count('trials', values.trials, smoke ? 4 : 64),
  samples: count('samples', values.samples, smoke ? 200 : 2000, 10),
  epochs: count('epochs', values.epochs, smoke ? 2 : 50),
  concurrency: count('concurrency', values.concurrency, 2),
  longTrials: count('long-trials', values['long-trials'], smoke ? 2 : 8, 0),
  longEpochs: count('long-epochs', values['long-epochs'], smoke ? 3 : 200, 1),
  longSamples: count('long-samples', values['long-samples'], smoke ? 400 : 20_000, 10),
};
const peers = new Set(values.peers?.split(',') ?? ['caviar', 'torch']);
const cores = availableCores();
const workload = sweepSpec(sizes.trials, sizes.epochs, sizes.samples);

const log = (message: string) => process.stderr.write(`${message}\n`);

/** The Caviar sweep: runLocalSweep, --concurrency trials at once, each its own worker. */
async function caviarSweep(spec: SweepSpec): Promise<{ figures: RunnerFigures; view: SweepView }> {
  const trialStarts = new Map<number, number>();
  const trialSeconds = new Map<number, number>();
  let ended = 0;
  await childrenGone();
  const account = startAccounting();
  const started = performance.now();
  const run = await runLocalSweep(spec, {
    concurrency: sizes.concurrency,
    cores,
    memoryLimitBytes: 0.8 * availableMemory(),
    onEvent(event) {
      if (!('sweepId' in event) || event.type !== 'trial') return;
      if (event.status === 'running') trialStarts.set(event.trial, performance.now());
      else if (event.status !== 'queued') {
        const start = trialStarts.get(event.trial);
        if (start !== undefined) trialSeconds.set(event.trial, (performance.now() - start) / 1000);
        ended += 1;
        const total = spec.trials ?? 0;
        if (ended % Math.max(1, Math.round(total / 8)) === 0 || ended === total) log(`  ${ended}/${total} trials ended`);
      }
    },
  });
  const view = await run.done;
  const wall = (performance.now() - started) / 1000;
  const left = await childrenGone();
  if (left > 0) log(`  warning: ${left} worker processes still running after the sweep; their CPU time is not counted`);
  const { ours: cpu, other } = account();
  const outcomes: TrialOutcome[] = [...view.trials]
    .sort((a, b) => a.trial - b.trial)
    .map((trial) => ({
      trial: trial.trial,
      status: trial.status,
      ...(trial.bestMetric === undefined ? {} : { best_dev_accuracy: trial.bestMetric }),
      ...(trialSeconds.has(trial.trial) ? { seconds: trialSeconds.get(trial.trial) as number } : {}),
    }));
  return {
    view,
    figures: figures(
      'caviar sweep',
      `runLocalSweep, concurrency ${sizes.concurrency}: a worker process per trial, ${Math.max(1, Math.floor(cores / sizes.concurrency))} OpenBLAS thread(s) each`,
      outcomes,
      wall,
      cpu,
      { other },
    ),
  };
}

function figures(
  runner: string,
  description: string,
  outcomes: TrialOutcome[],
  wall: number,
  cpu: number,
  { processWall, other }: { processWall?: number; other?: number },
): RunnerFigures {
  const finished = outcomes.filter((outcome) => outcome.status === 'succeeded').length;
  const best = maxOf(outcomes.map((outcome) => outcome.best_dev_accuracy));
  const trialMean = mean(outcomes.map((outcome) => outcome.seconds).filter((s): s is number => s !== undefined));
  return {
    runner,
    description,
    trials: outcomes.length,
    finished,
    wall_seconds: wall,
    ...(processWall === undefined ? {} : { process_wall_seconds: processWall }),
    trials_per_minute: (60 * finished) / wall,
    cpu_seconds: cpu,
    core_utilisation: cpu / (wall * cores),
    ...(other === undefined ? {} : { other_cpu_seconds: other }),
    ...(best === undefined ? {} : { best_dev_accuracy: best }),
    ...(trialMean === undefined ? {} : { mean_trial_seconds: trialMean }),
    outcomes,
  };
}

/** The trials file: each trial's spec, and Caviar's rows and split for the PyTorch side. */
async function writeTrialsFile(view: SweepView, directory: string, name: string): Promise<{ path: string; file: TrialsFile }> {
  const baseSpec = view.spec.base;
  const loaded = await resolveDataset(baseSpec.dataset as Parameters<typeof resolveDataset>[0]);
  const split = splitIndices(loaded, baseSpec.split ?? {});
  if (split.test.length > 0) throw new Error('the benchmark splits train and dev only');
  const file: TrialsFile = {
    data: {
      x: Array.from(loaded.train.x),
      y: Array.from(loaded.train.y),
      rows: loaded.train.rows,
      features: loaded.train.features,
      train: Array.from(split.train),
      dev: Array.from(split.dev),
      normalize: baseSpec.normalize ?? 'standard',
    },
    trials: [...view.trials]
      .sort((a, b) => a.trial - b.trial)
      .map((trial) => ({ trial: trial.trial, values: trial.values, spec: applySample(baseSpec, trial.values) })),
  };
  const path = join(directory, name);
  writeFileSync(path, JSON.stringify(file));
  return { path, file };
}

/** Runs a child to its end; its last stdout line is its JSON. Wall and CPU as the parent sees them. */
function runChild(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ result: Record<string, unknown>; processWall: number; cpu: number; other: number } | { error: string }> {
  return new Promise((resolve) => {
    const account = startAccounting();
    const started = performance.now();
    execFile(command, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 30 * 60 * 1000 }, (error, stdout, stderr) => {
      const processWall = (performance.now() - started) / 1000;
      const { ours: cpu, other } = account();
      if (error) return resolve({ error: `${error.message.split('\n')[0]} ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve({ result: JSON.parse(line) as Record<string, unknown>, processWall, cpu, other });
      } catch {
        resolve({ error: `no JSON result: ${line.slice(0, 200)}` });
      }
    });
  });
}

async function caviarOneAtATime(trialsPath: string): Promise<RunnerFigures | Failure> {
  const runner = 'caviar one at a time';
  const child = await runChild(process.execPath, [self, '--one-at-a-time', trialsPath], { OPENBLAS_NUM_THREADS: '1' });
  if ('error' in child) return { runner, error: child.error };
  const { wall_seconds: wall, cpu_seconds: cpu, outcomes } = child.result as { wall_seconds: number; cpu_seconds: number; outcomes: TrialOutcome[] };
  return figures(runner, 'the same trial specs one after another in one process (OPENBLAS_NUM_THREADS=1), in-process trainers', outcomes, wall, cpu, {
    processWall: child.processWall,
    other: child.other,
  });
}

async function torchSweep(trialsPath: string): Promise<(RunnerFigures & Record<string, unknown>) | Failure> {
  const runner = 'pytorch sweep';
  const child = await runChild(python, [torchDriver, '--trials', trialsPath, '--processes', String(sizes.concurrency), '--json'], {
    OPENBLAS_NUM_THREADS: '1',
    OMP_NUM_THREADS: '1',
  });
  if ('error' in child) return { runner, error: child.error };
  const result = child.result as { wall_seconds: number; cpu_seconds: number; outcomes: TrialOutcome[]; torch_version: string; description: string };
  return {
    ...figures(runner, result.description, result.outcomes, result.wall_seconds, result.cpu_seconds, { processWall: child.processWall, other: child.other }),
    torch_version: result.torch_version,
  };
}

const isFailure = (figures: RunnerFigures | Failure | undefined): figures is Failure => figures !== undefined && 'error' in figures;

// ---- Run ----

/** The load before and after each runner, by its name, printed beside its figures. */
const loads: Record<string, LoadSpan> = {};
async function timed<T>(runner: string, work: () => Promise<T>): Promise<T> {
  const { value, load } = await withLoad(work);
  loads[runner] = load;
  return value;
}
const host = machine();

const workdir = mkdtempSync(join(tmpdir(), 'caviar-bench-sweep-'));
const results: Record<string, RunnerFigures | Failure> = {};
let trialsFile: TrialsFile | undefined;
let long: { sweep?: RunnerFigures | Failure; oneAtATime?: RunnerFigures | Failure } | undefined;
try {
  log(`caviar sweep: ${sizes.trials} trials, concurrency ${sizes.concurrency}...`);
  const sweep = await timed('caviar sweep', () => caviarSweep(workload));
  results['caviar sweep'] = sweep.figures;
  const written = await writeTrialsFile(sweep.view, workdir, 'trials.json');
  trialsFile = written.file;
  if (peers.has('caviar')) {
    log('caviar one at a time...');
    results['caviar one at a time'] = await timed('caviar one at a time', () => caviarOneAtATime(written.path));
  }
  if (peers.has('torch')) {
    log(`pytorch sweep: ${sizes.trials} trials in ${sizes.concurrency} processes...`);
    results['pytorch sweep'] = await timed('pytorch sweep', () => torchSweep(written.path));
  }
  if (sizes.longTrials > 0 && peers.has('caviar')) {
    const longSpec = sweepSpec(sizes.longTrials, sizes.longEpochs, sizes.longSamples);
    log(`long trials (caviar only): ${longSpec.trials} trials, moons ${sizes.longSamples}, ${sizes.longEpochs} epochs, sweep...`);
    const longSweep = await timed('caviar sweep, long trials', () => caviarSweep(longSpec));
    const longWritten = await writeTrialsFile(longSweep.view, workdir, 'long-trials.json');
    log('long trials, one at a time...');
    const longOneAtATime = await timed('caviar one at a time, long trials', () => caviarOneAtATime(longWritten.path));
    long = {
      sweep: { ...longSweep.figures, runner: 'caviar sweep, long trials' },
      oneAtATime: isFailure(longOneAtATime) ? longOneAtATime : { ...longOneAtATime, runner: 'caviar one at a time, long trials' },
    };
  }
} finally {
  rmSync(workdir, { recursive: true, force: true });
}

// ---- Checks, ratios, targets ----

const ok = (label: string) => {
  const figures = results[label];
  return figures === undefined || isFailure(figures) ? undefined : figures;
};
const sweepFigures = ok('caviar sweep');
const sequentialFigures = ok('caviar one at a time');
const torchFigures = ok('pytorch sweep');
const speedup = sweepFigures && sequentialFigures ? sequentialFigures.wall_seconds / sweepFigures.wall_seconds : undefined;
const overTorch = sweepFigures && torchFigures ? sweepFigures.trials_per_minute / torchFigures.trials_per_minute : undefined;
// Training is deterministic: the sweep's workers and the one-at-a-time runner (both one
// OpenBLAS thread, the same build) must find the same best dev accuracy in every trial.
const sameResults =
  sweepFigures && sequentialFigures
    ? sweepFigures.outcomes.every(
        (outcome) => outcome.best_dev_accuracy === sequentialFigures.outcomes.find((other) => other.trial === outcome.trial)?.best_dev_accuracy,
      )
    : undefined;
// The sweep's fixed cost per trial beyond its training (a worker process, the store),
// estimated: a perfectly parallel sweep would take (trials x one-at-a-time trial) / concurrency.
const overheadPerTrial =
  sweepFigures && sequentialFigures ? (sweepFigures.wall_seconds * sizes.concurrency - sequentialFigures.wall_seconds) / sweepFigures.trials : undefined;
// That cost is mostly per epoch (each epoch's event and checkpoint go over IPC and are
// committed before the next): the epoch length at which it would reach 1.8x, c T / (T + o) >= 1.8.
const overheadPerEpoch = overheadPerTrial === undefined ? undefined : overheadPerTrial / sizes.epochs;
const breakEven = overheadPerEpoch !== undefined && sizes.concurrency > 1.8 ? (1.8 * Math.max(0, overheadPerEpoch)) / (sizes.concurrency - 1.8) : undefined;
// The same trials trained by Caviar and PyTorch: how far apart their best dev accuracies are.
const torchGaps =
  sweepFigures && torchFigures
    ? sweepFigures.outcomes
        .map((outcome) => {
          const theirs = torchFigures.outcomes.find((other) => other.trial === outcome.trial)?.best_dev_accuracy;
          return outcome.best_dev_accuracy === undefined || theirs === undefined ? undefined : Math.abs(outcome.best_dev_accuracy - theirs);
        })
        .filter((gap): gap is number => gap !== undefined)
        .sort((a, b) => a - b)
    : undefined;
const torchGap =
  torchGaps === undefined || torchGaps.length === 0
    ? undefined
    : { median: torchGaps[Math.floor(torchGaps.length / 2)] as number, max: torchGaps[torchGaps.length - 1] as number };
const longSpeedup =
  long?.sweep !== undefined && long.oneAtATime !== undefined && !isFailure(long.sweep) && !isFailure(long.oneAtATime)
    ? long.oneAtATime.wall_seconds / long.sweep.wall_seconds
    : undefined;

const targets = [
  { target: `caviar sweep >= 1.8x faster than one at a time (${cores} cores)`, value: speedup, holds: speedup === undefined ? undefined : speedup >= 1.8 },
  { target: "caviar sweep's trials/minute >= 10x the PyTorch driver's", value: overTorch, holds: overTorch === undefined ? undefined : overTorch >= 10 },
  { target: 'every trial finished, in every runner', holds: Object.values(results).every((r) => !isFailure(r) && r.finished === r.trials && r.trials === sizes.trials) },
];

// ---- The table ----

const format = (number: number | undefined, digits = 0) =>
  number === undefined ? '-' : number.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percent = (number: number | undefined) => (number === undefined ? '-' : `${format(100 * number, 0)}%`);
const lines: string[] = [`Machine: ${describeMachine(host)}; node ${host.node}`];
lines.push(
  `Sweep: ${sizes.trials} random trials; moons ${sizes.samples} (${trialsFile?.data.train.length ?? '?'} train / ${trialsFile?.data.dev.length ?? '?'} dev), ` +
    `2-H1-H2-1 relu/relu/sigmoid (H in 16, 32, 64), He init, Adam (lr log-uniform 1e-4..1e-1), batch ${workload.base.training.batchSize}, ${sizes.epochs} epochs; ${cores} cores`,
);
const row = (cells: string[]) => `  ${(cells[0] ?? '').padEnd(34)}${cells.slice(1).map((cell, index) => cell.padStart([9, 12, 9, 10, 14, 14][index] ?? 10)).join('')}`;
const table = (entries: [string, RunnerFigures | Failure | undefined][]) => {
  lines.push(row(['runner', 'wall s', 'trials/min', 'CPU s', 'core use', 'best dev acc', 'mean trial s']));
  for (const [label, figures] of entries) {
    if (figures === undefined) continue;
    if (isFailure(figures)) {
      lines.push(`  ${label.padEnd(34)}failed: ${figures.error}`);
      continue;
    }
    lines.push(
      row([
        `${label}${figures.finished === figures.trials ? '' : ` (${figures.finished}/${figures.trials} finished)`}`,
        format(figures.wall_seconds, 2),
        format(figures.trials_per_minute, 1),
        format(figures.cpu_seconds, 1),
        percent(figures.core_utilisation),
        format(figures.best_dev_accuracy, 4),
        format(figures.mean_trial_seconds, 3),
      ]),
    );
    const load = loads[figures.runner];
    if (load !== undefined) lines.push(`    ${figures.description}; ${describeLoad(load, cores)}`);
    const span = figures.process_wall_seconds ?? figures.wall_seconds;
    const otherShare = (figures.other_cpu_seconds ?? 0) / (span * cores);
    if (otherShare > 0.05)
      lines.push(`    (other processes used ${percent(otherShare)} of the machine during this run: its figures are noisy)`);
  }
};
table(Object.entries(results));
lines.push('');
lines.push(`  sweep over one at a time: ${speedup === undefined ? '-' : `${format(speedup, 2)}x`} wall`);
lines.push(`  sweep over pytorch: ${overTorch === undefined ? '-' : `${format(overTorch, 2)}x`} trials/minute`);
if (sameResults !== undefined) lines.push(`  sweep and one at a time agree trial for trial (best dev accuracy): ${sameResults ? 'yes' : 'NO'}`);
if (torchGap !== undefined)
  lines.push(
    `  best dev accuracy of the same trial, caviar vs pytorch: median gap ${format(100 * torchGap.median, 2)} points, largest ${format(100 * torchGap.max, 2)}`,
  );
if (overheadPerTrial !== undefined)
  lines.push(
    `  the sweep's cost beyond training (estimated): ${format(overheadPerTrial, 3)} s a trial, ${format((overheadPerEpoch as number) * 1000, 2)} ms an epoch; ` +
      `one at a time trains an epoch in ${format(((sequentialFigures as RunnerFigures).wall_seconds / sizes.trials / sizes.epochs) * 1000, 2)} ms; ` +
      `1.8x needs epochs of about ${format((breakEven as number) * 1000, 1)} ms or more`,
  );
if (long !== undefined) {
  lines.push(
    `\nLong trials (Caviar only, a diagnostic): ${sizes.longTrials} trials of the same draws on moons ${sizes.longSamples}, ${sizes.longEpochs} epochs`,
  );
  table([
    ['caviar sweep', long.sweep],
    ['caviar one at a time', long.oneAtATime],
  ]);
  lines.push(`  sweep over one at a time: ${longSpeedup === undefined ? '-' : `${format(longSpeedup, 2)}x`} wall`);
}
lines.push('\nTargets:');
for (const target of targets) {
  const verdict = target.holds === undefined ? 'not measured' : target.holds ? 'holds' : 'MISSED';
  lines.push(`  ${target.target}: ${target.value === undefined ? '' : `${format(target.value, 2)}x, `}${verdict}`);
}
process.stdout.write(`${smoke ? '(smoke run: tiny sizes, figures not meaningful)\n' : ''}${lines.join('\n')}\n`);

const out = values.out ?? resultsFile('sweep', smoke);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      smoke,
      machine: host,
      loads,
      workload: { sizes, sweep: workload },
      results,
      ratios: {
        sweep_speedup_over_one_at_a_time: speedup,
        sweep_trials_per_minute_over_torch: overTorch,
        sweep_and_one_at_a_time_agree: sameResults,
        caviar_vs_torch_best_dev_accuracy_gap: torchGap,
        sweep_overhead_seconds_per_trial: overheadPerTrial,
        sweep_overhead_seconds_per_epoch: overheadPerEpoch,
        epoch_seconds_for_1_8x: breakEven,
      },
      long_trials:
        long === undefined ? undefined : { ...long, speedup: longSpeedup, trials: sizes.longTrials, samples: sizes.longSamples, epochs: sizes.longEpochs },
      trials: trialsFile?.trials.map(({ trial, values }) => ({
        trial,
        values,
        caviar_sweep: sweepFigures?.outcomes.find((o) => o.trial === trial)?.best_dev_accuracy,
        caviar_one_at_a_time: sequentialFigures?.outcomes.find((o) => o.trial === trial)?.best_dev_accuracy,
        pytorch: torchFigures?.outcomes.find((o) => o.trial === trial)?.best_dev_accuracy,
      })),
      targets,
    },
    null,
    2,
  ),
);
log(`\nwritten to ${out}\nrerun: npm run bench:sweep${smoke ? ' -- --smoke' : ''}`);
