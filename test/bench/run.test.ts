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

t.test("the benchmark runner measures Caviar's side of every workload and prints the table", async (t) => {
  const { stdout, written } = await smoke(['--peers', 'caviar']);
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
});

t.test("W1's time per batch is compared with its GEMMs alone at the same shapes and threads", { skip: ccMissing && 'no C compiler (cc) to build bench/gemm-ceiling.c' }, async (t) => {
  const { stdout, written } = await smoke(['--peers', 'caviar', '--workloads', 'W1']);
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
});
