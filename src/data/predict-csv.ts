// CSV for `caviar predict`: the rows to predict, matched to the model's columns (a header is
// required; a label column is left out), and the predictions written back as CSV.
import { csvHeader, parseCsv } from './csv.js';
import { DataError, invalid } from './errors.js';
import { parseDecimal, quote } from './numbers.js';

/** What a saved model tells of the columns it was trained on. */
export interface ModelInputs {
  /** Input features the network takes. */
  inputs: number;
  /** Their names, in order, when the model records them. */
  featureNames?: string[] | undefined;
  /** The training data's label column, when the model records it. */
  labelName?: string | undefined;
}

export interface PredictionRows {
  /** rows x inputs, in the model's feature order. */
  x: Float32Array;
  rows: number;
  /** The column left out as the label, if any. */
  label?: string;
}

const names = (list: string[]) => list.map(quote).join(', ');

/**
 * Reads the rows of a CSV file with a header. Its columns are the model's features (by
 * name, in any order, when the model records their names; else the first columns, in
 * order) and at most one label column, which is left out: the one `label` names, else the
 * model's label column; a model that records none takes the one column beside its named
 * features, or without names one last column beyond them (the label's place in training
 * files).
 */
export function readPredictionCsv(
  text: string | Uint8Array,
  model: ModelInputs,
  options: { label?: string | undefined; source?: string } = {},
): PredictionRows {
  const source = options.source ?? 'csv';
  const header = csvHeader(text, source);
  refuseMissingHeader(header, model, source);
  const label = options.label ?? labelColumn(header, model);
  const loaded = parseCsv(text, { source, ...(label === undefined ? { noLabel: true } : { label }) });
  const { x, rows, features } = loaded.train;
  const result = (values: Float32Array): PredictionRows => ({ x: values, rows, ...(label === undefined ? {} : { label }) });
  const expected = model.featureNames;
  if (expected === undefined) {
    if (features !== model.inputs) {
      const problem = `${features} feature columns (${names(loaded.featureNames)}), but the model takes ${model.inputs}; name a label column to leave out with --label`;
      throw new DataError('INVALID_DATA', problem, { source });
    }
    return result(x);
  }
  const missing = expected.filter((name) => !loaded.featureNames.includes(name));
  const extra = loaded.featureNames.filter((name) => !expected.includes(name));
  if (missing.length > 0 || extra.length > 0) {
    const problems = [
      ...(missing.length > 0 ? [`no column ${names(missing)}`] : []),
      ...(extra.length > 0 ? [`column ${names(extra)} is not one of them (a label column to leave out? name it with --label)`] : []),
    ];
    throw new DataError('INVALID_DATA', `the model's features are ${names(expected)}: ${problems.join('; ')}`, { source });
  }
  if (expected.every((name, index) => loaded.featureNames[index] === name)) return result(x);
  // The same columns in another order: put them in the model's.
  const order = expected.map((name) => loaded.featureNames.indexOf(name));
  const arranged = new Float32Array(rows * features);
  for (let row = 0; row < rows; row += 1) {
    for (let column = 0; column < features; column += 1)
      arranged[row * features + column] = x[row * features + (order[column] as number)] as number;
  }
  return result(arranged);
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
  const others = header.filter((name) => !features.includes(name));
  return others.length === 1 && header.length === features.length + 1 ? others[0] : undefined;
}

/** One CSV record, its fields quoted where RFC 4180 needs it (a comma, a quote or a line break). */
export function csvRecord(fields: string[]): string {
  return fields.map((field) => (/[",\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field)).join(',');
}
