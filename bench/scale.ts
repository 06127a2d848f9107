// How the figures grow with the work (`npm run bench:scale`): each part measured at two
// sizes, ten times apart, and the larger one's cost per unit over the smaller one's
// printed as "growth" (1.00 = linear; above about 1.5 it grows faster than linearly, and
// the line says so). Every part prints the machine's load beside its figures.
//   npm run bench:scale                        all four parts (a few minutes on 2 cores)
//   npm run bench:scale -- --smoke             tiny sizes: checks that every part runs
//   npm run bench:scale -- --parts jobs,sweep --jobs 1000,10000 --trials 50,500
//
// 1. rows:   W1 (bench/caviar.js) on Fashion-MNIST's 60,000 rows and on a generated set of
//            --scale times the rows (caviar.js --scale: the rows and noisy copies of them),
//            --epochs each: samples/s, seconds and peak RSS.
// 2. upload: a CSV of --upload-mb megabytes (20 numeric features and a text label of 10
//            classes) POSTed to a real server: the time from the last byte sent to the
//            reply (the import worker's parse), the whole request's, and the peak RSS of the
//            server and of its import worker (VmRSS sampled every 25 ms, and VmHWM).
// 3. jobs:   --jobs finished jobs written through the store interface (SqliteStore: each
//            created, claimed, given two epochs and finished with a result and a model, as
//            a worker's would be), then a real server on that store: its start, and the
//            latencies of GET /v1/jobs (first page, limit=1000, a name filter that scans,
//            the oldest page through the cursor) and GET /v1/jobs/:id, and a walk of
//            every page.
// 4. sweep:  a sweep of --trials trials of 1 epoch on 100 moons points through a real
//            server: wall seconds a trial, the server's CPU a trial (its event loop:
//            scheduler, store, IPC, events) and its workers' (process start and training),
//            the store's bytes a trial, and GET /v1/sweeps/:id at the end.
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync, createReadStream, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../src/jobs/index.js';
import type { JobSpec } from '../src/jobs/spec.js';
import { childrenOf, cpuOf, describeLoad, describeMachine, machine, memoryOf, withLoad, type LoadSpan } from './machine.js';
import { ascending, call, cli, percentile, resultsFile, root, sleep, startServerProcess, stopServer, type ServerProcess } from './server-process.js';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean' },
    out: { type: 'string' },
    parts: { type: 'string' },
    scale: { type: 'string' },
    epochs: { type: 'string' },
    'upload-mb': { type: 'string' },
    jobs: { type: 'string' },
    trials: { type: 'string' },
  },
});
const smoke = values.smoke === true;
const PARTS = ['rows', 'upload', 'jobs', 'sweep'] as const;
type Part = (typeof PARTS)[number];
const parts = new Set((values.parts?.split(',') ?? PARTS) as Part[]);
for (const part of parts) if (!PARTS.includes(part)) throw new Error(`--parts takes ${PARTS.join(', ')}, not '${part}'`);
const pair = (name: string, text: string | undefined, fallback: [number, number]): [number, number] => {
  if (text === undefined) return fallback;
  const numbers = text.split(',').map(Number);
  if (numbers.length !== 2 || !numbers.every((n) => n > 0) || (numbers[0] as number) >= (numbers[1] as number))
    throw new Error(`--${name} takes two increasing sizes, like 10,100, not '${text}'`);
  return numbers as [number, number];
};
const sizes = {
  scale: Number(values.scale ?? (smoke ? 2 : 10)),
  epochs: Number(values.epochs ?? 1),
  rows: smoke ? 1280 : undefined,
  uploadMb: pair('upload-mb', values['upload-mb'], smoke ? [0.2, 2] : [10, 100]),
  jobs: pair('jobs', values.jobs, smoke ? [30, 300] : [1000, 10_000]),
  trials: pair('trials', values.trials, smoke ? [3, 12] : [50, 500]),
};
/** A larger size's cost per unit over the smaller's above this counts as faster than linear. */
const SUPERLINEAR = 1.5;

const log = (message: string) => process.stderr.write(`${message}\n`);
const format = (number: number | undefined, digits = 0) =>
  number === undefined || Number.isNaN(number)
    ? '-'
    : number.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const growthNote = (growth: number | undefined) =>
  growth === undefined ? '-' : `${format(growth, 2)}${growth > SUPERLINEAR ? ' (FASTER THAN LINEAR)' : ''}`;
