// Jobs at once through a real server (`npm run bench:concurrency`, and a section of
// `npm run bench`): whether the OpenBLAS threads of jobs that train at the same time spin
// against each other or against the server. The server runs with its defaults:
// CAVIAR_CONCURRENCY = the cores, and each job's worker cores / concurrency OpenBLAS threads.
// The job is W1 (the Fashion-MNIST MLP) on the first --rows (10,000) rows of Fashion-MNIST's
// train set, uploaded as a JSON dataset, for --epochs (20) epochs, every row training:
//   1. one job alone;
//   2. two identical jobs at once: each one's samples/s, their sum, and the sum over one
//      alone (2x when the cores hold both jobs' threads and nothing spins);
//   3. one job while autocannon GETs /v1/jobs at --load-rate (200) requests/s, from just
//      before its POST to the first of autocannon's 1-second ticks after its done event: the
//      job's samples/s over alone, and the requests' p50 and p99 beside theirs at the same
//      rate for 3 s before, with no job training.
// samples/s = rows x epochs / the sum of the job's epoch events' `seconds` (the worker's
// time of each epoch): the worker's data load and the final score are outside it. Beside
// each part, over its span (the first POST to the last done event): the CPU seconds of the
// worker processes and of the server (/proc), and the wall. Each part's best of --repeat.
//   npm run bench:concurrency
//   npm run bench:concurrency -- --smoke               tiny sizes: checks that it runs
//   npm run bench:concurrency -- --rows 5000 --epochs 2 --repeat 2 --load-rate 500
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadFashionMnist } from '../src/data/index.js';
import { childrenOf, cpuOf, describeLoad, describeMachine, describeThreads, machine, startedThreadSettings, withLoad, type LoadSpan } from './machine.js';
import { count } from './options.js';
import { call, cli, resultsFile, runJob, sleep, startServerProcess, stopServer, type FollowedJob, type ServerProcess } from './server-process.js';
import { jobSpecOf } from './workloads.js';

export interface ConcurrencySizes {
  rows: number;
  epochs: number;
  repeat: number;
  /** GET /v1/jobs a second while the loaded job trains. */
  loadRate: number;
  /** Seconds of the same requests with no job training, for their latency alone. */
  idleSeconds: number;
}

export const concurrencySizes = (smoke: boolean, given: { rows?: string; epochs?: string; repeat?: string; 'load-rate'?: string }): ConcurrencySizes => ({
  rows: count('rows', given.rows, smoke ? 512 : 10_000),
  // W1's network, optimizer and batches; epochs enough that each job trains for seconds.
  epochs: count('epochs', given.epochs, smoke ? 2 : 20),
  repeat: count('repeat', given.repeat, 1),
  loadRate: count('load-rate', given['load-rate'], 200),
  idleSeconds: smoke ? 1 : 3,
});

/** One job's training as its epoch events tell it. */
interface JobFigures {
  samples_per_second: number;
  /** The sum of its epochs' seconds. */
  epoch_seconds: number;
  /** From its POST to its done event's receipt. */
  wall_seconds: number;
}

/** CPU seconds over a part's span, from /proc. */
interface Span {
  wall_seconds: number;
  worker_cpu_seconds: number;
  server_cpu_seconds: number;
  load: LoadSpan;
}

interface Requests {
  rate: number;
  achieved_per_second: number;
  total: number;
  non_2xx: number;
  errors: number;
  latency_ms: { p50: number; p99: number; max: number };
}

export interface ConcurrencyFigures {
  rows: number;
  epochs: number;
  repeat: number;
  cores: number;
  /** The thread settings the server's workers were started with. */
  worker_thread_settings: Record<string, string>;
  alone: JobFigures & { span: Span };
  pair: Beside<{ jobs: [JobFigures, JobFigures]; sum_samples_per_second: number; side_by_side: number; span: Span }>;
  /** `idle_requests`: the same requests for a few seconds before, with no job training. */
  loaded: Beside<JobFigures & { requests: Requests; idle_requests: Requests; span: Span }>;
}

