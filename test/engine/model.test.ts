import { createHash } from 'node:crypto';
import t from 'tap';
import { MODEL_FORMAT, Model, Trainer, readSavedModel, serializeModel, type SavedModel } from '../../src/engine/index.js';
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

/** A JSON value with every object's keys in the order `order` puts them, recursively. */
function withKeys(value: unknown, order: (keys: string[]) => string[]): unknown {
  if (Array.isArray(value)) return value.map((item) => withKeys(item, order));
  if (typeof value !== 'object' || value === null) return value;
  const object = value as Record<string, unknown>;
  return Object.fromEntries(order(Object.keys(object)).map((key) => [key, withKeys(object[key], order)]));
}

/** `text` (a saved model's JSON) with one base64 character of its first layer's weights changed. */
function withOneWeightCharacterChanged(text: string): string {
  const document = JSON.parse(text) as { layers: { weight: string }[] };
  const layer = document.layers[0] as { weight: string };
  layer.weight = `${layer.weight.slice(0, 10)}${layer.weight[10] === 'A' ? 'B' : 'A'}${layer.weight.slice(11)}`;
  return JSON.stringify(document);
}

t.test("serializeModel writes the SHA-256 of the content's canonical JSON, which survives re-indenting and reordering", async (t) => {
  const trainer = Trainer.create(batchNormSpec, train, dev);
  await trainer.run(2);
  const saved = trainer.model(['upper', 'lower'], { features: ['x1', 'x2'], label: 'moon' });
  t.equal(saved.checksum, undefined, 'the document in memory has none');
  const text = serializeModel(saved);
  const { checksum, ...content } = JSON.parse(text) as Record<string, unknown>;
  t.same(content, JSON.parse(JSON.stringify(saved)), 'the content is the model as it was');
  // RFC 8785 for this document (strings, integers and short decimals): keys sorted, no spaces.
  const canonical = JSON.stringify(withKeys(content, (keys) => [...keys].sort()));
  t.equal(checksum, `sha256:${createHash('sha256').update(canonical).digest('hex')}`, 'as docs/model-format.md says');

  const reordered = JSON.stringify(withKeys(JSON.parse(text), (keys) => [...keys].reverse()), null, 2);
  const original = await Model.load(text).predict(dev.x, dev.rows);
  const reread = await Model.load(reordered).predict(dev.x, dev.rows);
  t.same(Buffer.from(reread.outputs.buffer), Buffer.from(original.outputs.buffer), 're-indented, keys reversed: the same model');
  t.same(readSavedModel(text), JSON.parse(text), 'readSavedModel gives the document it checked');
});

t.test('a model whose content does not match its checksum is MODEL_CORRUPT, wherever the damage is; one without a checksum loads', async (t) => {
  const trainer = Trainer.create(batchNormSpec, train, dev);
  await trainer.run(2);
  const text = serializeModel(trainer.model());
  const corrupt = { code: 'MODEL_CORRUPT', message: /does not match its checksum: it was damaged after it was written/ };
  t.throws(() => Model.load(withOneWeightCharacterChanged(text)), corrupt, 'one base64 character of a weight');
  t.throws(() => Model.load(text.replace('"activation":"relu"', '"activation":"tanh"')), corrupt, 'a field, still a valid model');
  t.throws(() => Model.load(text.replace('"activation":"relu"', '"activation":"relv"')), corrupt, 'a field, no longer valid: damage first');
  t.throws(() => Model.load(text.replace(/"checksum":"sha256:[0-9a-f]/, '"checksum":"sha256:g')), corrupt, 'the checksum itself');
  t.throws(() => readSavedModel(withOneWeightCharacterChanged(text)), corrupt, 'readSavedModel checks it too');
  const document = JSON.parse(text) as SavedModel;
  t.throws(() => Model.load({ ...document, network: { ...document.network, initScale: 0.5 } }), corrupt, 'a document given as an object');
  t.throws(() => Model.load(text.slice(0, -10)), { code: 'INVALID_MODEL', message: /not JSON/ }, 'cut short: no longer JSON');

  const { checksum: _checksum, ...older } = document;
  t.equal(Model.load(JSON.stringify(older)).inputs, 2, 'a model written before checksums loads');
});
