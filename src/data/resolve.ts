// A job spec's `dataset` field, resolved for local (CLI) use: a built-in name, or files on
// this machine whose format is told by their names. The server resolves dataset ids itself.
import type { Static } from '@sinclair/typebox';
import { basename, resolve } from 'node:path';
import type { BuiltinDatasetSchema, FileDatasetSchema } from './spec.js';
import { loadCourseDataset } from './course2.js';
import { loadCsv } from './csv.js';
import type { LoadedDataset } from './dataset.js';
import { DataError } from './errors.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { GENERATED_NAMES, generateDataset, isGenerated } from './generators.js';
import { labelsPathFor, loadIdx } from './idx.js';
import { loadJson } from './json.js';

export type BuiltinDatasetSpec = Static<typeof BuiltinDatasetSchema>;
export type FileDatasetSpec = Static<typeof FileDatasetSchema>;

export interface ResolveOptions {
  /** Where relative paths in a file spec start; the working directory by default. */
  baseDirectory?: string;
  /** The course's folder, instead of the one courseDirectory finds. */
  courseDirectory?: string;
  /** Fashion-MNIST's folder, instead of the Debian package's. */
  fashionMnistDirectory?: string;
}

export type FileFormat = 'csv' | 'json' | 'idx';

const COURSE_PREFIX = 'course2/';
const GENERATOR_PARAMETERS = ['samples', 'noise', 'classes', 'seed'] as const;

export async function resolveDataset(
  spec: BuiltinDatasetSpec | FileDatasetSpec,
  options: ResolveOptions = {},
): Promise<LoadedDataset> {
  return 'builtin' in spec ? resolveBuiltin(spec, options) : resolveFiles(spec, options);
}

/** The format of a file from its name; '.gz' is looked through ('train.csv.gz' is CSV). */
export function fileFormat(path: string): FileFormat {
  const name = basename(path).toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.json')) return 'json';
  if (name.endsWith('.idx') || /idx\d/.test(name) || name.endsWith('-ubyte')) return 'idx';
  const problem =
    'cannot tell the format from the name: use .csv, .json or IDX names ' +
    '(.idx, train-images-idx3-ubyte), gzipped or not';
  throw new DataError('INVALID_SPEC', problem, { source: path });
}

async function resolveBuiltin(
  spec: BuiltinDatasetSpec,
  options: ResolveOptions,
): Promise<LoadedDataset> {
  const name = spec.builtin;
  if (isGenerated(name)) return generateDataset(name, spec);
  if (name === 'fashion-mnist') {
    refuseParameters(spec);
    return loadFashionMnist(options.fashionMnistDirectory);
  }
  if (name.startsWith(COURSE_PREFIX)) {
    refuseParameters(spec);
    return loadCourseDataset(name.slice(COURSE_PREFIX.length), options.courseDirectory);
  }
  const known = [...GENERATED_NAMES, 'fashion-mnist', `${COURSE_PREFIX}<name>`].join(', ');
  throw new DataError('DATASET_NOT_FOUND', `no built-in dataset '${name}'; the built-ins are ${known}`);
}

/** Parameters shape generated sets only: a stored set ignoring them would surprise. */
function refuseParameters(spec: BuiltinDatasetSpec): void {
  const given = GENERATOR_PARAMETERS.filter((parameter) => spec[parameter] !== undefined);
  if (given.length === 0) return;
  const verb = given.length === 1 ? 'applies' : 'apply';
  const generated = GENERATED_NAMES.join(', ');
  const problem = `${given.join(', ')} ${verb} to generated datasets (${generated}), not to '${spec.builtin}'`;
  throw new DataError('INVALID_SPEC', problem);
}

async function resolveFiles(spec: FileDatasetSpec, options: ResolveOptions): Promise<LoadedDataset> {
  const base = options.baseDirectory ?? process.cwd();
  const path = resolve(base, spec.path);
  const test = spec.test === undefined ? undefined : resolve(base, spec.test);
  const format = fileFormat(spec.path);
  if (test !== undefined && fileFormat(test) !== format) {
    const problem = `the test file is ${fileFormat(test)}, the train file ${format}`;
    throw new DataError('INVALID_SPEC', problem, { source: test });
  }
  if (format === 'csv') {
    return loadCsv(path, {
      ...(spec.label !== undefined && { label: spec.label }),
      ...(test !== undefined && { test }),
    });
  }
  if (format === 'json') {
    if (spec.label !== undefined) {
      const problem = 'label names a CSV column or an IDX labels file; JSON holds its labels in y';
      throw new DataError('INVALID_SPEC', problem, { source: path });
    }
    return loadJson(path, test === undefined ? {} : { test });
  }
  const labels = spec.label === undefined ? idxLabelsPath(path) : resolve(base, spec.label);
  const testFiles = test === undefined ? undefined : { images: test, labels: idxLabelsPath(test) };
  return loadIdx({ images: path, labels }, testFiles === undefined ? {} : { test: testFiles });
}

function idxLabelsPath(imagesPath: string): string {
  const labels = labelsPathFor(imagesPath);
  if (labels === undefined) {
    const problem =
      'cannot find the labels file: name it in label, or name the files as MNIST does ' +
      '(train-images-idx3-ubyte, train-labels-idx1-ubyte)';
    throw new DataError('INVALID_SPEC', problem, { source: imagesPath });
  }
  return labels;
}
