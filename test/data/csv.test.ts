import t from 'tap';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadCsv, parseCsv } from '../../src/data/csv.js';
import { Random } from '../../src/data/random.js';

t.test('reads features row-major and the last column as the label', async (t) => {
  const loaded = parseCsv('a,b,label\n1,2,0\n3,4.5,1\n-5,6e-1,2\n');
  t.same(loaded.featureNames, ['a', 'b']);
  t.same(Array.from(loaded.train.x), [1, 2, 3, 4.5, -5, Math.fround(0.6)]);
  t.same(Array.from(loaded.train.y), [0, 1, 2]);
  t.equal(loaded.train.rows, 3);
  t.equal(loaded.train.features, 2);
  t.same(loaded.labels, { kind: 'classes', count: 3 });
  t.equal(loaded.test, undefined);
});

t.test('takes the label column the user names, wherever it is', async (t) => {
  const loaded = parseCsv('species,length,width\nb,1,2\na,3,4\n', { label: 'species' });
  t.same(loaded.featureNames, ['length', 'width']);
  t.same(Array.from(loaded.train.x), [1, 2, 3, 4]);
  t.same(Array.from(loaded.train.y), [1, 0]);
});

t.test('maps string labels to sorted indices and back, whatever the row order', async (t) => {
  const text = 'x,flower\n1,virginica\n2,setosa\n3,versicolor\n4,setosa\n';
  const loaded = parseCsv(text);
  t.same(loaded.labels, { kind: 'classes', count: 3, names: ['setosa', 'versicolor', 'virginica'] });
  t.same(Array.from(loaded.train.y), [2, 0, 1, 0]);
  const names = loaded.labels.kind === 'classes' ? (loaded.labels.names ?? []) : [];
  const decoded = Array.from(loaded.train.y, (index) => names[index]);
  t.same(decoded, ['virginica', 'setosa', 'versicolor', 'setosa']);
  const reversed = parseCsv('x,flower\n4,setosa\n3,versicolor\n2,setosa\n1,virginica\n');
  t.same(reversed.labels, loaded.labels);
});

t.test('reads every column as a feature when there is no label column', async (t) => {
  const loaded = parseCsv('a,b\n1,2\n3,4\n', { noLabel: true, test: 'a,b\n5,6\n' });
  t.same(loaded.featureNames, ['a', 'b']);
  t.same(Array.from(loaded.train.x), [1, 2, 3, 4]);
  t.equal(loaded.train.y.length, 0);
  t.same(loaded.labels, { kind: 'values', width: 0 });
  t.same(Array.from(loaded.test?.x ?? []), [5, 6]);
});

t.test('keeps non-integer labels as regression values', async (t) => {
  const loaded = parseCsv('x,price\n1,2.5\n2,-1\n');
  t.same(loaded.labels, { kind: 'values', width: 1 });
  t.same(Array.from(loaded.train.y), [2.5, -1]);
});

t.test('parses numbers exactly as Number() does, then rounds to float32', async (t) => {
  const random = new Random(7);
  const texts = ['0', '-0', '+3', '.5', '5.', '1e3', '1E-3', '12345678901234567890', '0.1e-30', ' 7 ', '3.4e38'];
  for (let i = 0; i < 2000; i += 1) {
    const magnitude = 10 ** (random.below(40) - 20);
    const value = (random.uniform() - 0.5) * magnitude;
    texts.push(i % 3 === 0 ? value.toExponential(random.below(17)) : String(value));
  }
  const loaded = parseCsv(`x,y\n${texts.map((text) => `${text},0`).join('\n')}`);
  t.same(Array.from(loaded.train.x), texts.map((text) => Math.fround(Number(text))));
});

