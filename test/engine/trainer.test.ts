import t from 'tap';
import { EngineError, Model, Trainer, checkTrainerSpec, packEpochs, unpackEpochs, type Dataset, type EpochMetrics, type TrainerSpec } from '../../src/engine/index.js';
import { blobs } from '../../src/data/generators.js';
import { imbalanced } from '../fixtures/imbalanced.js';
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

// Class weights (training.classWeights): the cost training minimizes weighs each row's loss
// by its class's weight, J = (1/m) sum w_y L (Keras's class_weight).
const sigmoidSpec = (classWeights?: TrainerSpec['training']['classWeights'], extra: Partial<TrainerSpec['training']> = {}): TrainerSpec => ({
  model: { layers: [{ units: 8, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }] },
  training: { epochs: 20, batchSize: 64, seed: 3, optimizer: { type: 'adam', learningRate: 0.01 }, ...(classWeights === undefined ? {} : { classWeights }), ...extra },
});

/** The recall of class 1: the share of its rows predicted as it. */
async function recallOfClassOne(trainer: Trainer, data: Dataset): Promise<number> {
  const { classes } = await Model.load(trainer.model()).predict(data.x, data.rows);
  let found = 0;
  let rows = 0;
  for (let row = 0; row < data.rows; row += 1) {
    if (data.y[row] !== 1) continue;
    rows += 1;
    if (classes?.[row] === 1) found += 1;
  }
  return found / rows;
}

t.test('"balanced" class weights are n / (classes x count) over the training rows; a map names classes', async (t) => {
  const rare = imbalanced(200, 20);
  t.same(Trainer.create(sigmoidSpec('balanced'), rare).classWeights, { '0': 200 / (2 * 190), '1': 200 / (2 * 10) }, "scikit-learn's compute_class_weight");
  t.same(Trainer.create(sigmoidSpec({ '1': 8 }), rare).classWeights, { '0': 1, '1': 8 }, 'a class left out weighs 1');
  const named = Trainer.create(sigmoidSpec({ rare: 8 }), rare, undefined, { classNames: ['common', 'rare'] });
  t.same(named.classWeights, { common: 1, rare: 8 }, 'by the class names, when the data has them');
  t.equal(Trainer.create(sigmoidSpec(), rare).classWeights, undefined, 'none unless asked for');
  t.throws(() => Trainer.create(sigmoidSpec({ rare: 8 }), rare), { code: 'INVALID_SPEC', path: '/training/classWeights/rare', message: /no class "rare" \(its classes: "0", "1"\)/ });
  t.throws(() => Trainer.create(sigmoidSpec({ 'a/b': 8 }), rare), { code: 'INVALID_SPEC', path: '/training/classWeights/a~1b' }, 'the path escapes the name (RFC 6901)');
  t.throws(() => Trainer.create(sigmoidSpec({ constructor: 2 }), rare), { code: 'INVALID_SPEC', path: '/training/classWeights/constructor' });
  t.throws(() => Trainer.create(sigmoidSpec({ '1': 0 }), rare), { code: 'INVALID_SPEC', path: '/training/classWeights/1' });
  t.throws(() => Trainer.create(sigmoidSpec({ '1': Number.NaN }), rare), { code: 'INVALID_SPEC', path: '/training/classWeights/1' });
  const regression: TrainerSpec = { model: { layers: [{ units: 1, activation: 'linear' }] }, training: { epochs: 1, classWeights: 'balanced' } };
  t.throws(() => Trainer.create(regression, rare), { code: 'INVALID_SPEC', path: '/training/classWeights', message: /need a classifier/ });
  const labels: TrainerSpec = { model: { layers: [{ units: 2, activation: 'sigmoid' }] }, training: { epochs: 1, classWeights: 'balanced' } };
  t.throws(() => checkTrainerSpec(labels), { code: 'INVALID_SPEC', path: '/training/classWeights' }, 'two sigmoid units are two labels, not two classes');
  const three = blobs({ samples: 90, classes: 3, seed: 1 });
  const softmax: TrainerSpec = { model: { layers: [{ units: 3, activation: 'softmax' }] }, training: { epochs: 1, classWeights: 'balanced' } };
  t.same(Trainer.create(softmax, three).classWeights, { '0': 1, '1': 1, '2': 1 }, 'balanced classes weigh 1 each');
});

