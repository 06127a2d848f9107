import t from 'tap';
import { EngineError, Model, Trainer, type EpochMetrics } from '../../src/engine/index.js';
import { blobs } from '../../src/data/generators.js';
import { mlpSpec, moonsSplit } from '../fixtures/moons.js';

const { train, dev } = moonsSplit();

t.test('an MLP learns two moons to more than 95% accuracy', async (t) => {
  const trainer = Trainer.create(mlpSpec, train, dev);
  const history = await trainer.run(60);
  const last = history[history.length - 1] as EpochMetrics;
  t.ok((last.train.accuracy as number) > 0.95, `train accuracy ${last.train.accuracy}`);
  t.ok((last.dev?.accuracy as number) > 0.95, `dev accuracy ${last.dev?.accuracy}`);
  t.ok(last.train.loss < (history[0] as EpochMetrics).train.loss / 3, 'the cost fell');
  t.equal(trainer.epochsDone, 60);
});

t.test('run() reports every epoch, in order, with the event fields', async (t) => {
  const trainer = Trainer.create(mlpSpec, train, dev);
  const seen: number[] = [];
  const history = await trainer.run(7, (metrics) => seen.push(metrics.epoch));
  t.same(seen, [1, 2, 3, 4, 5, 6, 7]);
  const first = history[0] as EpochMetrics;
  t.equal(first.lr, 0.01);
  t.ok(first.seconds > 0 && first.samplesPerSecond > 0);
  t.equal(first.layers.length, 3);
  for (const layer of first.layers) t.ok(layer.weightNorm > 0 && layer.gradNorm > 0);
  t.ok(first.dev !== undefined && first.dev.accuracy !== undefined);
});

t.test('the same spec and seed give the same weights, bit for bit', async (t) => {
  const weights = async (seed: number) => {
    const trainer = Trainer.create({ ...mlpSpec, training: { ...mlpSpec.training, seed } }, train, dev);
    await trainer.run(5);
    return JSON.stringify(trainer.model().layers);
  };
  const first = await weights(11);
  t.equal(await weights(11), first);
  t.not(await weights(12), first, 'another seed, other weights');
});

t.test('a learning rate set during a run applies from the next epoch to start', async (t) => {
  // One-row batches make each epoch long enough that the run is still going when the
  // rate is set; the training thread may be an epoch or two ahead of the callbacks.
  const trainer = Trainer.create({ ...mlpSpec, training: { ...mlpSpec.training, batchSize: 1 } }, train);
  const rates: number[] = [];
  await trainer.run(100, (metrics) => {
    rates.push(metrics.lr);
    if (metrics.epoch === 1) trainer.setLearningRate(0.002);
  });
  const changed = rates.indexOf(0.002);
  t.ok(changed >= 1, `the first epoch kept its rate; the change came at epoch ${changed + 1}`);
  t.ok(changed < 50, 'the change came within the run');
  t.same(rates.slice(0, changed), Array(changed).fill(0.01), 'before: the old rate');
  t.same(rates.slice(changed), Array(100 - changed).fill(0.002), 'from then on: the new one');
  t.equal(trainer.nextLearningRate, 0.002);
});

t.test('learning-rate decay restarts from a rate set by hand', async (t) => {
  const trainer = Trainer.create(
    { ...mlpSpec, training: { ...mlpSpec.training, lrDecay: { type: 'inverse-time', rate: 1 } } },
    train,
  );
  const rates = (await trainer.run(3)).map((metrics) => metrics.lr);
  t.same(rates, [0.01, 0.005, 0.01 / 3]);
  trainer.setLearningRate(0.004);
  t.same((await trainer.run(2)).map((metrics) => metrics.lr), [0.004, 0.002]);
});

