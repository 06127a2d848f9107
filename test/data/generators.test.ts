import t from 'tap';
import { blobs, circles, generateDataset, isGenerated, moons, spirals } from '../../src/data/generators.js';

t.test('the same seed gives the same points; another seed, others', async (t) => {
  t.same(moons({ seed: 3 }).x, moons({ seed: 3 }).x);
  t.not(Buffer.from(moons({ seed: 3 }).x.buffer).toString('hex'), Buffer.from(moons({ seed: 4 }).x.buffer).toString('hex'));
});

t.test('each generator makes the asked number of rows and balanced classes', async (t) => {
  const cases = [
    ['moons', moons({ samples: 101 }), 2],
    ['circles', circles({ samples: 100 }), 2],
    ['spirals', spirals({ samples: 150, classes: 5 }), 5],
    ['blobs', blobs({ samples: 90, classes: 3, features: 7 }), 3],
  ] as const;
  for (const [name, data, classes] of cases) {
    const counts = new Array<number>(classes).fill(0);
    for (const label of data.y) counts[label] = (counts[label] as number) + 1;
    t.equal(data.y.length, data.rows, name);
    t.equal(data.x.length, data.rows * data.features, name);
    t.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${name}: ${counts.join(', ')}`);
  }
  t.equal(blobs({ samples: 10, features: 7 }).features, 7);
});

t.test('moons without noise lie on their two half circles', async (t) => {
  const data = moons({ samples: 40, noise: 0 });
  for (let row = 0; row < data.rows; row += 1) {
    const x = data.x[2 * row] as number;
    const y = data.x[2 * row + 1] as number;
    const radius = data.y[row] === 0 ? Math.hypot(x, y) : Math.hypot(x - 1, y - 0.5);
    t.ok(Math.abs(radius - 1) < 1e-6);
  }
});

t.test('circles without noise lie on radius 1 (label 0) and radius factor (label 1)', async (t) => {
  const data = circles({ samples: 30, noise: 0, factor: 0.3 });
  for (let row = 0; row < data.rows; row += 1) {
    const radius = Math.hypot(data.x[2 * row] as number, data.x[2 * row + 1] as number);
    t.ok(Math.abs(radius - (data.y[row] === 0 ? 1 : 0.3)) < 1e-6);
  }
});

t.test('blobs gather around one centre per class, as far as their spread', async (t) => {
  const data = blobs({ samples: 400, classes: 2, features: 3, noise: 0.5, seed: 8 });
  const sums = [new Array<number>(3).fill(0), new Array<number>(3).fill(0)];
  for (let row = 0; row < data.rows; row += 1) {
    const sum = sums[data.y[row] as number] as number[];
    for (let feature = 0; feature < 3; feature += 1) sum[feature] = (sum[feature] as number) + (data.x[3 * row + feature] as number);
  }
  const centres = sums.map((sum) => sum.map((value) => value / 200));
  let spread = 0;
  for (let row = 0; row < data.rows; row += 1) {
    const centre = centres[data.y[row] as number] as number[];
    for (let feature = 0; feature < 3; feature += 1) spread += ((data.x[3 * row + feature] as number) - (centre[feature] as number)) ** 2;
  }
  t.ok(Math.abs(Math.sqrt(spread / (400 * 3)) - 0.5) < 0.05, 'the standard deviation around each centre is the noise');
});

t.test('generated datasets describe their classes', async (t) => {
  t.ok(isGenerated('spirals'));
  t.notOk(isGenerated('mnist'));
  const loaded = generateDataset('spirals', { samples: 30, classes: 4 });
  t.same(loaded.labels, { kind: 'classes', count: 4 });
  t.same(loaded.featureNames, ['x1', 'x2']);
  t.throws(() => generateDataset('moons', { classes: 3 }), { code: 'INVALID_SPEC' });
});