t.test('with "balanced" weights the rare class of a 95/5 set is found far more often', async (t) => {
  const train = imbalanced(2000, 20, 1);
  const test = imbalanced(2000, 20, 2);
  const plain = Trainer.create(sigmoidSpec(), train);
  await plain.run(20);
  const balanced = Trainer.create(sigmoidSpec('balanced'), train);
  await balanced.run(20);
  const without = await recallOfClassOne(plain, test);
  const withWeights = await recallOfClassOne(balanced, test);
  t.ok(withWeights > without + 0.2, `recall of the rare class: ${without} unweighted, ${withWeights} balanced`);
});

t.test('class weights scale the gradient: weights of 2 double it, weights of 1 change nothing', async (t) => {
  const data = imbalanced(200, 20);
  // One full batch: the first epoch's gradient norms are those of the initial weights.
  const firstEpoch = async (classWeights?: TrainerSpec['training']['classWeights']) => {
    const trainer = Trainer.create(sigmoidSpec(classWeights, { batchSize: 200 }), data);
    const metrics = await trainer.epoch();
    return { norms: metrics.layers.map((layer) => layer.gradNorm), loss: metrics.train.loss, model: trainer.model().layers };
  };
  const none = await firstEpoch();
  const doubled = await firstEpoch({ '0': 2, '1': 2 });
  t.same(doubled.norms, none.norms.map((norm) => 2 * norm), 'every row weighs twice: twice the gradient');
  t.equal(doubled.loss, none.loss, 'the reported loss is the unweighted one');
  const ones = await firstEpoch({ '0': 1, '1': 1 });
  t.same(ones.model, none.model, 'weights of 1: the same weights, bit for bit');
  const rare = await firstEpoch({ '1': 10 });
  t.not(rare.norms[0], none.norms[0], 'other weights, another gradient');
});

t.test('evaluate() reports the unweighted loss of a class-weighted model', async (t) => {
  const data = imbalanced(400, 20);
  const trainer = Trainer.create(sigmoidSpec({ '1': 20 }), data);
  await trainer.run(5);
  const { outputs } = await Model.load(trainer.model()).predict(data.x, data.rows);
  let total = 0;
  for (let row = 0; row < data.rows; row += 1) {
    const p = outputs[row] as number;
    total -= data.y[row] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  const scored = await trainer.evaluate(data);
  t.ok(Math.abs(scored.loss - total / data.rows) < 1e-5 * scored.loss, `evaluate ${scored.loss}, mean binary cross-entropy ${total / data.rows}`);
});

t.test('epochs packed as rows of numbers for another process unpack as they were', async (t) => {
  const trainer = Trainer.create(mlpSpec, train, dev);
  trainer.setLearningRate(0.05, 1);
  const trained = await trainer.run(3);
  const withF1 = trained.map((epoch, index) => (index === 1 && epoch.dev !== undefined ? { ...epoch, dev: { ...epoch.dev, f1: 0.25 } } : epoch));
  t.ok(trained.some((epoch) => epoch.appliedRateChange !== undefined), 'an epoch that applied a rate change is among them');
  t.same(unpackEpochs(packEpochs(withF1)), withF1, 'train and dev parts, a dev F1, the applied change, every layer');
  const withoutDev = await Trainer.create(mlpSpec, train).run(2);
  t.same(unpackEpochs(packEpochs(withoutDev)), withoutDev, 'epochs without a dev part');
  const regression = [{ epoch: 4, lr: 0.1, seconds: 0.5, samplesPerSecond: 1000, train: { loss: 0.25 }, layers: [{ weightNorm: 1, gradNorm: 0.5 }] }];
  t.same(unpackEpochs(packEpochs(regression)), regression, 'a loss without an accuracy');
  t.same(unpackEpochs(packEpochs([])), [], 'no epochs');
});
