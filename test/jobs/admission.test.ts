import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { estimateJobBytes } from '../../src/jobs/admission.js';
import type { JobSpec } from '../../src/jobs/spec.js';
import { temporaryDirectory } from '../fixtures/service.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
const PEAK_RSS = fileURLToPath(new URL('../fixtures/peak-rss.mjs', import.meta.url));

/** The peak resident memory of one epoch of `spec` trained by `caviar train`, the code path of the service's training process. */
async function measuredPeak(spec: JobSpec): Promise<number> {
  const file = join(temporaryDirectory(), 'spec.json');
  writeFileSync(file, JSON.stringify(spec));
  const { stderr } = await promisify(execFile)(process.execPath, ['--import', PEAK_RSS, CLI, 'train', file], {
    // Without the test runner's loaders and coverage, which a training process has not.
    env: { PATH: process.env.PATH, OPENBLAS_NUM_THREADS: '1' },
    maxBuffer: 16 * 2 ** 20,
  });
  return Number(/peak-rss (\d+)/.exec(stderr)?.[1]);
}

const moons = (samples: number, units: number, batchSize: number): JobSpec => ({
  dataset: { builtin: 'moons', samples, noise: 0.2, seed: 3 },
  model: { layers: [{ units, activation: 'relu' }, { units, activation: 'relu' }, { units: 1, activation: 'sigmoid' }] },
  training: { epochs: 1, batchSize, optimizer: { type: 'adam', learningRate: 0.01 } },
});

// Shapes where the data, the network or the process itself weighs most.
const shapes: [string, JobSpec][] = [
  ['1,000,000 generated rows, a small network', moons(1_000_000, 16, 256)],
  ['20,000 rows, a 1024-1024 network', moons(20_000, 1024, 64)],
  ['1,000 rows, a small network', moons(1_000, 16, 32)],
];

for (const [name, spec] of shapes) {
  t.test(`the memory estimate covers the measured peak, without doubling it: ${name}`, async (t) => {
    const peak = await measuredPeak(spec);
    const { process, data, network } = estimateJobBytes(spec, { features: 2, rows: (spec.dataset as { samples: number }).samples });
    const estimate = process + data + network;
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
    t.ok(peak > 0, `measured ${mib(peak)}`);
    t.ok(estimate >= peak, `estimated ${mib(estimate)} for a peak of ${mib(peak)}`);
    t.ok(estimate <= 2 * peak, 'not twice the peak');
  });
}
