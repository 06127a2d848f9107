import t from 'tap';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileFormat, resolveDataset } from '../../src/data/resolve.js';

/** An unsigned-byte IDX file. */
function idx(dimensions: number[], values: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dimensions.length);
  header.set([0, 0, 0x08, dimensions.length]);
  dimensions.forEach((dimension, index) => header.writeUInt32BE(dimension, 4 + 4 * index));
  return Buffer.concat([header, Buffer.from(values)]);
}

t.test('tells a file format from its name, through .gz', async (t) => {
  t.equal(fileFormat('data/train.csv'), 'csv');
  t.equal(fileFormat('TRAIN.CSV.GZ'), 'csv');
  t.equal(fileFormat('points.json'), 'json');
  t.equal(fileFormat('train-images-idx3-ubyte.gz'), 'idx');
  t.equal(fileFormat('digits.idx'), 'idx');
  t.throws(() => fileFormat('notes.txt'), {
    name: 'DataError',
    code: 'INVALID_SPEC',
    source: 'notes.txt',
    message: /cannot tell the format/,
  });
});

t.test('loads files relative to the base directory, with a label column and a test file', async (t) => {
  const directory = t.testdir({
    'train.csv': 'kind,a,b\ncat,1,2\ndog,3,4\n',
    'test.csv': 'kind,a,b\ndog,5,6\n',
  });
  const spec = { path: 'train.csv', label: 'kind', test: 'test.csv' };
  const loaded = await resolveDataset(spec, { baseDirectory: directory });
  t.same(loaded.featureNames, ['a', 'b']);
  t.same(loaded.labels, { kind: 'classes', count: 2, names: ['cat', 'dog'] });
  t.same(Array.from(loaded.test?.x ?? []), [5, 6]);
});

t.test('loads JSON files', async (t) => {
  const directory = t.testdir({ 'data.json': JSON.stringify({ x: [[1], [2]], y: [0.5, 1.5] }) });
  const loaded = await resolveDataset({ path: join(directory, 'data.json') });
  t.same(loaded.labels, { kind: 'values', width: 1 });
  await t.rejects(resolveDataset({ path: join(directory, 'data.json'), label: 'y' }), {
    code: 'INVALID_SPEC',
    message: /JSON holds its labels in y/,
  });
});

t.test('loads IDX pairs by the MNIST naming, or with the labels file named', async (t) => {
  const directory = t.testdir({
    'train-images-idx3-ubyte.gz': gzipSync(idx([2, 1, 2], [1, 2, 3, 4])),
    'train-labels-idx1-ubyte.gz': gzipSync(idx([2], [1, 0])),
    't10k-images-idx3-ubyte': idx([1, 1, 2], [5, 6]),
    't10k-labels-idx1-ubyte': idx([1], [1]),
    'pictures.idx': idx([2, 2], [7, 8, 9, 10]),
    'answers.idx': idx([2], [0, 1]),
  });
  const loaded = await resolveDataset(
    { path: 'train-images-idx3-ubyte.gz', test: 't10k-images-idx3-ubyte' },
    { baseDirectory: directory },
  );
  t.same(Array.from(loaded.train.y), [1, 0]);
  t.same(Array.from(loaded.test?.x ?? []), [5, 6]);
  const named = await resolveDataset({ path: 'pictures.idx', label: 'answers.idx' }, {
    baseDirectory: directory,
  });
  t.same(Array.from(named.train.x), [7, 8, 9, 10]);
  await t.rejects(resolveDataset({ path: 'pictures.idx' }, { baseDirectory: directory }), {
    code: 'INVALID_SPEC',
    message: /cannot find the labels file/,
  });
});

t.test('refuses a test file of another format, and missing files', async (t) => {
  const directory = t.testdir({ 'train.csv': 'a,label\n1,0\n' });
  await t.rejects(resolveDataset({ path: 'train.csv', test: 'test.json' }, { baseDirectory: directory }), {
    code: 'INVALID_SPEC',
    message: /the test file is json, the train file csv/,
  });
  await t.rejects(resolveDataset({ path: 'absent.csv' }, { baseDirectory: directory }), {
    code: 'DATASET_NOT_FOUND',
    source: join(directory, 'absent.csv'),
  });
});

t.test('loads the course sets by name', async (t) => {
  const directory = t.testdir({
    'tiny_train.csv': 'x1,x2,label\n0,1,0\n1,0,1\n',
    'tiny_test.csv': 'x1,x2,label\n1,1,1\n',
  });
  const tiny = await resolveDataset({ builtin: 'course2/tiny' }, { courseDirectory: directory });
  t.equal(tiny.name, 'course2/tiny');
  t.equal(tiny.test?.rows, 1);
  await t.rejects(resolveDataset({ builtin: 'course2/tiny', samples: 10 }, { courseDirectory: directory }), {
    code: 'INVALID_SPEC',
    message: /samples applies to generated datasets/,
  });
});

t.test('generates the built-in 2-D sets from their parameters, the same for the same seed', async (t) => {
  const moons = await resolveDataset({ builtin: 'moons', samples: 40, noise: 0.1, seed: 3 });
  t.equal(moons.name, 'moons');
  t.equal(moons.train.rows, 40);
  t.equal(moons.train.features, 2);
  t.same(moons.labels, { kind: 'classes', count: 2 });
  t.same(await resolveDataset({ builtin: 'moons', samples: 40, noise: 0.1, seed: 3 }), moons);
  const other = await resolveDataset({ builtin: 'moons', samples: 40, noise: 0.1, seed: 4 });
  t.notSame(Array.from(other.train.x), Array.from(moons.train.x));
  const spirals = await resolveDataset({ builtin: 'spirals', samples: 30, classes: 5 });
  t.same(spirals.labels, { kind: 'classes', count: 5 });
  await t.rejects(resolveDataset({ builtin: 'circles', classes: 3 }), { code: 'INVALID_SPEC' });
});

t.test('refuses unknown built-ins, naming the known ones', async (t) => {
  await t.rejects(resolveDataset({ builtin: 'mnist' }), {
    name: 'DataError',
    code: 'DATASET_NOT_FOUND',
    message: /no built-in dataset 'mnist'; the built-ins are .*fashion-mnist/,
  });
});

t.test('loads Fashion-MNIST by name, without parameters', async (t) => {
  const directory = t.testdir({});
  await t.rejects(resolveDataset({ builtin: 'fashion-mnist' }, { fashionMnistDirectory: directory }), {
    code: 'DATASET_NOT_FOUND',
    message: /apt-get install dataset-fashion-mnist/,
  });
  await t.rejects(resolveDataset({ builtin: 'fashion-mnist', seed: 1, noise: 0.1 }), {
    code: 'INVALID_SPEC',
    message: /noise, seed apply to generated datasets/,
  });
});