t.test('the event loop keeps turning while a long epoch trains', async (t) => {
  const data = blobs({ samples: 6000, classes: 4, seed: 1 }, 256);
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

t.test('cancel() stops a run between mini-batches, and the trainer goes on', async (t) => {
  const trainer = Trainer.create({ ...mlpSpec, training: { ...mlpSpec.training, batchSize: 1 } }, train, dev);
  let completed = 0;
  const running = trainer.run(1000, () => {
    completed += 1;
    if (completed === 2) trainer.cancel();
  });
  await t.rejects(running, { code: 'CANCELLED' });
  t.ok(trainer.epochsDone >= 2 && trainer.epochsDone <= 3, `stopped after ${trainer.epochsDone} epochs`);
  const before = trainer.epochsDone;
  t.ok(trainer.checkpoint().length > 0, 'a cancelled trainer can be checkpointed');
  await trainer.run(1);
  t.equal(trainer.epochsDone, before + 1, 'and trains again');
});

t.test('a second call while a run is in progress is refused with BUSY', async (t) => {
  const trainer = Trainer.create(mlpSpec, train, dev);
  const running = trainer.run(20);
  t.throws(() => trainer.checkpoint(), { code: 'BUSY' });
  await t.rejects(trainer.run(1), { code: 'BUSY' });
  await t.rejects(trainer.evaluate(dev), { code: 'BUSY' });
  await running;
  t.equal(trainer.epochsDone, 20);
});

t.test('an error thrown by onEpoch stops the run and rejects with it', async (t) => {
  // Long epochs (one-row batches), so the run is still going when the error comes.
  const trainer = Trainer.create({ ...mlpSpec, training: { ...mlpSpec.training, batchSize: 1 } }, train);
  await t.rejects(
    trainer.run(1000, () => {
      throw new Error('the listener failed');
    }),
    { message: 'the listener failed' },
  );
  t.ok(trainer.epochsDone < 1000, `stopped after ${trainer.epochsDone} epochs`);
});

t.test('a diverging run fails with DIVERGED, naming the epoch and a remedy', async (t) => {
  const regression = { ...train, y: Float32Array.from({ length: train.rows }, (_, row) => 1e6 * row) };
  const trainer = Trainer.create(
    {
      model: { layers: [{ units: 8, activation: 'relu' }, { units: 1, activation: 'linear' }] },
      training: { epochs: 5, optimizer: { type: 'sgd', learningRate: 100 } },
    },
    regression,
  );
  const error = await trainer.run(5).catch((caught: unknown) => caught);
  t.type(error, EngineError);
  t.match(error, { code: 'DIVERGED', message: /epoch \d+.*lower learning rate/ });
});

t.test('softmax regression and logistic regression train without hidden layers', async (t) => {
  const three = blobs({ samples: 300, classes: 3, noise: 1, seed: 5 });
  const softmax = Trainer.create(
    { model: { layers: [{ units: 3, activation: 'softmax' }] }, training: { epochs: 30, optimizer: { type: 'sgd', learningRate: 0.5 } } },
    three,
  );
  const softmaxLast = (await softmax.run(30)).pop() as EpochMetrics;
  t.ok((softmaxLast.train.accuracy as number) > 0.95, `softmax regression: ${softmaxLast.train.accuracy}`);

  const two = blobs({ samples: 300, classes: 2, noise: 1, seed: 5 });
  const logistic = Trainer.create(
    { model: { layers: [{ units: 1, activation: 'sigmoid' }] }, training: { epochs: 30, optimizer: { type: 'momentum', learningRate: 0.5 } } },
    two,
  );
  const logisticLast = (await logistic.run(30)).pop() as EpochMetrics;
  t.ok((logisticLast.train.accuracy as number) > 0.95, `logistic regression: ${logisticLast.train.accuracy}`);
  const model = Model.load(logistic.model());
  const prediction = await model.predict(two.x.subarray(0, 20), 10);
  t.equal(prediction.classes?.length, 10);
});

t.test('evaluate() scores a part in inference mode', async (t) => {
  const trainer = Trainer.create(mlpSpec, train, dev);
  const history = await trainer.run(10);
  const scored = await trainer.evaluate(dev);
  const last = history[history.length - 1] as EpochMetrics;
  t.equal(scored.loss, last.dev?.loss, 'the same figure as the epoch event');
  t.equal(scored.accuracy, last.dev?.accuracy);
});