/**
 * A part against the job alone: its samples/s over alone's, and the workers' CPU seconds a
 * sample over alone's (above 1: CPU spent without samples to show for it, as spinning does).
 */
type Beside<T> = T & { over_alone: number; worker_cpu_per_sample_over_alone: number };
type Round = { [Part in keyof Pick<ConcurrencyFigures, 'alone' | 'pair' | 'loaded'>]: Omit<ConcurrencyFigures[Part], 'over_alone' | 'worker_cpu_per_sample_over_alone'> };

function jobFigures(job: FollowedJob, rows: number): JobFigures {
  const epochs = job.events.flatMap(({ event }) => (event.type === 'epoch' ? [event] : []));
  const seconds = epochs.reduce((sum, epoch) => sum + epoch.seconds, 0);
  return { samples_per_second: (rows * epochs.length) / seconds, epoch_seconds: seconds, wall_seconds: (job.doneAt - job.postedAt) / 1000 };
}

/** A job's training on the client's clock: from its first epoch's start to its last epoch's receipt. */
function trainingSpan(job: FollowedJob): [number, number] {
  const epochs = job.events.filter(({ event }) => event.type === 'epoch');
  const first = epochs[0] as (typeof epochs)[number];
  const last = epochs.at(-1) as (typeof epochs)[number];
  return [first.at - (first.event as { seconds: number }).seconds * 1000, last.at];
}

/** The share of two jobs' training time that they trained together: their overlap over their union. */
function sideBySide(a: FollowedJob, b: FollowedJob): number {
  const [startA, endA] = trainingSpan(a);
  const [startB, endB] = trainingSpan(b);
  return Math.max(0, Math.min(endA, endB) - Math.max(startA, startB)) / (Math.max(endA, endB) - Math.min(startA, startB));
}

/** Runs `work` with the server's and its workers' CPU seconds and the wall around it. */
async function spanOf<T>(server: ServerProcess, work: () => Promise<T>): Promise<{ value: T; span: Span }> {
  const pid = server.child.pid as number;
  const before = cpuOf(pid);
  const started = performance.now();
  const { value, load } = await withLoad(work);
  const wall = (performance.now() - started) / 1000;
  const after = cpuOf(pid);
  return { value, span: { wall_seconds: wall, worker_cpu_seconds: after.children - before.children, server_cpu_seconds: after.own - before.own, load } };
}

/** GET /v1/jobs at `rate` a second until stopped, then its figures. */
function loadServer(server: ServerProcess, rate: number): { stop(): Promise<Requests> } {
  let tracker: { stop(): void } | undefined;
  const result = new Promise<autocannon.Result>((resolve, reject) => {
    // An hour at most: the job's done event stops it long before.
    tracker = autocannon({ url: `${server.url}/v1/jobs`, connections: 8, overallRate: rate, duration: 3600 }, (error, outcome) =>
      error ? reject(error) : resolve(outcome),
    );
  });
  return {
    async stop() {
      tracker?.stop();
      const run = await result;
      return {
        rate,
        achieved_per_second: run.requests.total / run.duration,
        total: run.requests.total,
        non_2xx: run.non2xx,
        errors: run.errors + run.timeouts,
        latency_ms: { p50: run.latency.p50, p99: run.latency.p99, max: run.latency.max },
      };
    },
  };
}

/** The first --rows rows of Fashion-MNIST's train set as the JSON an upload takes. */
async function fashionRows(rows: number): Promise<string> {
  const { train } = await loadFashionMnist();
  const taken = Math.min(rows, train.rows);
  const x = Array.from({ length: taken }, (_, row) => Array.from(train.x.subarray(row * train.features, (row + 1) * train.features)));
  return JSON.stringify({ name: `fashion-mnist-first-${taken}`, x, y: Array.from(train.y.subarray(0, taken)) });
}

