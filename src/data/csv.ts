// CSV with a header row: feature columns of numbers, text or both, with gaps, and one label
// column (class names, integer classes or regression values). The reader works on bytes and
// writes numbers straight into the Float32Array: csv-parse took 22 s and Papa Parse 6 s on
// a 60000 x 785 file here (133 MB), against about one second for this one. Each feature
// column is kept raw (src/data/columns.ts): a number column's values, NaN where a cell is
// missing, or a text column's codes, for the preprocessing a job fits on its train part.
import { isUtf8 } from 'node:buffer';
import { basename } from 'node:path';
import { ColumnBuilder, isMissingText, type StoredColumn } from './columns.js';
import { requireRows, type LoadedDataset } from './dataset.js';
import { invalid, type DataLocation } from './errors.js';
import { asBuffer, readDataFile } from './files.js';
import { encodeLabels, type EncodedLabels, type LabelColumn } from './labels.js';
import { cellProblem, dataLimits, MAX_COLUMN_NAME_LENGTH, tooLongName, type DataLimits } from './limits.js';
import { checkStorable, parseDecimal, quote } from './numbers.js';

/** The caps (src/data/limits.ts) not given are the environment's. */
export interface CsvOptions extends Partial<DataLimits> {
  /** The label column's name; the last column when absent. */
  label?: string;
  /** Every column is a feature (inputs to predict): y is empty, labels are values of
   * width 0, and label is not used. */
  noLabel?: boolean;
  /** The dataset's name; the file's name, or 'csv'. */
  name?: string;
  /** Where the text came from, for messages. */
  source?: string;
  /** The dataset's own test part: the same columns. */
  test?: string | Uint8Array;
  /** Where the test text came from, for messages. */
  testSource?: string;
  /** Called between rows, and often: a long read's caller sends its heartbeat from here (its
   * timers cannot fire while the read holds the thread). Keep it cheap. */
  onProgress?: () => void;
}

export interface CsvFileOptions extends Pick<CsvOptions, 'label' | 'noLabel' | keyof DataLimits> {
  /** The path of the test part's file. */
  test?: string;
}

/** Parses CSV text, a string or its UTF-8 bytes (an upload, say). */
export function parseCsv(text: string | Uint8Array, options: CsvOptions = {}): LoadedDataset {
  const source = options.source ?? 'csv';
  const choice: LabelChoice = options.noLabel
    ? { kind: 'none' }
    : options.label === undefined
      ? { kind: 'last' }
      : { kind: 'named', name: options.label };
  const limits = dataLimits(options);
  const reader = new TableReader(limits, options.onProgress);
  const train = reader.read(toBytes(text, source), source, choice);
  const labelName = train.labelIndex === -1 ? undefined : train.header[train.labelIndex];
  const test =
    options.test === undefined
      ? undefined
      : reader.read(
          toBytes(options.test, options.testSource ?? 'test csv'),
          options.testSource ?? 'test csv',
          labelName === undefined ? { kind: 'none' } : { kind: 'named', name: labelName },
          train,
        );
  const featureNames = train.header.filter((_, index) => index !== train.labelIndex);
  const features = featureNames.length;
  requireRows({ rows: train.rows, features }, train.source);
  if (test) requireRows({ rows: test.rows, features }, test.source);
  const encoded =
    labelName === undefined ? withoutLabels(test !== undefined) : encodeLabels(train.labels, test?.labels, limits.maxCategories);
  const loaded: LoadedDataset = {
    name: options.name ?? 'csv',
    train: { x: train.x, y: encoded.train, rows: train.rows, features },
    featureNames,
    labels: encoded.labels,
    columns: reader.columns(),
    ...(labelName === undefined ? {} : { labelColumn: labelName }),
  };
  if (test && encoded.test) loaded.test = { x: test.x, y: encoded.test, rows: test.rows, features };
  return loaded;
}

