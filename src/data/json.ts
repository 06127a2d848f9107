// JSON datasets: {x: number[][], y: number[] | string[] | number[][], name?, featureNames?},
// the shape the server's POST /v1/datasets takes. Rows in messages count examples from 1.
import { basename } from 'node:path';
import { requireRows, type Dataset, type Labels, type LoadedDataset } from './dataset.js';
import { invalid, type DataLocation } from './errors.js';
import { asBuffer, readDataFile } from './files.js';
import { encodeLabels } from './labels.js';
import { dataLimits, MAX_COLUMN_NAME_LENGTH, MAX_DATASET_NAME_LENGTH, tooLongCell, tooLongName, type DataLimits } from './limits.js';
import { checkStorable, describeValue, isStorable, quote } from './numbers.js';

/** The caps (src/data/limits.ts) not given are the environment's. */
export interface JsonOptions extends Partial<DataLimits> {
  /** The dataset's name when the value has none; 'json' otherwise. */
  name?: string;
  /** Where the value came from, for messages. */
  source?: string;
  /** The dataset's own test part: the same shape, the same features. */
  test?: unknown;
  testSource?: string;
  /** Called between rows of x, and often: a long read's caller sends its heartbeat from here
   * (JSON.parse, before it, is one call that nothing interrupts). Keep it cheap. */
  onProgress?: () => void;
}

/** parseJson's options: the test part comes as text too. */
export interface JsonTextOptions extends Omit<JsonOptions, 'test'> {
  test?: string | Uint8Array;
}

const FIELDS = ['name', 'x', 'y', 'featureNames'];

/** Reads a dataset from a parsed JSON value (a request body, say). */
export function datasetFromJson(value: unknown, options: JsonOptions = {}): LoadedDataset {
  const source = options.source ?? 'json';
  const limits = dataLimits(options);
  const onProgress = options.onProgress ?? (() => {});
  const train = readPart(value, source, limits, onProgress);
  const test =
    options.test === undefined ? undefined : readPart(options.test, options.testSource ?? 'test json', limits, onProgress);
  const featureNames =
    train.featureNames ?? Array.from({ length: train.features }, (_, index) => `x${index + 1}`);
  if (test) checkSameShape(train, test, featureNames);
  let labels: Labels;
  let trainY: Float32Array;
  let testY: Float32Array | undefined;
  if (train.width === undefined) {
    const encoded = encodeLabels(
      { cells: train.labels, locate: (row) => ({ source, row: row + 1, column: 'y' }) },
      test && { cells: test.labels, locate: (row) => ({ source: test.source, row: row + 1, column: 'y' }) },
      limits.maxCategories,
    );
    ({ labels, train: trainY, test: testY } = encoded);
  } else {
    labels = { kind: 'values', width: train.width };
    trainY = Float32Array.from(train.labels as number[]);
    testY = test && Float32Array.from(test.labels as number[]);
  }
  const name = train.name ?? options.name ?? 'json';
  const loaded: LoadedDataset = { name, train: toDataset(train, trainY), featureNames, labels };
  if (test && testY) loaded.test = toDataset(test, testY);
  return loaded;
}

/** Parses JSON text, a string or its UTF-8 bytes. */
export function parseJson(text: string | Uint8Array, options: JsonTextOptions = {}): LoadedDataset {
  const source = options.source ?? 'json';
  const { test, ...rest } = options;
  const value = parseText(text, source);
  if (test === undefined) return datasetFromJson(value, rest);
  return datasetFromJson(value, { ...rest, test: parseText(test, options.testSource ?? 'test json') });
}

/** Loads a JSON file (gzipped or not), and its test part when one is named. */
export async function loadJson(path: string, options: { test?: string } = {}): Promise<LoadedDataset> {
  const [text, test] = await Promise.all([
    readDataFile(path),
    options.test === undefined ? undefined : readDataFile(options.test),
  ]);
  return parseJson(text, {
    name: basename(path),
    source: path,
    ...(test === undefined ? {} : { test, testSource: options.test }),
  });
}

interface Part {
  source: string;
  name: string | undefined;
  featureNames: string[] | undefined;
  rows: number;
  features: number;
  x: Float32Array;
  /** Class names or numbers, one a row; or, when width is set, width numbers a row. */
  labels: (number | string)[];
  width: number | undefined;
}

function parseText(text: string | Uint8Array, source: string): unknown {
  try {
    return JSON.parse(typeof text === 'string' ? text : asBuffer(text).toString('utf8'));
  } catch (error) {
    return invalid(`not valid JSON (${(error as Error).message})`, { source });
  }
}

