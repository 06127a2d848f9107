// Where a scatter's points go: trials that share an x value (a grid, a list, whole numbers,
// or a rule that stopped many trials at one setting) are spread a little sideways so that
// each stays visible, and the x range leaves room for whole dots at both ends. Pure, so that
// it is tested in Node as well as drawn in the browser (charts.js and views/sweep.js).

/** Share of the space between neighbouring values that equal values spread over. */
const SPREAD_OF_GAP = 0.6;
/** ... and at most this share of the axis, so a dot stays near its value. */
const SPREAD_OF_SPAN = 0.1;
/** Room left each side of the outermost dots, as a share of the axis. */
const PAD_OF_SPAN = 0.08;

/**
 * points: [x, y] pairs in any order, x a number (> 0 on a log axis) or, with `categories`
 * (how many there are), a category's index. log: a base-10 log axis, where the spread and
 * the padding are measured in decades. Returns the points sorted by their placed x (uPlot
 * draws x in ascending order): `xs` placed, `ys` beside them, `values` the x each one
 * stands for, and the x `range` of the axis.
 *
 * Equal values spread evenly, lowest y first, over a band centred on the value; a value
 * held by one point stays exactly where it is.
 */
export function placeScatter(points, { log = false, categories } = {}) {
  const toAxis = log ? Math.log10 : (x) => x;
  const fromAxis = log ? (u) => 10 ** u : (u) => u;
  const groups = new Map();
  for (const [x, y] of points) {
    const group = groups.get(x) ?? [];
    group.push(y);
    groups.set(x, group);
  }
  const values = [...groups.keys()].sort((a, b) => a - b);
  const axis = values.map(toAxis);
  let gap = Infinity;
  for (let index = 1; index < axis.length; index += 1) gap = Math.min(gap, axis[index] - axis[index - 1]);
  // The length the spread and padding are measured against: the categories' width, the
  // values' extent, or for a single value a width of its own size (two decades on a log axis).
  const only = axis[0] ?? 0;
  const span = categories !== undefined ? categories : axis.length > 1 ? axis[axis.length - 1] - only : log ? 2 : Math.max(Math.abs(only), 1);
  const width = categories !== undefined ? SPREAD_OF_GAP : Math.min(SPREAD_OF_GAP * gap, SPREAD_OF_SPAN * span);

  const placed = [];
  values.forEach((value, index) => {
    const ys = groups.get(value).sort(byValue);
    const centre = axis[index];
    ys.forEach((y, rank) => {
      const offset = ys.length === 1 ? 0 : (rank / (ys.length - 1) - 0.5) * width;
      placed.push([ys.length === 1 ? value : fromAxis(centre + offset), y, value]);
    });
  });
  const range =
    categories !== undefined
      ? [-0.5, categories - 0.5]
      : placed.length === 0
        ? undefined
        : [fromAxis(toAxis(placed[0][0]) - PAD_OF_SPAN * span), fromAxis(toAxis(placed[placed.length - 1][0]) + PAD_OF_SPAN * span)];
  return { xs: placed.map((point) => point[0]), ys: placed.map((point) => point[1]), values: placed.map((point) => point[2]), range };
}

/** Ascending, with missing values (null) first. */
const byValue = (a, b) => (a ?? -Infinity) - (b ?? -Infinity);
