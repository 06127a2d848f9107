// The bounds on what a data file may hold: columns, distinct text values, the bytes of a cell,
// the length of a name. Each is read from the environment where a file is read (the service's
// worker processes inherit its environment; the command line has its own), and each is
// checked while the file is scanned, so that no file becomes a string, an array or a parse as
// big as itself before it is refused.

/** Distinct values a category column (or a label column of class names) may have unless
 * CAVIAR_MAX_CATEGORIES says otherwise: beyond it, one-hot encoding makes more inputs than
 * most tables have rows. */
export const DEFAULT_MAX_CATEGORIES = 1000;

/** Columns a table may have (a JSON x's features) unless CAVIAR_MAX_COLUMNS says otherwise:
 * wide data (fashion-mnist has 785) with room to spare, far from the millions that make a
 * header row alone a stall. */
export const DEFAULT_MAX_COLUMNS = 65536;

/** Bytes a text cell may have unless CAVIAR_MAX_CELL_BYTES says otherwise: a header name, a
 * category or a class name is a word or a phrase, not a document. */
export const DEFAULT_MAX_CELL_BYTES = 4096;

/** A column's name, in characters (code points): the same as the upload's label= allows. */
export const MAX_COLUMN_NAME_LENGTH = 256;

/** A dataset's name, in characters (code points): the upload's name= and a JSON body's name. */
export const MAX_DATASET_NAME_LENGTH = 200;

/** The caps in force for one read. */
export interface DataLimits {
  /** Distinct values of a text column, and classes of a label column of names. */
  maxCategories: number;
  /** Columns of a table, features (and values of y) of a JSON row. */
  maxColumns: number;
  /** Bytes of one cell, quoted or not, of a class name and of a feature name. */
  maxCellBytes: number;
}

/** An integer setting from the environment: `fallback` when unset or empty; an Error naming
 * the variable when it is not a whole number of at least `minimum`. */
export function integerSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, minimum: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < minimum) throw new Error(`${name} must be an integer of at least ${minimum}, not '${text}'`);
  return value;
}

/** The category cap in force: CAVIAR_MAX_CATEGORIES. */
export const maxCategories = (env: NodeJS.ProcessEnv = process.env): number => integerSetting(env, 'CAVIAR_MAX_CATEGORIES', DEFAULT_MAX_CATEGORIES, 2);

/** The column cap in force: CAVIAR_MAX_COLUMNS. */
export const maxColumns = (env: NodeJS.ProcessEnv = process.env): number => integerSetting(env, 'CAVIAR_MAX_COLUMNS', DEFAULT_MAX_COLUMNS, 1);

/** The cell cap in force: CAVIAR_MAX_CELL_BYTES. */
export const maxCellBytes = (env: NodeJS.ProcessEnv = process.env): number => integerSetting(env, 'CAVIAR_MAX_CELL_BYTES', DEFAULT_MAX_CELL_BYTES, 1);

/** The caps for one read: those given, the environment's for the rest (read only when needed,
 * so a caller that gives a cap is not stopped by a bad variable for it). */
export function dataLimits(given: Partial<DataLimits> = {}, env: NodeJS.ProcessEnv = process.env): DataLimits {
  return {
    maxCategories: given.maxCategories ?? maxCategories(env),
    maxColumns: given.maxColumns ?? maxColumns(env),
    maxCellBytes: given.maxCellBytes ?? maxCellBytes(env),
  };
}

/** The length of a text in characters (code points), as a JSON schema's maxLength counts. */
export function characters(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** Why a name is too long for `cap` characters, or undefined when it is not. */
export function tooLongName(name: string, cap: number): string | undefined {
  // A string's length counts UTF-16 units, never fewer than its characters.
  if (name.length <= cap) return undefined;
  const length = characters(name);
  return length > cap ? `a name of ${length} characters, over the ${cap} a name may have` : undefined;
}

/** Why a text is too long for the cell cap, or undefined when it is not. */
export function tooLongCell(text: string, cap: number): string | undefined {
  // UTF-8 takes at most three bytes for each UTF-16 unit.
  if (text.length * 3 <= cap) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > cap ? cellProblem(bytes, cap) : undefined;
}

/** The words for a cell over the cap. */
export const cellProblem = (bytes: number, cap: number): string => `a cell of ${bytes} bytes, over the cap of ${cap} (CAVIAR_MAX_CELL_BYTES)`;
