import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Trainer, type EpochMetrics, type SavedModel } from '../../src/engine/index.js';
import { blobs } from '../../src/data/generators.js';
import { mlpSpec, moonsSplit } from '../fixtures/moons.js';
import { slowTrainer } from '../fixtures/slow.js';

const { train, dev } = moonsSplit();

function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

t.test('a learning rate set inside onEpoch applies from the very next epoch', async (t) => {
  const trainer = Trainer.create(mlpSpec, train);
  const history = await trainer.run(6, (metrics) => {
    if (metrics.epoch !== 2) return;
    trainer.setLearningRate(0.002);
    t.equal(trainer.nextLearningRate, 0.002, 'the next epoch will use it');
  });
  t.same(
    history.map((metrics) => metrics.lr),
    [0.01, 0.01, 0.002, 0.002, 0.002, 0.002],
  );
});

t.test('a learning rate set while an epoch trains applies from the next one', async (t) => {
  const trainer = Trainer.create(mlpSpec, train);
  // The listener holds epoch 2 until this thread has run on: without one, the three short
  // epochs may all be done before the rate is set.
  const running = trainer.run(3, () => undefined);
  trainer.setLearningRate(0.002);
  t.same(
    (await running).map((metrics) => metrics.lr),
    [0.01, 0.002, 0.002],
  );
});

t.test('the epoch that applies a named rate change reports it, and trains at exactly that rate under any decay', async (t) => {
  const trainer = Trainer.create({ ...mlpSpec, training: { ...mlpSpec.training, lrDecay: { type: 'sqrt', rate: 0.5 } } }, train);
  const history = await trainer.run(4, (metrics) => {
    if (metrics.epoch === 1) trainer.setLearningRate(0.004, 3);
  });
  t.same(
    history.map((metrics) => metrics.appliedRateChange),
    [undefined, 3, undefined, undefined],
    'epoch 2 alone applied change 3',
  );
  t.same(
    history.map((metrics) => metrics.lr),
    [0.01 * 0.5, 0.004, 0.004 / Math.sqrt(2), 0.004 / Math.sqrt(3)],
    'the decay restarted from the new rate',
  );
  for (const change of [0, -1, 1.5]) t.throws(() => trainer.setLearningRate(0.01, change), { code: 'INVALID_ARGUMENT' }, `change ${change}`);
});

t.test('cancel() inside onEpoch stops the run before another epoch starts', async (t) => {
  const trainer = Trainer.create({ ...mlpSpec, training: { ...mlpSpec.training, batchSize: 1 } }, train, dev);
  let inside: Uint8Array | undefined;
  let calls = 0;
  const error = await rejection(
    trainer.run(1000, (metrics) => {
      calls += 1;
      if (metrics.epoch !== 2) return;
      inside = trainer.checkpoint();
      trainer.cancel();
    }),
  );
  t.match(error, { code: 'CANCELLED', message: /before epoch 3/ });
  t.equal(calls, 2, 'no epoch is reported after the cancel');
  t.equal(trainer.epochsDone, 2);
  t.same(trainer.checkpoint(), inside, 'the trainer is exactly as it was at the end of epoch 2');
  await trainer.run(1);
  t.equal(trainer.epochsDone, 3, 'and it trains again');
});

t.test('cancel() stops a long epoch between mini-batches and undoes it', async (t) => {
  const trainer = slowTrainer();
  const before = trainer.checkpoint();
  const started = performance.now();
  const running = trainer.run(1);
  setTimeout(() => trainer.cancel(), 30);
  t.match(await rejection(running), { code: 'CANCELLED', message: /during epoch 1/ });
  const cancelledAfter = performance.now() - started;
  t.equal(trainer.epochsDone, 0);
  t.same(trainer.checkpoint(), before, 'the interrupted epoch left no trace');
  const [full] = (await trainer.run(1)) as [EpochMetrics];
  t.ok(
    cancelledAfter < full.seconds * 1000,
    `stopped after ${cancelledAfter.toFixed(0)} ms; a whole epoch takes ${(full.seconds * 1000).toFixed(0)} ms`,
  );
});

t.test('inside onEpoch the trainer is between epochs: it can be read and checkpointed', async (t) => {
  const trainer = Trainer.create(mlpSpec, train, dev);
  const checkpoints: Uint8Array[] = [];
  const refusals: Promise<unknown>[] = [];
  await trainer.run(3, (metrics) => {
    t.equal(trainer.epochsDone, metrics.epoch);
    checkpoints.push(trainer.checkpoint());
    t.equal(trainer.model().layers.length, 3);
    t.throws(() => trainer.restore(checkpoints[0] as Uint8Array), { code: 'BUSY' });
    refusals.push(rejection(trainer.run(1)), rejection(trainer.evaluate(dev)));
  });
  for (const refusal of await Promise.all(refusals)) t.match(refusal, { code: 'BUSY' });
  t.same(trainer.checkpoint(), checkpoints[2], 'the last epoch checkpointed inside onEpoch is the final state');

  const resumed = Trainer.create(mlpSpec, train, dev);
  resumed.restore(checkpoints[1] as Uint8Array);
  await resumed.run(1);
  t.same(resumed.checkpoint(), checkpoints[2], 'a checkpoint taken inside onEpoch resumes bit for bit');
});

