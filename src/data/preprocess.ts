// Preprocessing of tabular data: fitted on a job's train part only, saved in its model, and
// applied by this one module to the train, dev and test parts and to every row predicted
// later (records, CSV, the command line). A column becomes the network's inputs thus:
// - number: its value; a gap takes the train part's median;
// - boolean: 1 or 0; a gap takes the train part's most frequent value;
// - category: one input per value seen in the train part (one-hot); a value it never saw
//   (or a gap, when it had none) sets none of them: all zeros, as scikit-learn's
//   OneHotEncoder(handle_unknown='ignore') does;
// - ignore: nothing.
// A column with gaps in the train part gets one input more, 1 where the cell is missing (a
// category's gaps are thus a category of their own). The engine then normalizes the inputs
// as it always has (the model's `normalization`, fitted on the same train part).
import { Type, type Static } from '@sinclair/typebox';
import { BOOLEAN_WORDS, booleanOf, compareText, isMissingText, pointerToken, type ColumnType, type StoredColumn } from './columns.js';
import type { Dataset, LoadedDataset } from './dataset.js';
import { invalid, type DataLocation } from './errors.js';
import { checkStorable, describeValue, isStorable, parseDecimal, quote } from './numbers.js';
import type { SplitIndices } from './split.js';

export const PREPROCESSING_VERSION = 1;

const Name = Type.String({ description: "the column's name in the training data" });
const Indicator = Type.Boolean({ description: 'the train part had gaps here: one input more, 1 where the cell is missing' });

export const ColumnStepSchema = Type.Union([
  Type.Object({
    name: Name,
    type: Type.Literal('number'),
    fill: Type.Number({ description: "a gap's value: the train part's median" }),
    indicator: Indicator,
  }),
  Type.Object({
    name: Name,
    type: Type.Literal('boolean'),
    fill: Type.Union([Type.Literal(0), Type.Literal(1)], { description: "a gap's value: the train part's most frequent" }),
    indicator: Indicator,
  }),
  Type.Object({
    name: Name,
    type: Type.Literal('category'),
    categories: Type.Union([Type.Array(Type.String()), Type.Array(Type.Number())], {
      description: 'one input each, in this order: the values of the train part, sorted (numbers, float32, when the column held numbers)',
    }),
    missing: Indicator,
  }),
  Type.Object({ name: Name, type: Type.Literal('ignore') }),
]);
export type ColumnStep = Static<typeof ColumnStepSchema>;

export const PreprocessingSchema = Type.Object(
  {
    version: Type.Literal(PREPROCESSING_VERSION),
    columns: Type.Array(ColumnStepSchema, { description: "the training data's feature columns, in order" }),
  },
  { description: 'how raw columns become the network inputs (docs/model-format.md)' },
);
export type Preprocessing = Static<typeof PreprocessingSchema>;

/** A raw cell: a stored value, a JSON record's field, or a CSV field's text. null and
 * undefined are gaps, as are NaN and the missing markers (columns.ts). */
export type Cell = number | string | boolean | null | undefined;

/** Where a cell is, for the message of one that its column cannot read. */
export type Locate = (row: number, column: number) => DataLocation;

/** A number cell's value; undefined for a gap. */
function numberOf(cell: Cell, where: () => DataLocation): number | undefined {
  if (cell === null || cell === undefined) return undefined;
  if (typeof cell === 'number') {
    if (Number.isNaN(cell)) return undefined;
    return isStorable(cell) ? cell : checkStorable(cell, where());
  }
  if (typeof cell === 'string') {
    const text = cell.trim();
    if (isMissingText(text)) return undefined;
    const value = parseDecimal(text);
    if (value === undefined) invalid(`${quote(text)} is not a number`, where());
    return checkStorable(value, where());
  }
  return invalid(`${describeValue(cell)} is not a number`, where());
}

/** A boolean cell as 0 or 1; undefined for a gap. */
function booleanCell(cell: Cell, where: () => DataLocation): 0 | 1 | undefined {
  if (cell === null || cell === undefined) return undefined;
  if (typeof cell === 'boolean') return cell ? 1 : 0;
  if (typeof cell === 'number') {
    if (Number.isNaN(cell)) return undefined;
    if (cell === 0 || cell === 1) return cell;
    return invalid(`${cell} is not a boolean (${BOOLEAN_WORDS})`, where());
  }
  const text = cell.trim();
  if (isMissingText(text)) return undefined;
  const value = booleanOf(text);
  if (value === undefined) invalid(`${quote(text)} is not a boolean (${BOOLEAN_WORDS})`, where());
  return value;
}

/** A category cell's value: text as written (trimmed), or for a column of numbers the number
 * as float32, which is how the column was stored; undefined for a gap. */