/** Loads a CSV file (gzipped or not), and its test part when one is named. */
export async function loadCsv(path: string, options: CsvFileOptions = {}): Promise<LoadedDataset> {
  const [text, test] = await Promise.all([
    readDataFile(path),
    options.test === undefined ? undefined : readDataFile(options.test),
  ]);
  return parseCsv(text, {
    ...(options.label === undefined ? {} : { label: options.label }),
    ...(options.noLabel === undefined ? {} : { noLabel: options.noLabel }),
    maxCategories: options.maxCategories,
    maxColumns: options.maxColumns,
    maxCellBytes: options.maxCellBytes,
    name: basename(path),
    source: path,
    ...(test === undefined ? {} : { test, testSource: options.test }),
  });
}

/** The names in the header row (the first record), reading nothing after it. */
export function csvHeader(text: string | Uint8Array, source = 'csv', caps: Partial<DataLimits> = {}): string[] {
  const limits = dataLimits(caps);
  const scanner = new CsvScanner(toBytes(text, source), source, limits.maxCellBytes);
  if (!scanner.nextRecord()) invalid('empty file: no header row', { source });
  return readHeader(scanner, limits.maxColumns);
}

/** A CSV file as text fields: its header, and each record's fields with its file row. */
export interface CsvRecords {
  header: string[];
  records: string[][];
  /** The file row (from 1, the header's) of each record. */
  rows: number[];
}

/** Reads every record as text, untouched but for the quoting; each as wide as the header. */
export function readCsvRecords(text: string | Uint8Array, source = 'csv', caps: Partial<DataLimits> = {}): CsvRecords {
  const limits = dataLimits(caps);
  const scanner = new CsvScanner(toBytes(text, source), source, limits.maxCellBytes);
  if (!scanner.nextRecord()) invalid('empty file: no header row', { source });
  const header = readHeader(scanner, limits.maxColumns);
  const records: string[][] = [];
  const rows: number[] = [];
  while (scanner.nextRecord()) {
    const row = scanner.row;
    const fields: string[] = [];
    let cells = 0;
    do {
      scanner.readField();
      // Cells past the header are counted for the message, not kept.
      if (cells < header.length) fields.push(scanner.fieldText());
      cells += 1;
    } while (scanner.more);
    checkWidth(cells, header, { source, row });
    records.push(fields);
    rows.push(row);
  }
  return { header, records, rows };
}

/** No label column: no targets, as values of width 0. */
function withoutLabels(hasTest: boolean): EncodedLabels {
  const empty = new Float32Array(0);
  return { labels: { kind: 'values', width: 0 }, train: empty, ...(hasTest && { test: empty }) };
}

/** A cell where its column met its first text: the column's place in a record and among the
 * features, the cell's place in x, and its text. */
interface SwitchingCell {
  column: number;
  feature: number;
  offset: number;
  text: string;
}

/** Which column holds the labels: one named, the last, or none. */
type LabelChoice = { kind: 'named'; name: string } | { kind: 'last' } | { kind: 'none' };

interface Table {
  source: string;
  bytes: Buffer;
  header: string[];
  /** The file row of the header, for messages about it. */
  headerRow: number;
  /** -1 when there is no label column. */
  labelIndex: number;
  rows: number;
  x: Float32Array;
  labels: LabelColumn;
}

/** The bytes of a CSV file, which must be UTF-8 (a byte order mark is skipped by the scanner). */
function toBytes(text: string | Uint8Array, source: string): Buffer {
  if (typeof text === 'string') return Buffer.from(text, 'utf8');
  const bytes = asBuffer(text);
  requireUtf8(bytes, source);
  return bytes;
}

/** Refuses CSV bytes that are not UTF-8, naming the row and column of the first bad byte. */
export function requireUtf8(bytes: Uint8Array, source: string): void {
  if (!isUtf8(bytes)) refuseEncoding(asBuffer(bytes), source);
}

