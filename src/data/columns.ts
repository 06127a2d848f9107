// The columns of tabular data: which cells count as missing, what each column holds, the
// type inferred for it and why, and a job spec's overrides checked against what it holds.
import { Type, type Static } from '@sinclair/typebox';
import { oneOf } from '../engine/spec.js';
import { ColumnTypeName, type ColumnType } from './spec.js';
import { DataError } from './errors.js';
import { quote } from './numbers.js';

export { type ColumnType } from './spec.js';

// The category cap lives with the other caps on a file (src/data/limits.ts); it is read where
// a table is read, and again where a job's column types are checked against it.
export { DEFAULT_MAX_CATEGORIES, maxCategories } from './limits.js';

/** Cells that stand for a missing value, as written once trimmed: what spreadsheets, R,
 * pandas, databases and the UCI repository write. */
export const MISSING_MARKERS: ReadonlySet<string> = new Set([
  '', '?', 'NA', 'N/A', 'n/a', '#N/A', '<NA>', 'NaN', 'nan', 'NAN', '-nan', 'null', 'NULL', 'Null', 'None',
]);

export const isMissingText = (trimmed: string): boolean => MISSING_MARKERS.has(trimmed);

// Words read as booleans, in any case; a column of them (or of 0 and 1) is a boolean column.
const TRUE_WORDS: ReadonlySet<string> = new Set(['true', 'yes', 't', 'y', '1']);
const FALSE_WORDS: ReadonlySet<string> = new Set(['false', 'no', 'f', 'n', '0']);
export const BOOLEAN_WORDS = 'true/false, yes/no, t/f, y/n, 1/0';

/** 1 or 0 for a boolean word (trimmed), undefined for anything else. */
export function booleanOf(trimmed: string): 0 | 1 | undefined {
  const word = trimmed.toLowerCase();
  if (TRUE_WORDS.has(word)) return 1;
  if (FALSE_WORDS.has(word)) return 0;
  return undefined;
}

const CategoryCountSchema = Type.Object({ value: Type.String(), count: Type.Integer({ minimum: 0 }) });

/** A column as an upload's reply and GET /v1/datasets/:id describe it. */
export const ColumnViewSchema = Type.Object({
  name: Type.String(),
  type: ColumnTypeName,
  missing: Type.Integer({ minimum: 0, description: 'cells that are empty or a missing marker (NA, NaN, null, ?, ...)' }),
  categories: Type.Optional(
    Type.Array(CategoryCountSchema, { description: 'category and boolean columns: each value and its rows, most frequent first' }),
  ),
  reason: Type.String({ description: 'why the type was inferred' }),
});
export type ColumnView = Static<typeof ColumnViewSchema>;

/**
 * A column as a stored dataset keeps it (columns.json beside its arrays): the view, and what
 * its cells in x are. A 'number' column holds each cell's value (NaN when missing); a 'text'
 * column the index of the cell's text in `values` (NaN when missing, or once over the cap).
 */
export const StoredColumnSchema = Type.Composite([
  ColumnViewSchema,
  Type.Object({
    storage: oneOf('number', 'text'),
    distinct: Type.Integer({ minimum: 0, description: 'distinct values; the cap + 1 when over it' }),
    overCap: Type.Optional(Type.Boolean({ description: 'more distinct values than the cap when it was read' })),
    values: Type.Optional(Type.Array(Type.String(), { description: "text: each code's text; absent over the cap" })),
    binary: Type.Optional(Type.Boolean({ description: 'number: every value is 0 or 1' })),
    firstText: Type.Optional(Type.Object({ row: Type.Integer(), value: Type.String() }, { description: 'text: its first cell that is not a number' })),
  }),
]);
export type StoredColumn = Static<typeof StoredColumnSchema>;

export const columnView = ({ name, type, missing, categories, reason }: StoredColumn): ColumnView => ({
  name,
  type,
  missing,
  ...(categories === undefined ? {} : { categories }),
  reason,
});

const SMALL_WHOLE = 4096;

