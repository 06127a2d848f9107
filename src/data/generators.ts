// Seeded generators of the course's 2-D problems (and blobs in any dimension): the same
// seed gives the same points on every machine.
import type { Dataset, LoadedDataset } from './dataset.js';
import { DataError } from './errors.js';
import { Random } from './random.js';

export interface GeneratorOptions {
  samples?: number;
  /** The standard deviation of the Gaussian noise; for blobs, their spread. */
  noise?: number;
  /** Spirals and blobs. */
  classes?: number;
  seed?: number;
  /** Circles: the inner circle's radius relative to the outer one's. */
  factor?: number;
  /** Blobs: the dimension of the points. */
  features?: number;
}

export const GENERATED_NAMES = ['moons', 'circles', 'spirals', 'blobs'] as const;
export type GeneratedName = (typeof GENERATED_NAMES)[number];

export function isGenerated(name: string): name is GeneratedName {
  return (GENERATED_NAMES as readonly string[]).includes(name);
}

/**
 * Collects points straight into float32 arrays (an object per point would take ten times
 * the data's bytes: 2 million points held half a gigabyte), then shuffles them so that
 * classes are interleaved (as scikit-learn does).
 */
class PointSet {
  private readonly x: Float32Array;
  private readonly y: Float32Array;
  private count = 0;

  constructor(
    private readonly features: number,
    private readonly samples: number,
  ) {
    this.x = new Float32Array(samples * features);
    this.y = new Float32Array(samples);
  }

  add(features: number[], label: number): void {
    this.x.set(features, this.count * this.features);
    this.y[this.count] = label;
    this.count += 1;
  }

  toDataset(random: Random): Dataset {
    const { features, samples } = this;
    const order = Int32Array.from({ length: samples }, (_, index) => index);
    random.shuffle(order);
    const x = new Float32Array(samples * features);
    const y = new Float32Array(samples);
    order.forEach((from, row) => {
      x.set(this.x.subarray(from * features, (from + 1) * features), row * features);
      y[row] = this.y[from] as number;
    });
    return { x, y, rows: samples, features };
  }
}

/** evenly spaced values from start to stop, as numpy.linspace. */
function linspace(start: number, stop: number, count: number, endpoint = true): number[] {
  const steps = endpoint ? count - 1 : count;
  return Array.from({ length: count }, (_, index) => (steps <= 0 ? start : start + ((stop - start) * index) / steps));
}

/** Two interleaving half circles (scikit-learn's make_moons): label 0 above, 1 below. */
export function moons({ samples = 300, noise = 0.2, seed = 0 }: GeneratorOptions = {}): Dataset {
  const random = new Random(seed);
  const points = new PointSet(2, samples);
  const outer = Math.floor(samples / 2);
  for (const angle of linspace(0, Math.PI, outer))
    points.add([Math.cos(angle) + noise * random.normal(), Math.sin(angle) + noise * random.normal()], 0);
  for (const angle of linspace(0, Math.PI, samples - outer))
    points.add([1 - Math.cos(angle) + noise * random.normal(), 0.5 - Math.sin(angle) + noise * random.normal()], 1);
  return points.toDataset(random);
}

/** A circle inside another (scikit-learn's make_circles): label 1 inside. */
export function circles({ samples = 300, noise = 0.05, factor = 0.8, seed = 0 }: GeneratorOptions = {}): Dataset {
  const random = new Random(seed);
  const points = new PointSet(2, samples);
  const outer = Math.floor(samples / 2);
  for (const angle of linspace(0, 2 * Math.PI, outer, false))
    points.add([Math.cos(angle) + noise * random.normal(), Math.sin(angle) + noise * random.normal()], 0);
  for (const angle of linspace(0, 2 * Math.PI, samples - outer, false))
    points.add([factor * Math.cos(angle) + noise * random.normal(), factor * Math.sin(angle) + noise * random.normal()], 1);
  return points.toDataset(random);
}

/** K arms of a spiral, one class each (the CS231n example); noise jitters the angle. */
export function spirals({ samples = 300, classes = 3, noise = 0.2, seed = 0 }: GeneratorOptions = {}): Dataset {
  const random = new Random(seed);
  const points = new PointSet(2, samples);
  for (let label = 0; label < classes; label += 1) {
    const count = Math.floor(samples / classes) + (label < samples % classes ? 1 : 0);
    const radii = linspace(0, 1, count);
    linspace(label * 4, (label + 1) * 4, count).forEach((angle, index) => {
      const jittered = angle + noise * random.normal();
      const radius = radii[index] as number;
      points.add([radius * Math.sin(jittered), radius * Math.cos(jittered)], label);
    });
  }
  return points.toDataset(random);
}

/** Gaussian blobs around centres drawn uniformly in [-10, 10]^features; noise is their spread. */
export function blobs({ samples = 300, classes = 3, features = 2, noise = 1, seed = 0 }: GeneratorOptions = {}): Dataset {
  const random = new Random(seed);
  const points = new PointSet(features, samples);
  const centres = Array.from({ length: classes }, () => Array.from({ length: features }, () => -10 + 20 * random.uniform()));
  for (let index = 0; index < samples; index += 1) {
    const label = index % classes;
    const centre = centres[label] as number[];
    points.add(centre.map((value) => value + noise * random.normal()), label);
  }
  return points.toDataset(random);
}

const generators: Record<GeneratedName, (options: GeneratorOptions) => Dataset> = {
  moons,
  circles,
  spirals,
  blobs,
};

/** A generated built-in as a loader returns it. */
export function generateDataset(name: GeneratedName, options: GeneratorOptions): LoadedDataset {
  const binary = name === 'moons' || name === 'circles';
  if (binary && options.classes !== undefined && options.classes !== 2)
    throw new DataError('INVALID_SPEC', `${name} has 2 classes; 'classes' applies to spirals and blobs`);
  const train = generators[name](options);
  const features = Array.from({ length: train.features }, (_, index) => `x${index + 1}`);
  return {
    name,
    train,
    featureNames: features,
    labels: { kind: 'classes', count: binary ? 2 : (options.classes ?? 3) },
  };
}
