import t from 'tap';
import { join } from 'node:path';
import {
  COURSE_DATA_VARIABLE,
  courseDirectory,
  listCourseDatasets,
  loadCourseDataset,
} from '../../src/data/course2.js';

// The repository's own copy (examples/datasets/course2/README.md gives its origin).
const shippedDirectory = join(import.meta.dirname, '..', '..', 'examples', 'datasets', 'course2');

t.test("finds the package's own copy and lists its sets", async (t) => {
  t.equal(courseDirectory({}), shippedDirectory);
  t.same(await listCourseDatasets(), ['circles', 'football', 'moons']);
});

t.test('loads football with its own test part, as the course splits it', async (t) => {
  const football = await loadCourseDataset('football');
  t.equal(football.name, 'course2/football');
  t.same(football.featureNames, ['x1', 'x2']);
  t.same(football.labels, { kind: 'classes', count: 2 });
  t.equal(football.train.rows, 211);
  t.equal(football.test?.rows, 200);
  const ones = (y: Float32Array | undefined) => Array.from(y ?? []).filter((label) => label === 1).length;
  t.equal(ones(football.train.y), 106, 'the README counts 106 of label 1 in train');
  t.equal(ones(football.test?.y), 87, 'and 87 in test');
});

t.test('loads circles (train and test) and moons (train only)', async (t) => {
  const circles = await loadCourseDataset('circles');
  t.equal(circles.train.rows, 300);
  t.equal(circles.test?.rows, 100);
  const moons = await loadCourseDataset('moons');
  t.equal(moons.train.rows, 300);
  t.equal(moons.test, undefined);
});

t.test('takes the folder from the environment variable', async (t) => {
  const directory = t.testdir({ 'tiny_train.csv': 'x1,x2,label\n0,1,0\n1,0,1\n' });
  t.equal(courseDirectory({ [COURSE_DATA_VARIABLE]: directory }), directory);
  const tiny = await loadCourseDataset('tiny', directory);
  t.equal(tiny.name, 'course2/tiny');
  t.equal(tiny.train.rows, 2);
});

t.test('names what is missing: the folder or the set', async (t) => {
  const absent = join(t.testdir({}), 'absent');
  t.throws(() => courseDirectory({ [COURSE_DATA_VARIABLE]: absent }), {
    name: 'DataError',
    code: 'DATASET_NOT_FOUND',
    source: absent,
    message: /CAVIAR_COURSE_DATA names a folder that does not exist/,
  });
  const directory = t.testdir({ 'tiny_train.csv': 'x1,label\n0,0\n' });
  await t.rejects(loadCourseDataset('../tiny', directory), {
    code: 'DATASET_NOT_FOUND',
    message: /no course dataset '..\/tiny'; there are tiny/,
  });
});