t.test('accepts quotes, CRLF line ends, a byte order mark, blank lines and no final newline', async (t) => {
  const text = '\ufeff"a","b ""quoted""",label\r\n"1",2,"x, y"\r\n\r\n3,"4",z';
  const loaded = parseCsv(text);
  t.same(loaded.featureNames, ['a', 'b "quoted"']);
  t.same(Array.from(loaded.train.x), [1, 2, 3, 4]);
  t.same(loaded.labels, { kind: 'classes', count: 2, names: ['x, y', 'z'] });
});

t.test('reads lines that end in a lone carriage return', async (t) => {
  const rows = Array.from({ length: 1500 }, (_, index) => `${index},${index % 2}`);
  const loaded = parseCsv(`x,label\r${rows.join('\r')}`);
  t.equal(loaded.train.rows, 1500);
  t.equal(loaded.train.x[1499], 1499);
  t.equal(loaded.train.x.length, 1500);
  t.throws(() => parseCsv('x,label\r1,0\r2,zero\r3,1'), { row: 3, column: 'label', message: /'zero'/ });
  t.same(parseCsv('x,label\r1,0\r,1\r3,1').columns?.[0]?.missing, 1, 'and counts their gaps by row');
});

t.test('reads a string, its bytes, a file and a gzipped file alike', async (t) => {
  const text = 'a,b,label\n1,2,cat\n3,4,dog\n';
  const directory = t.testdir({ 'plain.csv': text, 'packed.csv.gz': gzipSync(text) });
  const expected = parseCsv(text);
  t.same(parseCsv(Buffer.from(text)).train, expected.train);
  t.same(parseCsv(new TextEncoder().encode(text)).train, expected.train);
  const plain = await loadCsv(join(directory, 'plain.csv'));
  t.same(plain.train, expected.train);
  t.equal(plain.name, 'plain.csv');
  t.same((await loadCsv(join(directory, 'packed.csv.gz'))).train, expected.train);
});

t.test('loads a test file against the train file', async (t) => {
  const directory = t.testdir({
    'train.csv': 'x,label\n1,cat\n2,dog\n3,cat\n',
    'test.csv': 'x,label\n4,dog\n5,dog\n',
  });
  const loaded = await loadCsv(join(directory, 'train.csv'), { test: join(directory, 'test.csv') });
  t.same(Array.from(loaded.test?.x ?? []), [4, 5]);
  t.same(Array.from(loaded.test?.y ?? []), [1, 1]);
  t.equal(loaded.test?.features, 1);
});

t.test('reports bad data with its row and column', async (t) => {
  const cases: { name: string; text: string | Uint8Array; row?: number; column?: string; message: RegExp }[] = [
    { name: 'a float32 overflow', text: 'a,label\n1e39,0\n',
      row: 2, column: 'a', message: /out of the float32 range/ },
    { name: 'a short row', text: 'a,b,label\n1,2,0\n\n1,2\n',
      row: 4, column: 'label', message: /row 4, column 'label': 2 cells, but the header has 3/ },
    { name: 'a long row', text: 'a,b,label\n1,2,0,9,9\n',
      row: 2, message: /5 cells, but the header has 3: the row goes on past the last column/ },
    { name: 'a NaN label', text: 'a,label\n1,0\n2,nan\n3,1\n',
      row: 3, column: 'label', message: /missing label \('nan'\)/ },
    { name: 'a name among numeric labels', text: 'a,label\n1,0\n2,1\n3,two\n',
      row: 4, column: 'label', message: /'two' is not a number/ },
    { name: 'an empty label', text: 'a,label\n1,cat\n2,\n',
      row: 3, column: 'label', message: /empty label/ },
    { name: 'an unclosed quote', text: 'a,label\n1,0\n"2,0\n', row: 3, message: /never closed/ },
    { name: 'text after a closing quote', text: 'a,label\n"1"x,0\n',
      row: 2, message: /after a closing quote/ },
    { name: 'a duplicate column name', text: 'a,a,label\n1,2,0\n',
      row: 1, message: /'a' appears twice/ },
    { name: 'a header with no rows', text: 'a,b,label\n', message: /no data rows/ },
    { name: 'an empty file', text: '', message: /empty file/ },
    { name: 'only a label column', text: 'label\n1\n', message: /no feature columns/ },
    { name: 'Latin-1 bytes', text: Buffer.from('town,size,label\nParis,1,0\nZ\xfcrich,2,1\n', 'latin1'),
      row: 3, column: 'town', message: /row 3, column 'town': byte 0xfc is not UTF-8: the file is in another encoding .*save it as UTF-8/ },
    { name: 'UTF-16', text: Buffer.from('\ufeffa,label\n1,0\n', 'utf16le'), message: /UTF-16 .*save it as UTF-8/ },
  ];
  for (const { name, text, row, column, message } of cases) {
    const wanted = { name: 'DataError', code: 'INVALID_DATA', source: 'data.csv', row, column, message };
    t.throws(() => parseCsv(text, { source: 'data.csv' }), wanted, name);
  }
});

