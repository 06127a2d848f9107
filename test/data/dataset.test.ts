import t from 'tap';
import { requireRows, selectRows } from '../../src/data/dataset.js';

t.test('selects rows in the order given, targets with them', async (t) => {
  const x = Float32Array.of(0, 1, 10, 11, 20, 21);
  const dataset = { x, y: Float32Array.of(0, 0.5, 1, 1.5, 2, 2.5), rows: 3, features: 2 };
  const selected = selectRows(dataset, [2, 0]);
  t.same(selected.x, Float32Array.of(20, 21, 0, 1));
  t.same(selected.y, Float32Array.of(2, 2.5, 0, 0.5));
  t.equal(selected.rows, 2);
  t.equal(selected.features, 2);
  t.same(selectRows(dataset, []).rows, 0);
});

t.test('a part with no rows or no features is refused', async (t) => {
  t.throws(() => requireRows({ rows: 0, features: 2 }, 'a.csv'), {
    code: 'INVALID_DATA',
    message: /^a.csv: no data rows$/,
  });
  t.throws(() => requireRows({ rows: 2, features: 0 }, 'a.csv'), { message: /no feature columns/ });
  t.doesNotThrow(() => requireRows({ rows: 1, features: 1 }, 'a.csv'));
});
