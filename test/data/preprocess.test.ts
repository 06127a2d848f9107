import t from 'tap';
import { parseCsv } from '../../src/data/csv.js';
import { resolveColumnTypes, type StoredColumn } from '../../src/data/columns.js';
import { encodeRecords, inputCount, inputNames, preprocessParts, type Preprocessing } from '../../src/data/preprocess.js';

// Rows 1-6 train, 7-8 dev: the dev rows hold a huge number and an island train never saw.
const TEXT = [
  'island,bill,tagged,colour,label',
  'Biscoe,1,yes,red,a',
  'Dream,2,no,,b',
  'Biscoe,3,no,blue,a',
  'Dream,,yes,red,b',
  'Biscoe,5,YES,blue,a',
  'Torgersen,6,,red,b',
  'Atlantis,1000,no,green,a',
  'Dream,1000,yes,red,b',
].join('\n');

function fitted(text = TEXT, overrides?: Parameters<typeof resolveColumnTypes>[1]) {
  const loaded = parseCsv(text);
  const columns = loaded.columns as StoredColumn[];
  const types = resolveColumnTypes(columns, overrides, { label: 'label', maxCategories: 1000 });
  const indices = { train: Int32Array.from([0, 1, 2, 3, 4, 5]), dev: Int32Array.from([6, 7]), test: new Int32Array(0) };
  return preprocessParts({ ...loaded, columns }, indices, types);
}

const rowsOf = (x: Float32Array, width: number) => Array.from({ length: x.length / width }, (_, row) => Array.from(x.subarray(row * width, (row + 1) * width)));

t.test('is fitted on the train part alone: its medians, its categories, its gaps', async (t) => {
  const { preprocessing, train, dev } = fitted();
  t.same(preprocessing.columns, [
    { name: 'island', type: 'category', categories: ['Biscoe', 'Dream', 'Torgersen'], missing: false },
    { name: 'bill', type: 'number', fill: 3, indicator: true },
    { name: 'tagged', type: 'boolean', fill: 1, indicator: true },
    { name: 'colour', type: 'category', categories: ['blue', 'red'], missing: true },
  ]);
  t.same(inputNames(preprocessing), ['island=Biscoe', 'island=Dream', 'island=Torgersen', 'bill', 'bill:missing', 'tagged', 'tagged:missing', 'colour=blue', 'colour=red', 'colour:missing']);
  t.equal(train.features, 10);
  t.same(rowsOf(train.x, 10), [
    [1, 0, 0, 1, 0, 1, 0, 0, 1, 0],
    [0, 1, 0, 2, 0, 0, 0, 0, 0, 1],
    [1, 0, 0, 3, 0, 0, 0, 1, 0, 0],
    [0, 1, 0, 3, 1, 1, 0, 0, 1, 0],
    [1, 0, 0, 5, 0, 1, 0, 1, 0, 0],
    [0, 0, 1, 6, 0, 1, 1, 0, 1, 0],
  ], 'gaps take the median (3) and the most frequent value (yes), with their indicators');
  t.same(rowsOf(dev?.x ?? new Float32Array(0), 10), [
    [0, 0, 0, 1000, 0, 0, 0, 0, 0, 0],
    [0, 1, 0, 1000, 0, 1, 0, 0, 1, 0],
  ], 'an island and a colour train never saw are all zeros; the dev part moved no median');
  t.same(Array.from(train.y), [0, 1, 0, 1, 0, 1]);
});

t.test('the inputs depend on the rows, not on their order', async (t) => {
  const lines = TEXT.split('\n');
  const reordered = [lines[0], ...lines.slice(1, 7).reverse(), ...lines.slice(7)].join('\n');
  t.same(fitted(reordered).preprocessing, fitted().preprocessing);
});

t.test('records are encoded by column name: a field left out is a gap, an unknown one is refused', async (t) => {
  const { preprocessing } = fitted();
  const x = encodeRecords(
    preprocessing,
    [
      { island: 'Dream', bill: 2.5, tagged: true, colour: 'red', label: 'b' },
      { island: 'Atlantis', bill: '4', tagged: 'n' },
      {},
    ],
    { label: 'label', path: '/records' },
  );
  t.same(rowsOf(x, inputCount(preprocessing)), [
    [0, 1, 0, 2.5, 0, 1, 0, 0, 1, 0],
    [0, 0, 0, 4, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 3, 1, 1, 1, 0, 0, 1],
  ]);
  const refused = (record: Record<string, string | number | boolean | null>, path: string, message: RegExp) =>
    t.throws(() => encodeRecords(preprocessing, [{}, record], { label: 'label', path: '/records' }), { code: 'INVALID_DATA', path, message }, path);
  refused({ islnad: 'Dream' }, '/records/1/islnad', /^\/records\/1\/islnad: no column named 'islnad' in the model's training data; its columns are 'island', 'bill'/);
  refused({ bill: 'long' }, '/records/1/bill', /'long' is not a number/);
  refused({ bill: true }, '/records/1/bill', /true is not a number/);
  refused({ tagged: 'maybe' }, '/records/1/tagged', /'maybe' is not a boolean \(true\/false, yes\/no/);
  refused({ tagged: 2 }, '/records/1/tagged', /2 is not a boolean/);
});

t.test('a column of numbers made a category matches numbers, however they are written', async (t) => {
  const { preprocessing } = fitted(TEXT, { bill: { type: 'category' }, colour: { type: 'ignore' } });
  const bill = preprocessing.columns[1] as Extract<Preprocessing['columns'][number], { type: 'category' }>;
  t.same(bill.categories, [1, 2, 3, 5, 6]);
  t.same(inputNames(preprocessing).slice(3), ['bill=1', 'bill=2', 'bill=3', 'bill=5', 'bill=6', 'bill:missing', 'tagged', 'tagged:missing']);
  const x = encodeRecords(preprocessing, [{ bill: 2 }, { bill: '3.0' }, { bill: 4 }, { bill: 'NA' }], { path: '/records' });
  t.same(rowsOf(x, inputCount(preprocessing)).map((row) => row.slice(3, 9)), [
    [0, 1, 0, 0, 0, 0],
    [0, 0, 1, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 1],
  ]);
});