t.test('names the label column it cannot find', async (t) => {
  t.throws(() => parseCsv('a,b\n1,2\n', { label: 'species' }), {
    code: 'INVALID_DATA',
    row: 1,
    message: /no column named 'species'; the columns are 'a', 'b'/,
  });
  const wide = Array.from({ length: 12 }, (_, index) => `c${index + 1}`).join(',');
  t.throws(() => parseCsv(`${wide}\n${'1,'.repeat(11)}1\n`, { label: 'species' }), {
    message: /the columns are 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8' and 4 more$/,
  });
});

t.test('refuses a test part whose columns differ or whose labels train never saw', async (t) => {
  const train = 'a,b,label\n1,2,cat\n3,4,dog\n';
  t.throws(() => parseCsv(train, { test: 'a,c,label\n1,2,cat\n', testSource: 'test.csv' }), {
    code: 'INVALID_DATA',
    source: 'test.csv',
    row: 1,
    message: /the columns differ from train: missing 'b'; extra 'c'/,
  });
  t.throws(() => parseCsv(train, { test: 'b,a,label\n1,2,cat\n' }), {
    message: /the same columns in another order/,
  });
  t.throws(() => parseCsv(train, { test: 'a,b,label\n1,2,cat\n3,4,bird\n', testSource: 'test.csv' }), {
    code: 'INVALID_DATA',
    row: 3,
    column: 'label',
    message: /^test.csv: row 3, column 'label': 'bird' is not a class seen in train$/,
  });
  t.throws(() => parseCsv('a,label\n1,0\n2,1\n', { test: 'a,label\n1,2\n' }), {
    row: 2,
    column: 'label',
    message: /label 2 is not a class seen in train/,
  });
});

t.test('a missing file is DATASET_NOT_FOUND, naming it', async (t) => {
  const directory = t.testdir({});
  const path = join(directory, 'absent.csv');
  await t.rejects(loadCsv(path), { code: 'DATASET_NOT_FOUND', source: path });
});

t.test('reads in time linear in the size of the file', async (t) => {
  // A quadratic reader (string concatenation, arrays grown one row at a time) would take
  // 64 times as long for 8 times the rows; a linear one takes about 8 times as long.
  const columns = 40;
  const header = Array.from({ length: columns }, (_, index) => `x${index}`).join(',');
  const row = Array.from({ length: columns }, (_, index) => String(index * 3)).join(',');
  const seconds = (rows: number): number => {
    const text = `${header}\n${Array(rows).fill(row).join('\n')}\n`;
    const started = performance.now();
    const loaded = parseCsv(text);
    t.equal(loaded.train.rows, rows);
    return (performance.now() - started) / 1000;
  };
  seconds(500);
  const small = seconds(1000);
  const large = seconds(8000);
  t.ok(large / small < 24, `1000 rows: ${small.toFixed(4)} s, 8000 rows: ${large.toFixed(4)} s`);
});