/** Says where the first byte that is not UTF-8 is, and what the file probably is. */
function refuseEncoding(bytes: Buffer, source: string): never {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
    invalid('the file is UTF-16 (its byte order mark says so): save it as UTF-8', { source });
  const offset = firstInvalidUtf8(bytes);
  // The scanner reads bytes, so it finds the row and column of the offset whatever the encoding.
  const scanner = new CsvScanner(bytes, source);
  let header: string[] | undefined;
  let where: DataLocation = { source };
  while (scanner.nextRecord()) {
    const row = scanner.row;
    const fields: string[] = [];
    let found = false;
    do {
      scanner.readField();
      fields.push(scanner.fieldText().trim());
      found = scanner.offset > offset;
    } while (scanner.more && !found);
    if (found) {
      const column = header?.[fields.length - 1];
      where = { source, row, ...(column === undefined ? {} : { column }) };
      break;
    }
    header ??= fields;
  }
  const byte = (bytes[offset] as number).toString(16).padStart(2, '0');
  invalid(`byte 0x${byte} is not UTF-8: the file is in another encoding (Latin-1 or Windows-1252, as older spreadsheets save?); save it as UTF-8`, where);
}

/** The offset of the first byte that breaks UTF-8 (RFC 3629), in a buffer known to hold one. */
function firstInvalidUtf8(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i] as number;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
    if (length === 0 || !isUtf8(bytes.subarray(i, i + length))) return i;
    i += length;
  }
  return bytes.length - 1;
}

/**
 * Reads the parts of one dataset (train, then its own test part) with one set of column
 * builders, so that a text column's codes mean the same in both.
 */
class TableReader {
  private builders: ColumnBuilder[] = [];
  private readonly tables: Table[] = [];

  constructor(
    private readonly limits: DataLimits,
    private readonly onProgress: () => void = () => {},
  ) {}

  columns(): StoredColumn[] {
    return this.builders.map((builder) => builder.finish());
  }

