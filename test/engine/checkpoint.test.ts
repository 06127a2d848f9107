import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { Trainer } from '../../src/engine/index.js';
import { mlpSpec, moonsSplit } from '../fixtures/moons.js';

const { train, dev } = moonsSplit();
const resumeScript = fileURLToPath(new URL('../fixtures/resume.ts', import.meta.url));

// Adam (moments and step count), batch norm (running statistics), dropout (its RNG),
// shuffling (its RNG), decay (the schedule) and L2: everything a checkpoint must carry.
const everything = {
  model: {
    layers: [
      { units: 16, activation: 'relu' as const, batchNorm: true, dropout: 0.1 },
      { units: 8, activation: 'tanh' as const },
      { units: 2, activation: 'softmax' as const },
    ],
  },
  training: {
    epochs: 10,
    batchSize: 32,
    seed: 9,
    l2: 0.01,
    optimizer: { type: 'adam' as const, learningRate: 0.01 },
    lrDecay: { type: 'exponential' as const, rate: 0.9 },
  },
};

t.test('10 epochs equal 5, a checkpoint, a restore in a new process and 5 more, bit for bit', async (t) => {
  const straight = Trainer.create({ ...mlpSpec, ...everything }, train, dev);
  await straight.run(10);

  const first = Trainer.create({ ...mlpSpec, ...everything }, train, dev);
  await first.run(5);
  const directory = mkdtempSync(join(tmpdir(), 'caviar-checkpoint-'));
  const checkpointPath = join(directory, 'checkpoint.bin');
  writeFileSync(checkpointPath, first.checkpoint());

  // The child runs with this process's loader flags, so it runs TypeScript as tap does.
  const { stdout } = await promisify(execFile)(process.execPath, [
    ...process.execArgv,
    resumeScript,
    checkpointPath,
    '5',
    JSON.stringify(everything),
  ]);
  const resumed = JSON.parse(stdout) as { epochsDone: number; layers: unknown };
  t.equal(resumed.epochsDone, 10);
  t.same(resumed.layers, straight.model().layers, 'every parameter and running statistic is identical');
});

t.test('restoring rejects bytes that are not a checkpoint of this trainer', async (t) => {
  const trainer = Trainer.create(mlpSpec, train, dev);
  await trainer.run(2);
  const before = JSON.stringify(trainer.model());
  t.throws(() => trainer.restore(new Uint8Array([1, 2, 3])), { code: 'INVALID_CHECKPOINT' });
  const other = Trainer.create({ ...mlpSpec, ...everything }, train, dev);
  t.throws(() => trainer.restore(other.checkpoint()), { code: 'INVALID_CHECKPOINT', message: /another network/ });
  const truncated = trainer.checkpoint().slice(0, 100);
  t.throws(() => trainer.restore(truncated), { code: 'INVALID_CHECKPOINT' });
  t.equal(JSON.stringify(trainer.model()), before, 'a refused restore changes nothing');
});
