// Label columns to y: class names to sorted indices, integer labels kept as classes,
// anything else kept as regression values. Shared by the CSV and JSON loaders.
import type { Labels, LoadedDataset } from './dataset.js';
import { invalid, type DataLocation } from './errors.js';
import { maxCategories } from './limits.js';
import { checkStorable, isStorable, quote, whyNotANumber } from './numbers.js';

/** Integer labels up to this many classes look like classes; beyond it they look like
 * values (ids, counts). The job spec caps a generated dataset's classes at the same. */
const MAX_CLASSES = 1000;

/** A label column as read: numbers, or class names, and where each cell came from. */
export interface LabelColumn {
  cells: readonly (number | string)[];
  locate(index: number): DataLocation;
}

export interface EncodedLabels {
  labels: Labels;
  train: Float32Array;
  test?: Float32Array;
}

/** Encodes a train label column and, when there is one, the test column against it: a test
 * label must be a class seen in train. Class names are a text column's values, and take the
 * same cap (CAVIAR_MAX_CATEGORIES); integer classes stay within MAX_CLASSES. */
export function encodeLabels(train: LabelColumn, test?: LabelColumn, maxClasses?: number): EncodedLabels {
  const columns = test ? [train, test] : [train];
  checkOneKind(columns);
  if (train.cells.length > 0 && typeof train.cells[0] === 'string') return encodeNames(train, test, maxClasses ?? maxCategories());
  for (const column of columns) {
    column.cells.forEach((cell, index) => {
      if (!isStorable(cell)) checkStorable(cell, column.locate(index));
    });
  }
  const values = train.cells as readonly number[];
  const encodedTrain = Float32Array.from(values);
  const count = classCount(values);
  if (count === undefined) {
    const labels: Labels = { kind: 'values', width: 1 };
    return { labels, train: encodedTrain, ...encodeTest(test, (value) => value as number) };
  }
  const seen = new Set(values);
  const encodeClass = (value: number | string, index: number): number => {
    if (!seen.has(value as number)) {
      invalid(`label ${value} is not a class seen in train`, test?.locate(index));
    }
    return value as number;
  };
  return { labels: { kind: 'classes', count }, train: encodedTrain, ...encodeTest(test, encodeClass) };
}

function encodeNames(train: LabelColumn, test: LabelColumn | undefined, maxClasses: number): EncodedLabels {
  for (const column of test ? [train, test] : [train]) {
    const index = column.cells.indexOf('');
    if (index !== -1) invalid('empty label', column.locate(index));
  }
  const trainNames = train.cells as readonly string[];
  const distinct = new Set<string>();
  for (let index = 0; index < trainNames.length; index += 1) {
    const name = trainNames[index] as string;
    if (distinct.has(name)) continue;
    if (distinct.size === maxClasses) {
      const problem = `${quote(name)} is a class past the cap of ${maxClasses} distinct class names (CAVIAR_MAX_CATEGORIES): is the label column an id or free text?`;
      invalid(problem, train.locate(index));
    }
    distinct.add(name);
  }
  // Sorted, so that the mapping depends on the set of names and not on the row order.
  const names = [...distinct].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const indices = new Map(names.map((name, index) => [name, index]));
  const encodeName = (name: string | number, index: number): number => {
    const classIndex = indices.get(name as string);
    if (classIndex === undefined) {
      invalid(`${quote(String(name))} is not a class seen in train`, test?.locate(index));
    }
    return classIndex;
  };
  const encodedTrain = Float32Array.from(trainNames, (name) => indices.get(name) as number);
  const labels: Labels = { kind: 'classes', count: names.length, names };
  return { labels, train: encodedTrain, ...encodeTest(test, encodeName) };
}

function encodeTest(
  test: LabelColumn | undefined,
  encode: (cell: number | string, index: number) => number,
): { test?: Float32Array } {
  if (!test) return {};
  return { test: Float32Array.from(test.cells, encode) };
}

/** K when every label is an integer in 0..K-1 with K within MAX_CLASSES. */
function classCount(values: readonly number[]): number | undefined {
  let largest = -1;
  for (const value of values) {
    if (!Number.isInteger(value) || value < 0 || value >= MAX_CLASSES) return undefined;
    if (value > largest) largest = value;
  }
  return largest + 1;
}

/** A label column holds numbers or names, not both: a stray name among numbers is far more
 * often a typo or a missing value than a class. The rarer kind is reported. */
function checkOneKind(columns: readonly LabelColumn[]): void {
  let numbers = 0;
  let names = 0;
  for (const column of columns) {
    for (const cell of column.cells) {
      if (typeof cell === 'number') numbers += 1;
      else names += 1;
    }
  }
  if (numbers === 0 || names === 0) return;
  const oddKind = names <= numbers ? 'string' : 'number';
  for (const column of columns) {
    const index = column.cells.findIndex((cell) => typeof cell === oddKind);
    if (index === -1) continue;
    const cell = column.cells[index] as number | string;
    const problem =
      oddKind === 'string'
        ? `${whyNotANumber(String(cell))}, and the other labels are numbers`
        : `${cell} is a number, and the other labels are class names`;
    invalid(problem, column.locate(index));
  }
}

/** Refuses a dataset whose train labels are all one: there is nothing to tell apart. */
export function requireTwoLabels(loaded: LoadedDataset, source: string): void {
  const { y, rows } = loaded.train;
  const width = rows === 0 ? 0 : y.length / rows;
  if (rows === 0 || width !== 1) return;
  const first = y[0] as number;
  if (!y.every((value) => value === first)) return;
  const { labels } = loaded;
  const where = { source, ...(loaded.labelColumn === undefined ? {} : { column: loaded.labelColumn }) };
  if (labels.kind === 'classes') {
    const name = quote(labels.names?.[first] ?? String(first));
    invalid(`every label is ${name}: one class, and a classifier needs at least two`, where);
  }
  invalid(`every label is ${quote(String(first))}: there is nothing to learn`, where);
}