  read(bytes: Buffer, source: string, label: LabelChoice, train?: Table): Table {
    const scanner = new CsvScanner(bytes, source, this.limits.maxCellBytes);
    if (!scanner.nextRecord()) invalid('empty file: no header row', { source });
    const headerRow = scanner.row;
    const header = readHeader(scanner, this.limits.maxColumns);
    if (train !== undefined) checkSameColumns(train, header, source, headerRow);
    const labelIndex = findLabel(header, label, { source, row: headerRow });
    const columns = header.length;
    const features = labelIndex === -1 ? columns : columns - 1;
    if (train === undefined)
      this.builders = header.filter((_, index) => index !== labelIndex).map((name) => new ColumnBuilder(name, this.limits.maxCategories));
    const { builders } = this;
    // A record of n cells takes at least n bytes (its commas and its line end): a wide header
    // over many blank lines must not make an array of lines x columns.
    let capacity = Math.min(scanner.countLinesLeft(), Math.ceil((bytes.length - scanner.offset) / columns));
    let x = new Float32Array(capacity * features);
    const labelCells: (number | string)[] = [];
    const labelRows: number[] = [];
    let rows = 0;
    const table: Table = { source, bytes, header, headerRow, labelIndex, rows: 0, x, labels: { cells: labelCells, locate: () => ({}) } };
    // Columns that meet their first text are read again as text from the start, in file order
    // (the order that numbers a column's values). Those of a row share one pass over the rows
    // before it, while such passes add up to no more than one over the whole file; after that
    // (a header repeated mid-file, late gaps written '-'), the rest wait for one pass at the
    // end. A file is read three times at most, not once more for each column.
    const switching: SwitchingCell[] = [];
    const deferred: SwitchingCell[] = [];
    const rowsBefore = this.tables.reduce((sum, part) => sum + part.rows, 0);
    const budget = rowsBefore + capacity;
    let reread = 0;
    while (scanner.nextRecord()) {
      const row = scanner.row;
      if (rows === capacity) {
        // Only files whose lines end in a lone '\r' get here: the count was of '\n's, and
        // each row has at least its commas.
        capacity = Math.max(2 * capacity, 1024);
        const grown = new Float32Array(capacity * features);
        grown.set(x);
        x = grown;
      }
      let column = 0;
      let feature = 0;
      let offset = rows * features;
      do {
        if (column === labelIndex) {
          scanner.readField();
          const text = scanner.fieldText().trim();
          if (isMissingText(text))
            invalid(text === '' ? 'empty label' : `missing label (${quote(text)})`, { source, row, column: header[column] as string });
          labelCells.push(parseDecimal(text) ?? text);
          labelRows.push(row);
        } else if (column < columns) {
          const builder = builders[feature] as ColumnBuilder;
          if (builder.storage === 'number') {
            const value = scanner.readNumber();
            if (!Number.isNaN(value)) {
              x[offset] = value;
              builder.addNumber(x[offset] as number);
            } else {
              const text = scanner.fieldText().trim();
              const parsed = isMissingText(text) ? undefined : parseDecimal(text);
              if (isMissingText(text)) {
                x[offset] = Number.NaN;
                builder.addMissing();
              } else if (parsed !== undefined) {
                x[offset] = checkStorable(parsed, { source, row, column: header[column] as string });
                builder.addNumber(x[offset] as number);
              } else {
                builder.becomeText(row, text);
                switching.push({ column, feature, offset, text });
              }
            }
          } else {
            scanner.readField();
            const text = scanner.fieldText().trim();
            if (isMissingText(text)) {
              x[offset] = Number.NaN;
              builder.addMissing();
            } else x[offset] = builder.addText(text);
          }
          offset += 1;
          feature += 1;
        } else {
          scanner.readField();
        }
        column += 1;
      } while (scanner.more);
      checkWidth(column, header, { source, row });
      if (switching.length > 0) {
        if (deferred.length === 0 && reread + rowsBefore + rows <= budget) {
          table.x = x;
          table.rows = rows;
          this.rereadAsText(switching, table);
          reread += rowsBefore + rows;
        } else deferred.push(...switching);
        // Their cells of this row, after the rows before (a deferred column's, for now).
        for (const cell of switching) x[cell.offset] = (builders[cell.feature] as ColumnBuilder).addText(cell.text);
        switching.length = 0;
      }
      rows += 1;
      this.onProgress();
    }
    if (x.length !== rows * features) x = x.slice(0, rows * features);
    table.x = x;
    table.rows = rows;
    if (deferred.length > 0) {
      for (const { feature } of deferred) (builders[feature] as ColumnBuilder).restartText();
      this.rereadAsText(deferred, table);
    }
    table.labels = {
      cells: labelCells,
      locate: (index) => ({ source, row: labelRows[index] as number, column: header[labelIndex] as string }),
    };
    this.tables.push(table);
    return table;
  }

  /**
   * Columns met their first cell that is not a number in `current`: each of their cells in
   * the parts read before and in `current` (up to its `rows`) is read again as text, in one
   * pass for all of them.
   */
  private rereadAsText(switched: readonly SwitchingCell[], current: Table): void {
    const features = this.builders.length;
    // The feature of each column of a record that is read again, or -1.
    const featureAt = new Int32Array(current.header.length).fill(-1);
    for (const { column, feature } of switched) featureAt[column] = feature;
    for (const table of [...this.tables, current]) {
      const scanner = new CsvScanner(table.bytes, table.source);
      scanner.nextRecord();
      do scanner.readField();
      while (scanner.more);
      for (let row = 0; row < table.rows && scanner.nextRecord(); row += 1) {
        let at = 0;
        do {
          scanner.readField();
          const feature = at < featureAt.length ? (featureAt[at] as number) : -1;
          if (feature !== -1) {
            const builder = this.builders[feature] as ColumnBuilder;
            const text = scanner.fieldText().trim();
            if (isMissingText(text)) {
              table.x[row * features + feature] = Number.NaN;
              builder.addMissing();
            } else table.x[row * features + feature] = builder.addText(text);
          }
          at += 1;
        } while (scanner.more);
        this.onProgress();
      }
    }
  }
}

