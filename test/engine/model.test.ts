import t from 'tap';
import { MODEL_FORMAT, Model, Trainer } from '../../src/engine/index.js';
import { mlpSpec, moonsSplit } from '../fixtures/moons.js';

const { train, dev } = moonsSplit();

const batchNormSpec = {
  ...mlpSpec,
  model: {
    layers: [
      { units: 16, activation: 'relu' as const, batchNorm: true, dropout: 0.2 },
      { units: 2, activation: 'softmax' as const },
    ],
  },
};

t.test('a loaded model predicts bit for bit what the saved one did, through JSON text', async (t) => {
  const trainer = Trainer.create(batchNormSpec, train, dev);
  await trainer.run(10);
  const original = Model.load(trainer.model());
  const reloaded = Model.load(JSON.stringify(original.save()));
  const before = await original.predict(dev.x, dev.rows);
  const after = await reloaded.predict(dev.x, dev.rows);
  t.same(Buffer.from(after.outputs.buffer), Buffer.from(before.outputs.buffer));
  t.same(after.classes, before.classes);
});

t.test('predictions are probabilities and classes, in inference mode', async (t) => {
  const trainer = Trainer.create(batchNormSpec, train, dev);
  await trainer.run(30);
  const model = Model.load(trainer.model(['upper', 'lower']));
  t.same(model.classNames, ['upper', 'lower']);
  t.equal(model.inputs, 2);
  t.equal(model.outputs, 2);
  const { outputs, classes } = await model.predict(dev.x, dev.rows);
  t.equal(outputs.length, dev.rows * 2);
  let correct = 0;
  for (let row = 0; row < dev.rows; row += 1) {
    const first = outputs[2 * row] as number;
    const second = outputs[2 * row + 1] as number;
    t.ok(Math.abs(first + second - 1) < 1e-6, 'each row sums to 1');
    t.equal(classes?.[row], second > first ? 1 : 0);
    if (classes?.[row] === dev.y[row]) correct += 1;
  }
  const scored = await trainer.evaluate(dev);
  t.equal(correct / dev.rows, scored.accuracy, 'the accuracy evaluate() reports, dropout off');
  const again = await model.predict(dev.x, dev.rows);
  t.same(again.outputs, outputs, 'inference is deterministic: no dropout, running statistics');
});

t.test('the saved model is the documented format', async (t) => {
  const trainer = Trainer.create(batchNormSpec, train);
  const saved = trainer.model();
  t.equal(saved.format, MODEL_FORMAT);
  t.equal(saved.version, 1);
  t.same(saved.network.layers[0], { units: 16, activation: 'relu', batchNorm: true, dropout: 0.2 });
  t.equal(saved.network.loss, 'cross-entropy');
  const [hidden, output] = saved.layers as unknown as [Record<string, string>, Record<string, string>];
  t.same(Object.keys(hidden).sort(), ['beta', 'gamma', 'runningMean', 'runningVar', 'weight']);
  t.same(Object.keys(output).sort(), ['bias', 'weight']);
  const weight = Buffer.from(hidden.weight as string, 'base64');
  t.equal(weight.byteLength, 16 * 2 * 4, 'float32: units x inputs x 4 bytes');
  t.equal(Buffer.from(hidden.gamma as string, 'base64').readFloatLE(0), 1, 'little-endian float32; gamma starts at 1');
  const shift = Buffer.from(saved.normalization.shift, 'base64');
  let mean = 0;
  for (let row = 0; row < train.rows; row += 1) mean += train.x[row * 2] as number;
  t.ok(Math.abs(shift.readFloatLE(0) - mean / train.rows) < 1e-5, 'standard normalization: the training mean');
});

t.test("a saved model records its training data's columns when told them, and checks their count", async (t) => {
  const trainer = Trainer.create(mlpSpec, train);
  const saved = trainer.model(['lower', 'upper'], { features: ['x1', 'x2'], label: 'moon' });
  t.same([saved.features, saved.label], [['x1', 'x2'], 'moon']);
  const model = Model.load(JSON.stringify(saved));
  t.same([model.featureNames, model.labelName, model.classNames], [['x1', 'x2'], 'moon', ['lower', 'upper']]);
  const bare = Model.load(trainer.model());
  t.same([bare.featureNames, bare.labelName], [undefined, undefined], 'both are optional');
  t.throws(() => trainer.model(undefined, { features: ['x1'] }), { code: 'SHAPE_MISMATCH' });
  t.throws(() => Model.load({ ...saved, features: ['x1', 'x2', 'x3'] }), { code: 'INVALID_MODEL', path: '/features' });
});
