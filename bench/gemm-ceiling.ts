// The GEMM ceiling of an MLP workload: the matrix products of its mini-batches' forward and
// backward passes, at its shapes, as the engine calls them, timed alone by a small C
// program (bench/gemm-ceiling.c) against the OpenBLAS the addon links, with the thread
// settings of the run it is compared with. A workload's time per batch over this is what
// everything but GEMM costs (activations, loss, optimizer, the shuffled batch's gather,
// thread hand-offs).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Workload } from './workloads.js';

// From bench/ (run as TypeScript) or dist/bench/ (compiled): the source stays in bench/.
const sources = ['gemm-ceiling.c', '../../bench/gemm-ceiling.c'].map((path) => fileURLToPath(new URL(path, import.meta.url)));

export interface Product {
  product: string;
  transA: 0 | 1;
  transB: 0 | 1;
  m: number;
  n: number;
  k: number;
  seconds?: number;
  gflops?: number;
}

export interface BatchCeiling {
  rows: number;
  openblas: { core: string; config: string; threads: number; library: string };
  products: Required<Product>[];
  /** The products one after another, as a step runs them: the ceiling used. */
  sequence_seconds: number;
  /** The sum of each product timed alone, hot in cache: a lower bound, shown beside. */
  alone_seconds: number;
}

export interface EpochCeiling {
  batchSize: number;
  rows: number;
  batches: number;
  /** GEMM seconds of one epoch: every full batch and the last, smaller one. */
  epoch_seconds: number;
  seconds_per_batch: number;
  batches_timed: BatchCeiling[];
}

/** The products of one training step of `rows` rows, in the order the engine makes them. */
export function stepProducts(workload: Workload, features: number, rows: number): Product[] {
  let inputs = features;
  const layers = workload.model.layers.map((layer, index) => {
    const shape = { index: index + 1, inputs, units: layer.units };
    inputs = layer.units;
    return shape;
  });
  const products: Product[] = [];
  // dense.h: forward Y = X W^T; backward dW = dY^T X, dX = dY W (not for the first layer).
  for (const { index, inputs: k, units } of layers)
    products.push({ product: `layer${index} forward`, transA: 0, transB: 1, m: rows, n: units, k });
  for (const { index, inputs: n, units } of [...layers].reverse()) {
    products.push({ product: `layer${index} dW`, transA: 1, transB: 0, m: units, n, k: rows });
    if (index > 1) products.push({ product: `layer${index} dX`, transA: 0, transB: 0, m: rows, n, k: units });
  }
  return products;
}

let compiled: string | undefined;

/** Compiles the C program once per process; throws with cc's message when it cannot. */
export function compileCeiling(): string {
  if (compiled !== undefined) return compiled;
  const source = sources.find((path) => existsSync(path));
  if (source === undefined) throw new Error(`bench/gemm-ceiling.c not found (looked in ${sources.join(', ')})`);
  const directory = mkdtempSync(join(tmpdir(), 'caviar-gemm-ceiling-'));
  process.once('exit', () => rmSync(directory, { recursive: true, force: true }));
  const binary = join(directory, 'gemm-ceiling');
  execFileSync(process.env.CC ?? 'cc', ['-O2', '-o', binary, source, '-lopenblas'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return (compiled = binary);
}

async function timeBatch(binary: string, workload: Workload, features: number, rows: number, env: Record<string, string>, budgetSeconds: number): Promise<BatchCeiling> {
  const args = stepProducts(workload, features, rows).map((p) => `${p.product.replace(' ', '_')}:${p.transA}:${p.transB}:${p.m}:${p.n}:${p.k}`);
  const { stdout } = await promisify(execFile)(binary, [String(budgetSeconds), ...args], { env: { ...process.env, ...env } });
  const printed = JSON.parse(stdout) as Omit<BatchCeiling, 'rows' | 'alone_seconds'>;
  const products = printed.products.map((p) => ({ ...p, product: p.product.replace('_', ' ') }));
  return { rows, ...printed, products, alone_seconds: products.reduce((sum, p) => sum + p.seconds, 0) };
}

/**
 * The GEMM seconds of one epoch of `rows` rows of `features`: ceil(rows / batch) batches, the last one
 * smaller when the batch size does not divide the rows. `env` sets the thread count
 * (OPENBLAS_NUM_THREADS) as for the run compared with.
 */
export async function epochCeiling(
  workload: Workload,
  features: number,
  rows: number,
  env: Record<string, string>,
  budgetSeconds = 0.05,
): Promise<EpochCeiling> {
  const binary = compileCeiling();
  const { batchSize } = workload.training;
  const full = Math.floor(rows / batchSize);
  const rest = rows - full * batchSize;
  const batchesTimed = [await timeBatch(binary, workload, features, batchSize, env, budgetSeconds)];
  if (rest > 0) batchesTimed.push(await timeBatch(binary, workload, features, rest, env, budgetSeconds));
  const epochSeconds = full * (batchesTimed[0] as BatchCeiling).sequence_seconds + (rest > 0 ? (batchesTimed[1] as BatchCeiling).sequence_seconds : 0);
  const batches = full + (rest > 0 ? 1 : 0);
  return { batchSize, rows, batches, epoch_seconds: epochSeconds, seconds_per_batch: epochSeconds / batches, batches_timed: batchesTimed };
}
