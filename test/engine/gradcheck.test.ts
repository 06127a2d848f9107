import t from 'tap';
import {
  GRADIENT_CHECK_COORDINATES,
  GRADIENT_CHECK_PASS,
  GRADIENT_CHECK_WARN,
  blasInfo,
  gradCheck,
} from '../../src/engine/index.js';
import { blobs } from '../../src/data/generators.js';
import { imbalanced } from '../fixtures/imbalanced.js';
import { head } from '../fixtures/moons.js';

const data = head(blobs({ samples: 60, classes: 3, features: 4, seed: 2 }), 16);

t.test('backprop agrees with centred differences, per layer too', async (t) => {
  const result = await gradCheck(
    {
      model: {
        layers: [
          { units: 6, activation: 'tanh', batchNorm: true },
          { units: 5, activation: 'leaky-relu', dropout: 0.5 },
          { units: 3, activation: 'softmax' },
        ],
      },
      l2: 0.3,
    },
    data,
    { seed: 4 },
  );
  t.ok(result.difference < GRADIENT_CHECK_PASS, `difference ${result.difference}`);
  t.equal(result.layers.length, 3);
  for (const layer of result.layers) t.ok(layer < 1e-6, `layer difference ${layer}`);
  t.equal(result.parameters, 4 * 6 + 2 * 6 + 6 * 5 + 5 + 5 * 3 + 3);
  t.equal(result.checked, result.parameters, 'tensors smaller than the sample are checked whole');
  t.equal(result.passed, true);
});

t.test('by default a sample of each tensor is checked, drawn from the seed; "all" checks every coordinate', async (t) => {
  // 4 x 300 weights and 300 biases, then 300 x 3 weights and 3 biases.
  const spec = { model: { layers: [{ units: 300, activation: 'tanh' as const }, { units: 3, activation: 'softmax' as const }] } };
  const parameters = 4 * 300 + 300 + 300 * 3 + 3;
  const sampled = await gradCheck(spec, data, { seed: 1 });
  t.equal(sampled.parameters, parameters);
  t.equal(sampled.checked, 3 * GRADIENT_CHECK_COORDINATES + 3);
  t.equal(sampled.passed, true, `difference ${sampled.difference}`);
  t.same(await gradCheck(spec, data, { seed: 1 }), sampled, 'the same seed, the same coordinates');
  const few = await gradCheck(spec, data, { seed: 1, coordinates: 5 });
  t.equal(few.checked, 5 + 5 + 5 + 3);
  const all = await gradCheck(spec, data, { seed: 1, coordinates: 'all' });
  t.equal(all.checked, parameters);
  t.equal(all.passed, true);
  await t.rejects(gradCheck(spec, data, { coordinates: 0 }), { code: 'INVALID_SPEC' });
});

t.test('a coarse step makes the check fail, as it should', async (t) => {
  const result = await gradCheck(
    { model: { layers: [{ units: 5, activation: 'sigmoid' }, { units: 3, activation: 'softmax' }] } },
    data,
    { epsilon: 0.5 },
  );
  t.ok(result.difference > 1e-4, `difference ${result.difference}`);
  t.equal(result.passed, false);
});

t.test('with class weights, backprop agrees with centred differences of the weighted cost', async (t) => {
  const softmax = await gradCheck(
    {
      model: { layers: [{ units: 6, activation: 'relu', batchNorm: true }, { units: 3, activation: 'softmax' }] },
      l2: 0.3,
      classWeights: { '0': 0.5, '1': 4, '2': 1.5 },
    },
    data,
    { seed: 4 },
  );
  t.equal(softmax.passed, true, `softmax: difference ${softmax.difference}`);
  for (const layer of softmax.layers) t.ok(layer < 1e-6, `layer difference ${layer}`);

  const rare = imbalanced(40, 5);
  const sigmoid = { model: { layers: [{ units: 5, activation: 'tanh' as const }, { units: 1, activation: 'sigmoid' as const }] } };
  const balanced = await gradCheck({ ...sigmoid, classWeights: 'balanced' }, rare, { seed: 4 });
  t.equal(balanced.passed, true, `sigmoid, balanced: difference ${balanced.difference}`);
  const named = await gradCheck({ ...sigmoid, classWeights: { rare: 9 } }, rare, { seed: 4, classNames: ['common', 'rare'] });
  t.equal(named.passed, true, `sigmoid, by name: difference ${named.difference}`);

  await t.rejects(gradCheck({ ...sigmoid, classWeights: { rare: 9 } }, rare), { code: 'INVALID_SPEC', path: '/classWeights/rare' });
  const regression = { model: { layers: [{ units: 1, activation: 'linear' as const }] }, classWeights: 'balanced' as const };
  await t.rejects(gradCheck(regression, rare), { code: 'INVALID_SPEC', path: '/classWeights' });
});

t.test('the verdict thresholds follow the course notes, and the BLAS in use has a name', async (t) => {
  t.equal(GRADIENT_CHECK_PASS, 1e-7);
  t.equal(GRADIENT_CHECK_WARN, 1e-5);
  t.match(blasInfo(), /\w/);
});
