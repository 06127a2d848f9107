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
  t.equal(JSON.stringify(trainer.model()), before, 'a refused restore changes nothing');
});

t.test('restoring refuses a damaged checkpoint as damaged: any one bit flipped, eight bytes XORed, bytes cut off', async (t) => {
  const source = Trainer.create({ ...mlpSpec, ...everything }, train, dev);
  await source.run(2);
  const valid = source.checkpoint();
  const trainer = Trainer.create({ ...mlpSpec, ...everything }, train, dev);
  await trainer.run(1);
  const before = JSON.stringify(trainer.model());
  const codeOf = (bytes: Uint8Array) => {
    try {
      trainer.restore(bytes);
      return 'restored';
    } catch (error) {
      return (error as { code: string }).code;
    }
  };

  const damaged = Uint8Array.from(valid);
  const missed: string[] = [];
  for (let bit = 0; bit < valid.length * 8; bit += 1) {
    const index = Math.floor(bit / 8);
    damaged[index] = (valid[index] as number) ^ (1 << (bit % 8));
    const code = codeOf(damaged);
    damaged[index] = valid[index] as number;
    if (code !== 'CHECKPOINT_CORRUPT') missed.push(`bit ${bit}: ${code}`);
  }
  t.same(missed, [], `each of the ${valid.length * 8} one-bit flips, the magic's and the version's too, is CHECKPOINT_CORRUPT`);

  // Eight bytes of the parameters (they follow the header and the fingerprint).
  const xored = Uint8Array.from(valid);
  for (let index = 200; index < 208; index += 1) xored[index] = (xored[index] as number) ^ 0xa5;
  t.throws(() => trainer.restore(xored), { code: 'CHECKPOINT_CORRUPT', message: /do not match their checksum/ });
  t.throws(() => trainer.restore(valid.slice(0, 100)), { code: 'CHECKPOINT_CORRUPT' }, 'cut short');
  t.equal(trainer.epochsDone, 1);
  t.equal(JSON.stringify(trainer.model()), before, 'a refused restore changes nothing');
  trainer.restore(valid);
  t.equal(trainer.epochsDone, 2, 'the undamaged checkpoint restores');
});
