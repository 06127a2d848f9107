import t from 'tap';
import { parseCsv } from '../../src/data/csv.js';
import { DEFAULT_MAX_CATEGORIES, columnView, isMissingText, maxCategories, resolveColumnTypes, type StoredColumn } from '../../src/data/columns.js';

/** A table of mixed columns with gaps, as a spreadsheet exports it. */
const PENGUINS = [
  'id,island,bill_length_mm,sex,year,tagged,notes,species',
  '1,Biscoe,39.1,male,2007,yes,,Adelie',
  '2,Dream,,female,2007,no,NA,Gentoo',
  '3,"Torgersen, north",40.3,,2008,yes,n/a,Adelie',
  '4,Dream,NaN,male,2008,?,null,Gentoo',
  '5,Biscoe,36.7,female,2009,no,None,Adelie',
  '6,Dream,42.0,female,2009,Yes,#N/A,Gentoo',
].join('\n');

const columns = (text: string, maxCategories?: number) =>
  parseCsv(text, { source: 'penguins.csv', ...(maxCategories === undefined ? {} : { maxCategories }) }).columns as StoredColumn[];
const byName = (list: StoredColumn[], name: string) => list.find((column) => column.name === name) as StoredColumn;

t.test('infers each column type from its cells, and says why', async (t) => {
  const found = columns(PENGUINS);
  t.same(
    found.map((column) => [column.name, column.type]),
    [
      ['id', 'number'],
      ['island', 'category'],
      ['bill_length_mm', 'number'],
      ['sex', 'category'],
      ['year', 'number'],
      ['tagged', 'boolean'],
      ['notes', 'ignore'],
    ],
    'the label column is not among them',
  );
  t.match(columnView(byName(found, 'island')), {
    name: 'island',
    type: 'category',
    missing: 0,
    categories: [
      { value: 'Dream', count: 3 },
      { value: 'Biscoe', count: 2 },
      { value: 'Torgersen, north', count: 1 },
    ],
    reason: "'Biscoe' (row 2) is not a number",
  });
  t.match(byName(found, 'bill_length_mm'), { missing: 2, reason: 'every value is a number' });
  t.match(byName(found, 'tagged'), { missing: 1, categories: [{ value: 'no', count: 2 }, { value: 'yes', count: 2 }, { value: 'Yes', count: 1 }], reason: /boolean word/ });
  t.match(byName(found, 'notes'), { missing: 6, reason: 'every cell is missing' });
  t.equal(columnView(byName(found, 'sex')).missing, 1);
  t.notOk('storage' in columnView(byName(found, 'sex')), 'the view leaves out how the cells are stored');
});

t.test('reads as missing the markers spreadsheets, R, pandas and databases write', async (t) => {
  for (const marker of ['', 'NA', 'N/A', 'n/a', 'NaN', 'nan', 'null', 'NULL', 'None', '?', '#N/A', '<NA>']) t.ok(isMissingText(marker), marker);
  for (const value of ['0', 'none of them', 'Na', 'n', '-']) t.notOk(isMissingText(value), value);
});

t.test('0 and 1 are a boolean; ids (text values that all differ, or numbered id columns) are ignored', async (t) => {
  const rows = Array.from({ length: 25 }, (_, row) => `${row % 2},user${row},${row % 3},${101 + row},${(row * 7) % 25},${row},${row % 2 === 0 ? 'a' : 'b'}`);
  const found = columns(`flag,user,count,id,customer_id,paid,label\n${rows.join('\n')}\n`);
  t.match(byName(found, 'flag'), { type: 'boolean', reason: 'every value is 0 or 1', categories: [{ value: '0', count: 13 }, { value: '1', count: 12 }] });
  t.match(byName(found, 'user'), { type: 'ignore', reason: /every value is different \(25 of them\): an id or a name/ });
  t.match(byName(found, 'count'), { type: 'number' });
  t.match(byName(found, 'id'), { type: 'ignore', reason: /named like an id, with a different whole number in every row/ });
  t.match(byName(found, 'customer_id'), { type: 'ignore' }, 'in any order');
  t.match(byName(found, 'paid'), { type: 'number' }, 'a name that only ends in the letters id');
});

