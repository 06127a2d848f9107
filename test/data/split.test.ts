import t from 'tap';
import type { Dataset, Labels, LoadedDataset } from '../../src/data/dataset.js';
import { splitDataset, splitIndices } from '../../src/data/split.js';

/** A dataset whose one feature is the row's index, so that rows can be traced; classes
 * sizes[0] of class 0, then sizes[1] of class 1, ..., interleaved by a stride. */
function classDataset(sizes: number[]): LoadedDataset {
  const labels: number[] = sizes.flatMap((size, label) => Array<number>(size).fill(label));
  // Interleave, so that classes are not in blocks and file order matters.
  const order = labels.map((_, index) => (index * 7) % labels.length);
  const y = Float32Array.from(order, (index) => labels[index] as number);
  return loadedOf(y, { kind: 'classes', count: sizes.length });
}

function loadedOf(y: Float32Array, labels: Labels, test?: Dataset): LoadedDataset {
  const rows = y.length;
  const train = { x: Float32Array.from({ length: rows }, (_, row) => row), y, rows, features: 1 };
  return { name: 'test', train, featureNames: ['id'], labels, ...(test && { test }) };
}

function countByClass(dataset: Dataset | undefined, classes: number): number[] {
  const counts = Array<number>(classes).fill(0);
  for (const label of dataset?.y ?? []) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

const ids = (dataset: Dataset | undefined): number[] => Array.from(dataset?.x ?? []);

t.test('splits every class in the same proportions', async (t) => {
  const loaded = classDataset([50, 30, 20]);
  const parts = splitDataset(loaded, { dev: 0.2, test: 0.1, seed: 3 });
  t.same(countByClass(parts.dev, 3), [10, 6, 4]);
  t.same(countByClass(parts.test, 3), [5, 3, 2]);
  t.same(countByClass(parts.train, 3), [35, 21, 14]);
});

t.test('loses and duplicates no rows, and keeps file order in each part', async (t) => {
  const loaded = classDataset([7, 5, 3]);
  const parts = splitDataset(loaded, { dev: 0.25, test: 0.2, seed: 1 });
  const all = [...ids(parts.train), ...ids(parts.dev), ...ids(parts.test)].sort((a, b) => a - b);
  t.same(all, Array.from({ length: 15 }, (_, row) => row));
  t.equal(parts.dev?.rows, 4, 'round(15 x 0.25)');
  t.equal(parts.test?.rows, 3, 'round(15 x 0.2)');
  for (const part of [parts.train, parts.dev, parts.test]) {
    t.same(ids(part), [...ids(part)].sort((a, b) => a - b));
    // Each row keeps its own label: the id points back at the original row.
    for (let row = 0; row < (part?.rows ?? 0); row += 1) {
      t.equal(part?.y[row], loaded.train.y[part?.x[row] ?? -1]);
    }
  }
  // Largest remainder: 15 x 0.2 shares out as 1.4, 1, 0.6 -> 1, 1, 1.
  t.same(countByClass(parts.test, 3), [1, 1, 1]);
});

t.test('the same seed gives the same split, another seed another', async (t) => {
  const loaded = classDataset([40, 40]);
  const first = splitIndices(loaded, { dev: 0.25, seed: 11 });
  const again = splitIndices(loaded, { dev: 0.25, seed: 11 });
  const other = splitIndices(loaded, { dev: 0.25, seed: 12 });
  t.same(first, again);
  t.notSame(Array.from(first.dev), Array.from(other.dev));
  t.equal(other.dev.length, first.dev.length);
});

t.test('shuffles regression rows as one group', async (t) => {
  const y = Float32Array.from({ length: 50 }, (_, row) => row / 10);
  const loaded = loadedOf(y, { kind: 'values', width: 1 });
  const parts = splitDataset(loaded, { dev: 0.1, test: 0.3, seed: 5 });
  t.equal(parts.dev?.rows, 5);
  t.equal(parts.test?.rows, 15);
  t.equal(parts.train.rows, 30);
  const all = [...ids(parts.train), ...ids(parts.dev), ...ids(parts.test)].sort((a, b) => a - b);
  t.same(all, ids(loaded.train));
  t.notSame(ids(parts.test), ids(loaded.train).slice(0, 15), 'not the first rows');
});

t.test('keeps rows of several targets together', async (t) => {
  const y = Float32Array.from({ length: 20 }, (_, index) => index);
  const loaded = loadedOf(new Float32Array(10), { kind: 'values', width: 2 });
  loaded.train.y = y;
  const parts = splitDataset(loaded, { dev: 0.3 });
  for (const part of [parts.train, parts.dev]) {
    for (let row = 0; row < (part?.rows ?? 0); row += 1) {
      const id = part?.x[row] ?? -1;
      t.same([part?.y[2 * row], part?.y[2 * row + 1]], [2 * id, 2 * id + 1]);
    }
  }
});

t.test("keeps a dataset's own test part and cuts only dev from train", async (t) => {
  const test = { x: Float32Array.of(100, 101), y: Float32Array.of(0, 1), rows: 2, features: 1 };
  const loaded = loadedOf(classDataset([10, 10]).train.y, { kind: 'classes', count: 2 }, test);
  const parts = splitDataset(loaded, { dev: 0.2, test: 0.5 });
  t.equal(parts.test, test);
  t.equal(parts.dev?.rows, 4);
  t.equal(parts.train.rows, 16);
});

t.test('defaults to dev 0.2 and no test; a zero fraction gives no part', async (t) => {
  const loaded = classDataset([10, 10]);
  const defaults = splitDataset(loaded);
  t.equal(defaults.dev?.rows, 4);
  t.equal(defaults.test, undefined);
  const whole = splitDataset(loaded, { dev: 0, test: 0 });
  t.equal(whole.dev, undefined);
  t.equal(whole.test, undefined);
  t.same(ids(whole.train), ids(loaded.train));
});

t.test('leaves every class at least one train row', async (t) => {
  const parts = splitDataset(classDataset([20, 1, 2]), { dev: 0.4, test: 0.4 });
  t.same(countByClass(parts.train, 3).map((count) => count > 0), [true, true, true]);
  t.equal(parts.train.rows + (parts.dev?.rows ?? 0) + (parts.test?.rows ?? 0), 23);
});

t.test('refuses fractions that leave no rows for train', async (t) => {
  const loaded = classDataset([5, 5]);
  t.throws(() => splitDataset(loaded, { dev: 0.5, test: 0.5 }), {
    name: 'DataError',
    code: 'INVALID_SPEC',
    message: /split.dev \+ split.test is 1: no rows are left for train/,
  });
  t.throws(() => splitDataset(loaded, { dev: -0.1 }), { code: 'INVALID_SPEC', message: /split.dev must be/ });
  t.throws(() => splitDataset(loaded, { test: Number.NaN }), {
    code: 'INVALID_SPEC',
    message: /split.test must be/,
  });
});
