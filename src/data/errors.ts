// The one error type of src/data. Its code says what kind of fault it is; row, column and
// source say where, so a person can open the file and find the cell.

export type DataErrorCode =
  /** The content is wrong: ragged rows, bad numbers, empty sets, unknown labels, bad IDX. */
  | 'INVALID_DATA'
  /** A file, folder, package or built-in name that does not exist. */
  | 'DATASET_NOT_FOUND'
  /** A dataset or split field that cannot apply: a file whose kind its name does not tell,
   * a parameter the dataset does not take, fractions that leave no rows for train. */
  | 'INVALID_SPEC';

/** Where a fault is: rows count from 1 as a person counts them in the file (a CSV header
 * is row 1); column is the column's name. */
export interface DataLocation {
  source?: string;
  row?: number;
  column?: string;
  /** For a fault in a request rather than a file: the JSON pointer of the field. */
  path?: string;
}

export class DataError extends Error {
  readonly code: DataErrorCode;
  readonly source: string | undefined;
  readonly row: number | undefined;
  readonly column: string | undefined;
  readonly path: string | undefined;

  constructor(code: DataErrorCode, problem: string, location: DataLocation = {}) {
    super(describe(location) + problem);
    this.name = 'DataError';
    this.code = code;
    this.source = location.source;
    this.row = location.row;
    this.column = location.column;
    this.path = location.path;
  }
}

/** Throws INVALID_DATA at a location; shorthand for the parsers' many checks. */
export function invalid(problem: string, location: DataLocation = {}): never {
  throw new DataError('INVALID_DATA', problem, location);
}

function describe({ source, row, column, path }: DataLocation): string {
  if (source === undefined && row === undefined && column === undefined && path !== undefined) return `${path}: `;
  const parts: string[] = [];
  if (row !== undefined) parts.push(`row ${row}`);
  if (column !== undefined) parts.push(`column '${column}'`);
  const where = parts.join(', ');
  if (source !== undefined) return where ? `${source}: ${where}: ` : `${source}: `;
  return where ? `${where}: ` : '';
}
