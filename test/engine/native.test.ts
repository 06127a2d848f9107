// The addon itself, called as carelessly as JavaScript allows: whatever it is given, it
// throws an Error with a code and the process lives on.
import t from 'tap';
import { addon, type NativeData, type NativeModelState } from '../../src/engine/native.js';
import { resolveNetwork, resolveTraining } from '../../src/engine/config.js';
import { mlpSpec, moonsSplit } from '../fixtures/moons.js';

const { train } = moonsSplit();
const network = resolveNetwork(mlpSpec.model, undefined, 2);
const training = resolveTraining(mlpSpec.training, undefined);
const data: NativeData = { x: train.x, y: train.y, rows: train.rows, features: train.features };

type Loose = Record<string, any>;
const loose = <T>(value: T) => structuredClone(value) as unknown as Loose;
// Typed arrays are copied by structuredClone, so data keep their kind.
const looseData = () => ({ ...data }) as Loose;

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}

t.test('arguments of the wrong kind give a TypeError with code INVALID_ARGUMENT', async (t) => {
  const Trainer = addon.Trainer as unknown as new (...args: unknown[]) => unknown;
  const cases: [string, () => unknown][] = [
    ['no arguments', () => new Trainer()],
    ['numbers for objects', () => new Trainer(1, 2, 3, 4)],
    ['an array for the network', () => new Trainer([], training, data, null)],
    ['a missing field', () => new Trainer({ ...network, inputs: undefined }, training, data, null)],
    ['units as a string', () => {
      const wrong = loose(network);
      wrong.layers[0].units = '16';
      return new Trainer(wrong, training, data, null);
    }],
    ['inputs as NaN', () => new Trainer({ ...network, inputs: Number.NaN }, training, data, null)],
    ['inputs beyond an int', () => new Trainer({ ...network, inputs: 2 ** 40 }, training, data, null)],
    ['layers as an object', () => new Trainer({ ...network, layers: {} }, training, data, null)],
    ['a negative seed', () => new Trainer(network, { ...training, seed: -1 }, data, null)],
    ['a fractional seed', () => new Trainer(network, { ...training, seed: 1.5 }, data, null)],
    ['no optimizer', () => new Trainer(network, { ...training, optimizer: null }, data, null)],
    ['features as a Float64Array', () => new Trainer(network, training, { ...looseData(), x: new Float64Array(data.x) }, null)],
    ['features as a JS array', () => new Trainer(network, training, { ...looseData(), x: Array.from(data.x) }, null)],
    ['rows as Infinity', () => new Trainer(network, training, { ...looseData(), rows: Infinity }, null)],
    ['a string for dev', () => new Trainer(network, training, data, 'dev')],
    ['class weights as a JS array', () => new Trainer(network, { ...training, classWeights: [1, 2] }, data, null)],
  ];
  for (const [what, action] of cases) {
    const error = thrown(action);
    t.type(error, TypeError, what);
    t.match(error, { code: 'INVALID_ARGUMENT' }, what);
  }
});

t.test('values the engine cannot use give INVALID_SPEC or SHAPE_MISMATCH', async (t) => {
  const Trainer = addon.Trainer as unknown as new (...args: unknown[]) => unknown;
  const withLayer = (edit: (layer: Loose) => void) => {
    const wrong = loose(network);
    edit(wrong.layers[0]);
    return wrong;
  };
  const cases: [string, () => unknown, string][] = [
    ['an unknown activation', () => new Trainer(withLayer((layer) => (layer.activation = 'gelu')), training, data, null), 'INVALID_SPEC'],
    ['dropout of NaN', () => new Trainer(withLayer((layer) => (layer.dropout = Number.NaN)), training, data, null), 'INVALID_SPEC'],
    ['negative units', () => new Trainer(withLayer((layer) => (layer.units = -4)), training, data, null), 'INVALID_SPEC'],
    ['no layers', () => new Trainer({ ...network, layers: [] }, training, data, null), 'INVALID_SPEC'],
    [
      'an infinite learning rate',
      () => new Trainer(network, { ...training, optimizer: { ...training.optimizer, learningRate: Infinity } }, data, null),
      'INVALID_SPEC',
    ],
    ['a batch size of 0', () => new Trainer(network, { ...training, batchSize: 0 }, data, null), 'INVALID_SPEC'],
    ['a class weight of 0', () => new Trainer(network, { ...training, classWeights: new Float32Array([1, 0]) }, data, null), 'INVALID_SPEC'],
    ['x shorter than rows x features', () => new Trainer(network, training, { ...data, rows: data.rows + 1 }, null), 'SHAPE_MISMATCH'],
    ['negative features', () => new Trainer(network, training, { ...data, features: -2 }, null), 'SHAPE_MISMATCH'],
  ];
  for (const [what, action, code] of cases) t.match(thrown(action), { code }, what);
});

