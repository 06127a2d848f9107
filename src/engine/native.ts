// The addon as native/binding/addon.cc exports it. Only src/engine/ imports this file;
// everything else uses the typed face in src/engine/index.ts, which validates first.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blasKernelsFor } from './machine.js';

/** A network and its training, every default filled in (see native/engine/spec.h). */
export interface NativeNetworkConfig {
  inputs: number;
  layers: { units: number; activation: string; batchNorm: boolean; dropout: number }[];
  loss: string;
  init: string;
  initScale: number;
}

export interface NativeTrainingConfig {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  optimizer: {
    type: string;
    learningRate: number;
    beta: number;
    beta1: number;
    beta2: number;
    epsilon: number;
    weightDecay: number;
  };
  decay: { type: string; rate: number; interval: number; floor: number; period: number };
  l2: number;
  normalize: string;
  /** One per class (see native/engine/spec.h's classCount), or empty for none. */
  classWeights: Float32Array;
}

/** Rows of features and their targets, row-major. */
export interface NativeData {
  x: Float32Array;
  y: Float32Array;
  rows: number;
  features: number;
}

export interface NativePartMetrics {
  loss: number;
  accuracy?: number;
}

/**
 * The numbers of a hand-over's epochs (numbers cross as typed arrays), one row each: these
 * fields in this order, then each layer's weightNorm and gradNorm; NaN stands for what an
 * epoch has not (an accuracy, the dev part, a rate change). `appliedRateChange` is the
 * identity of the rate change the epoch applied.
 */
export const EPOCH_FIELDS = ['epoch', 'learningRate', 'seconds', 'samplesPerSecond', 'trainLoss', 'trainAccuracy', 'devLoss', 'devAccuracy', 'appliedRateChange'] as const;

export interface NativeLayerParameters {
  weight: Float32Array;
  bias?: Float32Array;
  gamma?: Float32Array;
  beta?: Float32Array;
  runningMean?: Float32Array;
  runningVar?: Float32Array;
}

export interface NativeModelState {
  network: NativeNetworkConfig;
  normalization: string;
  shift: Float32Array;
  scale: Float32Array;
  layers: NativeLayerParameters[];
}

export interface NativeTrainer {
  /**
   * Runs `epochs` epochs on a background thread and hands their metrics over to `onEpochs`
   * (rows of EPOCH_FIELDS, and how many) on the JS thread, in order, none dropped: after the last epoch, after every epoch when
   * `reportEverySeconds` is 0, and otherwise after the first epoch to end at least
   * `reportEverySeconds` after the last hand-over (Infinity: once, at the end). The thread
   * waits for `onEpochs` to return before the next epoch starts. Before a DIVERGED the
   * epochs since the last hand-over are handed over; after a cancel they are not, so the
   * trainer may be past the last epoch `onEpochs` saw. Resolves with the number of epochs
   * run. Rejects with an Error whose `code` says why (CANCELLED, DIVERGED, BUSY, ...).
   * While an epoch trains, every other call but cancel() and setLearningRate() throws
   * BUSY; inside onEpochs the reading calls (epochsDone, nextLearningRate, checkpoint,
   * model) work too, at the end of the batch's last epoch.
   */
  train(epochs: number, onEpochs: (values: Float64Array, epochs: number) => void, reportEverySeconds: number): Promise<number>;
  /** Stops a running train() between mini-batches, or before its next epoch. */
  cancel(): void;
  /**
   * Applies from the next epoch to start; during an epoch or an evaluate() it waits for its
   * end. `change` (a positive integer) names it in that epoch's `appliedRateChange`.
   */
  setLearningRate(learningRate: number, change?: number): void;
  nextLearningRate(): number;
  epochsDone(): number;
  evaluate(data: NativeData): Promise<NativePartMetrics>;
  checkpoint(): Uint8Array;
  restore(bytes: Uint8Array): void;
  model(): NativeModelState;
}

export interface NativeModel {
  predict(x: Float32Array, rows: number): Promise<Float32Array>;
}

export interface NativeGradCheck {
  difference: number;
  layers: number[];
  parameters: number;
  checked: number;
}

export interface Addon {
  Trainer: new (
    network: NativeNetworkConfig,
    training: NativeTrainingConfig,
    train: NativeData,
    dev: NativeData | null,
  ) => NativeTrainer;
  Model: new (state: NativeModelState) => NativeModel;
  gradCheck(
    network: NativeNetworkConfig,
    l2: number,
    /** One per class, or empty for none. */
    classWeights: Float32Array,
    data: NativeData,
    seed: number,
    epsilon: number,
    /** 0: every coordinate. */
    coordinatesPerTensor: number,
  ): Promise<NativeGradCheck>;
  /** The BLAS core in use (OpenBLAS's kernel name), for the start-up log. */
  blasInfo(): string;
}

function findAddon(): string {
  // From src/engine (tsx, tap) or dist/src/engine (compiled): walk up to the package root.
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth += 1) {
    for (const build of ['build/Release/caviar.node', 'build/Debug/caviar.node']) {
      const candidate = join(directory, build);
      if (existsSync(candidate)) return candidate;
    }
    directory = dirname(directory);
  }
  throw new Error(
    'The Caviar native addon is not built. Run `npm run build:native` (it needs cmake, g++ ' +
      'and libopenblas-dev: apt-get install -y cmake g++ libopenblas-dev).',
  );
}

/**
 * The kernels the engine named for OpenBLAS (OPENBLAS_CORETYPE, see blasKernelsFor), or
 * undefined where it left OpenBLAS its pick: the user set OPENBLAS_CORETYPE, or the CPU is
 * not one that needs it. Set before the addon loads, because OpenBLAS reads the variable
 * once, as it loads with the addon; worker processes inherit it.
 */
export const namedBlasKernels = (() => {
  if (process.env.OPENBLAS_CORETYPE !== undefined || process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  let cpuinfo: string;
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return undefined;
  }
  const kernels = blasKernelsFor(cpuinfo);
  if (kernels !== undefined) process.env.OPENBLAS_CORETYPE = kernels;
  return kernels;
})();

export const addon = createRequire(import.meta.url)(findAddon()) as Addon;