function readPart(value: unknown, source: string, limits: DataLimits, onProgress: () => void): Part {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    invalid('expected an object {x, y}', { source });
  }
  const object = value as Record<string, unknown>;
  const unknown = Object.keys(object).find((key) => !FIELDS.includes(key));
  if (unknown !== undefined) {
    invalid(`unknown field ${quote(unknown)}; the fields are ${FIELDS.join(', ')}`, { source });
  }
  const { x: rowsOfX, y: rowsOfY } = object;
  if (!Array.isArray(rowsOfX)) invalid('x must be an array of rows', { source });
  if (!Array.isArray(rowsOfY)) invalid('y must be an array', { source });
  if (rowsOfX.length === 0) invalid('no data rows', { source });
  if (rowsOfY.length !== rowsOfX.length) {
    invalid(`x has ${rowsOfX.length} rows but y has ${rowsOfY.length}`, { source });
  }
  const name = readName(object.name, source);
  const featureNames = readFeatureNames(object.featureNames, source, limits);
  const first = rowsOfX[0];
  if (!Array.isArray(first)) invalid('x must be an array of rows', { source, row: 1 });
  const features = first.length;
  // Before the array is made: every row must be as wide as the first.
  if (features > limits.maxColumns) invalid(`${features} values, more than the cap of ${limits.maxColumns} features (CAVIAR_MAX_COLUMNS)`, { source, row: 1 });
  if (featureNames && featureNames.length !== features) {
    invalid(`${featureNames.length} feature names for ${features} features`, { source });
  }
  const column = (index: number): string => featureNames?.[index] ?? `x${index + 1}`;
  const x = new Float32Array(rowsOfX.length * features);
  rowsOfX.forEach((row: unknown, rowIndex) => {
    if (!Array.isArray(row) || row.length !== features) {
      const size = Array.isArray(row) ? `${row.length} values` : describeValue(row);
      invalid(`${size}, but row 1 has ${features} values`, { source, row: rowIndex + 1 });
    }
    row.forEach((cell: unknown, columnIndex) => {
      x[rowIndex * features + columnIndex] = isStorable(cell)
        ? cell
        : checkStorable(cell, { source, row: rowIndex + 1, column: column(columnIndex) });
    });
    onProgress();
  });
  return { source, name, featureNames, rows: rowsOfX.length, features, x, ...readLabels(rowsOfY, source, limits) };
}

/** y as one label a row, or as rows of values (width > 1); rows of one value are labels. */
function readLabels(rowsOfY: unknown[], source: string, limits: DataLimits): Pick<Part, 'labels' | 'width'> {
  const location = (row: number): DataLocation => ({ source, row: row + 1, column: 'y' });
  if (!Array.isArray(rowsOfY[0])) {
    const labels = rowsOfY.map((cell, row) => {
      if (typeof cell !== 'number' && typeof cell !== 'string') {
        invalid(`${describeValue(cell)} is not a number or a class name`, location(row));
      }
      // A class name is a cell of text, and takes the cell cap.
      const tooLong = typeof cell === 'string' ? tooLongCell(cell, limits.maxCellBytes) : undefined;
      if (tooLong !== undefined) invalid(`a class name: ${tooLong}`, location(row));
      return cell;
    });
    return { labels, width: undefined };
  }
  const width = rowsOfY[0].length;
  if (width > limits.maxColumns) invalid(`${width} values, more than the cap of ${limits.maxColumns} a row (CAVIAR_MAX_COLUMNS)`, location(0));
  const labels: number[] = [];
  rowsOfY.forEach((row, rowIndex) => {
    if (!Array.isArray(row) || row.length !== width) {
      const size = Array.isArray(row) ? `${row.length} values` : describeValue(row);
      invalid(`${size}, but row 1 of y has ${width} values`, location(rowIndex));
    }
    for (const cell of row) labels.push(checkStorable(cell, location(rowIndex)));
  });
  if (width === 0) invalid('rows of y are empty', location(0));
  return width === 1 ? { labels, width: undefined } : { labels, width };
}

function readName(value: unknown, source: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') invalid('name must be a non-empty string', { source });
  const tooLong = tooLongName(value, MAX_DATASET_NAME_LENGTH);
  if (tooLong !== undefined) invalid(`name is ${tooLong}`, { source });
  return value;
}

/** Feature names: as many as the column cap, each as long as a CSV header's may be. */
function readFeatureNames(value: unknown, source: string, limits: DataLimits): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((name) => typeof name !== 'string' || name === '')) {
    invalid('featureNames must be an array of non-empty strings', { source });
  }
  const names = value as string[];
  if (names.length > limits.maxColumns) invalid(`${names.length} feature names, more than the cap of ${limits.maxColumns} (CAVIAR_MAX_COLUMNS)`, { source });
  const seen = new Set<string>();
  names.forEach((name, index) => {
    const tooLong = tooLongName(name, MAX_COLUMN_NAME_LENGTH) ?? tooLongCell(name, limits.maxCellBytes);
    if (tooLong !== undefined) invalid(`feature name ${index + 1} is ${tooLong}`, { source });
    if (seen.has(name)) invalid(`feature name ${quote(name)} appears twice`, { source });
    seen.add(name);
  });
  return names;
}

function checkSameShape(train: Part, test: Part, featureNames: string[]): void {
  if (test.features !== train.features) {
    invalid(`${test.features} features, but train has ${train.features}`, { source: test.source });
  }
  if (test.featureNames && test.featureNames.some((name, index) => name !== featureNames[index])) {
    invalid('the feature names differ from train', { source: test.source });
  }
  if (test.width !== train.width) {
    const problem = `${test.width ?? 1} values of y a row, but train has ${train.width ?? 1}`;
    invalid(problem, { source: test.source });
  }
}

function toDataset(part: Part, y: Float32Array): Dataset {
  const dataset = { x: part.x, y, rows: part.rows, features: part.features };
  requireRows(dataset, part.source);
  return dataset;
}
