// Class weights through the service (training.classWeights): a 95/5 data set uploaded as a
// user would, trained with and without "balanced" weights, the weights reported in the
// result by class name, and the specs that cannot take them refused with the field's path.
import { rmSync } from 'node:fs';
import t from 'tap';
import { call, openEvents, startService } from '../fixtures/service.js';
import { imbalanced } from '../fixtures/imbalanced.js';

const service = await startService();
t.teardown(async () => {
  await service.stop('SIGKILL');
  rmSync(service.dataDirectory, { recursive: true, force: true });
});

const uploaded = await call(service, 'POST', '/v1/datasets', { name: 'rare', ...imbalanced(2000).json });
const dataset = uploaded.body.id as string;

function job(classWeights?: unknown, model?: unknown) {
  return {
    dataset,
    split: { dev: 0.2, test: 0.2, seed: 1 },
    model: model ?? { layers: [{ units: 8, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }] },
    training: { epochs: 20, batchSize: 64, seed: 3, optimizer: { type: 'adam', learningRate: 0.01 }, ...(classWeights === undefined ? {} : { classWeights }) },
  };
}

/** Submits a job and waits for its done event. */
async function trained(spec: unknown) {
  const submitted = await call(service, 'POST', '/v1/jobs', spec);
  if (submitted.status !== 202) throw new Error(JSON.stringify(submitted.body));
  const stream = openEvents(service, `/v1/jobs/${submitted.body.id}/events`);
  await stream.closed;
  const done = stream.events.at(-1) as { status: string; result?: any; error?: unknown };
  const stored = await call(service, 'GET', `/v1/jobs/${submitted.body.id}`);
  return { done, stored: stored.body };
}

type PerClass = { class: string; recall: number; support: number }[];
const recall = (part: { perClass: PerClass }, name: string) => (part.perClass.find((row) => row.class === name) as PerClass[number]).recall;

t.test('"balanced" weights raise the rare class\'s recall, and the result names the weights applied', async (t) => {
  t.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
  t.same(uploaded.body.classNames, ['common', 'rare']);
  const plain = await trained(job());
  const balanced = await trained(job('balanced'));
  t.equal(plain.done.status, 'succeeded', JSON.stringify(plain.done.error));
  t.equal(balanced.done.status, 'succeeded', JSON.stringify(balanced.done.error));
  t.equal(plain.done.result.classWeights, undefined, 'no weights asked for, none reported');

  const { train } = balanced.done.result as { train: { perClass: PerClass } };
  const rows = train.perClass.reduce((sum, row) => sum + row.support, 0);
  const expected: Record<string, number> = Object.fromEntries(train.perClass.map((row) => [row.class, rows / (2 * row.support)]));
  t.same(balanced.done.result.classWeights, expected, "n / (2 count) of each class over the train part, by name");
  t.ok((expected.rare as number) > 5 && (expected.common as number) < 1, `the rare class weighs more: ${JSON.stringify(expected)}`);
  t.same(balanced.stored.result.classWeights, expected, 'GET /v1/jobs/:id has them too');

  for (const part of ['dev', 'test'] as const) {
    const without = recall(plain.done.result[part], 'rare');
    const withWeights = recall(balanced.done.result[part], 'rare');
    t.ok(withWeights > without + 0.2, `${part}: recall of the rare class ${without} unweighted, ${withWeights} balanced`);
  }
  // The losses reported are unweighted, so they compare: the weighted model fits the common
  // class less closely, and its plain cross-entropy is the higher.
  t.ok(balanced.done.result.train.loss > plain.done.result.train.loss, 'the reported losses are unweighted');
});

t.test('a map gives weights by class name; a class left out weighs 1', async (t) => {
  const spec = job({ rare: 4 });
  const { done } = await trained({ ...spec, training: { ...spec.training, epochs: 2 } });
  t.equal(done.status, 'succeeded', JSON.stringify(done.error));
  t.same(done.result.classWeights, { common: 1, rare: 4 });
});

t.test('a spec whose class weights cannot apply is a 400 naming the field', async (t) => {
  const values = await call(service, 'POST', '/v1/datasets', { name: 'values', x: [[0], [1], [2], [3]], y: [0.1, 0.7, 0.2, 0.9] });
  const cases = [
    { name: 'a class the data does not have', spec: job({ rare: 4, unicorn: 2 }), path: '/training/classWeights/unicorn', message: /no class "unicorn" \(its classes: "common", "rare"\)/ },
    { name: 'a class by index when the classes have names', spec: job({ '1': 4 }), path: '/training/classWeights/1', message: /no class "1"/ },
    { name: 'a weight of 0', spec: job({ rare: 0 }), path: '/training/classWeights/rare', message: /greater than 0/ },
    { name: 'a negative weight', spec: job({ rare: -2 }), path: '/training/classWeights/rare' },
    { name: 'a weight as a string (no coercion)', spec: job({ rare: '4' }), path: '/training/classWeights/rare' },
    { name: 'an unknown rule', spec: job('equal'), path: '/training/classWeights' },
    { name: 'a regression', spec: job('balanced', { layers: [{ units: 4, activation: 'relu' }, { units: 1, activation: 'linear' }] }), path: '/training/classWeights', message: /need a classifier/ },
    { name: 'targets that are values, not classes', spec: { ...job('balanced'), dataset: values.body.id, split: { dev: 0, seed: 1 } }, path: '/training/classWeights', message: /targets are values/ },
  ];
  for (const { name, spec, path, message } of cases) {
    const reply = await call(service, 'POST', '/v1/jobs', spec);
    t.match(reply, { status: 400, body: { error: { code: 'INVALID_SPEC', path, ...(message === undefined ? {} : { message }) } } }, name);
  }
});
