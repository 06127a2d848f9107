import t from 'tap';
import {
  checkStorable,
  describeValue,
  isStorable,
  parseDecimal,
  quote,
  whyNotANumber,
} from '../../src/data/numbers.js';

t.test('parses the decimals that spreadsheets and NumPy write, and nothing else', async (t) => {
  const decimals = [['12', 12], ['-0.5', -0.5], ['+.5', 0.5], ['3.', 3], ['1e-3', 0.001], [' 7 ', 7]] as const;
  for (const [text, value] of decimals) {
    t.equal(parseDecimal(text), value, text);
  }
  for (const text of ['', ' ', '0x1f', '0b1', '1_000', '1,5', 'Infinity', 'NaN', '1e', 'e5', '--1', '.']) {
    t.equal(parseDecimal(text), undefined, `'${text}'`);
  }
});

t.test('says why a cell is not a number', async (t) => {
  t.equal(whyNotANumber(' '), 'empty cell');
  t.equal(whyNotANumber('-inf'), "'-inf' is not a finite number");
  t.equal(whyNotANumber('abc'), "'abc' is not a number");
  t.equal(quote('x'.repeat(50)), `'${'x'.repeat(37)}...'`);
});

t.test('storable means finite in float32', async (t) => {
  t.ok(isStorable(3.4e38));
  t.notOk(isStorable(3.5e38));
  t.notOk(isStorable(Number.NaN));
  t.notOk(isStorable('1'));
  t.equal(checkStorable(-2, {}), -2);
  t.throws(() => checkStorable(Number.POSITIVE_INFINITY, { row: 4 }), {
    code: 'INVALID_DATA',
    row: 4,
    message: /Infinity is not a finite number/,
  });
  t.throws(() => checkStorable(-1e39, {}), { message: /-1e\+39 is out of the float32 range/ });
  t.throws(() => checkStorable([1], {}), { message: /an array is not a number/ });
  t.equal(describeValue({ a: 1 }), 'an object');
  t.equal(describeValue(true), 'true');
});