type Failure = { error: string };
const failed = (error: unknown): Failure => ({ error: error instanceof Error ? error.message.split('\n').slice(0, 3).join(' | ') : String(error) });

// ---- 1. W1 with more rows ----

interface RowsRun {
  scale: number;
  rows: number;
  samples_per_second: number;
  seconds: number;
  peak_rss_mib: number;
  blas: string;
  load: LoadSpan;
}

function caviarRun(scale: number): Promise<Record<string, unknown>> {
  const args = [join(root, 'dist/bench/caviar.js'), '--workload', 'W1', '--epochs', String(sizes.epochs), '--scale', String(scale)];
  if (sizes.rows !== undefined) args.push('--rows', String(sizes.rows));
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { maxBuffer: 16 << 20, timeout: 20 * 60 * 1000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message.split('\n')[0]} ${stderr.trim().split('\n').pop() ?? ''}`)) : resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '')),
    ),
  );
}

async function rowsPart(): Promise<{ runs: RowsRun[]; growth: number } | Failure> {
  try {
    const runs: RowsRun[] = [];
    for (const scale of [1, sizes.scale]) {
      log(`rows: W1 at ${scale}x the rows...`);
      const { value, load } = await withLoad(() => caviarRun(scale));
      runs.push({
        scale,
        rows: value.train_rows as number,
        samples_per_second: value.samples_per_second as number,
        seconds: value.seconds as number,
        peak_rss_mib: value.peak_rss_mib as number,
        blas: value.blas as string,
        load,
      });
    }
    const [small, large] = runs as [RowsRun, RowsRun];
    return { runs, growth: large.seconds / large.rows / (small.seconds / small.rows) };
  } catch (error) {
    return failed(error);
  }
}

// ---- 2. A large CSV upload ----

const CLASSES = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
const FEATURES = 20;

/** A CSV of about `megabytes` MB: a header, FEATURES numbers of 4 decimals and a text label per row. */
function writeCsv(path: string, megabytes: number): { bytes: number; rows: number } {
  const fd = openSync(path, 'w');
  let bytes = 0;
  let rows = 0;
  let seed = 12345;
  const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const header = `${Array.from({ length: FEATURES }, (_, i) => `f${i + 1}`).join(',')},label\n`;
  bytes += writeSync(fd, header);
  const target = megabytes * 1e6;
  while (bytes < target) {
    const lines: string[] = [];
    for (let i = 0; i < 5000 && bytes < target; i += 1) {
      const cells: string[] = [];
      for (let feature = 0; feature < FEATURES; feature += 1) cells.push((next() * 10).toFixed(4));
      const line = `${cells.join(',')},${CLASSES[rows % CLASSES.length]}\n`;
      lines.push(line);
      bytes += line.length;
      rows += 1;
    }
    writeSync(fd, lines.join(''));
  }
  closeSync(fd);
  return { bytes, rows };
}

interface UploadRun {
  megabytes: number;
  bytes: number;
  rows: number;
  status: number;
  request_seconds: number;
  /** From the last byte sent to the reply: the import worker's parse, and the store's record. */
  after_upload_seconds: number;
  server: { rss_before_mib: number; rss_max_mib: number; peak_after_mib: number };
  import_worker: { pids: number[]; rss_max_mib: number; peak_mib: number };
  load: LoadSpan;
}

async function upload(server: ServerProcess, path: string, bytes: number): Promise<{ status: number; requestSeconds: number; afterUpload: number }> {
  const url = new URL('/v1/datasets?name=scale-upload', server.url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let sent = 0;
    const req = request(url, { method: 'POST', headers: { 'content-type': 'text/csv', 'content-length': String(bytes) } }, (response) => {
      response.resume();
      response.on('end', () => {
        const now = performance.now();
        resolve({ status: response.statusCode ?? 0, requestSeconds: (now - started) / 1000, afterUpload: (now - sent) / 1000 });
      });
    });
    req.on('error', reject);
    const stream = createReadStream(path);
    stream.on('end', () => req.end(() => (sent = performance.now())));
    stream.pipe(req, { end: false });
  });
}

async function uploadPart(): Promise<{ runs: UploadRun[]; growth: number; worker_rss_growth: number } | Failure> {
  const workdir = mkdtempSync(join(tmpdir(), 'caviar-bench-scale-csv-'));
  let server: ServerProcess | undefined;
  try {
    // Room for the larger upload over the default cap.
    const capMb = Math.ceil(sizes.uploadMb[1] * 1.2 + 1);
    server = await startServerProcess(cli, ['serve'], { CAVIAR_MAX_UPLOAD_MB: String(Math.max(256, capMb)) });
    const pid = server.child.pid as number;
    const runs: UploadRun[] = [];
    for (const megabytes of sizes.uploadMb) {
      const path = join(workdir, `upload-${megabytes}.csv`);
      log(`upload: writing a ${megabytes} MB CSV...`);
      const { bytes, rows } = writeCsv(path, megabytes);
      const before = memoryOf(pid);
      let serverMax = before?.rssMiB ?? 0;
      const workers = new Map<number, { rss: number; peak: number }>();
      const sample = () => {
        serverMax = Math.max(serverMax, memoryOf(pid)?.rssMiB ?? 0);
        for (const child of childrenOf(pid)) {
          const memory = memoryOf(child);
          if (memory === undefined) continue;
          const seen = workers.get(child) ?? { rss: 0, peak: 0 };
          workers.set(child, { rss: Math.max(seen.rss, memory.rssMiB), peak: Math.max(seen.peak, memory.peakMiB) });
        }
      };
      const sampler = setInterval(sample, 25);
      log(`upload: POST ${megabytes} MB...`);
      const { value: reply, load } = await withLoad(() => upload(server as ServerProcess, path, bytes));
      clearInterval(sampler);
      sample();
      rmSync(path, { force: true });
      if (reply.status !== 201) throw new Error(`the ${megabytes} MB upload answered ${reply.status}: ${server.log().slice(-500)}`);
      const seen = [...workers.values()];
      runs.push({
        megabytes,
        bytes,
        rows,
        status: reply.status,
        request_seconds: reply.requestSeconds,
        after_upload_seconds: reply.afterUpload,
        server: { rss_before_mib: before?.rssMiB ?? Number.NaN, rss_max_mib: serverMax, peak_after_mib: memoryOf(pid)?.peakMiB ?? Number.NaN },
        import_worker: {
          pids: [...workers.keys()],
          rss_max_mib: Math.max(0, ...seen.map((worker) => worker.rss)),
          peak_mib: Math.max(0, ...seen.map((worker) => worker.peak)),
        },
        load,
      });
    }
    const [small, large] = runs as [UploadRun, UploadRun];
    return {
      runs,
      growth: large.after_upload_seconds / large.bytes / (small.after_upload_seconds / small.bytes),
      worker_rss_growth: large.import_worker.peak_mib / small.import_worker.peak_mib,
    };
  } catch (error) {
    return failed(error);
  } finally {
    if (server !== undefined) {
      await stopServer(server, 'SIGKILL');
      rmSync(server.dataDirectory, { recursive: true, force: true });
    }
    rmSync(workdir, { recursive: true, force: true });
  }
}

// ---- 3. Many finished jobs in the store ----

const STORED_SPEC: JobSpec = {
  name: 'scale-stored',
  dataset: { builtin: 'moons', samples: 200, noise: 0.2, seed: 3 },
  split: { dev: 0.2, seed: 0 },
  model: { layers: [{ units: 8, activation: 'relu' }, { units: 1, activation: 'sigmoid' }] },
  training: { epochs: 2, batchSize: 32, seed: 1 },
};

/** Writes `count` finished jobs as the service's own writes would leave them. */
async function writeFinishedJobs(directory: string, count: number): Promise<number> {
  const store = new SqliteStore(directory);
  const started = performance.now();
  const checkpoint = new Uint8Array(512).fill(7);
  // Stands for a saved model of this size; the routes measured never read it.
  const model = JSON.stringify({ placeholder: 'x'.repeat(2000) });
  try {
    for (let first = 0; first < count; first += 500) {
      const batch = Array.from({ length: Math.min(500, count - first) }, (_, index) => {
        const number = first + index;
        // Every 97th job a name the filter below finds: a filter that matches few rows scans them all.
        const name = number % 97 === 0 ? `needle-${number}` : `scale-${number}`;
        return { id: `job_scale${String(number).padStart(7, '0')}`, spec: { ...STORED_SPEC, name } };
      });
      await store.createJobs(batch);
    }
    for (;;) {
      const claimed = await store.claimNext();
      if (claimed === undefined) break;
      const { id, attempt } = claimed.job;
      const metrics = { loss: 0.3, accuracy: 0.88 };
      await store.appendEpochs({
        jobId: id,
        attempt,
        checkpoint,
        events: [1, 2].map((epoch) => ({ type: 'epoch' as const, jobId: id, epoch, lr: 0.01, seconds: 0.001, train: metrics, dev: metrics, layers: [{ weightNorm: 1, gradNorm: 0.1 }] })),
      });
      const result = {
        epochs: 2,
        train: metrics,
        dev: metrics,
        diagnosis: { avoidableBias: 0.12, variance: 0, threshold: 0.05, verdict: 'high bias' as const, advice: ['train a bigger network'] },
      };
      await store.transition(id, {
        from: ['running'],
        to: 'succeeded',
        attempt,
        result,
        model,
        event: { type: 'done', jobId: id, status: 'succeeded', result },
      });
    }
  } finally {
    await store.close();
  }
  return (performance.now() - started) / 1000;
}

interface Latency {
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  requests: number;
}

async function time(server: ServerProcess, paths: () => string, requests: number): Promise<Latency> {
  const samples: number[] = [];
  for (let i = 0; i < requests; i += 1) {
    const path = paths();
    const started = performance.now();
    const reply = await call(server, 'GET', path);
    samples.push(performance.now() - started);
    if (reply.status !== 200) throw new Error(`GET ${path} answered ${reply.status}: ${JSON.stringify(reply.body).slice(0, 300)}`);
  }
  const sorted = ascending(samples);
  return { p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99), max_ms: sorted[sorted.length - 1] as number, requests };
}

interface JobsRun {
  jobs: number;
  write_seconds: number;
  database_mib: number;
  start_seconds: number;
  list_first_page: Latency;
  list_limit_1000: Latency;
  list_name_filter: Latency;
  /** Every page of 100 through nextCursor, newest to oldest, once. */
  walk: { pages: number; seconds: number };
  /** The oldest page (its cursor from the walk), timed on its own. */
  last_page: Latency;
  get_by_id: Latency;
  load: LoadSpan;
}

function directoryBytes(directory: string): number {
  return readdirSync(directory)
    .filter((name) => name.startsWith('caviar.db'))
    .reduce((sum, name) => sum + statSync(join(directory, name)).size, 0);
}

async function jobsRun(count: number): Promise<JobsRun> {
  const directory = mkdtempSync(join(tmpdir(), 'caviar-bench-scale-jobs-'));
  let server: ServerProcess | undefined;
  try {
    log(`jobs: writing ${count} finished jobs through the store...`);
    const writeSeconds = await writeFinishedJobs(directory, count);
    const { value, load } = await withLoad(async () => {
      const startedAt = performance.now();
      server = await startServerProcess(cli, ['serve'], {}, { dataDirectory: directory });
      const startSeconds = (performance.now() - startedAt) / 1000;
      const running = server;
      log(`jobs: latencies at ${count} jobs...`);
      await time(running, () => '/v1/jobs', 20);
      const requests = smoke ? 10 : 200;
      const listFirstPage = await time(running, () => '/v1/jobs', requests);
      const listLimit1000 = await time(running, () => '/v1/jobs?limit=1000', Math.max(5, requests / 10));
      const listNameFilter = await time(running, () => '/v1/jobs?name=needle', Math.max(5, requests / 4));
      const getById = await time(running, () => `/v1/jobs/job_scale${String(Math.floor(Math.random() * count)).padStart(7, '0')}`, requests);
      let pages = 0;
      let cursor: string | undefined;
      let lastPage = '/v1/jobs';
      const walkStarted = performance.now();
      do {
        lastPage = `/v1/jobs${cursor === undefined ? '' : `?cursor=${encodeURIComponent(cursor)}`}`;
        const reply = await call(running, 'GET', lastPage);
        if (reply.status !== 200) throw new Error(`a page answered ${reply.status}: ${JSON.stringify(reply.body).slice(0, 300)}`);
        pages += 1;
        cursor = reply.body.nextCursor as string | undefined;
      } while (cursor !== undefined);
      const walk = { pages, seconds: (performance.now() - walkStarted) / 1000 };
      const lastPageLatency = await time(running, () => lastPage, Math.max(5, requests / 4));
      return {
        startSeconds,
        listFirstPage,
        listLimit1000,
        listNameFilter,
        getById,
        walk,
        lastPage: lastPageLatency,
      };
    });
    return {
      jobs: count,
      write_seconds: writeSeconds,
      database_mib: directoryBytes(directory) / 2 ** 20,
      start_seconds: value.startSeconds,
      list_first_page: value.listFirstPage,
      list_limit_1000: value.listLimit1000,
      list_name_filter: value.listNameFilter,
      walk: value.walk,
      last_page: value.lastPage,
      get_by_id: value.getById,
      load,
    };
  } finally {
    if (server !== undefined) await stopServer(server, 'SIGKILL');
    rmSync(directory, { recursive: true, force: true });
  }
}

async function jobsPart(): Promise<{ runs: JobsRun[] } | Failure> {
  try {
    const runs: JobsRun[] = [];
    for (const count of sizes.jobs) runs.push(await jobsRun(count));
    return { runs };
  } catch (error) {
    return failed(error);
  }
}

// ---- 4. A large sweep ----

interface SweepRun {
  trials: number;
  status: string;
  wall_seconds: number;
  wall_seconds_per_trial: number;
  server_cpu_seconds_per_trial: number;
  worker_cpu_seconds_per_trial: number;
  store_kib_per_trial: number;
  view_ms: Latency;
  load: LoadSpan;
}

async function sweepRun(trials: number): Promise<SweepRun> {
  const server = await startServerProcess(cli, ['serve'], {});
  try {
    const pid = server.child.pid as number;
    const bytesBefore = directoryBytes(server.dataDirectory);
    const cpuBefore = cpuOf(pid);
    const { value, load } = await withLoad(async () => {
      const started = performance.now();
      const reply = await call(server, 'POST', '/v1/sweeps', {
        name: `scale-${trials}`,
        base: { ...STORED_SPEC, name: undefined, dataset: { builtin: 'moons', samples: 100, noise: 0.2, seed: 3 }, training: { epochs: 1, batchSize: 32, seed: 1 } },
        space: { '/training/optimizer/learningRate': { logUniform: [1e-3, 1e-1] } },
        trials,
        strategy: 'random',
        seed: 1,
      });
      if (reply.status !== 202) throw new Error(`the sweep was refused: ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
      const id = reply.body.id as string;
      let status = 'running';
      let lastLog = performance.now();
      while (status === 'running') {
        await sleep(250);
        const list = await call(server, 'GET', '/v1/sweeps');
        const sweep = (list.body.sweeps as { id: string; status: string; trials: number }[]).find((candidate) => candidate.id === id);
        status = sweep?.status ?? 'missing';
        if (performance.now() - lastLog > 10_000) {
          log(`  sweep of ${trials}: ${sweep?.trials ?? 0} trials created so far`);
          lastLog = performance.now();
        }
      }
      const wall = (performance.now() - started) / 1000;
      const view = await time(server, () => `/v1/sweeps/${id}`, smoke ? 3 : 30);
      return { status, wall, view };
    });
    const cpuAfter = cpuOf(pid);
    return {
      trials,
      status: value.status,
      wall_seconds: value.wall,
      wall_seconds_per_trial: value.wall / trials,
      server_cpu_seconds_per_trial: (cpuAfter.own - cpuBefore.own) / trials,
      worker_cpu_seconds_per_trial: (cpuAfter.children - cpuBefore.children) / trials,
      store_kib_per_trial: (directoryBytes(server.dataDirectory) - bytesBefore) / 1024 / trials,
      view_ms: value.view,
      load,
    };
  } finally {
    await stopServer(server, 'SIGKILL');
    rmSync(server.dataDirectory, { recursive: true, force: true });
  }
}

