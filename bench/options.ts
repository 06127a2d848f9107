// The benchmarks' numeric command-line options, checked the same way in each.

/** `--name`'s value as an integer of at least `minimum`, or `fallback` when it is not given. */
export function count(name: string, text: string | undefined, fallback: number, minimum = 1): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) throw new Error(`--${name} takes an integer >= ${minimum}, not '${text}'`);
  return value;
}
