// The shapes datasets take: a Dataset is what the engine trains on (its type is the
// engine's own); a LoadedDataset is what a loader returns, before it is split.
import type { Dataset } from '../engine/index.js';
import type { StoredColumn } from './columns.js';
import { invalid } from './errors.js';

export type { Dataset };

/** What the labels look like. A guess from the values: integer labels 0..K-1 look like
 * classes even when they are counts; the model's output layer has the last word. */
export type Labels =
  | {
      kind: 'classes';
      /** K: y holds indices 0..K-1. */
      count: number;
      /** The name of each class index, when the labels were names. */
      names?: string[];
    }
  | {
      kind: 'values';
      /** Values per row in y. */
      width: number;
    };

export interface LoadedDataset {
  /** For messages and listings: a file's name, or a built-in's name. */
  name: string;
  train: Dataset;
  /** The dataset's own test part, kept whole by splitDataset. */
  test?: Dataset;
  /** One name per feature column. */
  featureNames: string[];
  /**
   * A table's columns (a CSV's), one per feature column: then x holds raw cells (NaN where
   * missing, codes for text columns) for the preprocessing a job fits on its train part
   * (src/data/preprocess.ts). Without it, x holds the features the network takes.
   */
  columns?: StoredColumn[];
  labels: Labels;
  /** A CSV's label column, by its header name. */
  labelColumn?: string;
}

/** A new Dataset of the given rows, in the given order. */
export function selectRows(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const { features } = dataset;
  const width = dataset.rows === 0 ? 0 : dataset.y.length / dataset.rows;
  const x = new Float32Array(indices.length * features);
  const y = new Float32Array(indices.length * width);
  for (let i = 0; i < indices.length; i += 1) {
    const row = indices[i] as number;
    x.set(dataset.x.subarray(row * features, (row + 1) * features), i * features);
    y.set(dataset.y.subarray(row * width, (row + 1) * width), i * width);
  }
  return { x, y, rows: indices.length, features };
}

/** Refuses a part with no rows or no features: the engine can learn nothing from it. */
export function requireRows(dataset: Pick<Dataset, 'rows' | 'features'>, source: string): void {
  if (dataset.rows === 0) invalid('no data rows', { source });
  if (dataset.features === 0) invalid('no feature columns', { source });
}
