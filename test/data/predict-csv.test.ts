import t from 'tap';
import { csvRecord, readPredictionCsv } from '../../src/data/predict-csv.js';

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
