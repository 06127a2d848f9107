// CSV in, CSV out, for `caviar predict` and POST /v1/jobs/:id/predict: the rows to predict
// (a header is required) read against the model's columns, and the same rows written back
// with the prediction and each class's probability appended.
import { readCsvRecords, type CsvRecords } from './csv.js';
import { DataError, invalid } from './errors.js';
import { checkStorable, parseDecimal, quote, whyNotANumber } from './numbers.js';
import { encodeRows, type Preprocessing } from './preprocess.js';

/** What a saved model tells of the columns it was trained on. */
export interface ModelInputs {
  /** Input features the network takes. */
  inputs: number;
  /** Their names, in order, when the model records them. */
  featureNames?: string[] | undefined;
  /** The training data's label column, when the model records it. */
  labelName?: string | undefined;
  /** How a table's raw columns become the inputs, for a model trained on one. */
  preprocessing?: Preprocessing | undefined;
}

export interface PredictionRows {
  /** rows x inputs, in the model's feature order. */
  x: Float32Array;
  rows: number;
  /** The file as read, to write back with the predictions. */
  input: CsvRecords;
  /** The column left out as the label, if any. */
  label?: string;
}

const names = (list: string[]) => list.map(quote).join(', ');

/**
 * Reads the rows of a CSV file with a header, as the model takes them. A model trained on a
 * table reads its raw columns by name, in any order; a column it lacks is a gap in every row,
 * and one it does not know is refused (unless it is the label column, the model's or the one
 * `label` names, which is left out). Any other model: see readFeatureCsv.
 */
export function readPredictionCsv(
  text: string | Uint8Array,
  model: ModelInputs,
  options: { label?: string | undefined; source?: string } = {},
): PredictionRows {
  const source = options.source ?? 'csv';
  const input = readCsvRecords(text, source);
  const { preprocessing } = model;
  const columns = preprocessing?.columns.map((step) => step.name);
  refuseMissingHeader(input.header, columns === undefined ? model : { ...model, featureNames: columns }, source);
  if (input.records.length === 0) invalid('no data rows', { source });
  if (preprocessing === undefined || columns === undefined) return readFeatureCsv(input, model, options);
  const { header, records, rows } = input;
  const label = options.label ?? model.labelName;
  // By name through maps: a wide model and a wide file would make lookups in lists quadratic.
  const at = columnIndices(header);
  if (options.label !== undefined && !at.has(options.label))
    invalid(`no column named ${quote(options.label)}; the columns are ${names(header)}`, { source, row: 1 });
  const known = new Set(columns);
  const unknown = header.filter((name) => name !== label && !known.has(name));
  if (unknown.length > 0) {
    const problem = `the model's columns are ${names(columns)}: column ${names(unknown)} is not one of them (a label column to leave out? name it with --label)`;
    throw new DataError('INVALID_DATA', problem, { source, row: 1 });
  }
  const order = columns.map((name) => at.get(name) ?? -1);
  const x = encodeRows(
    preprocessing,
    records.length,
    (row, column) => {
      const index = order[column] as number;
      return index === -1 ? undefined : (records[row] as string[])[index];
    },
    (row, column) => ({ source, row: rows[row] as number, column: columns[column] as string }),
  );
  return { x, rows: records.length, input, ...(label !== undefined && at.has(label) ? { label } : {}) };
}

/** Each header name's column. */
const columnIndices = (header: readonly string[]): Map<string, number> => new Map(header.map((name, index) => [name, index]));

/**
 * The rows of a model trained on numbers alone: its features (by name, in any order, when
 * the model records their names; else the first columns, in order) and at most one label
 * column, which is left out: the one `label` names, else the model's label column; a model
 * that records none takes the one column beside its named features, or without names one
 * last column beyond them (the label's place in training files). Every feature cell must be
 * a number: such a model has no way to fill a gap.
 */
function readFeatureCsv(input: CsvRecords, model: ModelInputs, options: { label?: string | undefined; source?: string }): PredictionRows {
  const source = options.source ?? 'csv';
  const { header } = input;
  const label = options.label ?? labelColumn(header, model);
  if (label !== undefined && !header.includes(label)) invalid(`no column named ${quote(label)}; the columns are ${names(header)}`, { source, row: 1 });
  const present = header.filter((name) => name !== label);
  const expected = model.featureNames;
  if (expected === undefined && present.length !== model.inputs) {
    const problem = `${present.length} feature columns (${names(present)}), but the model takes ${model.inputs}; name a label column to leave out with --label`;
    throw new DataError('INVALID_DATA', problem, { source });
  }
  if (expected !== undefined) {
    const presentNames = new Set(present);
    const expectedNames = new Set(expected);
    const missing = expected.filter((name) => !presentNames.has(name));
    const extra = present.filter((name) => !expectedNames.has(name));
    if (missing.length > 0 || extra.length > 0) {
      const problems = [
        ...(missing.length > 0 ? [`no column ${names(missing)}`] : []),
        ...(extra.length > 0 ? [`column ${names(extra)} is not one of them (a label column to leave out? name it with --label)`] : []),
      ];
      throw new DataError('INVALID_DATA', `the model's features are ${names(expected)}: ${problems.join('; ')}`, { source });
    }
  }
  // Each input's column in the file: by name, or the columns in order.
  const at = columnIndices(header);
  const order = (expected ?? present).map((name) => at.get(name) as number);
  const features = order.length;
  const x = new Float32Array(input.records.length * features);
  input.records.forEach((fields, row) => {
    order.forEach((index, feature) => {
      const text = fields[index] as string;
      const where = { source, row: input.rows[row] as number, column: header[index] as string };
      const value = parseDecimal(text);
      if (value === undefined) invalid(`${whyNotANumber(text)}: this model was trained on numbers alone, and takes only those`, where);
      x[row * features + feature] = checkStorable(value, where);
    });
  });
  return { x, rows: input.records.length, input, ...(label === undefined ? {} : { label }) };
}

