// The 2-D sets of the course this project follows ("Improving Deep Neural Networks"):
// circles, moons and football, as CSV files (x1, x2, label) with train and, for most, test
// parts. They ship with the examples (examples/datasets/course2, 42 KB, with their origin).
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCsv } from './csv.js';
import type { LoadedDataset } from './dataset.js';
import { DataError } from './errors.js';

/** The environment variable that names another folder of such sets. */
export const COURSE_DATA_VARIABLE = 'CAVIAR_COURSE_DATA';

const TRAIN_SUFFIX = '_train.csv';
const TEST_SUFFIX = '_test.csv';

/** The package's own copy, under examples/. */
export const SHIPPED_COURSE_DIRECTORY = join(packageRoot(), 'examples', 'datasets', 'course2');

/** The folder: $CAVIAR_COURSE_DATA when set, else the package's own copy. */
export function courseDirectory(environment: NodeJS.ProcessEnv = process.env): string {
  const configured = environment[COURSE_DATA_VARIABLE];
  const directory = configured ? resolve(configured) : SHIPPED_COURSE_DIRECTORY;
  if (!existsSync(directory)) {
    const how = configured
      ? `${COURSE_DATA_VARIABLE} names a folder that does not exist`
      : `the package's copy is missing; set ${COURSE_DATA_VARIABLE} to a folder that holds circles_train.csv and the others`;
    const problem = `the course's datasets are not there: ${how}`;
    throw new DataError('DATASET_NOT_FOUND', problem, { source: directory });
  }
  return directory;
}

/** The names of the sets in the folder: each has a <name>_train.csv. */
export async function listCourseDatasets(directory = courseDirectory()): Promise<string[]> {
  const files = await readdir(directory);
  return files
    .filter((file) => file.endsWith(TRAIN_SUFFIX))
    .map((file) => file.slice(0, -TRAIN_SUFFIX.length))
    .sort();
}

/** Loads one set by name ('football'), with its test part when the folder has one. */
export async function loadCourseDataset(name: string, directory = courseDirectory()): Promise<LoadedDataset> {
  // Only names listed in the folder: a name from a job spec never becomes an arbitrary path.
  const names = await listCourseDatasets(directory);
  if (!names.includes(name)) {
    throw new DataError('DATASET_NOT_FOUND', `no course dataset '${name}'; there are ${names.join(', ')}`, {
      source: directory,
    });
  }
  const testPath = join(directory, name + TEST_SUFFIX);
  const loaded = await loadCsv(join(directory, name + TRAIN_SUFFIX), {
    label: 'label',
    ...(existsSync(testPath) && { test: testPath }),
  });
  return { ...loaded, name: `course2/${name}` };
}

/** The folder that holds package.json, from this file's place in src/ or dist/src/. */
function packageRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) return process.cwd();
    directory = parent;
  }
  return directory;
}