function categoryOf(cell: Cell, numeric: boolean): string | number | undefined {
  if (cell === null || cell === undefined) return undefined;
  if (typeof cell === 'number') {
    if (Number.isNaN(cell)) return undefined;
    return numeric ? Math.fround(cell) : String(cell);
  }
  const text = String(cell).trim();
  if (isMissingText(text)) return undefined;
  if (!numeric) return text;
  const value = parseDecimal(text);
  return value === undefined ? text : Math.fround(value);
}

function median(values: Float64Array): number {
  if (values.length === 0) return 0;
  values.sort();
  const middle = values.length >> 1;
  return values.length % 2 === 1 ? (values[middle] as number) : ((values[middle - 1] as number) + (values[middle] as number)) / 2;
}

/**
 * Fits each column's step on the train part's rows: `cell(row, column)` gives row `row`'s
 * raw cell of column `column` (the columns' order). `types` are the columns' types, checked
 * against them already (columns.ts resolveColumnTypes).
 */
export function fitPreprocessing(
  columns: readonly StoredColumn[],
  types: readonly ColumnType[],
  rows: number,
  cell: (row: number, column: number) => Cell,
): Preprocessing {
  const steps = columns.map((column, index): ColumnStep => {
    const { name } = column;
    const type = types[index] as ColumnType;
    const where = () => ({ column: name });
    let gaps = 0;
    if (type === 'number') {
      const values = new Float64Array(rows);
      let count = 0;
      for (let row = 0; row < rows; row += 1) {
        const value = numberOf(cell(row, index), where);
        if (value === undefined) gaps += 1;
        else values[count++] = value;
      }
      return { name, type, fill: median(values.subarray(0, count)), indicator: gaps > 0 };
    }
    if (type === 'boolean') {
      let ones = 0;
      for (let row = 0; row < rows; row += 1) {
        const value = booleanCell(cell(row, index), where);
        if (value === undefined) gaps += 1;
        else ones += value;
      }
      return { name, type, fill: ones > rows - gaps - ones ? 1 : 0, indicator: gaps > 0 };
    }
    if (type === 'category') {
      const numeric = column.storage === 'number';
      const seen = new Set<string | number>();
      for (let row = 0; row < rows; row += 1) {
        const value = categoryOf(cell(row, index), numeric);
        if (value === undefined) gaps += 1;
        else seen.add(value);
      }
      // Sorted, so that the inputs depend on the set of values and not on the row order.
      const categories = numeric
        ? [...(seen as Set<number>)].sort((a, b) => a - b)
        : [...(seen as Set<string>)].sort(compareText);
      return { name, type, categories, missing: gaps > 0 };
    }
    return { name, type };
  });
  return { version: PREPROCESSING_VERSION, columns: steps };
}

/** The inputs a step makes. */
function stepWidth(step: ColumnStep): number {
  if (step.type === 'ignore') return 0;
  if (step.type === 'category') return step.categories.length + (step.missing ? 1 : 0);
  return 1 + (step.indicator ? 1 : 0);
}

/** The network's inputs. */
export const inputCount = (preprocessing: Preprocessing): number =>
  preprocessing.columns.reduce((sum, step) => sum + stepWidth(step), 0);

/** A name for each input: `age`, `age:missing`, `island=Biscoe`. */
export function inputNames(preprocessing: Preprocessing): string[] {
  return preprocessing.columns.flatMap((step): string[] => {
    if (step.type === 'ignore') return [];
    const gap = step.type === 'category' ? step.missing : step.indicator;
    const values = step.type === 'category' ? step.categories.map((value) => `${step.name}=${value}`) : [step.name];
    return gap ? [...values, `${step.name}:missing`] : values;
  });
}

/**
 * The inputs of `rows` rows, row-major: `cell(row, column)` gives a row's raw cell of the
 * preprocessing's column `column` (undefined where the row has none), and `locate` where it
 * is, for the message of a cell its column cannot read.
 */
export function encodeRows(
  preprocessing: Preprocessing,
  rows: number,
  cell: (row: number, column: number) => Cell,
  locate: Locate,
): Float32Array {
  const width = inputCount(preprocessing);
  const x = new Float32Array(rows * width);
  let offset = 0;
  preprocessing.columns.forEach((step, column) => {
    const start = offset;
    offset += stepWidth(step);
    if (step.type === 'ignore') return;
    for (let row = 0; row < rows; row += 1) {
      const at = row * width + start;
      const where = () => locate(row, column);
      if (step.type === 'category') {
        const index = categoryIndex(step, categoryOf(cell(row, column), typeof step.categories[0] === 'number'));
        if (index >= 0) x[at + index] = 1;
        continue;
      }
      const value = step.type === 'number' ? numberOf(cell(row, column), where) : booleanCell(cell(row, column), where);
      x[at] = value ?? step.fill;
      if (step.indicator && value === undefined) x[at + 1] = 1;
    }
  });
  return x;
}

// Each category step's value -> input index, built once per step.
const categoryIndices = new WeakMap<ColumnStep, Map<string | number, number>>();

