import t from 'tap';
import {
  EngineError,
  ErrorCodes,
  Model,
  Trainer,
  checkTrainerSpec,
  gradCheck,
  resolveLoss,
  type TrainerSpec,
} from '../../src/engine/index.js';
import { mlpSpec, moonsSplit } from '../fixtures/moons.js';

const { train, dev } = moonsSplit();

/** A copy of the MLP spec with one change made by `edit`. */
function specWith(edit: (spec: Record<string, any>) => void): TrainerSpec {
  const spec = structuredClone(mlpSpec) as Record<string, any>;
  edit(spec);
  return spec as TrainerSpec;
}

t.test('a bad spec is refused with INVALID_SPEC and the path of the field', async (t) => {
  const cases: [string, (spec: Record<string, any>) => void, string][] = [
    ['a layer of 0 units', (spec) => (spec.model.layers[0].units = 0), '/model/layers/0/units'],
    ['a unit count that is a string', (spec) => (spec.model.layers[1].units = '16'), '/model/layers/1/units'],
    ['negative epochs', (spec) => (spec.training.epochs = -1), '/training/epochs'],
    ['an unknown field', (spec) => (spec.training.learningRate = 0.1), '/training/learningRate'],
    ['an unknown activation', (spec) => (spec.model.layers[0].activation = 'gelu'), '/model/layers/0/activation'],
    ['dropout of 1', (spec) => (spec.model.layers[0].dropout = 1), '/model/layers/0/dropout'],
    ['a setting of another optimizer', (spec) => (spec.training.optimizer = { type: 'sgd', beta1: 0.9 }), '/training/optimizer/beta1'],
    ['a setting of another decay', (spec) => (spec.training.lrDecay = { type: 'exponential', interval: 3 }), '/training/lrDecay/interval'],
    ['softmax on a hidden layer', (spec) => (spec.model.layers[0].activation = 'softmax'), '/model/layers/0/activation'],
    ['a one-unit softmax', (spec) => (spec.model.layers[2].units = 1), '/model/layers/2/units'],
    ['mse on a softmax output', (spec) => (spec.loss = 'mse'), '/loss'],
    ['batch norm on the output layer', (spec) => (spec.model.layers[2].batchNorm = true), '/model/layers/2/batchNorm'],
    ['dropout on the output layer', (spec) => (spec.model.layers[2].dropout = 0.5), '/model/layers/2/dropout'],
    ['binary cross-entropy on a softmax output', (spec) => (spec.loss = 'binary-cross-entropy'), '/loss'],
    [
      'cross-entropy on a linear output',
      (spec) => {
        spec.model.layers[2].activation = 'linear';
        spec.loss = 'cross-entropy';
      },
      '/loss',
    ],
    ['an initScale without the normal init', (spec) => (spec.model.initScale = 0.1), '/model/initScale'],
    ['a decay setting of another decay', (spec) => (spec.training.lrDecay = { type: 'cosine', rate: 0.5 }), '/training/lrDecay/rate'],
    ['a batch size of 0', (spec) => (spec.training.batchSize = 0), '/training/batchSize'],
    ['an unknown optimizer', (spec) => (spec.training.optimizer = { type: 'lion' }), '/training/optimizer/type'],
  ];
  for (const [what, edit, path] of cases) {
    const error = (() => {
      try {
        Trainer.create(specWith(edit), train, dev);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    t.type(error, EngineError, what);
    t.match(error, { code: 'INVALID_SPEC', path }, what);
  }
});

t.test('the loss follows the output activation unless the spec names one', async (t) => {
  const output = (activation: string, units: number) => ({
    layers: [{ units: 4, activation: 'relu' as const }, { units, activation: activation as 'linear' }],
  });
  t.equal(resolveLoss(output('softmax', 3), undefined), 'cross-entropy');
  t.equal(resolveLoss(output('sigmoid', 1), undefined), 'binary-cross-entropy');
  t.equal(resolveLoss(output('sigmoid', 1), 'cross-entropy'), 'binary-cross-entropy', 'the binary member of the family');
  t.equal(resolveLoss(output('linear', 1), undefined), 'mse');
  t.equal(resolveLoss(output('sigmoid', 1), 'mse'), 'mse');
});

t.test('a spec is checked whole without data, as a service checks a job before queueing it', async (t) => {
  t.same(checkTrainerSpec(mlpSpec), mlpSpec);
  t.throws(() => checkTrainerSpec(specWith((spec) => (spec.model.layers[0].activation = 'softmax'))), {
    code: 'INVALID_SPEC',
    path: '/model/layers/0/activation',
    message: /output layer only/,
  });
  t.throws(() => checkTrainerSpec('a spec'), { code: 'INVALID_SPEC', path: '/' });
});

t.test('data that does not fit the network is refused with SHAPE_MISMATCH', async (t) => {
  t.throws(() => Trainer.create(mlpSpec, { ...train, features: 3 }), { code: 'SHAPE_MISMATCH' });
  t.throws(() => Trainer.create(mlpSpec, { ...train, y: train.y.subarray(1) }), { code: 'SHAPE_MISMATCH' });
  t.throws(
    () => Trainer.create(mlpSpec, train, { ...dev, y: new Float32Array(dev.rows * 2) }),
    { code: 'SHAPE_MISMATCH', message: /dev part/ },
  );
  const threeFeatures = { x: new Float32Array(3 * dev.rows), y: dev.y, rows: dev.rows, features: 3 };
  t.throws(() => Trainer.create(mlpSpec, train, threeFeatures), {
    code: 'SHAPE_MISMATCH',
    message: /dev part has 3 features but the network takes 2/,
  });
});

t.test('bad values are refused with INVALID_DATA naming the row', async (t) => {
  const withNaN = { ...train, x: train.x.slice() };
  withNaN.x[2 * 7 + 1] = Number.NaN;
  t.throws(() => Trainer.create(mlpSpec, withNaN), { code: 'INVALID_DATA', message: /row 7, column 1/ });
  const withClass5 = { ...train, y: train.y.slice() };
  withClass5.y[3] = 5;
  t.throws(() => Trainer.create(mlpSpec, withClass5), { code: 'INVALID_DATA', message: /class 5.* row 3.*2 units/ });
  t.throws(() => Trainer.create(mlpSpec, { ...train, x: new Float32Array(0), y: new Float32Array(0), rows: 0 }), {
    code: 'INVALID_DATA',
  });
});

t.test('arguments of the wrong kind are refused, never crash the process', async (t) => {
  t.throws(() => Trainer.create(mlpSpec, { ...train, x: Array.from(train.x) as unknown as Float32Array }), {
    code: 'INVALID_ARGUMENT',
  });
  t.throws(() => Trainer.create(null as unknown as TrainerSpec, train), { code: 'INVALID_SPEC' });
  t.throws(() => Trainer.create(mlpSpec, null as unknown as typeof train), { code: 'INVALID_ARGUMENT' });
  t.throws(() => Trainer.create(mlpSpec, { ...train, rows: 2.5 }), { code: 'INVALID_ARGUMENT' });
  const trainer = Trainer.create(mlpSpec, train);
  t.throws(() => trainer.setLearningRate(-1), { code: 'INVALID_SPEC', path: '/learningRate' });
  t.throws(() => trainer.setLearningRate(Number.NaN), { code: 'INVALID_SPEC' });
  t.throws(() => trainer.restore('bytes' as unknown as Uint8Array), { code: 'INVALID_ARGUMENT' });
  await t.rejects(trainer.run(0), { code: 'INVALID_ARGUMENT' });
});

t.test('a model that is not a saved model is refused with INVALID_MODEL', async (t) => {
  t.throws(() => Model.load('{not json'), { code: 'INVALID_MODEL' });
  t.throws(() => Model.load('{"format": "other"}'), { code: 'INVALID_MODEL' });
  const trainer = Trainer.create(mlpSpec, train);
  const saved = trainer.model();
  const firstLayer = saved.layers[0] as { weight: string };
  t.throws(() => Model.load({ ...saved, layers: [{ ...firstLayer, weight: 'AAAAAA==' }, ...saved.layers.slice(1)] }), {
    code: 'SHAPE_MISMATCH',
  });
  t.throws(() => Model.load({ ...saved, layers: [{ ...firstLayer, weight: 'AAA' }, ...saved.layers.slice(1)] }), {
    code: 'INVALID_MODEL',
  });
  const model = Model.load(saved);
  await t.rejects(model.predict(new Float32Array(3), 2), { code: 'SHAPE_MISMATCH' });
});

t.test('every code a caller can meet is listed once', async (t) => {
  t.same([...new Set(ErrorCodes)], [...ErrorCodes]);
  for (const code of ['INVALID_SPEC', 'SHAPE_MISMATCH', 'INVALID_DATA', 'DIVERGED', 'CANCELLED', 'BUSY', 'INVALID_CHECKPOINT'])
    t.ok(ErrorCodes.includes(code as (typeof ErrorCodes)[number]), code);
  await t.rejects(gradCheck({ model: { layers: [{ units: 0, activation: 'relu' }] } }, train), { code: 'INVALID_SPEC' });
  const softmax = { model: { layers: [{ units: 2, activation: 'softmax' as const }] } };
  await t.rejects(gradCheck(softmax, train, { epsilon: 0 }), { code: 'INVALID_SPEC', path: '/epsilon' });
  await t.rejects(gradCheck(softmax, train, { seed: -1 }), { code: 'INVALID_SPEC', path: '/seed' });
});