t.test('calls on a trainer check their arguments', async (t) => {
  const trainer = new addon.Trainer(network, training, data, null) as unknown as Loose;
  for (const epochs of [0, -1, 1.5, Number.NaN, 1e12, '3']) {
    t.match(thrown(() => trainer.train(epochs, () => undefined, 0)), { code: 'INVALID_ARGUMENT' }, `epochs ${String(epochs)}`);
  }
  t.match(thrown(() => trainer.train(1, undefined, 0)), { code: 'INVALID_ARGUMENT' }, 'no listener');
  for (const interval of [-1, Number.NaN, '1', undefined]) {
    const what = `reportEverySeconds ${String(interval)}`;
    t.match(thrown(() => trainer.train(1, () => undefined, interval)), { code: 'INVALID_ARGUMENT' }, what);
  }
  t.match(thrown(() => trainer.restore(new Float32Array(4))), { code: 'INVALID_ARGUMENT' });
  t.match(thrown(() => trainer.restore()), { code: 'INVALID_ARGUMENT' });
  t.match(thrown(() => trainer.restore(new Uint8Array(0))), { code: 'INVALID_CHECKPOINT' });
  t.match(thrown(() => trainer.setLearningRate('fast')), { code: 'INVALID_ARGUMENT' });
  t.match(thrown(() => trainer.setLearningRate(0)), { code: 'INVALID_SPEC' });
  t.match(thrown(() => trainer.evaluate({})), { code: 'INVALID_ARGUMENT' });
  t.ok(thrown(() => (addon.Trainer.prototype as unknown as Loose).checkpoint.call({})) instanceof Error, 'a method on a foreign object');
  t.ok(thrown(() => (addon.Trainer as unknown as () => unknown)()) instanceof TypeError, 'the class called without new');
  t.equal(trainer.epochsDone(), 0, 'and the trainer is untouched');
});

t.test('a model checks its parameters and its inputs', async (t) => {
  const state = new addon.Trainer(network, training, data, null).model();
  const Model = addon.Model as unknown as new (...args: unknown[]) => Loose;
  t.match(thrown(() => new Model()), { code: 'INVALID_ARGUMENT' });
  t.match(thrown(() => new Model({ ...state, layers: 'none' })), { code: 'INVALID_ARGUMENT' });
  const shortWeights: NativeModelState = { ...state, layers: [{ weight: new Float32Array(3) }, ...state.layers.slice(1)] };
  t.match(thrown(() => new Model(shortWeights)), { code: 'SHAPE_MISMATCH' });
  t.match(thrown(() => new Model({ ...state, layers: state.layers.slice(1) })), { code: 'SHAPE_MISMATCH' });
  const model = new Model(state);
  for (const rows of [-1, 1.5, Infinity, Number.NaN]) {
    t.match(thrown(() => model.predict(new Float32Array(2), rows)), { code: 'INVALID_ARGUMENT' }, `rows ${rows}`);
  }
  t.match(thrown(() => model.predict(new Float64Array(2), 1)), { code: 'INVALID_ARGUMENT' });
  t.match(thrown(() => model.predict(new Float32Array(3), 1)), { code: 'SHAPE_MISMATCH' });
  t.equal((await model.predict(new Float32Array(0), 0)).length, 0, 'no rows, no outputs');
  t.equal((await model.predict(new Float32Array([0.5, -0.25]), 1)).length, 2);
});

t.test('gradCheck checks its arguments; blasInfo names the library', async (t) => {
  const gradCheck = addon.gradCheck as unknown as (...args: unknown[]) => Promise<unknown>;
  const none = new Float32Array(0);
  t.match(thrown(() => gradCheck()), { code: 'INVALID_ARGUMENT' });
  t.match(thrown(() => gradCheck(network, 0, none, data, 0, 1e-7)), { code: 'INVALID_ARGUMENT' }, 'no coordinates');
  t.match(thrown(() => gradCheck(network, 0, none, data, -3, 1e-7, 0)), { code: 'INVALID_ARGUMENT' });
  t.match(thrown(() => gradCheck(network, 0, none, data, 0, 1e-7, -1)), { code: 'INVALID_ARGUMENT' });
  t.match(thrown(() => gradCheck(network, 0, none, data, 0, 1e-7, 2.5)), { code: 'INVALID_ARGUMENT' });
  t.match(thrown(() => gradCheck(network, 0, [1, 2], data, 0, 1e-7, 0)), { code: 'INVALID_ARGUMENT' }, 'class weights as a JS array');
  await t.rejects(gradCheck(network, Number.NaN, none, data, 0, 1e-7, 0), { code: 'INVALID_SPEC', path: '/l2' });
  await t.rejects(gradCheck(network, 0, none, data, 0, 2, 0), { code: 'INVALID_SPEC', path: '/epsilon' });
  await t.rejects(gradCheck(network, 0, new Float32Array([1, 2, 3]), data, 0, 1e-7, 0), { code: 'INVALID_SPEC', path: '/training/classWeights' }, 'three weights for two classes');
  t.match(addon.blasInfo(), /\w/);
});
