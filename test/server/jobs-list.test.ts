import t from 'tap';
import { call, moonsJob, startService, waitFor } from '../fixtures/service.js';

const FINISHED = ['succeeded', 'failed', 'cancelled', 'stopped'];

const tinyJob = (epochs: number, name: string) =>
  moonsJob(epochs, {
    name,
    dataset: { builtin: 'moons', samples: 200, noise: 0.2, seed: 3 },
    model: { layers: [{ units: 4, activation: 'relu' }, { units: 1, activation: 'sigmoid' }], init: 'he' },
  });

const service = await startService({ env: { CAVIAR_CONCURRENCY: '2' } });
t.teardown(() => service.stop('SIGKILL'));

const submit = async (epochs: number, name: string): Promise<string> => {
  const reply = await call(service, 'POST', '/v1/jobs', tinyJob(epochs, name));
  if (reply.status !== 202) throw new Error(JSON.stringify(reply.body));
  return reply.body.id;
};
const statusOf = async (id: string): Promise<string> => (await call(service, 'GET', `/v1/jobs/${id}`)).body.status;
const finished = (id: string) => waitFor(async () => FINISHED.includes(await statusOf(id)), 60_000);

// Seven single jobs, and a sweep of three trials: the list must reach every one of them.
const names = ['alpha', 'Beta', 'gamma', 'ALPHA-2', 'delta', 'epsilon', 'alphabet'];
const singles: string[] = [];
for (const name of names) singles.push(await submit(2, name));
const sweep = (
  await call(service, 'POST', '/v1/sweeps', {
    name: 'listed',
    base: tinyJob(2, 'trial'),
    space: { '/training/optimizer/learningRate': { logUniform: [1e-3, 1e-1] } },
    trials: 3,
  })
).body.id as string;
for (const id of singles) await finished(id);
await waitFor(async () => (await call(service, 'GET', `/v1/sweeps/${sweep}`)).body.status === 'succeeded', 60_000);

t.test('the jobs list pages through every job, newest first, with a cursor', async (t) => {
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const reply = await call(service, 'GET', `/v1/jobs?limit=3${cursor === undefined ? '' : `&cursor=${cursor}`}`);
    t.equal(reply.status, 200);
    t.ok(reply.body.jobs.length <= 3);
    seen.push(...reply.body.jobs.map((job: { id: string }) => job.id));
    cursor = reply.body.nextCursor;
    pages += 1;
  } while (cursor !== undefined);
  t.equal(pages, 4, '10 jobs in pages of 3');
  t.equal(new Set(seen).size, 10, 'every job once');
  const all = (await call(service, 'GET', '/v1/jobs')).body;
  t.same(seen, all.jobs.map((job: { id: string }) => job.id), 'in the order of one big page');
  t.notOk('nextCursor' in all, 'no cursor on the last page');
  t.same(
    all.jobs.filter((job: { sweepId?: string }) => job.sweepId === undefined).map((job: { id: string }) => job.id),
    [...singles].reverse(),
    'newest first',
  );
});

t.test('filters: a sweep’s trials, the jobs of no sweep, a part of the name, a status', async (t) => {
  const trials = (await call(service, 'GET', `/v1/jobs?sweep=${sweep}`)).body.jobs;
  t.equal(trials.length, 3);
  t.ok(trials.every((job: { sweepId: string }) => job.sweepId === sweep));
  const outside = (await call(service, 'GET', '/v1/jobs?sweep=none')).body.jobs;
  t.same(outside.map((job: { id: string }) => job.id).sort(), [...singles].sort());
  const alphas = (await call(service, 'GET', '/v1/jobs?name=alpha')).body.jobs.map((job: { name: string }) => job.name);
  t.same(alphas.sort(), ['ALPHA-2', 'alpha', 'alphabet'], 'a substring, in any case');
  const succeeded = (await call(service, 'GET', '/v1/jobs?status=succeeded&sweep=none&name=a&limit=2')).body;
  t.equal(succeeded.jobs.length, 2);
  t.ok(succeeded.nextCursor, 'filters page too');
  const rest = (await call(service, 'GET', `/v1/jobs?status=succeeded&sweep=none&name=a&limit=100&cursor=${succeeded.nextCursor}`)).body;
  t.equal(succeeded.jobs.length + rest.jobs.length, names.filter((name) => name.toLowerCase().includes('a')).length);
});

