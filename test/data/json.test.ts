import t from 'tap';
import { join } from 'node:path';
import { datasetFromJson, loadJson, parseJson } from '../../src/data/json.js';

t.test('reads x and numeric class labels', async (t) => {
  const loaded = parseJson('{"x": [[1, 2], [3, 4], [5, 6]], "y": [0, 1, 1]}');
  t.same(Array.from(loaded.train.x), [1, 2, 3, 4, 5, 6]);
  t.same(Array.from(loaded.train.y), [0, 1, 1]);
  t.equal(loaded.train.rows, 3);
  t.equal(loaded.train.features, 2);
  t.same(loaded.featureNames, ['x1', 'x2']);
  t.same(loaded.labels, { kind: 'classes', count: 2 });
  t.equal(loaded.name, 'json');
});

t.test('takes a name, feature names and string labels', async (t) => {
  const value = { name: 'pets', featureNames: ['weight'], x: [[4], [30], [5]], y: ['cat', 'dog', 'cat'] };
  const loaded = datasetFromJson(value);
  t.equal(loaded.name, 'pets');
  t.same(loaded.featureNames, ['weight']);
  t.same(loaded.labels, { kind: 'classes', count: 2, names: ['cat', 'dog'] });
  t.same(Array.from(loaded.train.y), [0, 1, 0]);
});

t.test('reads rows of y as regression targets, several a row', async (t) => {
  const loaded = datasetFromJson({ x: [[1], [2]], y: [[0.5, 1], [1.5, -2]] });
  t.same(loaded.labels, { kind: 'values', width: 2 });
  t.same(Array.from(loaded.train.y), [0.5, 1, 1.5, -2]);
  const single = datasetFromJson({ x: [[1], [2]], y: [[1], [0]] });
  t.same(single.labels, { kind: 'classes', count: 2 });
});

t.test('loads a file and its test file', async (t) => {
  const directory = t.testdir({
    'train.json': JSON.stringify({ x: [[1], [2]], y: ['a', 'b'] }),
    'test.json': JSON.stringify({ x: [[3]], y: ['b'] }),
  });
  const loaded = await loadJson(join(directory, 'train.json'), { test: join(directory, 'test.json') });
  t.equal(loaded.name, 'train.json');
  t.same(Array.from(loaded.test?.x ?? []), [3]);
  t.same(Array.from(loaded.test?.y ?? []), [1]);
});

t.test('reports bad data with its row and column', async (t) => {
  const cases: { name: string; value: unknown; row?: number; column?: string; message: RegExp }[] = [
    { name: 'not an object', value: [1, 2], message: /expected an object/ },
    { name: 'an unknown field', value: { x: [[1]], y: [0], labels: [0] },
      message: /unknown field 'labels'/ },
    { name: 'no rows', value: { x: [], y: [] }, message: /no data rows/ },
    { name: 'lengths differ', value: { x: [[1], [2]], y: [0] },
      message: /x has 2 rows but y has 1/ },
    { name: 'a ragged row', value: { x: [[1, 2], [3]], y: [0, 1] },
      row: 2, message: /row 2: 1 values, but row 1 has 2/ },
    { name: 'a string cell', value: { x: [[1, 2], [3, 'abc']], y: [0, 1] },
      row: 2, column: 'x2', message: /'abc' is not a number/ },
    { name: 'a null cell', value: { featureNames: ['a', 'b'], x: [[null, 2]], y: [0] },
      row: 1, column: 'a', message: /null is not a number/ },
    { name: 'a float32 overflow', value: { x: [[1e39]], y: [0] },
      row: 1, column: 'x1', message: /float32 range/ },
    { name: 'a null label', value: { x: [[1], [2]], y: [0, null] },
      row: 2, column: 'y', message: /null is not a number or a class name/ },
    { name: 'mixed labels', value: { x: [[1], [2], [3]], y: [0, 1, 'two'] },
      row: 3, column: 'y', message: /'two' is not a number/ },
    { name: 'ragged y', value: { x: [[1], [2]], y: [[1, 2], [3]] },
      row: 2, column: 'y', message: /1 values, but row 1 of y has 2/ },
    { name: 'too few feature names', value: { featureNames: ['a'], x: [[1, 2]], y: [0] },
      message: /1 feature names for 2 features/ },
    { name: 'feature names not strings', value: { featureNames: 'a', x: [[1]], y: [0] },
      message: /featureNames must be an array of non-empty strings/ },
    { name: 'a repeated feature name', value: { featureNames: ['a', 'a'], x: [[1, 2]], y: [0] },
      message: /'a' appears twice/ },
  ];
  for (const { name, value, row, column, message } of cases) {
    const wanted = { name: 'DataError', code: 'INVALID_DATA', source: 'body', row, column, message };
    t.throws(() => datasetFromJson(value, { source: 'body' }), wanted, name);
  }
  t.throws(() => parseJson('{"x": [[1]], "y": [0]', { source: 'data.json' }), {
    code: 'INVALID_DATA',
    message: /^data.json: not valid JSON/,
  });
});