/** A record's cells against its header: the first cell it lacks, or the one too many. */
function checkWidth(cells: number, header: readonly string[], where: DataLocation): void {
  const columns = header.length;
  if (cells < columns) invalid(`${cells} cells, but the header has ${columns}`, { ...where, column: header[cells] as string });
  if (cells > columns) invalid(`${cells} cells, but the header has ${columns}: the row goes on past the last column`, where);
}

function findLabel(header: string[], label: LabelChoice, where: DataLocation): number {
  if (label.kind === 'none') return -1;
  if (label.kind === 'last') return header.length - 1;
  const index = header.indexOf(label.name);
  if (index === -1) {
    invalid(`no column named ${quote(label.name)}; the columns are ${listNames(header)}`, where);
  }
  return index;
}

/**
 * The header's names, refused as they are read: past `maxColumns` columns (before the next is
 * read), a name past MAX_COLUMN_NAME_LENGTH, an empty one, one that appears twice. The scanner
 * then names the column of each cell it refuses.
 */
function readHeader(scanner: CsvScanner, maxColumns: number): string[] {
  const header: string[] = [];
  const seen = new Set<string>();
  const where = { source: scanner.source, row: scanner.row };
  do {
    if (header.length === maxColumns) invalid(`the header has more than ${maxColumns} columns, the cap (CAVIAR_MAX_COLUMNS)`, where);
    scanner.readField();
    const name = scanner.fieldText().trim();
    if (name === '') invalid(`column ${header.length + 1} of the header has no name`, where);
    const tooLong = tooLongName(name, MAX_COLUMN_NAME_LENGTH);
    if (tooLong !== undefined) invalid(`column ${header.length + 1} of the header is ${tooLong}`, where);
    if (seen.has(name)) invalid(`column name ${quote(name)} appears twice in the header`, where);
    seen.add(name);
    header.push(name);
  } while (scanner.more);
  scanner.columnNames = header;
  return header;
}

function checkSameColumns(train: Table, header: string[], source: string, headerRow: number): void {
  const names = new Set(header);
  const trainNames = new Set(train.header);
  const missing = train.header.filter((name) => !names.has(name));
  const extra = header.filter((name) => !trainNames.has(name));
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`missing ${listNames(missing)}`);
  if (extra.length > 0) problems.push(`extra ${listNames(extra)}`);
  if (problems.length === 0 && header.some((name, index) => name !== train.header[index])) {
    problems.push('the same columns in another order');
  }
  if (problems.length > 0) invalid(`the columns differ from train: ${problems.join('; ')}`, { source, row: headerRow });
}

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 8).map(quote).join(', ');
  return names.length > 8 ? `${shown} and ${names.length - 8} more` : shown;
}

const COMMA = 0x2c;
const QUOTE = 0x22;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const PLUS = 0x2b;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

// Exact powers of ten: every one up to 1e22 is a double without rounding.
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, power) => 10 ** power);

/** Walks RFC 4180 CSV one field at a time, tracking the file row for messages. Lines end
 * in '\n', '\r\n' or '\r'; blank lines are skipped but counted. A field longer than
 * `maxCellBytes` is refused from its bounds, before any text is made of it. */
class CsvScanner {
  readonly bytes: Buffer;
  readonly source: string;
  /** The file row (1-based) the scanner is on. */
  row = 1;
  /** Whether another field follows the last one read in the same record. */
  more = false;
  /** The header's names once it is read, to name the column of a cell refused. */
  columnNames: readonly string[] | undefined;
  // The field of the record being read, from 0.
  private field = 0;
  private position: number;
  // The last field read: bytes[start, end) when unquoted, else its unescaped text.
  private quoted = false;
  private start = 0;
  private end = 0;
  private text = '';

