import t from 'tap';
import { blobs, circles, generateDataset, moons, spirals } from '../../src/data/generators.js';

t.test('the same seed gives the same points; another seed, others', async (t) => {
  t.same(moons({ seed: 3 }).x, moons({ seed: 3 }).x);
  t.not(Buffer.from(moons({ seed: 3 }).x.buffer).toString('hex'), Buffer.from(moons({ seed: 4 }).x.buffer).toString('hex'));
});

t.test('each generator makes the asked number of rows and balanced classes', async (t) => {
  const cases = [
    ['moons', moons({ samples: 101 }), 2],
    ['circles', circles({ samples: 100 }), 2],
    ['spirals', spirals({ samples: 150, classes: 5 }), 5],
    ['blobs', blobs({ samples: 90, classes: 3 }, 7), 3],
  ] as const;
  for (const [name, data, classes] of cases) {
    const counts = new Array<number>(classes).fill(0);
    for (const label of data.y) counts[label] = (counts[label] as number) + 1;
    t.equal(data.y.length, data.rows, name);
    t.equal(data.x.length, data.rows * data.features, name);
    t.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${name}: ${counts.join(', ')}`);
  }
  t.equal(blobs({ samples: 10 }, 7).features, 7);
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

t.test('generated datasets describe their classes', async (t) => {
  const loaded = generateDataset('spirals', { samples: 30, classes: 4 });
  t.same(loaded.labels, { kind: 'classes', count: 4 });
  t.same(loaded.featureNames, ['x1', 'x2']);
  t.throws(() => generateDataset('moons', { classes: 3 }), { code: 'INVALID_SPEC' });
});