/** Names of id columns: id, ID, user_id, userId, index, rowid, #. */
const ID_NAME = /^(?:id|ID|Id|.*[_ -](?:id|ID|Id)|.*[a-z]Id|index|Index|rowid|row_id|#)$/;

/** Text columns whose values all differ are ignored from this many rows on (an id, a name). */
const DISTINCT_ID_ROWS = 20;

/**
 * Gathers a column's cells as a CSV reader meets them: numbers while every cell is one, then
 * text codes from the first cell that is not (the reader re-reads the earlier cells as text).
 */
export class ColumnBuilder {
  storage: 'number' | 'text' = 'number';
  missing = 0;
  cells = 0;
  firstText: { row: number; value: string } | undefined;
  private readonly numbers = new Set<number>();
  private readonly small = new Uint8Array(SMALL_WHOLE);
  private distinct = 0;
  private overCap = false;
  // Whether the whole numbers so far rise row by row, as a row id's do.
  private rising = true;
  private whole = true;
  private last = -Infinity;
  private zeros = 0;
  private ones = 0;
  private binary = true;
  private codes: Map<string, number> | undefined;
  private values: string[] = [];
  private counts: number[] = [];

  constructor(
    readonly name: string,
    private readonly maxCategories: number,
  ) {}

  addMissing(): void {
    this.cells += 1;
    this.missing += 1;
  }

  addNumber(value: number): void {
    this.cells += 1;
    if (!Number.isInteger(value)) this.whole = false;
    if (this.rising && !(value > this.last && this.whole)) this.rising = false;
    this.last = value;
    if (value === 0) this.zeros += 1;
    else if (value === 1) this.ones += 1;
    else this.binary = false;
    if (this.overCap) return;
    // Small whole numbers (counts, codes, pixels) are most cells of most tables: a bitmap
    // counts them faster than a Set.
    if (value >= 0 && value < SMALL_WHOLE && value === Math.floor(value)) {
      if (this.small[value] === 1) return;
      this.small[value] = 1;
    } else {
      if (this.numbers.has(value)) return;
      this.numbers.add(value);
    }
    this.distinct += 1;
    if (this.distinct > this.maxCategories) {
      this.overCap = true;
      this.numbers.clear();
    }
  }

  /** Becomes a text column at the cell of `row`; the caller re-adds the earlier cells with
   * addText (or, having added later ones, calls restartText and adds them all again). */
  becomeText(row: number, value: string): void {
    this.storage = 'text';
    this.firstText = { row, value };
    this.numbers.clear();
    this.restartText();
  }

  /** Forgets the cells added: the caller adds each again, in file order. */
  restartText(): void {
    this.codes = new Map();
    this.values = [];
    this.counts = [];
    this.cells = 0;
    this.missing = 0;
  }

  /** The code of a text cell (trimmed, not missing), or NaN once the column is over the cap. */
  addText(value: string): number {
    this.cells += 1;
    const codes = this.codes;
    if (codes === undefined) return Number.NaN;
    let code = codes.get(value);
    if (code === undefined) {
      code = this.values.length;
      if (code >= this.maxCategories) {
        // Over the cap: the column can only be ignored, and its dictionary would be wasted memory.
        this.codes = undefined;
        this.values = [];
        this.counts = [];
        return Number.NaN;
      }
      codes.set(value, code);
      this.values.push(value);
      this.counts.push(0);
    }
    this.counts[code] = (this.counts[code] as number) + 1;
    return code;
  }

  /** The column as stored, with its inferred type and the reason for it. */
  finish(): StoredColumn {
    const { name, missing } = this;
    const present = this.cells - missing;
    const base = { name, missing };
    if (present === 0) return { ...base, type: 'ignore', reason: 'every cell is missing', storage: this.storage, distinct: 0 };
    if (this.storage === 'number') {
      const { distinct, overCap } = this;
      const stored = { ...base, storage: 'number' as const, distinct, ...(overCap ? { overCap } : {}), binary: this.binary };
      const unique = this.rising || (this.whole && !overCap && distinct === this.cells);
      if (missing === 0 && unique && present >= DISTINCT_ID_ROWS && ID_NAME.test(name)) {
        const reason = 'named like an id, with a different whole number in every row: it tells nothing about new rows';
        return { ...stored, type: 'ignore', reason };
      }
      if (!this.binary) return { ...stored, type: 'number', reason: 'every value is a number' };
      const categories = [
        { value: '0', count: this.zeros },
        { value: '1', count: this.ones },
      ].filter((category) => category.count > 0);
      return { ...stored, type: 'boolean', categories, reason: 'every value is 0 or 1' };
    }
    const first = this.firstText as { row: number; value: string };
    const stored = { ...base, storage: 'text' as const, firstText: first };
    if (this.codes === undefined) {
      const reason = `more than ${this.maxCategories} distinct values (the cap, CAVIAR_MAX_CATEGORIES): too many to one-hot encode (an id or free text?)`;
      return { ...stored, type: 'ignore', distinct: this.maxCategories + 1, overCap: true, reason };
    }
    const { values } = this;
    const withValues = { ...stored, distinct: values.length, values };
    if (values.length === present && present >= DISTINCT_ID_ROWS) {
      const reason = `every value is different (${present} of them): an id or a name, which tells nothing about new rows`;
      return { ...withValues, type: 'ignore', reason };
    }
    const categories = values
      .map((value, code) => ({ value, count: this.counts[code] as number }))
      .sort((a, b) => b.count - a.count || compareText(a.value, b.value));
    if (values.every((value) => booleanOf(value) !== undefined)) {
      const reason = `every value is a boolean word (${BOOLEAN_WORDS})`;
      return { ...withValues, type: 'boolean', categories, reason };
    }
    const reason = `${quote(first.value)} (row ${first.row}) is not a number`;
    return { ...withValues, type: 'category', categories, reason };
  }
}

/** Text order by code unit, the same on every machine (no locale). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A JSON pointer's token for a name (RFC 6901: ~ and / escaped). */
export const pointerToken = (name: string) => name.replaceAll('~', '~0').replaceAll('/', '~1');

export interface ColumnTypeOptions {
  /** The label column: not a feature, so not given a type here. */
  label?: string | undefined;
  maxCategories: number;
}

/**
 * Each column's type: the inferred one, or the job spec's. Throws INVALID_SPEC at
 * /columns/NAME for an override that cannot hold: an unknown column, the label, a column with
 * a text cell made a number, more categories than the cap, a non-boolean made a boolean, a
 * column with no values given a type.
 */
export function resolveColumnTypes(
  columns: readonly StoredColumn[],
  overrides: Readonly<Record<string, { type: ColumnType }>> | undefined,
  options: ColumnTypeOptions,
): ColumnType[] {
  const byName = new Map(columns.map((column, index) => [column.name, index]));
  const types = columns.map((column) => column.type);
  for (const [name, { type }] of Object.entries(overrides ?? {})) {
    const path = `/columns/${pointerToken(name)}`;
    const refuse = (problem: string): never => {
      throw new DataError('INVALID_SPEC', problem, { path });
    };
    const index = byName.get(name);
    if (index === undefined) {
      if (name === options.label) refuse(`'${name}' is the label column: the output layer decides how it is read`);
      const names = columns.map((column) => quote(column.name));
      refuse(`no column named ${quote(name)}; the columns are ${names.slice(0, 12).join(', ')}${names.length > 12 ? ` and ${names.length - 12} more` : ''}`);
    }
    const column = columns[index as number] as StoredColumn;
    if (type !== 'ignore') {
      const problem = typeProblem(column, type, options.maxCategories);
      if (problem !== undefined) refuse(problem);
    }
    types[index as number] = type;
  }
  if (columns.length > 0 && types.every((type) => type === 'ignore'))
    throw new DataError('INVALID_SPEC', 'every feature column is ignored: there is nothing to learn from', { path: '/columns' });
  return types;
}

function typeProblem(column: StoredColumn, type: Exclude<ColumnType, 'ignore'>, maxCategories: number): string | undefined {
  if (column.missing > 0 && column.distinct === 0) return 'every cell is missing: it can only be ignored';
  const text = column.storage === 'text';
  const first = column.firstText;
  if (type === 'number') return text && first !== undefined ? `${quote(first.value)} (row ${first.row}) is not a number` : undefined;
  if (type === 'category') {
    if (column.overCap === true) return `more than ${column.distinct - 1} distinct values (the cap, CAVIAR_MAX_CATEGORIES, when the file was read): too many categories`;
    if (column.distinct > maxCategories) return `${column.distinct} distinct values, more than the cap of ${maxCategories} (CAVIAR_MAX_CATEGORIES)`;
    return undefined;
  }
  if (text) {
    if (column.values === undefined) return `more than ${column.distinct - 1} distinct values: not a boolean`;
    const odd = column.values.find((value) => booleanOf(value) === undefined);
    if (odd !== undefined) return `${quote(odd)} is not a boolean (${BOOLEAN_WORDS})`;
    return undefined;
  }
  return column.binary === true ? undefined : `a boolean column holds only 0 and 1 (or ${BOOLEAN_WORDS}); this one holds other numbers`;
}
