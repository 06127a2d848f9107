// Caviar's side of the benchmarks: one workload in one process (OpenBLAS fixes its thread
// count when it loads), its figures printed as one JSON object, in the peers' format.
//   node dist/bench/caviar.js --workload W1 [--epochs N] [--rows N] [--steps N] [--scale N]
// --scale N (W1, W4) trains on a generated set of N times the rows: the train rows, then
// N - 1 copies of them with seeded noise on the pixels that are not blank (same shape,
// same labels, the same blank background), for how the figures grow with the data.
import { parseArgs } from 'node:util';
import { loadFashionMnist, moons, Random } from '../src/data/index.js';
import { Trainer, blasInfo, type Dataset, type TrainerSpec } from '../src/engine/index.js';
import { WARMUP_STEPS, WORKLOAD_IDS, trainingOf, workload, type Workload, type WorkloadId } from './workloads.js';

const { values } = parseArgs({
  options: {
    workload: { type: 'string' },
    epochs: { type: 'string' },
    rows: { type: 'string' },
    steps: { type: 'string' },
    scale: { type: 'string' },
  },
});
const id = values.workload as WorkloadId;
if (!WORKLOAD_IDS.includes(id)) throw new Error(`--workload must be one of ${WORKLOAD_IDS.join(', ')}`);
const spec = workload(id);
const option = (name: 'epochs' | 'rows' | 'steps' | 'scale') => (values[name] === undefined ? undefined : Number(values[name]));

function head(data: Dataset, rows: number): Dataset {
  const width = data.y.length / data.rows;
  return { x: data.x.subarray(0, rows * data.features), y: data.y.subarray(0, rows * width), rows, features: data.features };
}

const trainerSpec = (epochs: number): TrainerSpec => trainingOf(spec, epochs);

/** The rows, then `scale - 1` copies with noise of up to +-16 grey levels on every pixel that is not 0. */
function scaled(data: Dataset, scale: number): Dataset {
  if (scale === 1) return data;
  const random = new Random(11);
  const x = new Float32Array(data.x.length * scale);
  const y = new Float32Array(data.y.length * scale);
  for (let copy = 0; copy < scale; copy += 1) {
    y.set(data.y, copy * data.y.length);
    const offset = copy * data.x.length;
    if (copy === 0) x.set(data.x, 0);
    else
      for (let i = 0; i < data.x.length; i += 1) {
        const pixel = data.x[i] as number;
        x[offset + i] = pixel === 0 ? 0 : Math.min(255, Math.max(0, pixel + random.below(33) - 16));
      }
  }
  return { x, y, rows: data.rows * scale, features: data.features };
}

/** Random normal rows with random labels, seeded (W3). */
function randomData(description: { rows: number; features: number; classes: number; seed: number }): Dataset {
  const random = new Random(description.seed);
  const x = Float32Array.from({ length: description.rows * description.features }, () => random.normal());
  const y = Float32Array.from({ length: description.rows }, () => random.below(description.classes));
  return { x, y, rows: description.rows, features: description.features };
}

/** WARMUP_STEPS mini-batches on a throwaway trainer: thread pools and allocators warm. */
async function warmUp(data: Dataset): Promise<void> {
  const rows = Math.min(data.rows, WARMUP_STEPS * spec.training.batchSize);
  await Trainer.create(trainerSpec(1), head(data, rows)).run(1);
}

async function timedRun(data: Dataset, epochs: number): Promise<{ trainer: Trainer; seconds: number }> {
  await warmUp(data);
  const trainer = Trainer.create(trainerSpec(epochs), data);
  const started = performance.now();
  await trainer.run(epochs);
  return { trainer, seconds: (performance.now() - started) / 1000 };
}

async function measure(workloadSpec: Workload): Promise<Record<string, unknown>> {
  const { batchSize } = workloadSpec.training;
  if (id === 'W1' || id === 'W4') {
    const fashion = await loadFashionMnist();
    const train = scaled(head(fashion.train, option('rows') ?? fashion.train.rows), option('scale') ?? 1);
    const epochs = option('epochs') ?? (workloadSpec.training.epochs as number);
    const { trainer, seconds } = await timedRun(train, epochs);
    const test = await trainer.evaluate(fashion.test as Dataset);
    return {
      samples_per_second: (train.rows * epochs) / seconds,
      test_accuracy: test.accuracy,
      seconds,
      epochs,
      train_rows: train.rows,
      features: train.features,
      scale: option('scale') ?? 1,
    };
  }
  if (id === 'W2') {
    const { samples, noise, seed } = workloadSpec.dataset as { samples: number; noise: number; seed: number };
    const train = moons({ samples, noise, seed });
    const epochs = option('epochs') ?? (workloadSpec.training.epochs as number);
    const { trainer, seconds } = await timedRun(train, epochs);
    const updates = epochs * Math.ceil(train.rows / batchSize);
    return {
      updates_per_second: updates / seconds,
      microseconds_per_update: (seconds / updates) * 1e6,
      train_accuracy: (await trainer.evaluate(train)).accuracy,
      seconds,
      epochs,
    };
  }
  const data = randomData((workloadSpec.dataset as { random: Parameters<typeof randomData>[0] }).random);
  const stepsPerEpoch = data.rows / batchSize;
  const steps = option('steps') ?? (workloadSpec.training.steps as number);
  const epochs = Math.max(1, Math.round(steps / stepsPerEpoch));
  const { seconds } = await timedRun(data, epochs);
  // flops per step = 6 m sum(in x out) - 2 m in_1 out_1: the first layer computes no dX.
  let inputs = data.features;
  let products = 0;
  let first = 0;
  for (const layer of workloadSpec.model.layers) {
    products += inputs * layer.units;
    if (first === 0) first = inputs * layer.units;
    inputs = layer.units;
  }
  const flopsPerStep = 6 * batchSize * products - 2 * batchSize * first;
  return { gflops: (flopsPerStep * epochs * stepsPerEpoch) / seconds / 1e9, flops_per_step: flopsPerStep, steps: epochs * stepsPerEpoch, seconds };
}

const figures = await measure(spec);
process.stdout.write(
  `${JSON.stringify({
    peer: 'caviar',
    workload: id,
    name: spec.name,
    metric: spec.metric,
    config: process.env.OPENBLAS_NUM_THREADS === '1' ? 'single' : 'default',
    blas: blasInfo(),
    ...figures,
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
  })}\n`,
);