/** The input of a category value within its step: its category, the gap input, or -1 (none). */
function categoryIndex(step: Extract<ColumnStep, { type: 'category' }>, value: string | number | undefined): number {
  if (value === undefined) return step.missing ? step.categories.length : -1;
  let indices = categoryIndices.get(step);
  if (indices === undefined) {
    indices = new Map((step.categories as (string | number)[]).map((category, index) => [category, index]));
    categoryIndices.set(step, indices);
  }
  return indices.get(value) ?? -1;
}

/** The raw cells of a stored table (x as src/data/csv.ts keeps it): values, or texts by code. */
export function storedCells(x: Float32Array, columns: readonly StoredColumn[]): (row: number, column: number) => Cell {
  const width = columns.length;
  const values = columns.map((column) => (column.storage === 'text' ? (column.values ?? []) : undefined));
  return (row, column) => {
    const value = x[row * width + column] as number;
    const texts = values[column];
    if (texts === undefined || Number.isNaN(value)) return value;
    return texts[value];
  };
}

/** A JSON record to predict: raw values by column name. */
export type RawRecord = Readonly<Record<string, Cell>>;

/**
 * The inputs of JSON records by column name. A field left out is a gap; a field that is none
 * of the training data's columns (other than its label, which is let through) is refused,
 * for a misspelled name would otherwise pass as a gap. Faults name `path`/row/field.
 */
export function encodeRecords(preprocessing: Preprocessing, records: readonly RawRecord[], options: { label?: string | undefined; path: string }): Float32Array {
  const names = preprocessing.columns.map((step) => step.name);
  const known = new Set(names);
  records.forEach((record, row) => {
    for (const field of Object.keys(record)) {
      if (known.has(field) || field === options.label) continue;
      const listed = names.slice(0, 12).map(quote).join(', ');
      invalid(`no column named ${quote(field)} in the model's training data; its columns are ${listed}${names.length > 12 ? ` and ${names.length - 12} more` : ''}`, {
        path: `${options.path}/${row}/${pointerToken(field)}`,
      });
    }
  });
  return encodeRows(
    preprocessing,
    records.length,
    (row, column) => {
      const record = records[row] as RawRecord;
      const name = names[column] as string;
      return Object.hasOwn(record, name) ? record[name] : undefined;
    },
    (row, column) => ({ path: `${options.path}/${row}/${pointerToken(names[column] as string)}` }),
  );
}

/** A table's parts as the network takes them, and the preprocessing fitted on its train part. */
export interface PreprocessedParts {
  preprocessing: Preprocessing;
  train: Dataset;
  dev?: Dataset;
  test?: Dataset;
}

/**
 * Fits the preprocessing on the train rows of a table and encodes every part with it: the
 * rows of `indices` (splitIndices) of loaded.train, and loaded's own test part when it has one.
 */
export function preprocessParts(
  loaded: LoadedDataset & { columns: StoredColumn[] },
  indices: SplitIndices,
  types: readonly ColumnType[],
): PreprocessedParts {
  const { columns } = loaded;
  const cells = storedCells(loaded.train.x, columns);
  const preprocessing = fitPreprocessing(columns, types, indices.train.length, (row, column) => cells(indices.train[row] as number, column));
  const locate: Locate = (_row, column) => ({ column: (columns[column] as StoredColumn).name });
  const features = inputCount(preprocessing);
  const encodePart = (part: Dataset, rows: ArrayLike<number>): Dataset => {
    const partCells = part === loaded.train ? cells : storedCells(part.x, columns);
    const width = part.rows === 0 ? 0 : part.y.length / part.rows;
    const y = new Float32Array(rows.length * width);
    for (let row = 0; row < rows.length; row += 1) {
      const from = (rows[row] as number) * width;
      y.set(part.y.subarray(from, from + width), row * width);
    }
    const x = encodeRows(preprocessing, rows.length, (row, column) => partCells(rows[row] as number, column), locate);
    return { x, y, rows: rows.length, features };
  };
  const everyRow = (part: Dataset) => Int32Array.from({ length: part.rows }, (_, row) => row);
  return {
    preprocessing,
    train: encodePart(loaded.train, indices.train),
    ...(indices.dev.length > 0 ? { dev: encodePart(loaded.train, indices.dev) } : {}),
    ...(loaded.test !== undefined
      ? { test: encodePart(loaded.test, everyRow(loaded.test)) }
      : indices.test.length > 0
        ? { test: encodePart(loaded.train, indices.test) }
        : {}),
  };
}

/** The inputs a table's columns make at most with these types: every category of the whole
 * table (a train part may lack some), an indicator wherever it has gaps. */
export function inputCountBound(columns: readonly StoredColumn[], types: readonly ColumnType[]): number {
  return columns.reduce((sum, column, index) => {
    const type = types[index];
    const gap = column.missing > 0 ? 1 : 0;
    if (type === 'ignore') return sum;
    return sum + (type === 'category' ? column.distinct : 1) + gap;
  }, 0);
}
