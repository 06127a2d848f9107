import t from 'tap';
import { DataError } from '../../src/data/errors.js';

t.test('a DataError says where, then what', async (t) => {
  const location = { source: 'iris.csv', row: 17, column: 'petal_width' };
  const error = new DataError('INVALID_DATA', "'abc' is not a number", location);
  t.equal(error.message, "iris.csv: row 17, column 'petal_width': 'abc' is not a number");
  t.equal(error.name, 'DataError');
  t.equal(error.code, 'INVALID_DATA');
  t.equal(error.row, 17);
  t.equal(error.column, 'petal_width');
  t.equal(error.source, 'iris.csv');
  t.ok(error instanceof Error);
});

t.test('parts of the location may be missing', async (t) => {
  t.equal(new DataError('INVALID_DATA', 'no data rows', { source: 'a.csv' }).message, 'a.csv: no data rows');
  t.equal(new DataError('INVALID_DATA', 'bad', { row: 2 }).message, 'row 2: bad');
  t.equal(new DataError('INVALID_DATA', 'bad', { column: 'x' }).message, "column 'x': bad");
  const bare = new DataError('INVALID_SPEC', 'bad');
  t.equal(bare.message, 'bad');
  t.equal(bare.row, undefined);
});
