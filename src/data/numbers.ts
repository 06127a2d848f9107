// Numbers as cells hold them and as the engine stores them (float32). Shared by every
// loader so that a cell is judged the same way whichever format it came in.
import { invalid, type DataLocation } from './errors.js';

// What spreadsheets, pandas and NumPy write: 12, -0.5, .5, 3., 1e-3. Not hex, binary or
// blanks, which Number() would quietly accept ('0x1f' -> 31, '' -> 0).
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

/** A cell's text as a number, or undefined when it is not a decimal number. Spaces around
 * the number are allowed ("1, 2, 3" is common). */
export function parseDecimal(text: string): number | undefined {
  const trimmed = text.trim();
  return DECIMAL.test(trimmed) ? Number(trimmed) : undefined;
}

/** A cell's text in a message: quoted, and cut short so one bad cell cannot flood a log. */
export function quote(text: string): string {
  return text.length > 40 ? `'${text.slice(0, 37)}...'` : `'${text}'`;
}

/** Why a cell's text is not a number, as the end of a message. */
export function whyNotANumber(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return 'empty cell';
  if (NON_FINITE.test(trimmed)) return `${quote(text)} is not a finite number`;
  return `${quote(text)} is not a number`;
}

/** Whether value is a finite number that a float32 holds without overflowing. */
export function isStorable(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(Math.fround(value));
}

/** Returns value when it is storable (see isStorable), else throws why not. Hot loops call
 * isStorable first, so that they build a location only for a bad cell. */
export function checkStorable(value: unknown, location: DataLocation): number {
  if (isStorable(value)) return value;
  if (typeof value !== 'number') invalid(`${describeValue(value)} is not a number`, location);
  if (!Number.isFinite(value)) invalid(`${value} is not a finite number`, location);
  return invalid(`${value} is out of the float32 range (about ±3.4e38)`, location);
}

/** A JSON value in a message, without printing a whole array or object. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}
