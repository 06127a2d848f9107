import t from 'tap';
import { csvRecord, neutralizeCell, predictionCsv, readPredictionCsv } from '../../src/data/predict-csv.js';
import { readCsvRecords } from '../../src/data/csv.js';
import type { Preprocessing } from '../../src/data/preprocess.js';

const named = { inputs: 2, featureNames: ['x1', 'x2'], labelName: 'moon' };
const unnamed = { inputs: 2 };

t.test("the model's features are read by name, in any order, and its label column is left out", async (t) => {
  const plain = readPredictionCsv('x1,x2\n1,2\n3,4\n', named);
  t.same(Array.from(plain.x), [1, 2, 3, 4]);
  t.equal(plain.rows, 2);
  t.equal(plain.label, undefined);
  const withLabel = readPredictionCsv('moon,x2,x1\nupper,2,1\nlower,4,3\n', named);
  t.same(Array.from(withLabel.x), [1, 2, 3, 4], "put in the model's order");
  t.equal(withLabel.label, 'moon');
});

t.test('--label names a column to leave out; another column is an error that says so', async (t) => {
  t.same(Array.from(readPredictionCsv('x1,id,x2\n1,a7,2\n', named, { label: 'id' }).x), [1, 2]);
  // The model's label is 'moon': another column is not taken for it.
  t.throws(() => readPredictionCsv('x1,x2,id\n1,2,7\n', named, { source: 'rows.csv' }), {
    code: 'INVALID_DATA',
    message: /^rows\.csv: the model's features are 'x1', 'x2': column 'id' is not one of them .*--label/,
  });
  t.throws(() => readPredictionCsv('x1,moon\n1,upper\n', named), { message: /no column 'x2'/ });
  t.throws(() => readPredictionCsv('x1,x2\n1,2\n', named, { label: 'species' }), { message: /no column named 'species'/ });
});

t.test('without recorded names the first columns are the features and one last column the label', async (t) => {
  t.same(Array.from(readPredictionCsv('a,b\n1,2\n', unnamed).x), [1, 2]);
  const labelled = readPredictionCsv('a,b,class\n1,2,lower\n', unnamed);
  t.same(Array.from(labelled.x), [1, 2]);
  t.equal(labelled.label, 'class');
  t.throws(() => readPredictionCsv('a,b,c,d\n1,2,3,4\n', unnamed), {
    message: /4 feature columns \('a', 'b', 'c', 'd'\), but the model takes 2; name a label column to leave out with --label/,
  });
  // A model that records its features but not its label (a built-in generator's): the one
  // column beside them is the label, wherever it is; two are one too many.
  const generated = { inputs: 2, featureNames: ['x1', 'x2'] };
  t.same(Array.from(readPredictionCsv('y,x1,x2\n0,1,2\n', generated).x), [1, 2]);
  t.throws(() => readPredictionCsv('y,x1,x2,z\n0,1,2,3\n', generated), { message: /column 'y', 'z' is not one of them/ });
});

