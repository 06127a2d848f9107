import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

// The suite itself is `npm run bench`; these smoke runs keep its programs from rotting.
// No figure's size is asserted: only that each was measured and printed with the machine,
// kernels, threads and load it was measured with.
const runner = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));
const torchMissing = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0;
const ccMissing = spawnSync('sh', ['-c', 'command -v "${CC:-cc}"'], { stdio: 'ignore' }).status !== 0;

async function smoke(args: string[]): Promise<{ stdout: string; written: any }> {
  const out = join(mkdtempSync(join(tmpdir(), 'caviar-bench-')), 'smoke.json');
  const { stdout } = await promisify(execFile)(process.execPath, [runner, '--smoke', '--out', out, ...args], { maxBuffer: 16 << 20 });
  return { stdout, written: JSON.parse(readFileSync(out, 'utf8')) };
}

// Several processes at once on a shared machine: past the suite's 90 s per file when it is busy.
t.setTimeout(300_000);

// One smoke run of Caviar's side of everything, read by the tests below.
let caviarRun: ReturnType<typeof smoke> | undefined;
const caviarSide = () => (caviarRun ??= smoke(['--peers', 'caviar']));

t.test("the benchmark runner measures Caviar's side of every workload and prints the table", async (t) => {
  const { stdout, written } = await caviarSide();
  for (const heading of ['Machine: ', 'W1 fashion-mlp', 'W2 tiny-moons', 'W3 wide-mlp', 'W4 bn-dropout', 'Targets:']) t.match(stdout, heading);
  t.equal(written.smoke, true);
  t.type(written.machine.cpu, 'string');
  t.match(written.machine.blas, /OpenBLAS|CBLAS/);
  for (const workload of ['W1', 'W2', 'W3', 'W4']) {
    const caviar = written.results[workload].caviar;
    t.notOk('error' in caviar, `${workload}: ${caviar.error ?? 'ran'}`);
    t.equal(caviar.config, 'default');
    t.type(caviar.load.before.one, 'number', `${workload}: the load beside the figure`);
    const single = written.results[workload]['caviar 1 thread'];
    t.equal(single.config, 'single');
    t.equal(single.thread_settings.OPENBLAS_NUM_THREADS, '1');
  }
  t.ok(written.results.W1.caviar.samples_per_second > 0);
  t.ok(written.results.W2.caviar.updates_per_second > 0);
  t.ok(written.results.W3.caviar.gflops > 0);
  // Each row names its kernels, threads and load.
  t.match(stdout, /\n {2}caviar 1 thread +[\d,]+ .* BLAS 1 \(OPENBLAS_NUM_THREADS=1[^)]*\) +load \d+\.\d\d->\d+\.\d\d/);
  t.match(stdout, /\n {2}caviar +[\d,]+ .* BLAS \d+ \(/, "the default row says how many threads trained");
});

const positive = (figure: unknown) => typeof figure === 'number' && Number.isFinite(figure) && figure > 0;

t.test('W2 is also timed as a user waits for it: a whole caviar train, and a job through a real server', async (t) => {
  const { stdout, written } = await caviarSide();
  const view = written.user_view;
  t.notOk('error' in view, view.error ?? 'measured');
  t.equal(view.updates_per_epoch, 5, '300 points in batches of 64');
  for (const way of ['cli', 'service']) {
    for (const wall of [view[way].seconds, view[way].one_epoch_seconds]) t.ok(positive(wall), `${way}: a wall of ${wall} s`);
    // On a busy machine the full run may come out no slower than the 1-epoch one: that is
    // said, not a figure below zero.
    if (view[way].updates_per_second === undefined) t.match(view[way].unmeasured, /noise/);
    else t.ok(positive(view[way].updates_per_second), `${way}: ${view[way].updates_per_second} updates/s`);
    t.same(view[way].attempts.map((attempt: { epochs: number }) => attempt.epochs), [1, view.epochs]);
  }
  t.match(view.service.thread_settings.OPENBLAS_NUM_THREADS, /^\d+$/, "the worker's OpenBLAS threads, as it was started");
  t.match(stdout, /\n {2}caviar train, whole process +([\d,]+|-) .* BLAS \d+ \([^)]*\) +load [\d.]+->[\d.]+.* wall [\d.]+ s - [\d.]+ s \(1 epoch\)/);
  t.match(stdout, /\n {2}caviar service, POST to done +([\d,]+|-) .* BLAS \d+ \(OPENBLAS_NUM_THREADS=\d+[^)]*\) +load /);
});

