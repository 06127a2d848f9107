import t from 'tap';
import { encodeLabels, type LabelColumn } from '../../src/data/labels.js';

const column = (cells: (number | string)[], source = 'train'): LabelColumn => ({
  cells,
  locate: (index) => ({ source, row: index + 2, column: 'label' }),
});

t.test('non-negative integer labels are classes 0..max', async (t) => {
  const encoded = encodeLabels(column([2, 0, 1, 2]));
  t.same(encoded.labels, { kind: 'classes', count: 3 });
  t.same(Array.from(encoded.train), [2, 0, 1, 2]);
  t.same(encodeLabels(column([1, 3])).labels, { kind: 'classes', count: 4 }, 'a class may have no rows');
});

t.test('fractions, negatives and huge integers are values', async (t) => {
  for (const cells of [[0, 0.5], [-1, 1], [0, 1000]]) {
    t.same(encodeLabels(column(cells)).labels, { kind: 'values', width: 1 }, cells.join(', '));
  }
  const encoded = encodeLabels(column([0.5, 2]), column([-7]));
  t.same(Array.from(encoded.test ?? []), [-7], 'a test value need not be seen in train');
});

t.test('class names are sorted by code point, so the mapping ignores row order and locale', async (t) => {
  const encoded = encodeLabels(column(['b', 'B', 'a', 'é', 'b']), column(['é', 'B'], 'test'));
  t.same(encoded.labels, { kind: 'classes', count: 4, names: ['B', 'a', 'b', 'é'] });
  t.same(Array.from(encoded.train), [2, 0, 1, 3, 2]);
  t.same(Array.from(encoded.test ?? []), [3, 0]);
});

t.test('reports the rarer kind in a column that mixes numbers and names', async (t) => {
  t.throws(() => encodeLabels(column(['cat', 'dog', 3, 'cat'])), {
    code: 'INVALID_DATA',
    row: 4,
    column: 'label',
    message: /3 is a number, and the other labels are class names/,
  });
  t.throws(() => encodeLabels(column([0, 1]), column([1, 'Infinity'], 'test')), {
    source: 'test',
    row: 3,
    message: /'Infinity' is not a finite number, and the other labels are numbers/,
  });
});

t.test('refuses labels that a float32 cannot hold', async (t) => {
  t.throws(() => encodeLabels(column([0, Number.NaN])), { row: 3, message: /NaN is not a finite number/ });
  t.throws(() => encodeLabels(column([1e39])), { row: 2, message: /float32 range/ });
});

t.test('class names past the category cap are refused at the first row of the class past it', async (t) => {
  t.same(encodeLabels(column(['b', 'a', 'b']), undefined, 2).labels, { kind: 'classes', count: 2, names: ['a', 'b'] });
  t.throws(() => encodeLabels(column(['b', 'a', 'b', 'c', 'd']), undefined, 2), {
    code: 'INVALID_DATA',
    row: 5,
    column: 'label',
    message: /'c' is a class past the cap of 2 distinct class names \(CAVIAR_MAX_CATEGORIES\)/,
  });
  t.same(encodeLabels(column([0, 1, 2]), undefined, 2).labels, { kind: 'classes', count: 3 }, 'integer classes are not text: their own limit holds');
});
