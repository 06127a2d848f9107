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

t.test('a header wider than the column cap fails at the header, before any row is read', async (t) => {
  const names = (count: number) => Array.from({ length: count }, (_, index) => `c${index}`).join(',');
  // The rows after the header are broken: an error about them would mean they were read.
  const broken = '\n"never closed\n';
  t.throws(() => parseCsv(names(100_000) + broken, { source: 'wide.csv' }), {
    code: 'INVALID_DATA',
    source: 'wide.csv',
    row: 1,
    message: /^wide.csv: row 1: the header has more than 65536 columns, the cap \(CAVIAR_MAX_COLUMNS\)$/,
  });
  const atCap = parseCsv(`${names(65_536)}\n${'0,'.repeat(65_535)}0\n`, { noLabel: true });
  t.equal(atCap.train.features, 65_536, 'a header of 65536 columns is read');
  t.throws(() => parseCsv(names(65_537) + broken), { row: 1, message: /more than 65536 columns/ }, 'one past it is not');
  t.equal(parseCsv('a,b,label\n1,2,0\n', { maxColumns: 3 }).train.features, 2, 'the cap is an option too');
  t.throws(() => parseCsv('a,b,c,label\n1,2,3,0\n', { maxColumns: 3 }), { row: 1, message: /more than 3 columns/ });
});

t.test('a cell over the cell cap is refused by its size, naming its row and column', async (t) => {
  const label = 'x'.repeat(1024 * 1024);
  t.throws(() => parseCsv(`a,label\n1,cat\n2,"${label}"\n3,dog\n`, { source: 'data.csv' }), {
    code: 'INVALID_DATA',
    row: 3,
    column: 'label',
    message: /^data.csv: row 3, column 'label': a cell of 1048576 bytes, over the cap of 4096 \(CAVIAR_MAX_CELL_BYTES\)$/,
  });
  t.throws(() => parseCsv(`a,label\n1,cat\n2,${label}\n`), { row: 3, column: 'label', message: /a cell of 1048576 bytes/ }, 'unquoted too');
  // A quoted cell's row is the one it starts on; its doubled quotes count as they are written.
  const categories = (cell: string) => parseCsv(`a,color,label\n1,red,x\n2,${cell},y\n`, { maxCellBytes: 8 });
  t.same(categories('"a ""b"" "').columns?.[1]?.values, ['red', 'a "b"'], 'a quoted cell of 8 bytes passes');
  t.same(categories('12345678').columns?.[1]?.values, ['red', '12345678'], 'an unquoted one too');
  t.throws(() => categories('"a ""b"" \n"'), { row: 3, column: 'color', message: /a cell of 9 bytes, over the cap of 8/ }, 'one of 9 bytes fails');
  t.throws(() => categories('123456789'), { row: 3, column: 'color', message: /a cell of 9 bytes/ });
  t.throws(() => parseCsv('a,b\n1,2\n3,4,123456789\n', { maxCellBytes: 8 }), { row: 3, column: undefined, message: /row 3: a cell of 9 bytes/ }, 'a cell past the last column has no name');
});

t.test('a column name over the cap is refused at the header', async (t) => {
  const name = (length: number) => 'n'.repeat(length);
  t.same(parseCsv(`a,${name(256)},label\n1,2,0\n`).featureNames, ['a', name(256)], 'a name of 256 characters passes');
  t.throws(() => parseCsv(`a,${name(257)},label\n1,2,0\n`), {
    code: 'INVALID_DATA',
    row: 1,
    message: /row 1: column 2 of the header is a name of 257 characters, over the 256 a name may have$/,
  });
  // Characters, not bytes: 256 euro signs are 768 bytes, within the cell cap.
  t.equal(parseCsv(`${'€'.repeat(256)},label\n1,0\n`).featureNames[0]?.length, 256);
  t.throws(() => parseCsv(`${'€'.repeat(257)},label\n1,0\n`), { message: /a name of 257 characters/ });
  t.throws(() => parseCsv(`a,"${name(300)}",label\n1,2,0\n`, { maxCellBytes: 299 }), {
    row: 1,
    message: /row 1: column 2 of the header is a cell of 300 bytes, over the cap of 299 \(CAVIAR_MAX_CELL_BYTES\)/,
  }, 'a header cell over the cell cap, before it becomes a name');
});

