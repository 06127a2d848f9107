import t from 'tap';
import {
  DEFAULT_MAX_CATEGORIES,
  DEFAULT_MAX_CELL_BYTES,
  DEFAULT_MAX_COLUMNS,
  dataLimits,
  integerSetting,
  maxCellBytes,
  maxColumns,
  tooLongCell,
  tooLongName,
} from '../../src/data/limits.js';

t.test('each cap comes from its variable, with a default', async (t) => {
  t.same(dataLimits({}, {}), { maxCategories: DEFAULT_MAX_CATEGORIES, maxColumns: DEFAULT_MAX_COLUMNS, maxCellBytes: DEFAULT_MAX_CELL_BYTES });
  t.same([DEFAULT_MAX_CATEGORIES, DEFAULT_MAX_COLUMNS, DEFAULT_MAX_CELL_BYTES], [1000, 65536, 4096]);
  const env = { CAVIAR_MAX_CATEGORIES: '50', CAVIAR_MAX_COLUMNS: '800', CAVIAR_MAX_CELL_BYTES: '', CAVIAR_OTHER: 'x' };
  t.same(dataLimits({}, env), { maxCategories: 50, maxColumns: 800, maxCellBytes: 4096 }, 'an empty variable is unset');
  t.same(dataLimits({ maxColumns: 3 }, env), { maxCategories: 50, maxColumns: 3, maxCellBytes: 4096 }, 'a cap given wins');
});

t.test('a bad value is refused, naming its variable', async (t) => {
  for (const bad of ['0', 'many', '2.5', '-1', '1e400']) {
    t.throws(() => maxColumns({ CAVIAR_MAX_COLUMNS: bad }), { message: `CAVIAR_MAX_COLUMNS must be an integer of at least 1, not '${bad}'` }, bad);
    t.throws(() => maxCellBytes({ CAVIAR_MAX_CELL_BYTES: bad }), { message: /^CAVIAR_MAX_CELL_BYTES must be an integer of at least 1/ }, bad);
  }
  t.doesNotThrow(() => dataLimits({ maxColumns: 3 }, { CAVIAR_MAX_COLUMNS: 'many' }), 'a variable the caller overrides is not read');
  t.equal(integerSetting({ N: '7' }, 'N', 1, 5), 7);
  t.throws(() => integerSetting({ N: '4' }, 'N', 1, 5), { message: "N must be an integer of at least 5, not '4'" });
});

t.test('names count characters, cells bytes', async (t) => {
  t.equal(tooLongName('é'.repeat(3), 3), undefined);
  t.equal(tooLongName('😀'.repeat(3), 3), undefined, 'a character outside the BMP counts once');
  t.equal(tooLongName('abcd', 3), 'a name of 4 characters, over the 3 a name may have');
  t.equal(tooLongCell('é'.repeat(2), 4), undefined);
  t.equal(tooLongCell('é'.repeat(3), 5), 'a cell of 6 bytes, over the cap of 5 (CAVIAR_MAX_CELL_BYTES)');
});