t.test('refuses a test part that does not match train', async (t) => {
  const train = { x: [[1, 2]], y: ['a'] };
  t.throws(() => datasetFromJson(train, { test: { x: [[1]], y: ['a'] }, testSource: 'test.json' }), {
    source: 'test.json',
    message: /1 features, but train has 2/,
  });
  const unseen = { x: [[1, 2], [3, 4]], y: ['a', 'b'] };
  t.throws(() => datasetFromJson(train, { test: unseen, testSource: 'test.json' }), {
    source: 'test.json',
    row: 2,
    column: 'y',
    message: /'b' is not a class seen in train/,
  });
  const named = { ...train, featureNames: ['p', 'q'] };
  t.throws(() => datasetFromJson(named, { test: { ...train, featureNames: ['q', 'p'] } }), {
    message: /feature names differ from train/,
  });
  t.throws(() => datasetFromJson({ x: [[1]], y: [[1, 2]] }, { test: { x: [[1]], y: [1] } }), {
    message: /1 values of y a row, but train has 2/,
  });
});

t.test('x wider than the column cap is refused at row 1, before its array is made', async (t) => {
  const wide = { x: [Array(100_000).fill(0)], y: [0] };
  t.throws(() => datasetFromJson(wide, { source: 'body' }), {
    code: 'INVALID_DATA',
    row: 1,
    message: /^body: row 1: 100000 values, more than the cap of 65536 features \(CAVIAR_MAX_COLUMNS\)$/,
  });
  t.equal(datasetFromJson({ x: [[1, 2, 3], [4, 5, 6]], y: [0, 1] }, { maxColumns: 3 }).train.features, 3, 'at the cap it passes');
  t.throws(() => datasetFromJson({ x: [[1, 2, 3, 4], [4, 5, 6, 7]], y: [0, 1] }, { maxColumns: 3 }), { row: 1, message: /4 values, more than the cap of 3 features/ });
  t.throws(() => datasetFromJson({ x: [[1], [2]], y: [[1, 2, 3, 4], [1, 2, 3, 4]] }, { maxColumns: 3 }), {
    row: 1,
    column: 'y',
    message: /4 values, more than the cap of 3 a row \(CAVIAR_MAX_COLUMNS\)/,
  });
  const names = (count: number) => Array.from({ length: count }, (_, index) => `f${index}`);
  t.throws(() => datasetFromJson({ featureNames: names(4), x: [[1, 2, 3, 4]], y: [0] }, { maxColumns: 3 }), { message: /4 feature names, more than the cap of 3 \(CAVIAR_MAX_COLUMNS\)/ });
});

t.test('class names take the cell cap, and their count the category cap', async (t) => {
  const labels = (y: string[], options = {}) => datasetFromJson({ x: y.map((_, index) => [index]), y }, { source: 'body', ...options });
  t.same(labels(['abcde', 'b'], { maxCellBytes: 5 }).labels, { kind: 'classes', count: 2, names: ['abcde', 'b'] }, 'a name at the cap passes');
  t.throws(() => labels(['b', 'abcdef'], { maxCellBytes: 5 }), {
    code: 'INVALID_DATA',
    row: 2,
    column: 'y',
    message: /^body: row 2, column 'y': a class name: a cell of 6 bytes, over the cap of 5 \(CAVIAR_MAX_CELL_BYTES\)$/,
  });
  t.throws(() => labels(['b', 'x'.repeat(1024 * 1024)]), { row: 2, column: 'y', message: /a cell of 1048576 bytes, over the cap of 4096/ }, 'a 1 MB class name');
  t.same(labels(['p', 'q', 'p'], { maxCategories: 2 }).labels, { kind: 'classes', count: 2, names: ['p', 'q'] });
  t.throws(() => labels(['p', 'q', 'p', 'r'], { maxCategories: 2 }), {
    row: 4,
    column: 'y',
    message: /'r' is a class past the cap of 2 distinct class names \(CAVIAR_MAX_CATEGORIES\)/,
  });
});

t.test('names are bounded: the dataset name at 200 characters, feature names at 256', async (t) => {
  const value = (extra: object) => ({ x: [[1]], y: [0], ...extra });
  t.equal(datasetFromJson(value({ name: 'n'.repeat(200) })).name.length, 200);
  t.throws(() => datasetFromJson(value({ name: 'n'.repeat(201) })), { code: 'INVALID_DATA', message: /name is a name of 201 characters, over the 200 a name may have/ });
  t.same(datasetFromJson(value({ featureNames: ['f'.repeat(256)] })).featureNames, ['f'.repeat(256)]);
  t.throws(() => datasetFromJson(value({ featureNames: ['f'.repeat(257)] })), { message: /feature name 1 is a name of 257 characters/ });
  t.throws(() => datasetFromJson(value({ featureNames: ['f'.repeat(10)] }), { maxCellBytes: 9 }), { message: /feature name 1 is a cell of 10 bytes/ });
});

t.test('calls onProgress between rows of x', async (t) => {
  let calls = 0;
  parseJson('{"x": [[1], [2], [3]], "y": [0, 1, 0]}', { onProgress: () => (calls += 1) });
  t.equal(calls, 3);
});