t.test('a label column with more class names than the category cap is refused', async (t) => {
  const csv = (labels: string[]) => `a,kind\n${labels.map((label, index) => `${index},${label}`).join('\n')}\n`;
  const atCap = parseCsv(csv(['p', 'q', 'r', 'p', 'q']), { maxCategories: 3 });
  t.same(atCap.labels, { kind: 'classes', count: 3, names: ['p', 'q', 'r'] });
  t.throws(() => parseCsv(csv(['p', 'q', 'r', 'p', 's', 't']), { source: 'data.csv', maxCategories: 3 }), {
    code: 'INVALID_DATA',
    row: 6,
    column: 'kind',
    message: /^data.csv: row 6, column 'kind': 's' is a class past the cap of 3 distinct class names \(CAVIAR_MAX_CATEGORIES\): is the label column an id or free text\?$/,
  });
  const ids = Array.from({ length: 1001 }, (_, index) => `id${index}`);
  t.throws(() => parseCsv(csv(ids)), { row: 1002, message: /'id1000' is a class past the cap of 1000/ }, 'the cap is 1000 by default');
});

t.test('columns that turn to text late are read again once, with their values numbered in file order', async (t) => {
  // Three columns meet text at rows 6, 7 and 8 of 9 (a, then b and c): past the first, the
  // passes over the rows before would add up to more than the file, and wait for the end.
  const lines = ['a,b,c,label'];
  for (let row = 0; row < 8; row += 1) {
    const cell = (column: number) => (row === 4 + column ? `t${column}` : String(row % 3));
    lines.push(`${cell(0)},${cell(1)},${cell(2)},${row % 2}`);
  }
  const loaded = parseCsv(`${lines.join('\n')}\n`);
  const columns = loaded.columns ?? [];
  t.same(columns.map((column) => column.values), [
    ['0', '1', '2', 't0'],
    ['0', '1', '2', 't1'],
    ['0', '1', '2', 't2'],
  ]);
  t.same(columns.map((column) => column.firstText?.row), [6, 7, 8]);
  t.same(columns.map((column) => column.type), ['category', 'category', 'category']);
  const texts = lines.slice(1).map((line) => line.split(',').slice(0, 3));
  const decoded = Array.from({ length: 8 }, (_, row) =>
    columns.map((column, feature) => column.values?.[loaded.train.x[row * 3 + feature] as number]),
  );
  t.same(decoded, texts, "each cell's code names its text");
  t.same(
    columns.map((column) => column.categories?.find((category) => category.value === '0')?.count),
    [3, 3, 2],
    'each cell counted once',
  );
  // A header repeated mid-file (two files joined) turns every column at once.
  const joined = parseCsv('a,b,label\n1,2,x\n3,4,y\na,b,label\n5,6,x\n');
  t.same(joined.columns?.map((column) => column.values), [['1', '3', 'a', '5'], ['2', '4', 'b', '6']]);
  // In a test part, the train part is read again too: b at once, a at the end.
  const parts = parseCsv('a,b,label\n1,1,x\n2,2,y\n', { test: 'a,b,label\n3,3,x\n4,q,y\np,5,x\n' });
  t.same(parts.columns?.map((column) => column.values), [['1', '2', '3', '4', 'p'], ['1', '2', '3', 'q', '5']]);
  t.same(Array.from(parts.train.x), [0, 0, 1, 1]);
  t.same(Array.from(parts.test?.x ?? []), [2, 2, 3, 3, 4, 4]);
});

t.test('calls onProgress between rows, and between the rows it reads again', async (t) => {
  let calls = 0;
  parseCsv('a,b,label\n1,2,x\n3,4,y\n5,6,x\n', { onProgress: () => (calls += 1) });
  t.equal(calls, 3, 'once a row');
  calls = 0;
  parseCsv('a,b,label\n1,2,x\n3,4,y\np,q,x\n', { onProgress: () => (calls += 1) });
  t.equal(calls, 5, 'and once for each row before the one where columns turned to text');
});
