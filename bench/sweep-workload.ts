// The sweep the sweep benchmarks train (bench/sweep.ts on this machine's runners,
// bench/service.ts --distributed through API servers and worker hosts): a small network on
// moons, its learning rate and two layer widths drawn at random from a seeded search.
import type { JobSpec } from '../src/jobs/spec.js';
import type { SweepSpec } from '../src/jobs/sweep-spec.js';

export function sweepSpec(trials: number, epochs: number, samples: number): SweepSpec {
  const base: JobSpec = {
    dataset: { builtin: 'moons', samples, noise: 0.2, seed: 1 },
    split: { dev: 0.2, seed: 0 },
    normalize: 'standard',
    model: {
      layers: [
        { units: 32, activation: 'relu' },
        { units: 32, activation: 'relu' },
        { units: 1, activation: 'sigmoid' },
      ],
      init: 'he',
    },
    training: {
      epochs,
      batchSize: 32,
      shuffle: true,
      seed: 1,
      optimizer: { type: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
    },
  };
  return {
    name: 'bench-sweep-moons',
    base,
    space: {
      '/training/optimizer/learningRate': { logUniform: [1e-4, 1e-1] },
      '/model/layers/0/units': { choice: [16, 32, 64] },
      '/model/layers/1/units': { choice: [16, 32, 64] },
    },
    trials,
    strategy: 'random',
    metric: 'dev.accuracy',
    seed: 7,
  };
}