/** A header of numbers is a first data row: reading it as names would lose that row. */
function refuseMissingHeader(header: string[], model: ModelInputs, source: string): void {
  if (!header.every((name) => parseDecimal(name) !== undefined)) return;
  const expected = model.featureNames;
  if (expected !== undefined && expected.length === header.length && expected.every((name, index) => name === header[index])) return;
  const wanted = expected === undefined ? `${model.inputs} feature columns` : `the model's features: ${expected.join(',')}`;
  invalid(`no header row: the first row (${header.slice(0, 4).join(',')}${header.length > 4 ? ',...' : ''}) is all numbers; add a header naming the columns (${wanted})`, {
    source,
    row: 1,
  });
}

/**
 * The column to leave out when none is named: the model's label; for a model that records
 * no label, the one column beside all its named features, or without names one last
 * column beyond the features.
 */
function labelColumn(header: string[], model: ModelInputs): string | undefined {
  if (model.labelName !== undefined) return header.includes(model.labelName) ? model.labelName : undefined;
  const features = model.featureNames;
  if (features === undefined) return header.length === model.inputs + 1 ? header[header.length - 1] : undefined;
  const known = new Set(features);
  const others = header.filter((name) => !known.has(name));
  return others.length === 1 && header.length === features.length + 1 ? others[0] : undefined;
}

/** One CSV record, its fields quoted where RFC 4180 needs it (a comma, a quote or a line break). */
export function csvRecord(fields: string[]): string {
  return fields.map((field) => (/[",\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field)).join(',');
}

/**
 * A cell made safe to open in a spreadsheet (OWASP, "CSV Injection"): text that starts with
 * = + - @ a tab or a carriage return would be run as a formula, so it gets a leading single
 * quote. A plain number ("-0.5") is no formula and stays as it is.
 */
export function neutralizeCell(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) && parseDecimal(cell) === undefined ? `'${cell}` : cell;
}

/** What a model predicted for some rows, and how to name it. */
export interface Predictions {
  /** rows x units. */
  outputs: Float32Array;
  units: number;
  /** A classifier's predicted class per row. */
  classes?: Int32Array | undefined;
  classNames?: string[] | undefined;
  labelName?: string | undefined;
}

/** Each class's probability, from a softmax's units or one sigmoid unit's p (then 1 - p, p). */
export function classProbabilities(outputs: Float32Array, units: number, row: number): number[] {
  if (units === 1) {
    const p = outputs[row] as number;
    return [1 - p, p];
  }
  return Array.from(outputs.subarray(row * units, (row + 1) * units));
}

/** The name of each class of a classifier with `units` outputs. */
export function classNamesOf(units: number, classNames: string[] | undefined): string[] {
  return Array.from({ length: units === 1 ? 2 : units }, (_, index) => classNames?.[index] ?? String(index));
}

/**
 * The input's records with the predictions appended: `predicted_<label>` (or `predicted`),
 * then `p_<class>` for each class of a classifier, or the values of a regression
 * (`predicted_<label>_<i>` when it predicts several). A name already in the header gets
 * underscores until it is not. Every cell is neutralized as neutralizeCell says.
 */
export function predictionCsv(input: CsvRecords, predictions: Predictions): string {
  const { outputs, units, classes, labelName } = predictions;
  const taken = new Set(input.header);
  const unique = (name: string): string => {
    let found = name;
    while (taken.has(found)) found += '_';
    taken.add(found);
    return found;
  };
  const predicted = labelName === undefined ? 'predicted' : `predicted_${labelName}`;
  const classNames = classes === undefined ? undefined : classNamesOf(units, predictions.classNames);
  const appended =
    classNames !== undefined
      ? [unique(predicted), ...classNames.map((name) => unique(`p_${name}`))]
      : units === 1
        ? [unique(predicted)]
        : Array.from({ length: units }, (_, unit) => unique(`${predicted}_${unit}`));
  const lines = [csvRecord([...input.header, ...appended].map(neutralizeCell))];
  input.records.forEach((fields, row) => {
    const values =
      classNames !== undefined && classes !== undefined
        ? [classNames[classes[row] as number] as string, ...classProbabilities(outputs, units, row).map(String)]
        : Array.from(outputs.subarray(row * units, (row + 1) * units), String);
    lines.push(csvRecord([...fields, ...values].map(neutralizeCell)));
  });
  return `${lines.join('\n')}\n`;
}
