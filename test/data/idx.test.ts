import t from 'tap';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { datasetFromIdx, labelsPathFor, loadIdx, parseIdx } from '../../src/data/idx.js';

/** An IDX file: magic number (0, 0, type, rank), big-endian dimensions, then the values. */
function idx(type: number, dimensions: number[], values: number[]): Buffer {
  const width = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 }[type] ?? 1;
  const bytes = Buffer.alloc(4 + 4 * dimensions.length + width * values.length);
  bytes.set([0, 0, type, dimensions.length]);
  dimensions.forEach((dimension, index) => bytes.writeUInt32BE(dimension, 4 + 4 * index));
  const offset = 4 + 4 * dimensions.length;
  values.forEach((value, index) => {
    const at = offset + width * index;
    if (type === 0x08) bytes.writeUInt8(value, at);
    else if (type === 0x09) bytes.writeInt8(value, at);
    else if (type === 0x0b) bytes.writeInt16BE(value, at);
    else if (type === 0x0c) bytes.writeInt32BE(value, at);
    else if (type === 0x0d) bytes.writeFloatBE(value, at);
    else bytes.writeDoubleBE(value, at);
  });
  return bytes;
}

// Three 2 x 2 images and their labels.
const images = idx(0x08, [3, 2, 2], [0, 1, 2, 3, 10, 11, 12, 13, 200, 201, 202, 255]);
const labels = idx(0x08, [3], [2, 0, 1]);

t.test('reads images as rows of pixels and labels as classes', async (t) => {
  const loaded = datasetFromIdx({ images, labels });
  t.equal(loaded.train.rows, 3);
  t.equal(loaded.train.features, 4);
  t.same(Array.from(loaded.train.x), [0, 1, 2, 3, 10, 11, 12, 13, 200, 201, 202, 255]);
  t.same(Array.from(loaded.train.y), [2, 0, 1]);
  t.same(loaded.labels, { kind: 'classes', count: 3 });
  t.same(loaded.featureNames, ['pixel1', 'pixel2', 'pixel3', 'pixel4']);
});

t.test('reads every IDX value type, big-endian', async (t) => {
  const bytes = parseIdx(idx(0x09, [3], [-1, 0, 127]));
  t.same(bytes, { dimensions: [3], items: 3, size: 1, values: Float32Array.of(-1, 0, 127) });
  t.same(Array.from(parseIdx(idx(0x0b, [2], [-300, 300])).values), [-300, 300]);
  t.same(Array.from(parseIdx(idx(0x0c, [2], [-70000, 70000])).values), [-70000, 70000]);
  t.same(Array.from(parseIdx(idx(0x0d, [2], [0.5, -2.25])).values), [0.5, -2.25]);
  t.same(Array.from(parseIdx(idx(0x0e, [1, 2], [0.25, 1e10])).values), [0.25, 1e10]);
});

t.test('detects gzip by its magic bytes, not by the file name', async (t) => {
  const directory = t.testdir({ 'images.idx': gzipSync(images), 'labels.gz': labels });
  const files = { images: join(directory, 'images.idx'), labels: join(directory, 'labels.gz') };
  const loaded = await loadIdx(files);
  t.same(Array.from(loaded.train.y), [2, 0, 1]);
  t.equal(loaded.train.x[11], 255);
  t.equal(loaded.name, 'images.idx');
});

t.test('names classes and keeps a test part', async (t) => {
  const loaded = datasetFromIdx(
    { images, labels },
    {
      classNames: ['a', 'b', 'c', 'd'],
      test: { images: idx(0x08, [1, 2, 2], [5, 6, 7, 8]), labels: idx(0x08, [1], [1]) },
    },
  );
  t.same(loaded.labels, { kind: 'classes', count: 4, names: ['a', 'b', 'c', 'd'] });
  t.same(Array.from(loaded.test?.x ?? []), [5, 6, 7, 8]);
  t.same(Array.from(loaded.test?.y ?? []), [1]);
});

t.test('finds the labels file by the MNIST naming', async (t) => {
  t.equal(labelsPathFor('data/train-images-idx3-ubyte.gz'), 'data/train-labels-idx1-ubyte.gz');
  t.equal(labelsPathFor('images-idx3/t10k-images-idx3-ubyte'), 'images-idx3/t10k-labels-idx1-ubyte');
  t.equal(labelsPathFor('data/pictures.idx'), undefined);
});

t.test('refuses bad magic numbers, truncated files and mismatched pairs', async (t) => {
  const source = 'file.idx';
  const cases: { name: string; bytes: Uint8Array; message: RegExp }[] = [
    { name: 'a CSV file', bytes: Buffer.from('a,b\n1,2\n'),
      message: /bad magic number 0x612c620a: not an IDX file/ },
    { name: 'an unknown type', bytes: Buffer.from([0, 0, 0x07, 1, 0, 0, 0, 0]),
      message: /bad magic number 0x00000701/ },
    { name: 'rank 0', bytes: Buffer.from([0, 0, 0x08, 0]), message: /bad magic number/ },
    { name: 'a short file', bytes: Buffer.from([0, 0]), message: /truncated: 2 bytes/ },
    { name: 'a truncated header', bytes: Buffer.from([0, 0, 8, 3, 0, 0, 0, 1]),
      message: /truncated: the header needs 16 bytes/ },
    { name: 'truncated values', bytes: images.subarray(0, images.length - 1),
      message: /truncated: 3 x 2 x 2 values need 28 bytes, the file has 27/ },
    { name: 'trailing bytes', bytes: Buffer.concat([labels, Buffer.from([1])]),
      message: /1 bytes beyond the 3 values/ },
    { name: 'corrupt gzip', bytes: gzipSync(images).subarray(0, 20), message: /corrupt gzip data/ },
    { name: 'a NaN float', bytes: idx(0x0d, [2, 1], [1, Number.NaN]),
      message: /row 2: NaN is not a finite number/ },
  ];
  for (const { name, bytes, message } of cases) {
    const wanted = { name: 'DataError', code: 'INVALID_DATA', source, message };
    t.throws(() => parseIdx(bytes, source), wanted, name);
  }
  t.throws(() => datasetFromIdx({ images, labels: idx(0x08, [2], [0, 1]), labelsSource: 'labels.idx' }), {
    source: 'labels.idx',
    message: /2 labels for 3 images/,
  });
  t.throws(() => datasetFromIdx({ images, labels: images }), { message: /labels must be one-dimensional/ });
  const narrow = { images: idx(0x08, [1, 3], [1, 2, 3]), labels: idx(0x08, [1], [0]) };
  t.throws(() => datasetFromIdx({ images, labels }, { test: narrow }), {
    message: /3 values an image, but train has 4/,
  });
  const unseen = {
    images: idx(0x08, [1, 2, 2], [1, 2, 3, 4]),
    labels: idx(0x08, [1], [7]),
    labelsSource: 'test-labels',
  };
  t.throws(() => datasetFromIdx({ images, labels }, { test: unseen }), {
    source: 'test-labels',
    row: 1,
    message: /label 7 is not a class seen in train/,
  });
  t.throws(() => datasetFromIdx({ images, labels }, { classNames: ['a', 'b'] }), { message: /not classes 0..1/ });
  await t.rejects(loadIdx({ images: 'absent-images.idx', labels: 'absent-labels.idx' }), {
    code: 'DATASET_NOT_FOUND',
    source: 'absent-images.idx',
  });
});
