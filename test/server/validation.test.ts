import { rmSync } from 'node:fs';
import t, { type Test } from 'tap';
import { call, moonsJob, startService, type Reply } from '../fixtures/service.js';

const service = await startService();
t.teardown(async () => {
  await service.stop('SIGKILL');
  rmSync(service.dataDirectory, { recursive: true, force: true });
});

/** A fresh moons spec as plain JSON, to break one field of. */
const spec = (): any => JSON.parse(JSON.stringify(moonsJob(3)));

function refused(t: Test, reply: Reply, status: number, code: string, path?: string): void {
  t.equal(reply.status, status, `answers ${status}`);
  t.same(Object.keys(reply.body), ['error'], 'only an error object');
  const { error } = reply.body as { error: { code: string; message: string; path?: string } };
  t.equal(error.code, code, `code ${code}`);
  t.type(error.message, 'string');
  t.ok(error.message.length > 0, 'a message');
  if (path === undefined) t.notOk('path' in error, 'no path: no field is at fault');
  else t.equal(error.path, path, `path ${path}`);
}

const cases: { name: string; change: (spec: any) => unknown; code: string; path: string; message?: RegExp }[] = [
  { name: 'epochs as a string (no coercion)', change: (s) => ((s.training.epochs = '20'), s), code: 'INVALID_SPEC', path: '/training/epochs' },
  { name: 'epochs not a whole number', change: (s) => ((s.training.epochs = 1.5), s), code: 'INVALID_SPEC', path: '/training/epochs' },
  { name: 'negative epochs', change: (s) => ((s.training.epochs = -3), s), code: 'INVALID_SPEC', path: '/training/epochs' },
  { name: 'no epochs', change: (s) => (delete s.training.epochs, s), code: 'INVALID_SPEC', path: '/training/epochs' },
  { name: 'units as a string', change: (s) => ((s.model.layers[0].units = '32'), s), code: 'INVALID_SPEC', path: '/model/layers/0/units' },
  { name: 'shuffle as a string', change: (s) => ((s.training.shuffle = 'yes'), s), code: 'INVALID_SPEC', path: '/training/shuffle' },
  { name: 'layers not an array', change: (s) => ((s.model.layers = { units: 1 }), s), code: 'INVALID_SPEC', path: '/model/layers' },
  { name: 'a body that is not an object', change: () => [1, 2, 3], code: 'INVALID_SPEC', path: '/' },
  { name: 'an unknown top-level field (not stripped)', change: (s) => ((s.colour = 'red'), s), code: 'INVALID_SPEC', path: '/colour' },
  { name: 'an unknown training field', change: (s) => ((s.training.learningRate = 0.1), s), code: 'INVALID_SPEC', path: '/training/learningRate' },
  { name: 'an unknown layer field', change: (s) => ((s.model.layers[1].size = 3), s), code: 'INVALID_SPEC', path: '/model/layers/1/size' },
  { name: 'an unknown field of a built-in dataset', change: (s) => ((s.dataset.colour = 1), s), code: 'INVALID_SPEC', path: '/dataset/colour' },
  { name: 'samples of a built-in dataset as a string', change: (s) => ((s.dataset.samples = '300'), s), code: 'INVALID_SPEC', path: '/dataset/samples' },
  { name: 'a setting of another optimizer', change: (s) => ((s.training.optimizer = { type: 'sgd', beta1: 0.9 }), s), code: 'INVALID_SPEC', path: '/training/optimizer/beta1' },
  { name: 'a layer of 0 units', change: (s) => ((s.model.layers[1].units = 0), s), code: 'INVALID_SPEC', path: '/model/layers/1/units' },
  { name: 'no layers', change: (s) => ((s.model.layers = []), s), code: 'INVALID_SPEC', path: '/model/layers' },
  { name: 'an unknown activation', change: (s) => ((s.model.layers[0].activation = 'gelu'), s), code: 'INVALID_SPEC', path: '/model/layers/0/activation', message: /must be one of "relu"/ },
  { name: 'softmax on a hidden layer', change: (s) => ((s.model.layers[0].activation = 'softmax'), s), code: 'INVALID_SPEC', path: '/model/layers/0/activation' },
  { name: 'dropout of 1', change: (s) => ((s.model.layers[0].dropout = 1), s), code: 'INVALID_SPEC', path: '/model/layers/0/dropout' },
  { name: 'a loss the output cannot take', change: (s) => ((s.loss = 'cross-entropy'), (s.model.layers[2].activation = 'linear'), s), code: 'INVALID_SPEC', path: '/loss' },
  { name: 'an unknown dataset id', change: (s) => ((s.dataset = 'ds_doesnotexist'), s), code: 'DATASET_NOT_FOUND', path: '/dataset', message: /ds_doesnotexist/ },
  { name: 'an unknown built-in dataset', change: (s) => ((s.dataset = { builtin: 'nope' }), s), code: 'DATASET_NOT_FOUND', path: '/dataset/builtin', message: /'nope'/ },
  { name: 'a file on disk (CLI only)', change: (s) => ((s.dataset = { path: '/etc/passwd' }), s), code: 'INVALID_SPEC', path: '/dataset/path' },
  {
    name: "output units that do not match the dataset's classes",
    change: (s) => ((s.model.layers[2] = { units: 3, activation: 'softmax' }), s),
    code: 'INVALID_SPEC',
    path: '/model/layers/2/units',
    message: /2 classes/,
  },
  { name: 'a bad optimizer name', change: (s) => ((s.training.optimizer.type = 'adamx'), s), code: 'INVALID_SPEC', path: '/training/optimizer/type', message: /must be one of .*"adam"/ },
  { name: 'an unknown decay', change: (s) => ((s.training.lrDecay = { type: 'linear' }), s), code: 'INVALID_SPEC', path: '/training/lrDecay/type' },
  { name: 'batchSize 0', change: (s) => ((s.training.batchSize = 0), s), code: 'INVALID_SPEC', path: '/training/batchSize' },
  { name: 'a dev fraction of 1', change: (s) => ((s.split.dev = 1), s), code: 'INVALID_SPEC', path: '/split/dev' },
  { name: 'an unknown normalization', change: (s) => ((s.normalize = 'zscore'), s), code: 'INVALID_SPEC', path: '/normalize' },
  {
    name: 'early stopping on dev with no dev part',
    change: (s) => ((s.split.dev = 0), (s.training.earlyStopping = { metric: 'dev.loss', patience: 2 }), s),
    code: 'INVALID_SPEC',
    path: '/training/earlyStopping/metric',
  },
];