async function sweepPart(): Promise<{ runs: SweepRun[]; growth: number; server_cpu_growth: number; view_growth: number } | Failure> {
  try {
    const runs: SweepRun[] = [];
    for (const trials of sizes.trials) {
      log(`sweep: ${trials} trials through a server...`);
      runs.push(await sweepRun(trials));
    }
    const [small, large] = runs as [SweepRun, SweepRun];
    return {
      runs,
      growth: large.wall_seconds_per_trial / small.wall_seconds_per_trial,
      server_cpu_growth: large.server_cpu_seconds_per_trial / small.server_cpu_seconds_per_trial,
      view_growth: large.view_ms.p50_ms / large.trials / (small.view_ms.p50_ms / small.trials),
    };
  } catch (error) {
    return failed(error);
  }
}

// ---- Run, print, write ----

const host = machine();
const results: { rows?: Awaited<ReturnType<typeof rowsPart>>; upload?: Awaited<ReturnType<typeof uploadPart>>; jobs?: Awaited<ReturnType<typeof jobsPart>>; sweep?: Awaited<ReturnType<typeof sweepPart>> } = {};
if (parts.has('rows')) results.rows = await rowsPart();
if (parts.has('upload')) results.upload = await uploadPart();
if (parts.has('jobs')) results.jobs = await jobsPart();
if (parts.has('sweep')) results.sweep = await sweepPart();

