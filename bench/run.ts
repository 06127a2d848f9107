// The benchmark suite (`npm run bench`): every workload for Caviar and its peers, measured
// in the same run on the same machine, printed as a table of ratios to PyTorch, and
// written as JSON to bench/results/.
//   npm run bench                        the full suite (about 10 minutes on 2 cores)
//   npm run bench -- --smoke             tiny sizes: checks that every part runs
//   npm run bench -- --workloads W1,W2 --peers caviar,torch
//   npm run bench -- --workloads W1 --repeat 2    each run twice, alternating sides; the best kept
//   npm run bench -- --workloads W1 --epochs 1     shorter runs on a busy machine (--rows N too)
//
// PyTorch's best is its best configuration: torch1, torch2 or single threads, each with its
// default floating-point mode and with flush-to-zero (torch.set_flush_denormal(True)); at
// one thread, the best of `single`'s two. The table lists every one and says which won.
// W1 is also compared with its GEMM ceiling: the products of its forward and backward at
// its shapes and threads, timed alone by bench/gemm-ceiling.c against the same OpenBLAS.
// Every row carries the BLAS kernels and threads it ran with and the machine's load (the
// 1-minute average of /proc/loadavg before and after it); the heading names the CPU.
// Through Caviar's public faces, in the same run: W2's job spec as a user waits for it, by a
// whole `caviar train` and through a real server, each less the same with 1 epoch, as rows
// of W2's table (bench/user-view.ts); and W1's jobs alone, two at once and beside a loaded
// server, under W1's table (bench/concurrency.ts).
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { concurrencyLines, concurrencySizes, measureConcurrency, type ConcurrencyFigures } from './concurrency.js';
import { epochCeiling, type EpochCeiling } from './gemm-ceiling.js';
import { blasCoreOf, blasThreadsOf, describeLoad, describeMachine, describeThreads, machine, threadSettings, withLoad, type LoadSpan } from './machine.js';
import { resultsFile, root } from './server-process.js';
import { measureUserView, type UserViewFigures, type UserViewWay } from './user-view.js';
import { WORKLOAD_IDS, workload, type WorkloadId } from './workloads.js';

