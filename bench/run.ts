// The benchmark suite (`npm run bench`): every workload for Caviar and its peers, measured
// in the same run on the same machine, printed as a table of ratios to PyTorch, and
// written as JSON to bench/results/.
//   npm run bench                        the full suite (about 10 minutes on 2 cores)
//   npm run bench -- --smoke             tiny sizes: checks that every part runs
//   npm run bench -- --workloads W1,W2 --peers caviar,torch
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WORKLOAD_IDS, workload, type WorkloadId } from './workloads.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const python = '/usr/bin/python3';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean' },
    workloads: { type: 'string' },
    peers: { type: 'string' },
    out: { type: 'string' },
  },
});
const smoke = values.smoke === true;
const workloads = (values.workloads?.split(',') ?? WORKLOAD_IDS) as WorkloadId[];
const peers = new Set(values.peers?.split(',') ?? ['caviar', 'torch', 'tfjs']);

/** Short runs for --smoke: enough to exercise each program, not to measure. */
const smokeSizes: Record<WorkloadId, string[]> = {
  W1: ['--epochs', '1', '--rows', '2560'],
  W2: ['--epochs', '20'],
  W3: ['--steps', '16'],
  W4: ['--epochs', '1', '--rows', '2560'],
};

type Figures = Record<string, unknown> & { peer: string; config: string };