const lines: string[] = [`Machine: ${describeMachine(host)}; node ${host.node}`];
const superlinear: string[] = [];
const load = (span: LoadSpan) => describeLoad(span, host.cores);
const ms = (latency: Latency) => `p50 ${format(latency.p50_ms, 1)} ms, p99 ${format(latency.p99_ms, 1)} ms`;

if (results.rows !== undefined) {
  lines.push(`\nW1 with more rows (${sizes.epochs} epoch${sizes.epochs === 1 ? '' : 's'} each; OpenBLAS default threads)`);
  if ('error' in results.rows) lines.push(`  failed: ${results.rows.error}`);
  else {
    for (const run of results.rows.runs)
      lines.push(
        `  ${`${run.scale}x: ${format(run.rows)} rows`.padEnd(24)} ${format(run.samples_per_second).padStart(9)} samples/s  ${format(run.seconds, 2).padStart(7)} s  peak RSS ${format(run.peak_rss_mib)} MiB  ${run.blas}, ${load(run.load)}`,
      );
    lines.push(`  seconds a row, ${sizes.scale}x over 1x: ${growthNote(results.rows.growth)}`);
    if (results.rows.growth > SUPERLINEAR) superlinear.push('W1 seconds a row with more rows');
  }
}
if (results.upload !== undefined) {
  lines.push('\nCSV upload through a real server (20 numeric features and a text label a row; memory sampled every 25 ms)');
  if ('error' in results.upload) lines.push(`  failed: ${results.upload.error}`);
  else {
    for (const run of results.upload.runs)
      lines.push(
        `  ${`${format(run.bytes / 1e6, 1)} MB, ${format(run.rows)} rows`.padEnd(26)} parse ${format(run.after_upload_seconds, 2)} s after the last byte (request ${format(run.request_seconds, 2)} s); ` +
          `server RSS ${format(run.server.rss_before_mib)} -> max ${format(run.server.rss_max_mib)} MiB; import worker peak ${format(run.import_worker.peak_mib)} MiB; ${load(run.load)}`,
      );
    lines.push(`  parse seconds a byte, larger over smaller: ${growthNote(results.upload.growth)}; import worker peak RSS ratio ${format(results.upload.worker_rss_growth, 2)} for ${format(sizes.uploadMb[1] / sizes.uploadMb[0], 0)}x the bytes`);
    if (results.upload.growth > SUPERLINEAR) superlinear.push('CSV parse seconds a byte');
  }
}
if (results.jobs !== undefined) {
  lines.push('\nFinished jobs in the store (SQLite; written through the store interface), a real server on it');
  if ('error' in results.jobs) lines.push(`  failed: ${results.jobs.error}`);
  else {
    for (const run of results.jobs.runs) {
      lines.push(`  ${format(run.jobs)} jobs: written in ${format(run.write_seconds, 1)} s, ${format(run.database_mib, 1)} MiB; server start ${format(run.start_seconds, 2)} s; ${load(run.load)}`);
      lines.push(`    GET /v1/jobs                ${ms(run.list_first_page)}`);
      lines.push(`    GET /v1/jobs?limit=1000     ${ms(run.list_limit_1000)}`);
      lines.push(`    GET /v1/jobs?name=needle    ${ms(run.list_name_filter)}  (a filter that scans every row)`);
      lines.push(`    GET /v1/jobs/:id            ${ms(run.get_by_id)}`);
      lines.push(`    the oldest page (cursor)    ${ms(run.last_page)}`);
      lines.push(`    every page via nextCursor   ${format(run.walk.pages)} pages in ${format(run.walk.seconds, 2)} s`);
    }
    const [small, large] = results.jobs.runs as [JobsRun, JobsRun];
    const ratio = large.jobs / small.jobs;
    const checks: [string, number, number][] = [
      ['GET /v1/jobs p50', large.list_first_page.p50_ms, small.list_first_page.p50_ms],
      ['GET /v1/jobs/:id p50', large.get_by_id.p50_ms, small.get_by_id.p50_ms],
      ['oldest page p50', large.last_page.p50_ms, small.last_page.p50_ms],
    ];
    for (const [label, big, little] of checks) {
      // These should not grow with the store at all: growth is the ratio itself.
      const growth = big / little;
      lines.push(`  ${label}, ${format(ratio, 0)}x the jobs: ${format(growth, 2)}x${growth > SUPERLINEAR ? ' (GROWS WITH THE STORE)' : ' (flat)'}`);
      if (growth > SUPERLINEAR) superlinear.push(`${label} grows with the number of jobs`);
    }
    const scan = large.list_name_filter.p50_ms / small.list_name_filter.p50_ms / ratio;
    lines.push(`  name filter p50 per stored job, larger over smaller: ${growthNote(scan)} (it scans: linear is expected)`);
    if (scan > SUPERLINEAR) superlinear.push('the name filter per stored job');
  }
}
if (results.sweep !== undefined) {
  lines.push('\nA sweep through a real server (trials of 1 epoch on 100 moons points, default concurrency)');
  if ('error' in results.sweep) lines.push(`  failed: ${results.sweep.error}`);
  else {
    for (const run of results.sweep.runs)
      lines.push(
        `  ${`${format(run.trials)} trials (${run.status})`.padEnd(24)} ${format(run.wall_seconds_per_trial * 1e3, 1)} ms wall a trial; server CPU ${format(run.server_cpu_seconds_per_trial * 1e3, 1)} ms a trial, workers ${format(run.worker_cpu_seconds_per_trial * 1e3, 1)} ms; ` +
          `store ${format(run.store_kib_per_trial, 1)} KiB a trial; GET /v1/sweeps/:id ${ms(run.view_ms)}; ${load(run.load)}`,
      );
    lines.push(
      `  per trial, larger over smaller: wall ${growthNote(results.sweep.growth)}, server CPU ${growthNote(results.sweep.server_cpu_growth)}, GET /v1/sweeps/:id p50 ${growthNote(results.sweep.view_growth)}`,
    );
    if (results.sweep.view_growth > SUPERLINEAR) superlinear.push('GET /v1/sweeps/:id a trial');
    if (results.sweep.growth > SUPERLINEAR) superlinear.push('sweep wall time a trial');
    if (results.sweep.server_cpu_growth > SUPERLINEAR) superlinear.push("sweep server CPU a trial");
  }
}
lines.push(`\nFaster than linear: ${superlinear.length === 0 ? 'none measured' : superlinear.join('; ')}`);
process.stdout.write(`${smoke ? '(smoke run: tiny sizes, figures not meaningful)\n' : ''}${lines.join('\n')}\n`);

const out = values.out ?? resultsFile('scale', smoke);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), smoke, machine: host, sizes, results, superlinear }, null, 2));
log(`\nwritten to ${out}\nrerun: npm run bench:scale${smoke ? ' -- --smoke' : ''}`);
if (Object.values(results).some((result) => 'error' in result)) process.exitCode = 1;
