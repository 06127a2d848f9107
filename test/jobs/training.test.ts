import t from 'tap';
import { Trainer } from '../../src/engine/index.js';
import { EarlyStopper, trainJob } from '../../src/jobs/training.js';
import type { JobSpec } from '../../src/jobs/spec.js';
import { moonsSplit } from '../fixtures/moons.js';

const spec = (earlyStopping?: JobSpec['training']['earlyStopping']): JobSpec => ({
  dataset: { builtin: 'moons' },
  model: { layers: [{ units: 8, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }] },
  training: { epochs: 12, batchSize: 32, seed: 4, optimizer: { type: 'adam', learningRate: 0.01 }, ...(earlyStopping ? { earlyStopping } : {}) },
});

t.test('EarlyStopper counts epochs without an improvement larger than minDelta', async (t) => {
  const stopper = new EarlyStopper({ metric: 'dev.loss', patience: 2, minDelta: 0.01 });
  const epoch = (n: number, loss: number) => ({ epoch: n, train: { loss: 1 }, dev: { loss } });
  t.same(stopper.observe(epoch(1, 0.5)), { improved: true, stop: false });
  t.same(stopper.observe(epoch(2, 0.495)), { improved: false, stop: false }, 'better by less than minDelta');
  t.same(stopper.observe(epoch(3, 0.3)), { improved: true, stop: false });
  t.same(stopper.observe(epoch(4, 0.31)), { improved: false, stop: false });
  t.same(stopper.observe(epoch(5, 0.32)), { improved: false, stop: true });
  t.equal(stopper.bestEpoch, 3);
  const accuracy = new EarlyStopper({ metric: 'dev.accuracy', patience: 1 }, [{ epoch: 1, train: { loss: 1 }, dev: { loss: 1, accuracy: 0.9 } }]);
  t.same(accuracy.observe({ epoch: 2, train: { loss: 1 }, dev: { loss: 1, accuracy: 0.8 } }), { improved: false, stop: true }, 'history counts; accuracy goes up');
});

t.test('trainJob stops after `patience` epochs without improvement and restores the best weights', async (t) => {
  const { train, dev } = moonsSplit();
  // A minDelta no epoch can beat: epoch 1 stays the best, and training stops after epoch 3.
  const rule = { metric: 'train.loss' as const, patience: 2, minDelta: 100, restoreBest: true };
  const trainer = Trainer.create({ model: spec().model, training: spec().training }, train, dev);
  const seen: [number, boolean][] = [];
  const result = await trainJob(trainer, spec(rule), { onEpochs: (epochs, best) => seen.push(...epochs.map((metrics) => [metrics.epoch, best] as [number, boolean])) });
  t.same(seen, [[1, true], [2, false], [3, false]]);
  t.same(result, { stoppedAt: 3, bestEpoch: 1, restored: true });
  t.equal(trainer.epochsDone, 1, "the trainer holds epoch 1's weights");

  const straight = Trainer.create({ model: spec().model, training: spec().training }, train, dev);
  await straight.run(1);
  t.same(trainer.model().layers, straight.model().layers, 'bit for bit the weights after epoch 1');
});

t.test('without early stopping every epoch runs', async (t) => {
  const { train, dev } = moonsSplit();
  const trainer = Trainer.create({ model: spec().model, training: spec().training }, train, dev);
  let epochs = 0;
  t.equal(await trainJob(trainer, spec(), { onEpochs: (batch) => (epochs += batch.length) }), undefined);
  t.equal(epochs, 12);
});

t.test('without early stopping, short epochs are handed over together: each once, in order, the trainer after the last of them', async (t) => {
  const { train, dev } = moonsSplit();
  const long: JobSpec = { ...spec(), training: { ...spec().training, epochs: 300 } };
  const trainer = Trainer.create({ model: long.model, training: long.training }, train, dev);
  const handedOver: number[][] = [];
  const trainerAt: number[] = [];
  await trainJob(trainer, long, {
    onEpochs: (epochs) => {
      handedOver.push(epochs.map((metrics) => metrics.epoch));
      trainerAt.push(trainer.epochsDone);
    },
  });
  t.same(handedOver.flat(), Array.from({ length: 300 }, (_, index) => index + 1));
  t.ok(handedOver.length < 300, `${handedOver.length} hand-overs for 300 epochs`);
  t.same(trainerAt, handedOver.map((epochs) => epochs[epochs.length - 1]), "each hand-over's trainer is at its last epoch");
});
