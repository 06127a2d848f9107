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