t.test('a bad job spec answers 400 naming the field', async (t) => {
  for (const { name, change, code, path, message } of cases) {
    const reply = await call(service, 'POST', '/v1/jobs', change(spec()));
    t.test(name, async (t) => {
      refused(t, reply, 400, code, path);
      if (message !== undefined) t.match(reply.body.error.message, message);
    });
  }
  const jobs = await call(service, 'GET', '/v1/jobs');
  t.same(jobs.body.jobs, [], 'no refused spec made a job');
});

t.test('the untouched spec is accepted: the refusals are about the field changed', async (t) => {
  const reply = await call(service, 'POST', '/v1/jobs', spec());
  t.equal(reply.status, 202);
  t.equal(reply.body.status, 'queued');
});

t.test('a body that is not JSON answers 400 INVALID_JSON', async (t) => {
  refused(t, await call(service, 'POST', '/v1/jobs', '{"name": "cut short", ', { 'content-type': 'application/json' }), 400, 'INVALID_JSON');
  refused(t, await call(service, 'POST', '/v1/jobs', '', { 'content-type': 'application/json' }), 400, 'INVALID_JSON');
});

t.test('an oversized JSON body answers 413 BODY_TOO_LARGE', async (t) => {
  const big = spec();
  big.name = 'x'.repeat(300 * 1024);
  refused(t, await call(service, 'POST', '/v1/jobs', big), 413, 'BODY_TOO_LARGE');
});

t.test('the control routes check their bodies and queries too', async (t) => {
  const { id } = (await call(service, 'POST', '/v1/jobs', spec())).body as { id: string };
  refused(t, await call(service, 'PATCH', `/v1/jobs/${id}`, { learningRate: '0.1' }), 400, 'INVALID_REQUEST', '/learningRate');
  refused(t, await call(service, 'PATCH', `/v1/jobs/${id}`, { learningRate: -1 }), 400, 'INVALID_REQUEST', '/learningRate');
  refused(t, await call(service, 'PATCH', `/v1/jobs/${id}`, { learningRate: 0.1, momentum: 0.9 }), 400, 'INVALID_REQUEST', '/momentum');
  refused(t, await call(service, 'GET', '/v1/jobs?limit=0'), 400, 'INVALID_REQUEST', '/querystring/limit');
  refused(t, await call(service, 'GET', '/v1/jobs?status=sleeping'), 400, 'INVALID_REQUEST', '/querystring/status');
  refused(t, await call(service, 'POST', `/v1/jobs/${id}/predict`, { inputs: [] }), 400, 'INVALID_REQUEST', '/inputs');
});