const python = '/usr/bin/python3';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean' },
    workloads: { type: 'string' },
    peers: { type: 'string' },
    out: { type: 'string' },
    repeat: { type: 'string' },
    epochs: { type: 'string' },
    rows: { type: 'string' },
  },
});
const smoke = values.smoke === true;
const workloads = (values.workloads?.split(',') ?? WORKLOAD_IDS) as WorkloadId[];
const peers = new Set(values.peers?.split(',') ?? ['caviar', 'torch', 'tfjs']);
const repeat = Number(values.repeat ?? 1);
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat takes an integer >= 1, not '${values.repeat}'`);

/** Short runs for --smoke: enough to exercise each program, not to measure. */
const smokeSizes: Record<WorkloadId, string[]> = {
  W1: ['--epochs', '1', '--rows', '2560'],
  W2: ['--epochs', '20'],
  W3: ['--steps', '16'],
  W4: ['--epochs', '1', '--rows', '2560'],
};

/** The targets of the speed issue, as ratios to PyTorch's best in the same run. */
const RATIO_TARGETS: Partial<Record<WorkloadId, number>> = { W1: 1.8, W2: 50, W4: 1.5 };
/** W1's time per batch over the time of its GEMMs alone. */
const CEILING_TARGET = 1.4;

type Figures = Record<string, unknown> & { peer: string; config: string };
type Failure = { error: string };
/** A run's figures with what they were measured on. */
type Measured = (Figures | Failure) & { load: LoadSpan; thread_settings: Record<string, string>; attempts?: (Figures | Failure)[] };

interface Run {
  label: string;
  peer: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** --epochs (W1, W2, W4) and --rows (W1, W4) over the workload's own or the smoke sizes. */
function sizesOf(id: WorkloadId): string[] {
  const sizes = smoke ? [...smokeSizes[id]] : [];
  const set = (flag: string, text: string | undefined, applies: boolean) => {
    if (text === undefined || !applies) return;
    const at = sizes.indexOf(flag);
    if (at >= 0) sizes.splice(at, 2);
    sizes.push(flag, text);
  };
  set('--epochs', values.epochs, id !== 'W3');
  set('--rows', values.rows, id === 'W1' || id === 'W4');
  return sizes;
}

function runsFor(id: WorkloadId): Run[] {
  const sizes = sizesOf(id);
  const runs: Run[] = [];
  const caviar = { peer: 'caviar', command: process.execPath, args: [`${root}dist/bench/caviar.js`, '--workload', id, ...sizes] };
  if (peers.has('caviar')) {
    runs.push({ ...caviar, label: 'caviar' });
    runs.push({ ...caviar, label: 'caviar 1 thread', env: { OPENBLAS_NUM_THREADS: '1' } });
  }
  if (peers.has('torch')) {
    // Each run measures both denormal modes, each in a child process of its own.
    for (const [label, threads] of [
      ['torch1', 'torch1'],
      ['torch2', 'torch2'],
      ['torch 1 thread', 'single'],
    ] as const) {
      runs.push({
        label,
        peer: 'torch',
        command: python,
        args: [`${root}bench/peers/torch_bench.py`, '--workload', id, '--threads', threads, '--denormals', 'both', '--json', ...sizes],
      });
    }
  }
  if (peers.has('tfjs')) {
    for (const backend of ['cpu', 'wasm']) {
      runs.push({
        label: `tfjs-${backend}`,
        peer: 'tfjs',
        command: process.execPath,
        args: [`${root}bench/peers/tfjs_bench.mjs`, '--backend', backend, '--workload', id, '--json', '--seconds', smoke ? '2' : '20', ...sizes],
      });
    }
  }
  return runs;
}

function execute(run: Run): Promise<Figures | Failure> {
  return new Promise((resolve) => {
    execFile(
      run.command,
      run.args,
      { env: { ...process.env, ...run.env }, maxBuffer: 16 << 20, timeout: 30 * 60 * 1000 },
      (error, stdout, stderr) => {
        const line = stdout.trim().split('\n').pop() ?? '';
        if (error) return resolve({ error: `${error.message.split('\n')[0]} ${stderr.trim().split('\n').pop() ?? ''}` });
        try {
          resolve(JSON.parse(line) as Figures);
        } catch {
          resolve({ error: `no JSON result: ${line.slice(0, 200)}` });
        }
      },
    );
  });
}

const metricOf = (id: WorkloadId) => workload(id).metric;
const value = (figures: Figures | Failure | undefined, metric: string) =>
  figures === undefined || 'error' in figures ? undefined : (figures[metric] as number | undefined);

// ---- Measure: every run, --repeat rounds alternating them, each run's best kept ----

const results: Record<string, Record<string, Measured>> = {};
type Ceiling = EpochCeiling & { load: LoadSpan; thread_settings: Record<string, string> };
const ceilings: Record<string, Ceiling | Failure> = {};

async function measureCeilings(runs: Run[], measured: Record<string, Measured>): Promise<void> {
  for (const label of ['caviar', 'caviar 1 thread']) {
    const run = runs.find((candidate) => candidate.label === label);
    const figures = measured[label];
    if (run === undefined || figures === undefined || 'error' in figures) continue;
    process.stderr.write(`W1 GEMM ceiling, ${label}...\n`);
    const env = run.env ?? {};
    try {
      const { value: ceiling, load } = await withLoad(() =>
        epochCeiling(workload('W1'), figures.features as number, figures.train_rows as number, env, smoke ? 0.01 : 0.05),
      );
      const previous = ceilings[label];
      if (previous === undefined || 'error' in previous || ceiling.seconds_per_batch < previous.seconds_per_batch)
        ceilings[label] = { ...ceiling, load, thread_settings: threadSettings(env) };
    } catch (error) {
      ceilings[label] ??= { error: error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error) };
    }
  }
}
for (const id of workloads) {
  const runs = runsFor(id);
  const measured: Record<string, Measured> = {};
  for (let round = 1; round <= repeat; round += 1) {
    for (const run of runs) {
      process.stderr.write(`${id} ${run.label}${repeat > 1 ? ` (round ${round} of ${repeat})` : ''}...\n`);
      const { value: figures, load } = await withLoad(() => execute(run));
      const attempt: Measured = { ...figures, load, thread_settings: threadSettings(run.env) };
      const previous = measured[run.label];
      const better = previous === undefined || (value(figures, metricOf(id)) ?? -1) > (value(previous, metricOf(id)) ?? -1);
      const attempts = [...(previous?.attempts ?? (previous === undefined ? [] : [previous])), attempt];
      measured[run.label] = { ...(better ? attempt : (previous as Measured)), ...(repeat > 1 ? { attempts } : {}) };
    }
    // W1's GEMMs alone, at the shapes and threads of each Caviar run, in each round: the
    // fastest round's is kept, as each run's best is.
    if (id === 'W1') await measureCeilings(runs, measured);
  }
  results[id] = measured;
}
let sgemm: (Figures | Failure) & { load?: LoadSpan } | undefined;
if (peers.has('torch') && workloads.includes('W3')) {
  process.stderr.write('sgemm at W3 shapes...\n');
  const { value: figures, load } = await withLoad(() =>
    execute({
      label: 'sgemm',
      peer: 'torch',
      command: python,
      args: [`${root}bench/peers/torch_bench.py`, '--workload', 'sgemm', '--threads', 'torch2', '--denormals', 'default', '--json'],
    }),
  );
  sgemm = { ...figures, load };
}

const log = (message: string) => process.stderr.write(`${message}\n`);
const failure = (error: unknown): Failure => ({ error: error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error) });
let userView: UserViewFigures | Failure | undefined;
if (peers.has('caviar') && workloads.includes('W2')) {
  // W2's 2,000 epochs under --smoke too: a few seconds, and the difference must outweigh the
  // noise of a process's start, which smaller runs would not.
  const epochs = values.epochs === undefined ? (workload('W2').training.epochs as number) : Number(values.epochs);
  userView = await measureUserView(epochs, repeat, log).catch(failure);
}
let concurrency: ConcurrencyFigures | Failure | undefined;
if (peers.has('caviar') && workloads.includes('W1'))
  // Its own sizes: --rows and --epochs shorten W1's runs, and would leave two jobs too short to overlap.
  concurrency = await measureConcurrency(concurrencySizes(smoke, { repeat: values.repeat }), log).catch(failure);

// ---- The table ----

const format = (number: number | undefined, digits = 0) =>
  number === undefined || Number.isNaN(number)
    ? '-'
    : number.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** A table row: one run, or for PyTorch one denormal mode of one run. */
interface Row {
  label: string;
  figures: Figures;
  load: LoadSpan;
  /** The BLAS kernels and threads, and the thread settings, as the run reported them. */
  threads: string;
  core: string | undefined;
  note?: string;
}

const DENORMAL_NAMES: Record<string, string> = { default: 'default', flush: 'flush-to-zero' };

function rowsOf(label: string, measured: Measured): Row[] | Failure {
  if ('error' in measured) return { error: String(measured.error) };
  const figures = measured as Figures & Measured;
  if (figures.peer === 'caviar') {
    const blas = String(figures.blas ?? '');
    const threads = blasThreadsOf(blas) ?? '?';
    const settings = describeThreads(measured.thread_settings);
    return [{ label, figures, load: measured.load, threads: `BLAS ${threads} (${settings})`, core: blasCoreOf(blas) }];
  }
  if (figures.peer === 'torch') {
    const openblas = figures.openblas as { core?: string; threads?: number } | undefined;
    const threads = `torch ${String(figures.torch_threads)}, BLAS ${String(openblas?.threads ?? '?')}`;
    const variants = (figures.variants ?? { [String(figures.denormals)]: figures }) as Record<string, Figures>;
    return Object.entries(variants).map(([variant, own]) => ({
      label: `${label} ${DENORMAL_NAMES[variant] ?? variant}`,
      figures: { ...figures, ...own },
      load: measured.load,
      threads,
      core: openblas?.core,
    }));
  }
  return [{ label, figures, load: measured.load, threads: String(figures.config_description ?? figures.config ?? ''), core: undefined }];
}

/** The best row of the given runs by the workload's metric. */
function bestOf(rows: Row[], metric: string): Row | undefined {
  let best: Row | undefined;
  for (const row of rows) if ((value(row.figures, metric) ?? -1) > (best === undefined ? -1 : (value(best.figures, metric) ?? -1))) best = row;
  return best === undefined || value(best.figures, metric) === undefined ? undefined : best;
}

const host = machine();

/** W2 as a user sees it, as rows beside the engine's: a whole `caviar train`, and the service. */
function userViewRows(view: UserViewFigures, caviar: Measured | undefined): Row[] {
  const engineThreads = caviar === undefined || 'error' in caviar ? '?' : (blasThreadsOf(String(caviar.blas ?? '')) ?? '?');
  const row = (label: string, way: UserViewWay, threads: string): Row => ({
    label,
    figures: {
      peer: 'caviar',
      config: 'user view',
      ...(way.updates_per_second === undefined ? {} : { updates_per_second: way.updates_per_second }),
      ...(way.train_accuracy === undefined ? {} : { train_accuracy: way.train_accuracy }),
    },
    load: (way.attempts.find((attempt) => attempt.epochs === view.epochs && attempt.seconds === way.seconds) as UserViewWay['attempts'][number]).load,
    threads,
    core: host.blasCore,
    note: `wall ${format(way.seconds, 3)} s - ${format(way.one_epoch_seconds, 3)} s (1 epoch)${way.unmeasured === undefined ? '' : `: ${way.unmeasured}`}`,
  });
  return [
    row('caviar train, whole process', view.cli, `BLAS ${engineThreads} (${describeThreads(view.cli.thread_settings)})`),
    row('caviar service, POST to done', view.service, `BLAS ${view.service.thread_settings.OPENBLAS_NUM_THREADS ?? '?'} (${describeThreads(view.service.thread_settings)})`),
  ];
}

const torchCores = new Set<string>();
const resized = values.epochs !== undefined || values.rows !== undefined;
const lines: string[] = [
  `Machine: ${describeMachine(host)}; node ${host.node}${repeat > 1 ? `; each run's best of ${repeat}, alternating` : ''}` +
    `${resized ? `; sizes changed:${values.epochs === undefined ? '' : ` --epochs ${values.epochs}`}${values.rows === undefined ? '' : ` --rows ${values.rows}`}` : ''}`,
];
const targets: { workload: string; target: string; value?: number; holds: boolean | undefined }[] = [];
const winners: Record<string, { best?: string; single?: string }> = {};
for (const id of workloads) {
  const metric = metricOf(id);
  const measured = results[id] as Record<string, Measured>;
  const rows: Row[] = [];
  const failures: [string, string][] = [];
  for (const [label, run] of Object.entries(measured)) {
    const own = rowsOf(label, run);
    if ('error' in own) failures.push([label, own.error]);
    else rows.push(...own);
  }
  if (id === 'W2' && userView !== undefined) {
    if ('error' in userView) failures.push(['caviar train and service', userView.error]);
    else rows.push(...userViewRows(userView, measured.caviar));
  }
  for (const row of rows) if (row.figures.peer === 'torch' && row.core !== undefined) torchCores.add(row.core);
  const torchBest = bestOf(rows.filter((row) => row.figures.peer === 'torch'), metric);
  const torchSingle = bestOf(rows.filter((row) => row.label.startsWith('torch 1 thread')), metric);
  winners[id] = { ...(torchBest ? { best: torchBest.label } : {}), ...(torchSingle ? { single: torchSingle.label } : {}) };
  const bestValue = torchBest && value(torchBest.figures, metric);
  const singleValue = torchSingle && value(torchSingle.figures, metric);

  lines.push(`\n${id} ${workload(id).name}: ${metric.replaceAll('_', ' ')}`);
  lines.push(
    `  ${'run'.padEnd(30)} ${'figure'.padStart(12)}  ${'vs torch best'.padStart(13)}  ${'vs torch 1 thread'.padStart(17)}  ${'kernels'.padEnd(11)} ${'threads'.padEnd(36)} ${'load'.padEnd(14)} notes`,
  );
  for (const row of rows) {
    const figure = value(row.figures, metric);
    const ratio = (peer: number | undefined) => (figure === undefined || peer === undefined ? '-' : `${format(figure / peer, 2)}x`);
    const accuracy = (row.figures.test_accuracy ?? row.figures.train_accuracy) as number | undefined;
    const notes = [
      accuracy === undefined ? '' : `${row.figures.test_accuracy === undefined ? 'train' : 'test'} accuracy ${format(accuracy, 4)}`,
      row.figures.peak_rss_mib === undefined ? '' : `peak RSS ${Math.round(row.figures.peak_rss_mib as number)} MiB`,
      row === torchBest ? "PyTorch's best" : '',
      row === torchSingle ? "PyTorch's best at 1 thread" : '',
      row.note ?? '',
    ].filter(Boolean);
    lines.push(
      `  ${row.label.padEnd(30)} ${format(figure, metric === 'gflops' ? 1 : 0).padStart(12)}  ${ratio(bestValue).padStart(13)}  ${ratio(singleValue).padStart(17)}  ${(row.core ?? '-').padEnd(11)} ${row.threads.padEnd(36)} ${describeLoad(row.load, host.cores).padEnd(14)} ${notes.join(', ')}`,
    );
  }
  for (const [label, error] of failures) lines.push(`  ${label.padEnd(30)} failed: ${error}`);
  if (torchBest !== undefined) lines.push(`  PyTorch's best: ${torchBest.label} (${format(bestValue, metric === 'gflops' ? 1 : 0)}); at 1 thread: ${torchSingle?.label ?? '-'} (${format(singleValue, 0)})`);
  if (id === 'W2' && userView !== undefined && !('error' in userView) && bestValue !== undefined) {
    const over = (figure: number | undefined) => (figure === undefined ? '-' : `${format(figure / bestValue, 2)}x`);
    lines.push(
      `  As a user sees it (W2's job spec from outside: the wall of ${format(userView.epochs)} epochs less that of 1${userView.repeat > 1 ? `, the fastest of ${userView.repeat} each` : ''}, ` +
        `over ${format(userView.epochs - 1)} x ${userView.updates_per_epoch} updates): caviar train ${over(userView.cli.updates_per_second)}, ` +
        `the service ${over(userView.service.updates_per_second)} PyTorch's best; the engine alone, in-process (caviar): ${over(value(measured.caviar, metric))}`,
    );
  }

  const ours = value(measured.caviar, metric);
  const oursSingle = value(measured['caviar 1 thread'], metric);
  const ratioTarget = RATIO_TARGETS[id];
  if (ratioTarget !== undefined) {
    const ratio = (mine: number | undefined, peer: number | undefined) => (mine === undefined || peer === undefined ? undefined : mine / peer);
    const best = ratio(ours, bestValue);
    const single = ratio(oursSingle, singleValue);
    const scope = id === 'W2' ? " (the engine's epochs, not a whole `caviar train`)" : '';
    targets.push({ workload: id, target: `>= ${ratioTarget}x PyTorch's best${scope}`, value: best, holds: best === undefined ? undefined : best >= ratioTarget });
    targets.push({
      workload: id,
      target: `>= ${ratioTarget}x PyTorch's best at 1 thread (Caviar at 1 thread)${scope}`,
      value: single,
      holds: single === undefined ? undefined : single >= ratioTarget,
    });
    if (id === 'W2' && userView !== undefined) {
      for (const [way, how] of [
        ['cli', 'a whole `caviar train`, less 1 epoch'],
        ['service', 'through the service, POST to done, less 1 epoch'],
      ] as const) {
        const user = 'error' in userView ? undefined : ratio(userView[way].updates_per_second, bestValue);
        targets.push({ workload: id, target: `>= ${ratioTarget}x PyTorch's best (${how})`, value: user, holds: user === undefined ? undefined : user >= ratioTarget });
      }
    }
  }
  if (id === 'W1') {
    const mine = value(measured.caviar, 'test_accuracy');
    const theirs = torchBest === undefined ? undefined : value(torchBest.figures, 'test_accuracy');
    targets.push({
      workload: id,
      target: "test accuracy within 0.5 points of PyTorch's best",
      holds: mine === undefined || theirs === undefined ? undefined : Math.abs(mine - theirs) <= 0.005,
    });
    lines.push('  GEMM ceiling: the products of one batch (forward, dW, dX), in sequence, alone (bench/gemm-ceiling.c, cblas_sgemm)');
    for (const label of ['caviar', 'caviar 1 thread']) {
      const ceiling = ceilings[label];
      const run = measured[label];
      if (ceiling === undefined || run === undefined || 'error' in run) continue;
      if ('error' in ceiling) {
        lines.push(`    ${label}: not measured: ${ceiling.error}`);
        targets.push({ workload: id, target: `${label}: time per batch <= ${CEILING_TARGET}x its GEMMs alone`, holds: undefined });
        continue;
      }
      const batches = ceiling.batches * (run.epochs as number);
      const perBatch = (run.seconds as number) / batches;
      const over = perBatch / ceiling.seconds_per_batch;
      const first = ceiling.batches_timed[0];
      lines.push(
        `    ${label.padEnd(16)} ${format(perBatch * 1e3, 3)} ms a batch; GEMMs alone ${format(ceiling.seconds_per_batch * 1e3, 3)} ms ` +
          `(each product alone, hot: ${format((first?.alone_seconds ?? Number.NaN) * 1e3, 3)} ms at ${ceiling.batchSize} rows) = ${format(over, 2)}x ` +
          `  ${first?.openblas.core ?? '-'}, BLAS ${first?.openblas.threads ?? '?'} (${describeThreads(ceiling.thread_settings)}), ${describeLoad(ceiling.load, host.cores)}`,
      );
      targets.push({ workload: id, target: `${label}: time per batch <= ${CEILING_TARGET}x its GEMMs alone`, value: over, holds: over <= CEILING_TARGET });
    }
    if (concurrency !== undefined)
      lines.push(
        ...('error' in concurrency ? [`W1 jobs at once through a real server: failed: ${concurrency.error}`] : concurrencyLines(concurrency)).map((line) => `  ${line}`),
      );
  }
  if (id === 'W3') {
    const reference = value(sgemm, 'gflops');
    lines.push(
      `  sgemm at W3's shapes (OpenBLAS through PyTorch, 2 threads): ${format(reference, 1)} GFLOP/s${sgemm?.load === undefined ? '' : `, ${describeLoad(sgemm.load, host.cores)}`}`,
    );
    const fraction = ours === undefined || reference === undefined ? undefined : ours / reference;
    targets.push({ workload: id, target: ">= 70% of sgemm's GFLOP/s at its shapes", value: fraction, holds: fraction === undefined ? undefined : fraction >= 0.7 });
    if (fraction !== undefined) lines.push(`  caviar reaches ${format(100 * fraction, 0)}% of it`);
  }
}
if (torchCores.size > 0) lines[0] += `; PyTorch's OpenBLAS: ${[...torchCores].join(', ')} kernels`;
lines.push('\nTargets:');
for (const target of targets) {
  const verdict = target.holds === undefined ? 'not measured' : target.holds ? 'holds' : 'MISSED';
  lines.push(`  ${target.workload} ${target.target}: ${target.value === undefined ? '' : `${format(target.value, 2)}x, `}${verdict}`);
}
const table = lines.join('\n');
process.stdout.write(`${smoke ? '(smoke run: tiny sizes, figures not meaningful)\n' : ''}${table}\n`);

const out = values.out ?? resultsFile(undefined, smoke);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify({ date: new Date().toISOString(), smoke, repeat, sizes: { epochs: values.epochs, rows: values.rows }, machine: host, results, torch_best: winners, gemm_ceiling: ceilings, sgemm, user_view: userView, concurrency, targets }, null, 2),
);
process.stderr.write(`\nwritten to ${out}\nrerun: npm run bench${smoke ? ' -- --smoke' : ''}\n`);
