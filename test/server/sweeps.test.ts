import t from 'tap';
import { call, moonsJob, openEvents, startService, temporaryDirectory, waitFor } from '../fixtures/service.js';

const FINISHED = ['succeeded', 'failed', 'cancelled', 'stopped'];

const tinyJob = (epochs: number) =>
  moonsJob(epochs, {
    dataset: { builtin: 'moons', samples: 300, noise: 0.2, seed: 3 },
    model: { layers: [{ units: 8, activation: 'relu' }, { units: 1, activation: 'sigmoid' }], init: 'he' },
  });

const lrSpace = { '/training/optimizer/learningRate': { logUniform: [1e-4, 1e-1] } };

async function finishedSweep(service: { url: string }, id: string, timeoutMs = 120_000) {
  return waitFor(async () => {
    const { body } = await call(service, 'GET', `/v1/sweeps/${id}`);
    return body.status !== 'running' ? body : undefined;
  }, timeoutMs);
}

t.test('a random sweep runs every trial, ranks them, streams its events and names the best model', async (t) => {
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '2' } });
  t.teardown(() => service.stop('SIGKILL'));
  const submitted = await call(service, 'POST', '/v1/sweeps', { name: 'lr', base: tinyJob(4), space: lrSpace, trials: 6, seed: 3 });
  t.equal(submitted.status, 202);
  const stream = openEvents(service, `/v1/sweeps/${submitted.body.id}/events`);
  const sweep = await finishedSweep(service, submitted.body.id);
  t.equal(sweep.status, 'succeeded');
  t.equal(sweep.trials.length, 6);
  t.ok(sweep.trials.every((trial: { status: string }) => trial.status === 'succeeded'));
  const rates = sweep.trials.map((trial: { values: Record<string, number> }) => trial.values['/training/optimizer/learningRate']);
  t.ok(rates.every((rate: number) => rate >= 1e-4 && rate <= 1e-1), 'every sampled rate in range');
  const metrics = sweep.trials.map((trial: { metric: number }) => trial.metric);
  t.same(metrics, [...metrics].sort((a, b) => b - a), 'ranked best first');
  t.equal(sweep.best.jobId, sweep.trials[0].jobId);
  t.equal((await call(service, 'GET', sweep.best.model)).status, 200);
  // The ranking's number is the final epoch's, the one whose weights the model has.
  for (const trial of sweep.trials as { jobId: string; metric: number; bestMetric: number }[]) {
    const { epochs } = (await call(service, 'GET', `/v1/jobs/${trial.jobId}/metrics`)).body;
    t.equal(trial.metric, epochs.at(-1).dev.accuracy, `trial ${trial.jobId} ranks by its last epoch`);
    t.equal(trial.bestMetric, Math.max(...epochs.map((epoch: { dev: { accuracy: number } }) => epoch.dev.accuracy)));
  }
  const bestTrial = (await call(service, 'GET', `/v1/jobs/${sweep.best.jobId}`)).body;
  t.equal(bestTrial.result.dev.accuracy, sweep.best.metric, "the best model's own dev accuracy is the ranked one");
  t.equal(sweep.spec.parallel, 2, 'parallel defaults to the concurrency');

  const closed = await stream.closed;
  t.equal(closed.code, 1000);
  const sweepEvents = stream.events as unknown as { seq: number; sweepId: string; type: string; status?: string; trial?: number; epoch?: number }[];
  t.ok(sweepEvents.every((event) => event.sweepId === submitted.body.id), 'only the sweep’s own events');
  t.same(sweepEvents.map((event) => event.seq), sweepEvents.map((_, index) => index + 1), 'one seq space: 1, 2, 3, ...');
  t.equal(sweepEvents.filter((event) => event.type === 'trial' && event.status === 'succeeded').length, 6);
  t.equal(sweepEvents.filter((event) => event.type === 'epoch').length, 6 * 4, "every trial's every epoch");
  t.ok(sweepEvents.some((event) => event.type === 'best'));
  t.match(sweepEvents.at(-1), { type: 'done', status: 'succeeded' });

  const replay = openEvents(service, `/v1/sweeps/${submitted.body.id}/events?since=0`);
  t.equal((await replay.closed).code, 1000);
  t.same(replay.events, stream.events, 'a finished sweep replays exactly what was sent live, epochs included');
  const later = openEvents(service, `/v1/sweeps/${submitted.body.id}/events?since=10`);
  await later.closed;
  t.same(later.events, stream.events.slice(10), 'since=10 sends the events after seq 10');

  // A client that comes back after the done event gets nothing more, and a normal close.
  const lastSeq = (sweepEvents.at(-1) as unknown as { seq: number }).seq;
  const again = openEvents(service, `/v1/sweeps/${submitted.body.id}/events?since=${lastSeq}`);
  t.equal((await again.closed).code, 1000, 'since=last of a finished sweep closes normally');
  t.equal(again.events.length, 0, 'with nothing sent');

  const trialJob = await call(service, 'GET', `/v1/jobs/${sweep.trials[0].jobId}`);
  t.equal(trialJob.body.sweepId, submitted.body.id, 'each trial is an ordinary job, tagged with its sweep');
});

