import t from 'tap';
import { GRADIENT_CHECK_PASS, GRADIENT_CHECK_WARN, blasInfo, gradCheck } from '../../src/engine/index.js';
import { blobs } from '../../src/data/generators.js';
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
  t.equal(result.passed, true);
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

t.test('the verdict thresholds follow the course notes, and the BLAS in use has a name', async (t) => {
  t.equal(GRADIENT_CHECK_PASS, 1e-7);
  t.equal(GRADIENT_CHECK_WARN, 1e-5);
  t.match(blasInfo(), /\w/);
});