  /** Where the scanner is in the bytes. */
  get offset(): number {
    return this.position;
  }

  constructor(
    bytes: Buffer,
    source: string,
    private readonly maxCellBytes = Infinity,
  ) {
    this.bytes = bytes;
    this.source = source;
    const byteOrderMark = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    this.position = byteOrderMark ? 3 : 0;
  }

  /** Moves past blank lines to the next record; false at the end of the input. */
  nextRecord(): boolean {
    const { bytes } = this;
    while (this.position < bytes.length) {
      const byte = bytes[this.position];
      if (byte !== NEWLINE && byte !== RETURN) {
        this.field = 0;
        return true;
      }
      this.position = this.endLine(this.position);
    }
    return false;
  }

  /** An upper bound on the records left, unless lines end in a lone '\r'. */
  countLinesLeft(): number {
    const { bytes } = this;
    let lines = 0;
    let at = bytes.indexOf(NEWLINE, this.position);
    while (at !== -1) {
      lines += 1;
      at = bytes.indexOf(NEWLINE, at + 1);
    }
    return bytes[bytes.length - 1] === NEWLINE ? lines : lines + 1;
  }

  /** Reads one field, of any content. */
  readField(): void {
    const { bytes } = this;
    if (this.position < bytes.length && bytes[this.position] === QUOTE) {
      this.stepOverDelimiter(this.readQuoted(this.position));
    } else {
      this.finishUnquoted(this.findDelimiter(this.position));
    }
  }

  /**
   * Reads one field as a plain decimal, or returns NaN when the field needs the general
   * parser (fieldText then has its text). One pass over the bytes, as this is where big
   * files spend their time. Clinger's fast path: when the digits form an integer below
   * 2^53 and the decimal exponent is within 22, one multiplication or division by an
   * exact power of ten rounds once, so the result equals Number(text) bit for bit.
   */
  readNumber(): number {
    const { bytes } = this;
    const length = bytes.length;
    let i = this.position;
    if (i < length && bytes[i] === QUOTE) {
      this.readField();
      return Number.NaN;
    }
    let negative = false;
    if (i < length && (bytes[i] === MINUS || bytes[i] === PLUS)) {
      negative = bytes[i] === MINUS;
      i += 1;
    }
    let mantissa = 0;
    let digits = 0;
    let exponent = 0;
    let digit = 0;
    while (i < length && (digit = (bytes[i] as number) - ZERO) >= 0 && digit <= 9) {
      mantissa = mantissa * 10 + digit;
      digits += 1;
      i += 1;
    }
    if (i < length && bytes[i] === DOT) {
      i += 1;
      while (i < length && (digit = (bytes[i] as number) - ZERO) >= 0 && digit <= 9) {
        mantissa = mantissa * 10 + digit;
        digits += 1;
        exponent -= 1;
        i += 1;
      }
    }
    if (i < length && (bytes[i] === LOWER_E || bytes[i] === UPPER_E) && digits > 0) {
      i += 1;
      let sign = 1;
      if (i < length && (bytes[i] === MINUS || bytes[i] === PLUS)) {
        sign = bytes[i] === MINUS ? -1 : 1;
        i += 1;
      }
      let written = 0;
      let exponentDigits = 0;
      while (i < length && (digit = (bytes[i] as number) - ZERO) >= 0 && digit <= 9) {
        written = written * 10 + digit;
        exponentDigits += 1;
        i += 1;
      }
      exponent += exponentDigits > 0 && exponentDigits <= 3 ? sign * written : 1000;
    }
    const byte = i < length ? bytes[i] : NEWLINE;
    if (byte !== COMMA && byte !== NEWLINE && byte !== RETURN) {
      this.finishUnquoted(this.findDelimiter(i));
      return Number.NaN;
    }
    this.finishUnquoted(i);
    if (digits === 0 || mantissa > Number.MAX_SAFE_INTEGER || exponent < -22 || exponent > 22) {
      return Number.NaN;
    }
    let value = mantissa;
    if (exponent > 0) value *= POWERS_OF_TEN[exponent] as number;
    else if (exponent < 0) value /= POWERS_OF_TEN[-exponent] as number;
    return negative ? -value : value;
  }