t.test('a grid sweep covers the product of its lists', async (t) => {
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '2' } });
  t.teardown(() => service.stop('SIGKILL'));
  const space = { '/training/optimizer/learningRate': { grid: [0.001, 0.01] }, '/model/layers/0/units': { grid: [4, 8, 16] } };
  const submitted = await call(service, 'POST', '/v1/sweeps', { base: tinyJob(2), space, strategy: 'grid' });
  t.equal(submitted.status, 202);
  const sweep = await finishedSweep(service, submitted.body.id);
  const points = sweep.trials.map((trial: { values: Record<string, number> }) => `${trial.values['/training/optimizer/learningRate']}x${trial.values['/model/layers/0/units']}`);
  t.same(new Set(points), new Set(['0.001x4', '0.001x8', '0.001x16', '0.01x4', '0.01x8', '0.01x16']));
});

t.test('bad sweeps answer 400 with the path', async (t) => {
  const service = await startService();
  t.teardown(() => service.stop('SIGKILL'));
  const post = (body: object) => call(service, 'POST', '/v1/sweeps', body);
  const emptyRange = await post({ base: tinyJob(2), space: { '/training/optimizer/learningRate': { logUniform: [0, 1] } } });
  t.match(emptyRange, { status: 400, body: { error: { code: 'INVALID_SPEC', path: '/space/~1training~1optimizer~1learningRate' } } });
  const gridSize = await post({ base: tinyJob(2), strategy: 'grid', trials: 5, space: { '/training/batchSize': { grid: [16, 32] } } });
  t.match(gridSize, { status: 400, body: { error: { path: '/trials' } } });
  const badValue = await post({ base: tinyJob(2), space: { '/model/layers/0/units': { intUniform: [0, 8] } } });
  t.match(badValue, { status: 400, body: { error: { path: '/base/model/layers/0/units' } } });
  const badBase = await post({ base: { ...tinyJob(2), training: { epochs: 0 } }, space: lrSpace });
  t.match(badBase, { status: 400, body: { error: { path: '/base/training/epochs' } } });
  const noDev = await post({ base: { ...tinyJob(2), split: { dev: 0 } }, space: lrSpace, metric: 'dev.loss' });
  t.match(noDev, { status: 400, body: { error: { path: '/metric' } } });
  t.equal((await call(service, 'GET', '/v1/sweeps/nope')).status, 404);
});

t.test('a sweep shares the queue: a job submitted after it waits for one trial, not for the sweep', async (t) => {
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '1' } });
  t.teardown(() => service.stop('SIGKILL'));
  const sweep = await call(service, 'POST', '/v1/sweeps', { base: tinyJob(6), space: lrSpace, trials: 8, seed: 1 });
  await waitFor(async () => (await call(service, 'GET', '/v1/jobs?status=running')).body.jobs.length === 1);
  const single = await call(service, 'POST', '/v1/jobs', tinyJob(2));
  await waitFor(async () => (await call(service, 'GET', `/v1/jobs/${single.body.id}`)).body.status === 'succeeded');
  // Start times, not a count of finished trials at some later poll: tiny trials may finish while we look.
  const singleStart = Date.parse((await call(service, 'GET', `/v1/jobs/${single.body.id}`)).body.startedAt);
  const view = (await call(service, 'GET', `/v1/sweeps/${sweep.body.id}`)).body;
  const trialStarts = await Promise.all(
    view.trials.map(async (trial: { jobId: string }) => (await call(service, 'GET', `/v1/jobs/${trial.jobId}`)).body.startedAt),
  );
  const startedBefore = trialStarts.filter((started) => started !== undefined && Date.parse(started) < singleStart).length;
  t.ok(startedBefore >= 1 && startedBefore <= 2, `the single job started after ${startedBefore} of 8 trials`);
  await call(service, 'POST', `/v1/sweeps/${sweep.body.id}/cancel`);
});

