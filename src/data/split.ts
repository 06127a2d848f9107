// Train/dev/test splits: seeded, stratified by class for classification (each class split in
// the same proportions), a plain shuffle for regression. A dataset's own test part is kept,
// and then only dev is cut from train.
import { selectRows, type Dataset, type LoadedDataset } from './dataset.js';
import { DataError } from './errors.js';
import { Random } from './random.js';

export interface SplitOptions {
  /** The fraction of rows held out for dev; 0.2 by default. */
  dev?: number;
  /** The fraction held out for test; 0 by default; unused when the dataset has its own. */
  test?: number;
  /** 0 by default. */
  seed?: number;
}

export interface SplitDatasets {
  train: Dataset;
  /** Absent when no rows were held out for it. */
  dev?: Dataset;
  test?: Dataset;
}

/** Row indices of loaded.train, ascending in each part (file order). */
export interface SplitIndices {
  train: Int32Array;
  dev: Int32Array;
  test: Int32Array;
}

export function splitDataset(loaded: LoadedDataset, options: SplitOptions = {}): SplitDatasets {
  const indices = splitIndices(loaded, options);
  const parts: SplitDatasets = { train: selectRows(loaded.train, indices.train) };
  if (indices.dev.length > 0) parts.dev = selectRows(loaded.train, indices.dev);
  if (loaded.test) parts.test = loaded.test;
  else if (indices.test.length > 0) parts.test = selectRows(loaded.train, indices.test);
  return parts;
}

/**
 * Which rows go where. Each class (or, for regression, all rows as one group) is shuffled
 * with the seed, then cut: the counts per class are the fraction of the whole, shared out
 * by largest remainder, so the totals are round(rows x fraction) and no row is lost or
 * duplicated. Every class keeps at least one row in train.
 */
export function splitIndices(loaded: LoadedDataset, options: SplitOptions = {}): SplitIndices {
  const devFraction = options.dev ?? 0.2;
  const testFraction = loaded.test ? 0 : (options.test ?? 0);
  for (const [field, fraction] of [['dev', devFraction], ['test', testFraction]] as const) {
    if (!(fraction >= 0 && fraction < 1)) {
      throw new DataError('INVALID_SPEC', `split.${field} must be at least 0 and below 1, not ${fraction}`);
    }
  }
  if (devFraction + testFraction >= 1) {
    const sum = devFraction + testFraction;
    throw new DataError('INVALID_SPEC', `split.dev + split.test is ${sum}: no rows are left for train`);
  }
  const groups = groupRows(loaded);
  const random = new Random(options.seed ?? 0);
  for (const group of groups) random.shuffle(group);
  const sizes = groups.map((group) => group.length);
  const testCounts = apportion(sizes, testFraction, sizes.map((size) => size - 1));
  const devCaps = sizes.map((size, index) => size - 1 - (testCounts[index] as number));
  const devCounts = apportion(sizes, devFraction, devCaps);
  const train: number[] = [];
  const dev: number[] = [];
  const test: number[] = [];
  groups.forEach((group, index) => {
    const testEnd = testCounts[index] as number;
    const devEnd = testEnd + (devCounts[index] as number);
    group.forEach((row, position) => (position < testEnd ? test : position < devEnd ? dev : train).push(row));
  });
  const ascending = (part: number[]) => Int32Array.from(part).sort();
  return { train: ascending(train), dev: ascending(dev), test: ascending(test) };
}

/** Row indices by class, in class order; for regression, one group of every row. */
function groupRows(loaded: LoadedDataset): number[][] {
  const { rows, y } = loaded.train;
  if (loaded.labels.kind !== 'classes') return [Array.from({ length: rows }, (_, row) => row)];
  const groups: number[][] = Array.from({ length: loaded.labels.count }, () => []);
  for (let row = 0; row < rows; row += 1) groups[y[row] as number]?.push(row);
  return groups.filter((group) => group.length > 0);
}

/** Shares round(total x fraction) among groups in proportion to their sizes (largest
 * remainder, ties to the earlier group), giving no group more than its cap. */
function apportion(sizes: number[], fraction: number, caps: number[]): number[] {
  const total = sizes.reduce((sum, size) => sum + size, 0);
  const quotas = sizes.map((size) => size * fraction);
  const counts = quotas.map((quota, index) =>
    Math.max(0, Math.min(Math.floor(quota), caps[index] as number)),
  );
  let left = Math.round(total * fraction) - counts.reduce((sum, count) => sum + count, 0);
  const order = quotas
    .map((quota, index) => ({ index, remainder: quota - Math.floor(quota) }))
    .sort((a, b) => b.remainder - a.remainder || a.index - b.index)
    .map(({ index }) => index);
  let given = true;
  while (left > 0 && given) {
    given = false;
    for (const index of order) {
      if (left === 0) break;
      if ((counts[index] as number) < (caps[index] as number)) {
        counts[index] = (counts[index] as number) + 1;
        left -= 1;
        given = true;
      }
    }
  }
  return counts;
}
