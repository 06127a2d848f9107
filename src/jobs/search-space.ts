// Hyperparameter search spaces: distributions on the scale each hyperparameter deserves
// (the learning rate on a log scale, a momentum beta as 1 - beta on a log scale), values
// placed into a job spec by JSON pointer, grids, and the boxes of coarse-to-fine search.
import { Type, type Static } from '@sinclair/typebox';
import { Random } from '../data/random.js';
import type { JobSpec } from './spec.js';

const Range = Type.Tuple([Type.Number(), Type.Number()]);
const Value = Type.Union([Type.Number(), Type.String(), Type.Boolean()]);

export const DistributionSchema = Type.Union([
  Type.Object({ logUniform: Range }, { additionalProperties: false, description: 'log-uniform in [a, b], 0 < a < b' }),
  Type.Object({ oneMinusLogUniform: Range }, { additionalProperties: false, description: '1 - x log-uniform: for betas in [a, b], a < b < 1' }),
  Type.Object({ uniform: Range }, { additionalProperties: false }),
  Type.Object({ intUniform: Range }, { additionalProperties: false, description: 'an integer in [a, b]' }),
  Type.Object({ choice: Type.Array(Value, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false }),
  Type.Object({ grid: Type.Array(Value, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false, description: 'the values a grid takes' }),
]);
export type Distribution = Static<typeof DistributionSchema>;

export const SpaceSchema = Type.Record(Type.String({ pattern: '^(/[^/]+)+$', maxLength: 200 }), DistributionSchema, {
  description: 'JSON pointers into the job spec, each with its distribution',
  maxProperties: 32,
});
export type Space = Record<string, Distribution>;
export type SampledValue = number | string | boolean;
export type Sample = Record<string, SampledValue>;

/** A continuous dimension on the scale it is searched on: t = forward(x), x = inverse(t). */
interface Scale {
  forward(value: number): number;
  inverse(t: number): number;
}

const linear: Scale = { forward: (x) => x, inverse: (t) => t };
const logarithmic: Scale = { forward: Math.log10, inverse: (t) => 10 ** t };
// 1 - beta on a log scale: as many draws in [0.99, 0.999] as in [0.9, 0.99].
const oneMinusLog: Scale = { forward: (x) => Math.log10(1 - x), inverse: (t) => 1 - 10 ** t };

type Continuous = { scale: Scale; low: number; high: number; integer: boolean };

/** A continuous distribution's scale and bounds; undefined for lists of values. */
function continuous(distribution: Distribution): Continuous | undefined {
  if ('logUniform' in distribution) return { scale: logarithmic, low: distribution.logUniform[0], high: distribution.logUniform[1], integer: false };
  if ('oneMinusLogUniform' in distribution) {
    const [low, high] = distribution.oneMinusLogUniform;
    return { scale: oneMinusLog, low, high, integer: false };
  }
  if ('uniform' in distribution) return { scale: linear, low: distribution.uniform[0], high: distribution.uniform[1], integer: false };
  if ('intUniform' in distribution) return { scale: linear, low: distribution.intUniform[0], high: distribution.intUniform[1], integer: true };
  return undefined;
}

function values(distribution: Distribution): SampledValue[] | undefined {
  if ('choice' in distribution) return distribution.choice;
  if ('grid' in distribution) return distribution.grid;
  return undefined;
}

/** Why a space cannot be sampled, by pointer; undefined when it can. */
export function checkSpace(space: Space): { path: string; message: string } | undefined {
  for (const [pointer, distribution] of Object.entries(space)) {
    const range = continuous(distribution);
    if (range === undefined) continue;
    const { low, high } = range;
    const path = `/space/${pointer.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (!(low < high)) return { path, message: `the range [${low}, ${high}] is empty: the first bound must be below the second` };
    if ('logUniform' in distribution && low <= 0) return { path, message: 'a log-uniform range must be above 0' };
    if ('oneMinusLogUniform' in distribution && (low < 0 || high >= 1)) return { path, message: 'a oneMinusLogUniform range must lie in [0, 1)' };
    if ('intUniform' in distribution && (!Number.isInteger(low) || !Number.isInteger(high))) return { path, message: 'intUniform bounds must be integers' };
  }
  return undefined;
}

/**
 * Points that reach every end of the space: all lowest ends, all highest ends, and each
 * listed value between them (the other dimensions at their lowest). If these make valid
 * jobs, so does any draw.
 */
export function corners(space: Space): Sample[] {
  const ends = Object.entries(space).map(([pointer, distribution]) => {
    const range = continuous(distribution);
    return [pointer, range === undefined ? (values(distribution) as SampledValue[]) : [range.low, range.high]] as const;
  });
  const lowest = Object.fromEntries(ends.map(([pointer, list]) => [pointer, list[0] as SampledValue]));
  const highest = Object.fromEntries(ends.map(([pointer, list]) => [pointer, list[list.length - 1] as SampledValue]));
  const between = ends.flatMap(([pointer, list]) => list.slice(1, -1).map((value) => ({ ...lowest, [pointer]: value })));
  return [lowest, highest, ...between];
}

/** A box: per continuous pointer, bounds on its search scale; per list, the values kept. */
export type Box = Record<string, { low: number; high: number } | { values: SampledValue[] }>;

/** The whole space as a box. */
export function fullBox(space: Space): Box {
  const box: Box = {};
  for (const [pointer, distribution] of Object.entries(space)) {
    const range = continuous(distribution);
    if (range === undefined) {
      box[pointer] = { values: values(distribution) as SampledValue[] };
      continue;
    }
    // 1 - x turns the bounds around: order them on the search scale.
    const ends = [range.scale.forward(range.low), range.scale.forward(range.high)];
    box[pointer] = { low: Math.min(...ends), high: Math.max(...ends) };
  }
  return box;
}

/** One point drawn at random from a box, each dimension on its own scale. */
export function sample(space: Space, box: Box, random: Random): Sample {
  const point: Sample = {};
  for (const [pointer, distribution] of Object.entries(space)) {
    const bounds = box[pointer];
    const range = continuous(distribution);
    if (bounds === undefined) continue;
    if ('values' in bounds) {
      point[pointer] = bounds.values[random.below(bounds.values.length)] as SampledValue;
      continue;
    }
    const scale = (range as Continuous).scale;
    const t = bounds.low + (bounds.high - bounds.low) * random.uniform();
    if ((range as Continuous).integer) {
      // Every integer of [low, high] equally likely: draw on [low, high + 1) and floor.
      point[pointer] = Math.min(Math.floor(bounds.low + (bounds.high + 1 - bounds.low) * random.uniform()), bounds.high);
    } else point[pointer] = scale.inverse(t);
  }
  return point;
}

/** Every combination of the listed values, in order (the last pointer varies fastest). */
export function grid(space: Space): Sample[] {
  let points: Sample[] = [{}];
  for (const [pointer, distribution] of Object.entries(space)) {
    const listed = values(distribution);
    if (listed === undefined) throw new Error(`${pointer}: a grid takes lists of values (grid or choice)`);
    points = points.flatMap((point) => listed.map((value) => ({ ...point, [pointer]: value })));
  }
  return points;
}

/**
 * The box of a coarse-to-fine round: around the best points so far, on each dimension's
 * search scale, from the smallest to the largest of their values, widened by a quarter of
 * that span on each side (so the best need not sit on an edge), within the full space;
 * lists keep the values the best points took.
 */
export function boxAround(space: Space, best: Sample[]): Box {
  const full = fullBox(space);
  const box: Box = {};
  for (const [pointer, distribution] of Object.entries(space)) {
    const whole = full[pointer] as Box[string];
    const taken = best.map((point) => point[pointer]).filter((value) => value !== undefined) as SampledValue[];
    if ('values' in whole) {
      box[pointer] = { values: taken.length === 0 ? whole.values : [...new Set(taken)] };
      continue;
    }
    const range = continuous(distribution) as Continuous;
    const scaled = taken.map((value) => range.scale.forward(value as number));
    if (scaled.length === 0) {
      box[pointer] = whole;
      continue;
    }
    const low = Math.min(...scaled);
    const high = Math.max(...scaled);
    const margin = Math.max((high - low) / 4, (whole.high - whole.low) / 20);
    box[pointer] = { low: Math.max(whole.low, low - margin), high: Math.min(whole.high, high + margin) };
    if (range.integer) box[pointer] = { low: Math.round((box[pointer] as { low: number }).low), high: Math.round((box[pointer] as { high: number }).high) };
  }
  return box;
}

/** Whether a point lies in a box (on the search scales). */
export function inBox(space: Space, box: Box, point: Sample): boolean {
  return Object.entries(space).every(([pointer, distribution]) => {
    const bounds = box[pointer];
    const value = point[pointer];
    if (bounds === undefined || value === undefined) return false;
    if ('values' in bounds) return bounds.values.includes(value);
    const t = (continuous(distribution) as Continuous).scale.forward(value as number);
    const slack = 1e-9 * Math.max(1, Math.abs(bounds.high - bounds.low));
    return t >= bounds.low - slack && t <= bounds.high + slack;
  });
}

function unescape(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

/**
 * A copy of `spec` with each pointer set to its value. Missing objects on the way are made
 * (an optimizer's `beta` may be absent from the base); a pointer through something that
 * is not an object or array is an error.
 */
export function applySample(spec: JobSpec, point: Sample): JobSpec {
  const copy = structuredClone(spec) as unknown as Record<string, unknown>;
  for (const [pointer, value] of Object.entries(point)) {
    const tokens = pointer.slice(1).split('/').map(unescape);
    let node: Record<string, unknown> = copy;
    tokens.slice(0, -1).forEach((token, index) => {
      const next = node[token];
      if (next === undefined) node[token] = {};
      else if (typeof next !== 'object' || next === null)
        throw new Error(`${pointer}: /${tokens.slice(0, index + 1).join('/')} is not an object in the base spec`);
      node = node[token] as Record<string, unknown>;
    });
    node[tokens[tokens.length - 1] as string] = value;
  }
  return copy as unknown as JobSpec;
}

/**
 * The space searched when a sweep names none, in the course's order of importance: the
 * learning rate first, then the momentum term, the hidden units and the mini-batch size.
 */
export function defaultSpace(spec: JobSpec): Space {
  const space: Space = { '/training/optimizer/learningRate': { logUniform: [1e-4, 1e-1] } };
  const optimizer = spec.training.optimizer?.type ?? 'adam';
  if (optimizer === 'momentum' || optimizer === 'rmsprop') space['/training/optimizer/beta'] = { oneMinusLogUniform: [0.8, 0.999] };
  if (optimizer === 'adam' || optimizer === 'adamw') space['/training/optimizer/beta1'] = { oneMinusLogUniform: [0.8, 0.99] };
  if (spec.model.layers.length > 1) space['/model/layers/0/units'] = { choice: [16, 32, 64, 128, 256] };
  space['/training/batchSize'] = { choice: [32, 64, 128, 256] };
  return space;
}

export { Random };