export async function measureConcurrency(sizes: ConcurrencySizes, log: (message: string) => void): Promise<ConcurrencyFigures> {
  log(`concurrency: the first ${sizes.rows} rows of Fashion-MNIST...`);
  const body = await fashionRows(sizes.rows);
  const server = await startServerProcess(cli, ['serve'], {});
  try {
    const upload = await fetch(`${server.url}/v1/datasets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const dataset = (await upload.json()) as { id: string; rows: number };
    if (upload.status !== 201) throw new Error(`the upload was refused: ${upload.status} ${JSON.stringify(dataset).slice(0, 300)}`);
    const spec = jobSpecOf('W1', dataset.id, sizes.epochs);
    const one = () => runJob(server, spec);
    // Two workers started and kept by the pool, so that no part waits for a process to start.
    const warmUp = { ...spec, training: { ...spec.training, epochs: 1 } };
    await Promise.all([runJob(server, warmUp), runJob(server, warmUp)]);
    // And the route the load requests, so that its first calls do not count the compiler's work.
    for (let request = 0; request < 50; request += 1) await call(server, 'GET', '/v1/jobs');
    const { rows } = dataset;
    const rounds: Round[] = [];
    for (let round = 1; round <= sizes.repeat; round += 1) {
      const of = sizes.repeat > 1 ? ` (round ${round} of ${sizes.repeat})` : '';
      log(`concurrency: one W1 job alone${of}...`);
      const single = await spanOf(server, one);
      const alone = { ...jobFigures(single.value, rows), span: single.span };

      log(`concurrency: two W1 jobs at once${of}...`);
      const both = await spanOf(server, () => Promise.all([one(), one()]));
      const jobs = both.value.map((job) => jobFigures(job, rows)) as [JobFigures, JobFigures];
      const sum = jobs[0].samples_per_second + jobs[1].samples_per_second;

      log(`concurrency: GET /v1/jobs at ${sizes.loadRate}/s, no job training, then one W1 job beside them${of}...`);
      const idle = loadServer(server, sizes.loadRate);
      await sleep(sizes.idleSeconds * 1000);
      const idleRequests = await idle.stop();
      // The span is the job's alone: the requests go on until autocannon's next 1-second tick.
      const requests = loadServer(server, sizes.loadRate);
      const underLoad = await spanOf(server, one).catch(async (error: unknown) => {
        await requests.stop();
        throw error;
      });
      const loaded = jobFigures(underLoad.value, rows);
      rounds.push({
        alone,
        pair: { jobs, sum_samples_per_second: sum, side_by_side: sideBySide(...both.value), span: both.span },
        loaded: { ...loaded, requests: await requests.stop(), idle_requests: idleRequests, span: underLoad.span },
      });
    }
    // Each part's best round; the ratios are to the best alone.
    const best = <T>(items: T[], figure: (item: T) => number): T => items.reduce((kept, item) => (figure(item) > figure(kept) ? item : kept));
    const alone = best(rounds.map((round) => round.alone), (figures) => figures.samples_per_second);
    const pair = best(rounds.map((round) => round.pair), (figures) => figures.sum_samples_per_second);
    const loaded = best(rounds.map((round) => round.loaded), (figures) => figures.samples_per_second);
    const beside = (samplesPerSecond: number, span: Span, jobs: number) => ({
      over_alone: samplesPerSecond / alone.samples_per_second,
      worker_cpu_per_sample_over_alone: span.worker_cpu_seconds / jobs / alone.span.worker_cpu_seconds,
    });
    const [worker] = childrenOf(server.child.pid as number);
    return {
      rows,
      epochs: sizes.epochs,
      repeat: sizes.repeat,
      cores: availableParallelism(),
      worker_thread_settings: worker === undefined ? {} : startedThreadSettings(worker),
      alone,
      pair: { ...pair, ...beside(pair.sum_samples_per_second, pair.span, 2) },
      loaded: { ...loaded, ...beside(loaded.samples_per_second, loaded.span, 1) },
    };
  } finally {
    await stopServer(server, 'SIGTERM');
    rmSync(server.dataDirectory, { recursive: true, force: true });
  }
}

// A CPU figure of a tiny run may be 0 (/proc counts hundredths): its ratio prints as '-'.
const format = (number: number, digits = 0) =>
  Number.isFinite(number) ? number.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-';

/** The part's lines, for this file's own output and for run.ts's table. */
export function concurrencyLines(figures: ConcurrencyFigures): string[] {
  const { cores } = figures;
  const threads = Number(figures.worker_thread_settings.OPENBLAS_NUM_THREADS ?? Number.NaN);
  const ideal = Math.min(2, cores / threads);
  const column = ''.padEnd(28);
  const cpu = (span: Span, perSample?: number) =>
    `  ${column} workers ${format(span.worker_cpu_seconds, 2)} CPU s, server ${format(span.server_cpu_seconds, 2)} CPU s in ${format(span.wall_seconds, 2)} s wall ` +
    `(workers ${format(span.worker_cpu_seconds / span.wall_seconds, 2)} cores)${perSample === undefined ? '' : `; workers' CPU a sample ${format(perSample, 2)}x alone's`}; ` +
    describeLoad(span.load, cores);
  const { alone, pair, loaded } = figures;
  const latency = (requests: Requests) =>
    `p50 ${format(requests.latency_ms.p50, 1)} ms, p99 ${format(requests.latency_ms.p99, 1)} ms (${format(requests.achieved_per_second)}/s answered` +
    `${requests.non_2xx + requests.errors > 0 ? `, ${requests.non_2xx} non-2xx, ${requests.errors} errors` : ''})`;
  return [
    `W1 jobs at once through a real server: ${format(figures.rows)} rows x ${figures.epochs} epochs, every row training; samples/s from the epoch events' seconds` +
      `${figures.repeat > 1 ? `; each part's best of ${figures.repeat}` : ''}`,
    `  the server's defaults (CAVIAR_CONCURRENCY = the cores, ${cores}, unless set): each job's worker started with ${describeThreads(figures.worker_thread_settings)}`,
    `  ${'one job alone'.padEnd(28)} ${format(alone.samples_per_second)} samples/s`,
    cpu(alone.span),
    `  ${'two jobs at once'.padEnd(28)} ${format(pair.jobs[0].samples_per_second)} + ${format(pair.jobs[1].samples_per_second)} = ${format(pair.sum_samples_per_second)} samples/s = ` +
      `${format(pair.over_alone, 2)}x alone (ideal ${format(ideal, 1)}x: ${cores} cores, ${threads} thread${threads === 1 ? '' : 's'} a job); side by side ${format(100 * pair.side_by_side)}% of their training`,
    cpu(pair.span, pair.worker_cpu_per_sample_over_alone),
    `  ${'one job, server under load'.padEnd(28)} ${format(loaded.samples_per_second)} samples/s = ${format(loaded.over_alone, 2)}x alone; ` +
      `GET /v1/jobs at ${format(loaded.requests.rate)}/s: ${latency(loaded.requests)}; with no job training: ${latency(loaded.idle_requests)}`,
    cpu(loaded.span, loaded.worker_cpu_per_sample_over_alone),
  ];
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { smoke: { type: 'boolean' }, out: { type: 'string' }, rows: { type: 'string' }, epochs: { type: 'string' }, repeat: { type: 'string' }, 'load-rate': { type: 'string' } },
  });
  const smoke = values.smoke === true;
  const host = machine();
  const figures = await measureConcurrency(concurrencySizes(smoke, values), (message) => process.stderr.write(`${message}\n`));
  process.stdout.write(`${smoke ? '(smoke run: tiny sizes, figures not meaningful)\n' : ''}Machine: ${describeMachine(host)}; node ${host.node}\n${concurrencyLines(figures).join('\n')}\n`);
  const out = values.out ?? resultsFile('concurrency', smoke);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), smoke, machine: host, concurrency: figures }, null, 2));
  process.stderr.write(`\nwritten to ${out}\nrerun: npm run bench:concurrency${smoke ? ' -- --smoke' : ''}\n`);
}