interface Run {
  label: string;
  peer: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

function runsFor(id: WorkloadId): Run[] {
  const sizes = smoke ? smokeSizes[id] : [];
  const runs: Run[] = [];
  const caviar = { peer: 'caviar', command: process.execPath, args: [`${root}dist/bench/caviar.js`, '--workload', id, ...sizes] };
  if (peers.has('caviar')) {
    runs.push({ ...caviar, label: 'caviar' });
    runs.push({ ...caviar, label: 'caviar 1 thread', env: { OPENBLAS_NUM_THREADS: '1' } });
  }
  if (peers.has('torch')) {
    for (const [label, threads] of [
      ['torch1', 'torch1'],
      ['torch2', 'torch2'],
      ['torch 1 thread', 'single'],
    ] as const) {
      runs.push({
        label,
        peer: 'torch',
        command: python,
        args: [`${root}bench/peers/torch_bench.py`, '--workload', id, '--threads', threads, '--json', ...sizes],
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

function execute(run: Run): Promise<Figures | { error: string }> {
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
const value = (figures: Figures | { error: string } | undefined, metric: string) =>
  figures === undefined || 'error' in figures ? undefined : (figures[metric] as number | undefined);

const results: Record<string, Record<string, Figures | { error: string }>> = {};
for (const id of workloads) {
  results[id] = {};
  for (const run of runsFor(id)) {
    process.stderr.write(`${id} ${run.label}...\n`);
    (results[id] as Record<string, Figures | { error: string }>)[run.label] = await execute(run);
  }
}
let sgemm: Figures | { error: string } | undefined;
if (peers.has('torch') && workloads.includes('W3')) {
  process.stderr.write('sgemm at W3 shapes...\n');
  sgemm = await execute({
    label: 'sgemm',
    peer: 'torch',
    command: python,
    args: [`${root}bench/peers/torch_bench.py`, '--workload', 'sgemm', '--threads', 'torch2', '--json'],
  });
}

// ---- The table ----
const format = (number: number | undefined, digits = 0) =>
  number === undefined ? '-' : number.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const lines: string[] = [];
const targets: { workload: string; target: string; holds: boolean | undefined }[] = [];
for (const id of workloads) {
  const metric = metricOf(id);
  const runs = results[id] as Record<string, Figures | { error: string }>;
  const torchBest = Math.max(...['torch1', 'torch2'].map((label) => value(runs[label], metric) ?? 0)) || undefined;
  const torchSingle = value(runs['torch 1 thread'], metric);
  lines.push(`\n${id} ${workload(id).name}: ${metric.replaceAll('_', ' ')}`);
  lines.push(`  ${'run'.padEnd(16)} ${'figure'.padStart(12)}  ${'vs torch best'.padStart(13)}  ${'vs torch 1 thread'.padStart(17)}  notes`);
  for (const [label, figures] of Object.entries(runs)) {
    if ('error' in figures) {
      lines.push(`  ${label.padEnd(16)} failed: ${figures.error}`);
      continue;
    }
    const figure = value(figures, metric);
    const ratio = (peer: number | undefined) => (figure === undefined || peer === undefined ? '-' : `${format(figure / peer, 2)}x`);
    const accuracy = (figures.test_accuracy ?? figures.train_accuracy) as number | undefined;
    const notes = [
      accuracy === undefined ? '' : `${figures.test_accuracy === undefined ? 'train' : 'test'} accuracy ${format(accuracy, 4)}`,
      figures.peak_rss_mib === undefined ? '' : `peak RSS ${Math.round(figures.peak_rss_mib as number)} MiB`,
    ].filter(Boolean);
    lines.push(
      `  ${label.padEnd(16)} ${format(figure, metric === 'gflops' ? 1 : 0).padStart(12)}  ${ratio(torchBest).padStart(13)}  ${ratio(torchSingle).padStart(17)}  ${notes.join(', ')}`,
    );
  }
  const ours = value(runs.caviar, metric);
  const oursSingle = value(runs['caviar 1 thread'], metric);
  const ratioTarget = { W1: 1.5, W2: 30, W4: 1.5 }[id as 'W1' | 'W2' | 'W4'];
  if (ratioTarget !== undefined) {
    const holds = (mine: number | undefined, peer: number | undefined) =>
      mine === undefined || peer === undefined ? undefined : mine / peer >= ratioTarget;
    targets.push({ workload: id, target: `>= ${ratioTarget}x PyTorch's best`, holds: holds(ours, torchBest) });
    targets.push({ workload: id, target: `>= ${ratioTarget}x PyTorch at 1 thread (Caviar at 1 thread)`, holds: holds(oursSingle, torchSingle) });
  }
  if (id === 'W1') {
    const mine = value(runs.caviar, 'test_accuracy');
    const theirs = Math.max(...['torch1', 'torch2'].map((label) => value(runs[label], 'test_accuracy') ?? 0)) || undefined;
    targets.push({
      workload: id,
      target: 'test accuracy within 0.5 points of PyTorch',
      holds: mine === undefined || theirs === undefined ? undefined : Math.abs(mine - theirs) <= 0.005,
    });
  }
  if (id === 'W3') {
    const reference = value(sgemm, 'gflops') ?? value((sgemm as Figures | undefined)?.sgemm as Figures | undefined, 'gflops');
    lines.push(`  sgemm at W3's shapes (OpenBLAS through PyTorch, 2 threads): ${format(reference, 1)} GFLOP/s`);
    targets.push({
      workload: id,
      target: ">= 70% of sgemm's GFLOP/s at its shapes",
      holds: ours === undefined || reference === undefined ? undefined : ours / reference >= 0.7,
    });
    if (ours !== undefined && reference !== undefined) lines.push(`  caviar reaches ${format((100 * ours) / reference, 0)}% of it`);
  }
}
lines.push('\nTargets:');
for (const target of targets) {
  const verdict = target.holds === undefined ? 'not measured' : target.holds ? 'holds' : 'MISSED';
  lines.push(`  ${target.workload} ${target.target}: ${verdict}`);
}
const table = lines.join('\n');
process.stdout.write(`${smoke ? '(smoke run: tiny sizes, figures not meaningful)\n' : ''}${table}\n`);

const out = values.out ?? `${root}bench/results/${new Date().toISOString().replaceAll(':', '-')}${smoke ? '-smoke' : ''}.json`;
mkdirSync(fileURLToPath(new URL('.', `file://${out}`)), { recursive: true });
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), smoke, results, sgemm, targets }, null, 2));
process.stderr.write(`\nwritten to ${out}\nrerun: npm run bench${smoke ? ' -- --smoke' : ''}\n`);
