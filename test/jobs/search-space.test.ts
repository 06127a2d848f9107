import t from 'tap';
import {
  Random,
  applySample,
  boxAround,
  checkSpace,
  defaultSpace,
  fullBox,
  grid,
  inBox,
  sample,
  type Space,
} from '../../src/jobs/search-space.js';
import type { JobSpec } from '../../src/jobs/spec.js';

const draws = (space: Space, count: number, seed = 11) => {
  const random = new Random(seed);
  const box = fullBox(space);
  return Array.from({ length: count }, () => sample(space, box, random));
};

t.test('logUniform puts the same share of draws in each decade', async (t) => {
  const pointer = '/training/optimizer/learningRate';
  const values = draws({ [pointer]: { logUniform: [1e-4, 1] } }, 8000).map((point) => point[pointer] as number);
  t.ok(values.every((value) => value >= 1e-4 && value <= 1));
  const decades = [0, 0, 0, 0];
  for (const value of values) decades[Math.min(3, Math.floor(Math.log10(value) + 4))]! += 1;
  // 2000 expected per decade; a binomial standard deviation is about 39: 5 of them is 195.
  for (const count of decades) t.ok(Math.abs(count - 2000) < 195, `decade count ${count} near 2000`);
  // A uniform draw would put 90% in the top decade: the scale matters.
  t.ok((decades[3] as number) < 0.3 * values.length);
});

t.test('oneMinusLogUniform puts as many betas in [0.99, 0.999] as in [0.9, 0.99]', async (t) => {
  const pointer = '/training/optimizer/beta';
  const values = draws({ [pointer]: { oneMinusLogUniform: [0.9, 0.999] } }, 6000).map((point) => point[pointer] as number);
  const low = values.filter((value) => value < 0.99).length;
  const high = values.length - low;
  t.ok(values.every((value) => value >= 0.9 && value <= 0.999));
  t.ok(Math.abs(low - high) < 0.06 * values.length, `${low} in [0.9, 0.99), ${high} in [0.99, 0.999]`);
});

t.test('intUniform draws every integer of its range, ends included', async (t) => {
  const pointer = '/model/layers/0/units';
  const values = draws({ [pointer]: { intUniform: [3, 6] } }, 2000).map((point) => point[pointer]);
  t.same([...new Set(values)].sort(), [3, 4, 5, 6]);
  t.ok(values.every((value) => Number.isInteger(value)));
});

t.test('the same seed draws the same points', async (t) => {
  const space: Space = { '/a': { uniform: [0, 1] }, '/b': { choice: ['x', 'y', 'z'] } };
  t.same(draws(space, 20, 5), draws(space, 20, 5));
  t.notSame(draws(space, 20, 5), draws(space, 20, 6));
});

t.test('a grid is the whole product of its lists', async (t) => {
  const points = grid({ '/x': { grid: [1, 2, 3] }, '/y': { choice: ['a', 'b'] } });
  t.equal(points.length, 6);
  t.same(new Set(points.map((point) => `${point['/x']}${point['/y']}`)), new Set(['1a', '1b', '2a', '2b', '3a', '3b']));
  t.throws(() => grid({ '/x': { uniform: [0, 1] } }), /grid/);
});

t.test("coarse-to-fine's box holds the best points, lies inside the space, and later draws stay in it", async (t) => {
  const space: Space = {
    '/lr': { logUniform: [1e-5, 1] },
    '/beta': { oneMinusLogUniform: [0.8, 0.9999] },
    '/units': { intUniform: [8, 512] },
    '/activation': { choice: ['relu', 'tanh', 'sigmoid'] },
  };
  const best = [
    { '/lr': 1e-3, '/beta': 0.95, '/units': 64, '/activation': 'relu' },
    { '/lr': 3e-3, '/beta': 0.99, '/units': 100, '/activation': 'tanh' },
  ];
  const box = boxAround(space, best);
  for (const point of best) t.ok(inBox(space, box, point), 'each best point is inside');
  t.ok(inBox(space, fullBox(space), best[0]!));
  const random = new Random(3);
  const later = Array.from({ length: 500 }, () => sample(space, box, random));
  t.ok(later.every((point) => inBox(space, box, point)), 'every later draw is in the box');
  t.ok(later.every((point) => inBox(space, fullBox(space), point)), 'and in the space');
  t.ok(later.every((point) => point['/activation'] !== 'sigmoid'), 'a value no best point took is left out');
  const lrs = later.map((point) => point['/lr'] as number);
  t.ok(Math.min(...lrs) > 1e-4 && Math.max(...lrs) < 3e-2, 'the learning rate narrows around 1e-3..3e-3');
  t.notOk(inBox(space, box, { ...best[0]!, '/lr': 0.5 }));
});

t.test('checkSpace refuses empty and off-scale ranges with the path', async (t) => {
  t.equal(checkSpace({ '/lr': { logUniform: [1e-4, 1e-1] } }), undefined);
  t.match(checkSpace({ '/lr': { logUniform: [0, 1e-1] } }), { path: '/space/~1lr', message: /above 0/ });
  t.match(checkSpace({ '/b': { oneMinusLogUniform: [0.9, 1] } }), { message: /\[0, 1\)/ });
  t.match(checkSpace({ '/u': { uniform: [2, 1] } }), { message: /empty/ });
  t.match(checkSpace({ '/n': { intUniform: [1.5, 4] } }), { message: /integers/ });
});

const base: JobSpec = {
  dataset: { builtin: 'moons' },
  model: { layers: [{ units: 8, activation: 'relu' }, { units: 1, activation: 'sigmoid' }] },
  training: { epochs: 5, optimizer: { type: 'momentum', learningRate: 0.1 } },
};

t.test('applySample sets values by pointer on a copy, making missing objects', async (t) => {
  const spec = applySample(base, { '/training/optimizer/beta': 0.95, '/model/layers/0/units': 32, '/training/lrDecay/type': 'cosine' });
  t.equal(spec.training.optimizer?.beta, 0.95);
  t.equal(spec.model.layers[0]?.units, 32);
  t.same(spec.training.lrDecay, { type: 'cosine' });
  t.equal(base.model.layers[0]?.units, 8, 'the base is untouched');
  t.throws(() => applySample(base, { '/training/epochs/x': 1 }), /not an object/);
});

t.test('the default space follows the course: learning rate, momentum, hidden units, batch size', async (t) => {
  t.same(Object.keys(defaultSpace(base)), ['/training/optimizer/learningRate', '/training/optimizer/beta', '/model/layers/0/units', '/training/batchSize']);
  const adam = { ...base, training: { ...base.training, optimizer: { type: 'adam' as const } } };
  t.ok('/training/optimizer/beta1' in defaultSpace(adam));
});