t.test('W1 jobs through a real server: one alone, two at once, and one beside a loaded server', async (t) => {
  const { stdout, written } = await caviarSide();
  const { concurrency } = written;
  t.notOk('error' in concurrency, concurrency.error ?? 'measured');
  t.equal(concurrency.rows, 512);
  for (const figure of [
    concurrency.alone.samples_per_second,
    ...concurrency.pair.jobs.map((job: { samples_per_second: number }) => job.samples_per_second),
    concurrency.pair.sum_samples_per_second,
    concurrency.pair.over_alone,
    concurrency.loaded.samples_per_second,
    concurrency.loaded.over_alone,
    concurrency.loaded.requests.achieved_per_second,
    concurrency.loaded.idle_requests.achieved_per_second,
    concurrency.alone.span.wall_seconds,
  ])
    t.ok(positive(figure), `${figure} is a positive number`);
  for (const requests of [concurrency.loaded.requests, concurrency.loaded.idle_requests]) t.type(requests.latency_ms.p99, 'number');
  t.ok(concurrency.pair.side_by_side >= 0 && concurrency.pair.side_by_side <= 1);
  t.match(stdout, /W1 jobs at once through a real server: 512 rows x 2 epochs, .*samples\/s from the epoch events' seconds/);
  t.match(stdout, /each job's worker started with OPENBLAS_NUM_THREADS=\d+/);
  t.match(stdout, /\n {4}one job alone +[\d,]+ samples\/s\n +workers [\d.]+ CPU s, server [\d.]+ CPU s in [\d.]+ s wall/);
  t.match(stdout, /workers' CPU a sample ([\d.]+|-)x alone's/);
  t.match(stdout, /\n {4}two jobs at once +[\d,]+ \+ [\d,]+ = [\d,]+ samples\/s = [\d.]+x alone \(ideal [\d.]+x: /);
  t.match(stdout, /\n {4}one job, server under load +[\d,]+ samples\/s = [\d.]+x alone; GET \/v1\/jobs at 200\/s: p50 [\d,.]+ ms, p99 [\d,.]+ ms .*; with no job training: p50 /);
});

t.test("W1's time per batch is compared with its GEMMs alone at the same shapes and threads", { skip: ccMissing && 'no C compiler (cc) to build bench/gemm-ceiling.c' }, async (t) => {
  const { stdout, written } = await caviarSide();
  for (const label of ['caviar', 'caviar 1 thread']) {
    const ceiling = written.gemm_ceiling[label];
    t.notOk(ceiling.error, `${label}: ${ceiling.error ?? 'measured'}`);
    t.equal(ceiling.batchSize, 128);
    // 2560 rows of batches of 128: 20 full batches, 8 products each (3 forward, 3 dW, 2 dX).
    t.equal(ceiling.batches, 20);
    t.equal(ceiling.batches_timed[0].products.length, 8);
    t.ok(ceiling.seconds_per_batch > 0);
    t.match(ceiling.batches_timed[0].openblas.library, /openblas/i);
  }
  t.equal(written.gemm_ceiling['caviar 1 thread'].batches_timed[0].openblas.threads, 1);
  t.match(stdout, /caviar 1 thread +[\d.]+ ms a batch; GEMMs alone [\d.]+ ms .* = [\d.]+x +\w+, BLAS 1/);
  t.match(stdout, /W1 caviar: time per batch <= 1.4x its GEMMs alone: [\d.]+x, (holds|MISSED)/);
});

t.test("PyTorch's configurations, flush-to-zero among them, and the one that won", { skip: torchMissing && '/usr/bin/python3 cannot import torch (apt-get install python3-torch)' }, async (t) => {
  const { stdout, written } = await smoke(['--peers', 'caviar,torch', '--workloads', 'W2']);
  for (const label of ['torch1', 'torch2', 'torch 1 thread']) {
    const run = written.results.W2[label];
    t.notOk(run.error, `${label}: ${run.error ?? 'ran'}`);
    t.same(Object.keys(run.variants).sort(), ['default', 'flush']);
    for (const variant of ['default', 'flush']) t.match(stdout, new RegExp(`\\n  ${label} ${variant === 'flush' ? 'flush-to-zero' : 'default'} +[\\d,]+ `));
  }
  t.match(written.torch_best.W2.best, /^torch(1|2| 1 thread) (default|flush-to-zero)$/);
  t.match(written.torch_best.W2.single, /^torch 1 thread (default|flush-to-zero)$/);
  t.match(stdout, new RegExp(`PyTorch's best: ${written.torch_best.W2.best} \\(`));
  // W2 as a user sees it, against the same PyTorch's best.
  t.match(stdout, /As a user sees it \(.*\): caviar train ([\d.]+x|-), the service ([\d.]+x|-) PyTorch's best; the engine alone, in-process \(caviar\): [\d.]+x/);
  for (const how of ['a whole `caviar train`', 'through the service, POST to done'])
    t.match(stdout, new RegExp(`W2 >= 50x PyTorch's best \\(${how}, less 1 epoch\\): ([\\d.]+x, (holds|MISSED)|not measured)`));
});
