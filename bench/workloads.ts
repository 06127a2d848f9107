// The benchmark workloads, as bench/peers/workloads.json defines them for every peer.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { JobSpec } from '../src/jobs/spec.js';

export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W4';
export const WORKLOAD_IDS: WorkloadId[] = ['W1', 'W2', 'W3', 'W4'];

export interface Workload {
  name: string;
  metric: 'samples_per_second' | 'updates_per_second' | 'gflops';
  dataset: Record<string, unknown>;
  normalize: JobSpec['normalize'];
  model: JobSpec['model'];
  loss: JobSpec['loss'];
  training: Omit<JobSpec['training'], 'epochs'> & { epochs?: number; steps?: number; batchSize: number };
}

interface WorkloadFile {
  warmupSteps: number;
  workloads: Record<WorkloadId, Partial<Workload> & { extends?: WorkloadId }>;
}

// From bench/ (run as TypeScript) or dist/bench/ (compiled): the file sits in bench/peers/.
const candidates = ['peers/workloads.json', '../../bench/peers/workloads.json'].map((path) =>
  fileURLToPath(new URL(path, import.meta.url)),
);

function readWorkloadFile(): WorkloadFile {
  for (const path of candidates) {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as WorkloadFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new Error(`bench/peers/workloads.json not found (looked in ${candidates.join(', ')})`);
}

const file = readWorkloadFile();
export const WARMUP_STEPS = file.warmupSteps;

/** A workload with its "extends" resolved. */
export function workload(id: WorkloadId): Workload {
  const { extends: base, ...own } = file.workloads[id];
  return (base === undefined ? own : { ...workload(base), ...own }) as Workload;
}

/** A workload's network and training for `epochs`, as a job spec and a trainer take them. */
export function trainingOf(spec: Workload, epochs: number): Pick<JobSpec, 'model' | 'loss' | 'normalize' | 'training'> {
  const { steps: _steps, ...training } = spec.training;
  // The peers need the input width in the model; Caviar takes it from the data.
  const { inputs: _inputs, ...model } = spec.model as Workload['model'] & { inputs?: number };
  return {
    model,
    ...(spec.loss === undefined ? {} : { loss: spec.loss }),
    ...(spec.normalize === undefined ? {} : { normalize: spec.normalize }),
    training: { ...training, epochs },
  };
}

/**
 * The job spec of a workload on `dataset`: every row trains, as in the in-process runs (a
 * job holds out a fifth for dev unless its split says otherwise, and scores it each epoch).
 */
export function jobSpecOf(id: WorkloadId, dataset: JobSpec['dataset'], epochs: number): JobSpec {
  const spec = workload(id);
  return { name: `bench-${id}-${spec.name}`, dataset, split: { dev: 0 }, ...trainingOf(spec, epochs) };
}