t.test("a job's model records the columns it was trained on, as the CLI's does", async (t) => {
  const model = (await call(service, 'GET', `/v1/jobs/${singles[1]}/model`)).body;
  t.equal(model.features?.length, 2, `features: ${JSON.stringify(model.features)}`);
});

t.test('a cursor the service did not make answers 400 with its path', async (t) => {
  const reply = await call(service, 'GET', '/v1/jobs?cursor=bm9wZQ');
  t.match(reply, { status: 400, body: { error: { code: 'INVALID_CURSOR', path: '/cursor' } } });
});

t.test('the sweeps list says how many trials ran and how many were planned', async (t) => {
  const listed = (await call(service, 'GET', '/v1/sweeps')).body.sweeps.find((item: { id: string }) => item.id === sweep);
  t.match(listed, { trials: 3, plannedTrials: 3, status: 'succeeded' });
  const cancelled = (
    await call(service, 'POST', '/v1/sweeps', {
      base: tinyJob(300, 'long'),
      space: { '/training/optimizer/learningRate': { logUniform: [1e-3, 1e-1] } },
      trials: 50,
      parallel: 1,
    })
  ).body.id as string;
  await waitFor(async () => (await call(service, 'GET', `/v1/jobs?sweep=${cancelled}&status=running`)).body.jobs.length === 1);
  t.equal((await call(service, 'POST', `/v1/sweeps/${cancelled}/cancel`)).status, 200);
  const after = (await call(service, 'GET', '/v1/sweeps')).body.sweeps.find((item: { id: string }) => item.id === cancelled);
  t.match(after, { status: 'cancelled', trials: 1, plannedTrials: 50 }, 'a cancelled sweep shows the trials that ran');
});

t.test('DELETE removes a finished job and refuses an active one or a trial, with codes', async (t) => {
  const victim = singles[0] as string;
  t.equal((await call(service, 'DELETE', `/v1/jobs/${victim}`)).status, 204);
  t.equal((await call(service, 'GET', `/v1/jobs/${victim}`)).status, 404);
  t.equal((await call(service, 'GET', `/v1/jobs/${victim}/model`)).status, 404);
  t.equal((await call(service, 'DELETE', `/v1/jobs/${victim}`)).status, 404, 'twice: gone');

  const running = await submit(300, 'running');
  await waitFor(async () => (await statusOf(running)) === 'running');
  t.match(await call(service, 'DELETE', `/v1/jobs/${running}`), { status: 409, body: { error: { code: 'JOB_ACTIVE' } } });
  await call(service, 'POST', `/v1/jobs/${running}/cancel`);
  await finished(running);
  t.equal((await call(service, 'DELETE', `/v1/jobs/${running}`)).status, 204, 'once cancelled, it goes');

  const trial = (await call(service, 'GET', `/v1/jobs?sweep=${sweep}`)).body.jobs[0].id;
  t.match(await call(service, 'DELETE', `/v1/jobs/${trial}`), { status: 409, body: { error: { code: 'JOB_IN_SWEEP' } } });
});

t.test('DELETE of a sweep removes it with its trials, and refuses a running one', async (t) => {
  const running = (
    await call(service, 'POST', '/v1/sweeps', {
      base: tinyJob(300, 'long'),
      space: { '/training/optimizer/learningRate': { logUniform: [1e-3, 1e-1] } },
      trials: 4,
      parallel: 1,
    })
  ).body.id as string;
  t.match(await call(service, 'DELETE', `/v1/sweeps/${running}`), { status: 409, body: { error: { code: 'SWEEP_RUNNING' } } });
  await call(service, 'POST', `/v1/sweeps/${running}/cancel`);
  await waitFor(async () => (await call(service, 'DELETE', `/v1/sweeps/${running}`)).status === 204, 30_000);
  t.equal((await call(service, 'GET', `/v1/sweeps/${running}`)).status, 404);
  t.equal((await call(service, 'GET', `/v1/jobs?sweep=${running}`)).body.jobs.length, 0, 'its trials are gone too');

  t.equal((await call(service, 'DELETE', `/v1/sweeps/${sweep}`)).status, 204);
  t.equal((await call(service, 'GET', `/v1/jobs?sweep=${sweep}`)).body.jobs.length, 0);
  t.equal((await call(service, 'DELETE', '/v1/sweeps/sweep_nope')).status, 404);
});
