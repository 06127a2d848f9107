import t from 'tap';
import { existsSync } from 'node:fs';
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIRECTORY,
  fashionMnistFiles,
  loadFashionMnist,
} from '../../src/data/fashion-mnist.js';

const files = fashionMnistFiles();
const paths = [files.train.images, files.train.labels, files.test.images, files.test.labels];
const installed = paths.every((path) => existsSync(path));

const skip = installed
  ? {}
  : { skip: `dataset-fashion-mnist is not installed (no files in ${FASHION_MNIST_DIRECTORY})` };

t.test('loads the 60000 train and 10000 test images of the Debian package', skip, async (t) => {
  const loaded = await loadFashionMnist();
  t.equal(loaded.name, 'fashion-mnist');
  t.equal(loaded.train.rows, 60000);
  t.equal(loaded.train.features, 784);
  t.equal(loaded.train.x.length, 60000 * 784);
  t.equal(loaded.test?.rows, 10000);
  t.equal(loaded.test?.features, 784);
  t.same(loaded.labels, { kind: 'classes', count: 10, names: FASHION_MNIST_CLASSES });
  t.equal(Math.max(...loaded.train.x.subarray(0, 784 * 100)), 255);
  // The dataset is balanced: 6000 train and 1000 test images of each class.
  const counts = (y: Float32Array): number[] => {
    const tally = Array<number>(10).fill(0);
    for (const label of y) tally[label] = (tally[label] ?? 0) + 1;
    return tally;
  };
  t.same(counts(loaded.train.y), Array(10).fill(6000));
  t.same(counts(loaded.test?.y ?? new Float32Array()), Array(10).fill(1000));
  t.equal(loaded.train.y[0], 9, 'the first train image is an ankle boot');
});

t.test('says which package to install when the files are absent', async (t) => {
  const directory = t.testdir({});
  await t.rejects(loadFashionMnist(directory), {
    name: 'DataError',
    code: 'DATASET_NOT_FOUND',
    message: /Fashion-MNIST is not installed \(apt-get install dataset-fashion-mnist/,
  });
});