t.test('a first row of numbers is refused as a missing header, not read as names', async (t) => {
  t.throws(() => readPredictionCsv('0.5,1.5\n2,3\n', named, { source: 'rows.csv' }), {
    code: 'INVALID_DATA',
    row: 1,
    message: /^rows\.csv: row 1: no header row: the first row \(0\.5,1\.5\) is all numbers; add a header naming the columns \(the model's features: x1,x2\)/,
  });
  t.throws(() => readPredictionCsv('1,2,3,4,5\n', { inputs: 5 }), { message: /\(1,2,3,4,\.\.\.\) is all numbers; .*\(5 feature columns\)/ });
  // Unless those numbers are the model's own feature names.
  t.same(Array.from(readPredictionCsv('1,2\n5,6\n', { inputs: 2, featureNames: ['1', '2'] }).x), [5, 6]);
});

t.test('output records are quoted where RFC 4180 needs it', async (t) => {
  t.equal(csvRecord(['class', 'p_0']), 'class,p_0');
  t.equal(csvRecord(['lower, left', 'say "hi"', 'two\nlines', 'plain']), '"lower, left","say ""hi""","two\nlines",plain');
});

t.test('a model that takes numbers only refuses text and gaps, naming the cell', async (t) => {
  t.throws(() => readPredictionCsv('x1,x2\n1,2\n3,abc\n', named, { source: 'rows.csv' }), {
    row: 3,
    column: 'x2',
    message: /^rows\.csv: row 3, column 'x2': 'abc' is not a number: this model was trained on numbers alone/,
  });
  t.throws(() => readPredictionCsv('x1,x2\n1,\n', named), { row: 2, column: 'x2', message: /empty cell/ });
  t.throws(() => readPredictionCsv('x1,x2\n', named), { message: /no data rows/ });
});

// What a model trained on a table records: its raw columns and how each became inputs.
const table: Preprocessing = {
  version: 1,
  columns: [
    { name: 'island', type: 'category', categories: ['Biscoe', 'Dream'], missing: false },
    { name: 'bill', type: 'number', fill: 40, indicator: true },
    { name: 'id', type: 'ignore' },
  ],
};
const tabular = { inputs: 4, featureNames: ['island=Biscoe', 'island=Dream', 'bill', 'bill:missing'], labelName: 'species', preprocessing: table };

t.test("a table model reads its raw columns by name: text, gaps, a column left out, its label let through", async (t) => {
  const rows = readPredictionCsv('bill,species,island,id\n39.5,Adelie,Dream,7\nNA,,"Biscoe",8\n,x,Torgersen,9\n', tabular, { source: 'rows.csv' });
  t.same(Array.from(rows.x), [0, 1, 39.5, 0, 1, 0, 40, 1, 0, 0, 40, 1]);
  t.equal(rows.label, 'species');
  t.same(rows.input.header, ['bill', 'species', 'island', 'id'], 'the file as read, to write back');
  const withoutBill = readPredictionCsv('island\nDream\n', tabular);
  t.same(Array.from(withoutBill.x), [0, 1, 40, 1], 'a column left out is a gap in every row');
  t.throws(() => readPredictionCsv('island,bil\nDream,3\n', tabular, { source: 'rows.csv' }), {
    row: 1,
    message: /the model's columns are 'island', 'bill', 'id': column 'bil' is not one of them/,
  });
  t.throws(() => readPredictionCsv('island,bill\nDream,long\n', tabular, { source: 'rows.csv' }), {
    row: 2,
    column: 'bill',
    message: /'long' is not a number/,
  });
  t.same(Array.from(readPredictionCsv('island,note\nDream,x\n', tabular, { label: 'note' }).x), [0, 1, 40, 1], '--label names another column to leave out');
});

t.test('predictions are appended to the rows as they came, quoted, with formulas neutralized', async (t) => {
  const input = readCsvRecords('name,predicted_species,x\n"Smith, J","=HYPERLINK(""http://x"")",-0.5\n@home,+1,"two\nlines"\n');
  const text = predictionCsv(input, {
    outputs: Float32Array.from([0.25, 0.75, 0.5, 0.5]),
    units: 2,
    classes: Int32Array.from([1, 0]),
    classNames: ['-lower', 'upper, right'],
    labelName: 'species',
  });
  t.equal(
    text,
    [
      'name,predicted_species,x,predicted_species_,p_-lower,"p_upper, right"',
      '"Smith, J","\'=HYPERLINK(""http://x"")",-0.5,"upper, right",0.25,0.75',
      "'@home,+1,\"two\nlines\",'-lower,0.5,0.5",
      '',
    ].join('\n'),
  );
  const binary = predictionCsv(readCsvRecords('a\n1\n'), { outputs: Float32Array.from([0.75]), units: 1, classes: Int32Array.from([1]) });
  t.equal(binary, 'a,predicted,p_0,p_1\n1,1,0.25,0.75\n', 'one sigmoid unit: the probabilities of 0 and 1');
  const regression = predictionCsv(readCsvRecords('a\n1\n'), { outputs: Float32Array.from([2.5, -1]), units: 2, labelName: 'y' });
  t.equal(regression, 'a,predicted_y_0,predicted_y_1\n1,2.5,-1\n');
});

t.test('a cell that a spreadsheet would run as a formula gets a leading quote (OWASP)', async (t) => {
  for (const cell of ['=1+1', '+SUM(A1)', '-2+3', '@SUM(A1)', '\tx', '\rx']) t.equal(neutralizeCell(cell), `'${cell}`, JSON.stringify(cell));
  for (const cell of ['-0.5', '+3', '1e-3', 'plain', '', ' =x']) t.equal(neutralizeCell(cell), cell, JSON.stringify(cell));
});