t.test('early stopping stops trials that fall behind, marks them stopped and frees their slots', async (t) => {
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '2' } });
  t.teardown(() => service.stop('SIGKILL'));
  const submitted = await call(service, 'POST', '/v1/sweeps', {
    base: tinyJob(9),
    space: { '/training/optimizer/learningRate': { logUniform: [1e-6, 1e-1] } },
    trials: 12,
    seed: 5,
    metric: 'dev.loss',
    stopping: { rule: 'asha', minEpochs: 1, reductionFactor: 3 },
  });
  const sweep = await finishedSweep(service, submitted.body.id);
  t.equal(sweep.status, 'succeeded');
  const stopped = sweep.trials.filter((trial: { status: string }) => trial.status === 'stopped');
  t.ok(stopped.length > 0, `${stopped.length} trials stopped early`);
  t.ok(stopped.every((trial: { epochs: number }) => trial.epochs < 9), 'stopped before their last epoch');
  t.notOk(sweep.trials.some((trial: { status: string }) => trial.status === 'failed'), 'stopped is not failed');
  t.equal(sweep.trials.length, 12);
  const stoppedJob = (await call(service, 'GET', `/v1/jobs/${stopped[0].jobId}`)).body;
  t.equal(stoppedJob.status, 'stopped', 'the job says stopped too, not cancelled');
  const listed = (await call(service, 'GET', `/v1/jobs?status=stopped&sweep=${submitted.body.id}`)).body.jobs;
  t.equal(listed.length, stopped.length, 'and so does the jobs list');
  const events = openEvents(service, `/v1/jobs/${stopped[0].jobId}/events`);
  await events.closed;
  t.match(events.events.at(-1), { type: 'done', status: 'stopped' }, 'and its done event');
});

t.test('cancel ends a sweep: open trials are cancelled and no new one starts', async (t) => {
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '1' } });
  t.teardown(() => service.stop('SIGKILL'));
  const submitted = await call(service, 'POST', '/v1/sweeps', { base: tinyJob(200), space: lrSpace, trials: 10, parallel: 1 });
  await waitFor(async () => (await call(service, 'GET', '/v1/jobs?status=running')).body.jobs.length === 1);
  const cancelled = await call(service, 'POST', `/v1/sweeps/${submitted.body.id}/cancel`);
  t.equal(cancelled.status, 200);
  t.equal(cancelled.body.status, 'cancelled');
  const sweep = await waitFor(async () => {
    const { body } = await call(service, 'GET', `/v1/sweeps/${submitted.body.id}`);
    return body.trials.every((trial: { status: string }) => FINISHED.includes(trial.status)) ? body : undefined;
  });
  t.ok(sweep.trials.length < 10, `${sweep.trials.length} trials were made`);
  t.ok(sweep.trials.some((trial: { status: string }) => trial.status === 'cancelled'));
  t.equal((await call(service, 'POST', `/v1/sweeps/${submitted.body.id}/cancel`)).status, 409);
});

t.test('a sweep survives a SIGKILL of the server: finished trials kept, the rest run, none twice', async (t) => {
  const dataDirectory = temporaryDirectory();
  const env = { CAVIAR_CONCURRENCY: '1' };
  const first = await startService({ dataDirectory, env });
  const submitted = await call(first, 'POST', '/v1/sweeps', { base: tinyJob(15), space: lrSpace, trials: 6, seed: 9 });
  const id = submitted.body.id as string;
  const before = await waitFor(async () => {
    const { body } = await call(first, 'GET', `/v1/sweeps/${id}`);
    return body.trials.filter((trial: { status: string }) => trial.status === 'succeeded').length >= 2 ? body : undefined;
  });
  await first.stop('SIGKILL');
  const second = await startService({ dataDirectory, env });
  t.teardown(() => second.stop('SIGKILL'));
  const after = await finishedSweep(second, id);
  t.equal(after.status, 'succeeded');
  t.equal(after.trials.length, 6, 'exactly the trials asked for');
  t.same(new Set(after.trials.map((trial: { trial: number }) => trial.trial)), new Set([0, 1, 2, 3, 4, 5]));
  for (const kept of before.trials.filter((trial: { status: string }) => trial.status === 'succeeded')) {
    const now = after.trials.find((trial: { trial: number }) => trial.trial === kept.trial);
    t.same(now.values, kept.values, `trial ${kept.trial} kept its values`);
    t.equal(now.metric, kept.metric, `and its result`);
  }
  t.ok(after.trials.every((trial: { status: string; epochs: number }) => trial.status === 'succeeded' && trial.epochs === 15));
});

t.test("trials that restore their best epoch rank by that epoch's metric, the one their model has", async (t) => {
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '2' } });
  t.teardown(() => service.stop('SIGKILL'));
  const base = tinyJob(8);
  base.training.earlyStopping = { metric: 'dev.loss', patience: 8, restoreBest: true };
  const submitted = await call(service, 'POST', '/v1/sweeps', { base, space: lrSpace, trials: 4, seed: 11, metric: 'dev.loss' });
  const sweep = await finishedSweep(service, submitted.body.id);
  for (const trial of sweep.trials as { jobId: string; metric: number }[]) {
    const job = (await call(service, 'GET', `/v1/jobs/${trial.jobId}`)).body;
    const { epochs } = (await call(service, 'GET', `/v1/jobs/${trial.jobId}/metrics`)).body;
    t.equal(trial.metric, epochs[job.result.epochs - 1].dev.loss, `trial ${trial.jobId}: the restored epoch ${job.result.epochs}'s dev loss`);
  }
  const best = (await call(service, 'GET', `/v1/jobs/${sweep.best.jobId}`)).body;
  t.ok(Math.abs(best.result.dev.loss - sweep.best.metric) < 1e-6, "the best model's own dev loss is the ranked one");
});