t.test('runBatched hands epochs shorter than the interval over together, with the trainer at the last of them', async (t) => {
  const trainer = Trainer.create(mlpSpec, train, dev);
  const batches: EpochMetrics[][] = [];
  let inside: Uint8Array | undefined;
  const history = await trainer.runBatched(5, 3600, (batch) => {
    batches.push(batch);
    t.equal(trainer.epochsDone, batch[batch.length - 1]?.epoch, "epochsDone is the batch's last epoch");
    inside = trainer.checkpoint();
  });
  t.equal(batches.length, 1, 'one hand-over, after the last epoch');
  t.same(
    batches[0]?.map((metrics) => metrics.epoch),
    [1, 2, 3, 4, 5],
  );
  t.same(history, batches[0], 'the run resolves with the epochs handed over');

  const perEpoch = Trainer.create(mlpSpec, train, dev);
  let stoppedAt: SavedModel | undefined;
  const stopped = perEpoch.run(10, (metrics) => {
    if (metrics.epoch !== 5) return;
    stoppedAt = perEpoch.model();
    perEpoch.cancel();
  });
  t.match(await rejection(stopped), { code: 'CANCELLED' });
  const restored = Trainer.create(mlpSpec, train, dev);
  restored.restore(inside as Uint8Array);
  t.same(restored.model().layers, stoppedAt?.layers, 'the checkpoint holds the weights a per-epoch run has at epoch 5');
});

t.test('runBatched with an interval of 0 hands every epoch over alone', async (t) => {
  const trainer = Trainer.create(mlpSpec, train);
  const batches: EpochMetrics[][] = [];
  await trainer.runBatched(4, 0, (batch) => {
    batches.push(batch);
    t.equal(trainer.epochsDone, batch[0]?.epoch);
  });
  t.same(
    batches.map((batch) => batch.map((metrics) => metrics.epoch)),
    [[1], [2], [3], [4]],
  );
});

t.test('run() without a listener resolves with every epoch, trained as with one', async (t) => {
  const quiet = await Trainer.create(mlpSpec, train).run(7);
  const listened: EpochMetrics[] = [];
  await Trainer.create(mlpSpec, train).run(7, (metrics) => listened.push(metrics));
  t.same(
    quiet.map((metrics) => metrics.epoch),
    [1, 2, 3, 4, 5, 6, 7],
  );
  t.same(
    quiet.map((metrics) => metrics.train.loss),
    listened.map((metrics) => metrics.train.loss),
  );
});

t.test('while an epoch trains, every other call is refused with BUSY', async (t) => {
  const trainer = Trainer.create(mlpSpec, train, dev);
  const running = trainer.run(20);
  t.throws(() => trainer.checkpoint(), { code: 'BUSY' });
  t.throws(() => trainer.model(), { code: 'BUSY' });
  t.throws(() => trainer.epochsDone, { code: 'BUSY' });
  t.throws(() => trainer.restore(new Uint8Array(8)), { code: 'BUSY' });
  await t.rejects(trainer.run(1), { code: 'BUSY' });
  await t.rejects(trainer.evaluate(dev), { code: 'BUSY' });
  t.equal((await running).length, 20, 'the run itself goes on');
  t.equal(trainer.epochsDone, 20);
});

t.test('evaluate() holds the trainer too; a rate set meanwhile applies after it', async (t) => {
  const trainer = Trainer.create(mlpSpec, train, dev);
  const scoring = trainer.evaluate(dev);
  t.throws(() => trainer.checkpoint(), { code: 'BUSY', message: /evaluate/ });
  trainer.setLearningRate(0.003);
  await scoring;
  t.equal(trainer.nextLearningRate, 0.003);
  t.equal((await trainer.epoch()).lr, 0.003);
});

t.test('an error thrown by onEpoch stops the run and rejects with it', async (t) => {
  const trainer = Trainer.create(mlpSpec, train);
  let calls = 0;
  const error = await rejection(
    trainer.run(50, () => {
      calls += 1;
      throw new Error('the listener failed');
    }),
  );
  t.match(error, { message: 'the listener failed' });
  t.equal(calls, 1);
  t.equal(trainer.epochsDone, 1, 'no epoch starts after the listener threw');
  await trainer.run(1);
  t.equal(trainer.epochsDone, 2, 'the trainer is free again');
});

t.test('the event loop keeps turning while a long full-batch epoch trains', async (t) => {
  const data = blobs({ samples: 6000, classes: 4, features: 256, seed: 1 });
  const trainer = Trainer.create(
    {
      model: { layers: [{ units: 512, activation: 'relu' }, { units: 512, activation: 'relu' }, { units: 4, activation: 'softmax' }] },
      training: { epochs: 1, batchSize: 6000, optimizer: { type: 'sgd' } },
    },
    data,
  );
  let ticks = 0;
  const timer = setInterval(() => (ticks += 1), 5);
  const started = performance.now();
  await trainer.run(3);
  const elapsed = performance.now() - started;
  clearInterval(timer);
  t.ok(elapsed > 50, `the epochs took ${elapsed.toFixed(0)} ms`);
  t.ok(ticks >= elapsed / 5 / 4, `${ticks} timer ticks in ${elapsed.toFixed(0)} ms`);
});

t.test('process.exit() during a run exits at once, not after the last epoch', async (t) => {
  const script = fileURLToPath(new URL('../fixtures/exit-during-run.ts', import.meta.url));
  const started = performance.now();
  // The child runs with this process's loader flags, so it runs TypeScript as tap does.
  const exitCode = await new Promise<number | null>((resolve) => {
    execFile(process.execPath, [...process.execArgv, script], { timeout: 60_000 }, (error) =>
      resolve(error === null ? 0 : typeof error.code === 'number' ? error.code : null),
    );
  });
  const elapsed = performance.now() - started;
  t.equal(exitCode, 3);
  t.ok(elapsed < 15_000, `the child exited after ${elapsed.toFixed(0)} ms; its run would take about a minute`);
});