t.test('a text column over the category cap is ignored, naming the cap', async (t) => {
  const rows = Array.from({ length: 12 }, (_, row) => `city${row % 6},${row},${row % 2}`);
  const found = columns(`city,x,label\n${rows.join('\n')}\n`, 5);
  t.match(byName(found, 'city'), { type: 'ignore', overCap: true, reason: /more than 5 distinct values \(the cap, CAVIAR_MAX_CATEGORIES\)/ });
  t.equal(columnView(byName(found, 'city')).categories, undefined);
});

t.test("a column of numbers with one word becomes a category of every cell's text", async (t) => {
  const found = columns('size,label\n1.50,a\n2,b\n,a\nlarge,b\n1.50,a\n');
  t.match(byName(found, 'size'), {
    type: 'category',
    missing: 1,
    reason: "'large' (row 5) is not a number",
    categories: [{ value: '1.50', count: 2 }, { value: '2', count: 1 }, { value: 'large', count: 1 }],
  });
});

t.test("a job spec's column types override the inferred ones, and a type that cannot hold names its column", async (t) => {
  const found = columns(PENGUINS);
  const options = { label: 'species', maxCategories: 1000 };
  t.same(resolveColumnTypes(found, { year: { type: 'category' }, id: { type: 'ignore' }, tagged: { type: 'category' } }, options), [
    'ignore',
    'category',
    'number',
    'category',
    'category',
    'category',
    'ignore',
  ]);
  const refused = (overrides: Record<string, { type: 'number' | 'category' | 'boolean' | 'ignore' }>, path: string, message: RegExp) =>
    t.throws(() => resolveColumnTypes(found, overrides, options), { code: 'INVALID_SPEC', path, message }, path);
  refused({ island: { type: 'number' } }, '/columns/island', /^\/columns\/island: 'Biscoe' \(row 2\) is not a number$/);
  refused({ species: { type: 'category' } }, '/columns/species', /'species' is the label column/);
  refused({ islands: { type: 'category' } }, '/columns/islands', /no column named 'islands'; the columns are 'id', 'island'/);
  refused({ notes: { type: 'category' } }, '/columns/notes', /every cell is missing: it can only be ignored/);
  refused({ year: { type: 'boolean' } }, '/columns/year', /holds only 0 and 1 .* this one holds other numbers/);
  refused({ island: { type: 'boolean' } }, '/columns/island', /'Biscoe' is not a boolean/);
  t.throws(() => resolveColumnTypes(found, { year: { type: 'category' } }, { ...options, maxCategories: 2 }), {
    path: '/columns/year',
    message: /3 distinct values, more than the cap of 2 \(CAVIAR_MAX_CATEGORIES\)/,
  });
  const all = Object.fromEntries(found.map((column) => [column.name, { type: 'ignore' as const }]));
  t.throws(() => resolveColumnTypes(found, all, options), { path: '/columns', message: /every feature column is ignored/ });
  t.throws(() => resolveColumnTypes(found, { 'a/b~c': { type: 'ignore' } }, options), { code: 'INVALID_SPEC', path: '/columns/a~1b~0c' }, 'the path escapes / and ~');
});

t.test('the category cap comes from CAVIAR_MAX_CATEGORIES, 1000 by default', async (t) => {
  t.equal(maxCategories({}), DEFAULT_MAX_CATEGORIES);
  t.equal(DEFAULT_MAX_CATEGORIES, 1000);
  t.equal(maxCategories({ CAVIAR_MAX_CATEGORIES: '50' }), 50);
  for (const bad of ['1', 'many', '2.5']) t.throws(() => maxCategories({ CAVIAR_MAX_CATEGORIES: bad }), { message: /CAVIAR_MAX_CATEGORIES must be an integer of at least 2/ }, bad);
});