  fieldText(): string {
    return this.quoted ? this.text : this.bytes.toString('utf8', this.start, this.end);
  }

  /** The index of the delimiter that ends an unquoted field. */
  private findDelimiter(from: number): number {
    const { bytes } = this;
    const length = bytes.length;
    let i = from;
    while (i < length) {
      const byte = bytes[i];
      if (byte === COMMA || byte === NEWLINE || byte === RETURN) break;
      i += 1;
    }
    return i;
  }

  /** Records the unquoted field from the current position to the delimiter at i. */
  private finishUnquoted(i: number): void {
    if (i - this.position > this.maxCellBytes) this.refuseCell(i - this.position, this.row);
    this.quoted = false;
    this.start = this.position;
    this.end = i;
    this.stepOverDelimiter(i);
  }

  /** Steps over the delimiter at i: a comma, a line ending or the end of the input. */
  private stepOverDelimiter(i: number): void {
    const { bytes } = this;
    if (i < bytes.length && bytes[i] === COMMA) {
      this.position = i + 1;
      this.more = true;
      this.field += 1;
    } else {
      this.position = i < bytes.length ? this.endLine(i) : i;
      this.more = false;
    }
  }

  /** Reads a quoted field from its opening quote; returns the index after it. */
  private readQuoted(opening: number): number {
    const { bytes } = this;
    const row = this.row;
    // The closing quote first (a doubled quote stands for one quote inside the field): the
    // field's bytes are held to the cap before they become text.
    let closing = opening;
    let doubled = false;
    for (;;) {
      closing = bytes.indexOf(QUOTE, closing + 1);
      if (closing === -1) invalid('a quoted field is never closed', { source: this.source, row });
      if (bytes[closing + 1] !== QUOTE) break;
      doubled = true;
      closing += 1;
    }
    if (closing - opening - 1 > this.maxCellBytes) this.refuseCell(closing - opening - 1, row);
    const text = bytes.toString('utf8', opening + 1, closing);
    for (let at = opening + 1; at < closing; at += 1) if (bytes[at] === NEWLINE) this.row += 1;
    let i = closing + 1;
    while (i < bytes.length && (bytes[i] === SPACE || bytes[i] === TAB)) i += 1;
    const next = i < bytes.length ? bytes[i] : NEWLINE;
    if (next !== COMMA && next !== NEWLINE && next !== RETURN) {
      invalid('unexpected text after a closing quote', { source: this.source, row: this.row });
    }
    this.quoted = true;
    // Inside the quotes, every quote is one of a pair.
    this.text = doubled ? text.replaceAll('""', '"') : text;
    return i;
  }

  /** Refuses the field being read, of `length` bytes from `row`: over the cap. */
  private refuseCell(length: number, row: number): never {
    const { source, columnNames, field } = this;
    if (columnNames === undefined) invalid(`column ${field + 1} of the header is ${cellProblem(length, this.maxCellBytes)}`, { source, row });
    const column = columnNames[field];
    return invalid(cellProblem(length, this.maxCellBytes), { source, row, ...(column === undefined ? {} : { column }) });
  }

  /** Steps over the line ending at i; returns where the next line starts. */
  private endLine(i: number): number {
    this.row += 1;
    if (this.bytes[i] === RETURN && i + 1 < this.bytes.length && this.bytes[i + 1] === NEWLINE) return i + 2;
    return i + 1;
  }
}
