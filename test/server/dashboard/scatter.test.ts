// The sweep page's scatter placement (src/server/dashboard/scatter.js), in Node: every trial
// keeps a dot of its own, and the axis shows the outermost dots whole.
import t from 'tap';
import { placeScatter } from '../../../src/server/dashboard/scatter.js';

type Point = [number, number];

/** The smallest distance between two placed x values, measured on the axis's own scale. */
const closest = (xs: number[], log = false) => {
  const axis = xs.map((x) => (log ? Math.log10(x) : x)).sort((a, b) => a - b);
  return Math.min(...axis.slice(1).map((u, index) => u - (axis[index] as number)));
};

/** How far inside the range the outermost dots are, as a share of the range (on the axis's scale). */
const margins = (xs: number[], range: [number, number], log = false) => {
  const f = log ? Math.log10 : (x: number) => x;
  const [low, high] = range.map(f) as [number, number];
  return [(f(Math.min(...xs)) - low) / (high - low), (high - f(Math.max(...xs))) / (high - low)];
};

t.test('trials sharing the lowest and the highest value each keep a dot, inside a padded linear range', async (t) => {
  // Whole numbers (intUniform) with ties at both ends and equal metrics among them.
  const points: Point[] = [
    [2, 0.8], [2, 0.8], [2, 0.9],
    [3, 0.85],
    [4, 0.97], [4, 0.97], [4, 0.97], [4, 0.95],
  ];
  const placed = placeScatter(points);
  t.equal(placed.xs.length, points.length, 'one dot per trial');
  t.same([...placed.values].sort(), points.map(([x]) => x).sort(), 'each dot stands for its trial');
  t.same(placed.xs, [...placed.xs].sort((a, b) => a - b), 'x ascending, as uPlot draws');
  t.ok(closest(placed.xs) > 0, 'no two dots at the same x, identical metrics included');
  placed.xs.forEach((x, index) => t.ok(Math.abs(x - (placed.values[index] as number)) <= 0.3, `dot ${index} stays within a third of the gap of ${placed.values[index]}`));
  t.equal(placed.xs[placed.values.indexOf(3)], 3, 'a value held by one trial stays exactly at it');
  const [left, right] = margins(placed.xs, placed.range as [number, number]);
  t.ok((left as number) > 0.05 && (right as number) > 0.05, `room beyond both outermost dots (${left}, ${right})`);
  t.same(
    placed.ys.filter((_, index) => placed.values[index] === 4),
    [0.95, 0.97, 0.97, 0.97],
    'equal values spread lowest metric first',
  );
});

t.test('on a log axis, ties at both ends spread and pad in decades', async (t) => {
  const points: Point[] = [
    [1e-4, 0.5], [1e-4, 0.5], [1e-4, 0.6],
    [3e-3, 0.9],
    [1e-1, 0.7], [1e-1, 0.7],
  ];
  const placed = placeScatter(points, { log: true });
  t.equal(placed.xs.length, points.length);
  t.ok(placed.xs.every((x) => x > 0), 'every x stays positive');
  t.ok(closest(placed.xs, true) > 0.01, 'equal values a visible share of a decade apart');
  const [low, high] = placed.range as [number, number];
  t.ok(low > 0 && low < Math.min(...placed.xs) && high > Math.max(...placed.xs), `the range [${low}, ${high}] holds every dot`);
  const [left, right] = margins(placed.xs, [low, high], true);
  t.ok((left as number) > 0.05 && (right as number) > 0.05, `room beyond both outermost dots, in decades (${left}, ${right})`);
  placed.xs.forEach((x, index) => t.ok(Math.abs(Math.log10(x / (placed.values[index] as number))) <= 0.2, `dot ${index} within 0.2 decades of its value`));
});

t.test('seventeen trials at one value spread around it, and the range is centred on it', async (t) => {
  for (const log of [false, true]) {
    const points = Array.from({ length: 17 }, (): Point => [64, 0.95]);
    const placed = placeScatter(points, { log });
    t.equal(new Set(placed.xs).size, 17, `17 distinct dots (log: ${log})`);
    const [low, high] = placed.range as [number, number];
    const centre = log ? Math.sqrt(low * high) : (low + high) / 2;
    t.ok(Math.abs(centre - 64) < 1e-9, `centred on 64 (log: ${log}): [${low}, ${high}]`);
    const [left, right] = margins(placed.xs, [low, high], log);
    t.ok((left as number) > 0.05 && (right as number) > 0.05, `room either side (log: ${log})`);
  }
});

t.test('a categorical axis spreads each category within its own slot', async (t) => {
  const placed = placeScatter([[0, 0.5], [0, 0.5], [1, 0.7], [2, 0.6], [2, 0.9], [2, 0.9]], { categories: 3 });
  t.same(placed.range, [-0.5, 2.5]);
  placed.xs.forEach((x, index) => t.ok(Math.abs(x - (placed.values[index] as number)) < 0.5, `dot ${index} in its category's slot`));
  t.ok(closest(placed.xs) > 0);
});

t.test('distinct values are drawn where they are, and no points give no range', async (t) => {
  const points: Point[] = [[0.3, 1], [0.1, 2], [0.2, 3]];
  const placed = placeScatter(points);
  t.same(placed.xs, [0.1, 0.2, 0.3]);
  t.same(placed.ys, [2, 3, 1]);
  t.equal(placeScatter([]).range, undefined);
});
