import t, { type Test } from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHub, JOB_STATUSES, Lifecycle, SqliteStore, TRANSITIONS, isFinal, type JobEvent, type JobStatus } from '../../src/jobs/index.js';
import { moonsJob } from '../fixtures/service.js';

function setUp(t: Test) {
  const store = new SqliteStore(mkdtempSync(join(tmpdir(), 'caviar-lifecycle-')));
  t.teardown(() => store.close());
  const hub = new EventHub();
  const published: JobEvent[] = [];
  hub.subscribe('*', (event) => published.push(event));
  return { store, hub, lifecycle: new Lifecycle(store, hub), published };
}

/** Brings a new job to `status` along allowed edges (queued -> running -> ...). */
async function jobIn(lifecycle: Lifecycle, id: string, status: JobStatus): Promise<void> {
  await lifecycle.submit([{ id, spec: moonsJob(2) }]);
  if (status === 'queued') return;
  if (status === 'paused') {
    await lifecycle.change(id, 'paused');
    return;
  }
  if ((await lifecycle.claim())?.id !== id) throw new Error(`${id} was not the oldest queued job`);
  if (status !== 'running') await lifecycle.change(id, status, { attempt: 1 });
}

t.test('every edge of the transition table moves the job, stores its event and publishes it', async (t) => {
  let index = 0;
  for (const from of JOB_STATUSES) {
    for (const to of TRANSITIONS[from]) {
      const { store, lifecycle, published } = setUp(t);
      const id = `job_${(index += 1)}`;
      await jobIn(lifecycle, id, from);
      const before = published.length;
      const attempt = (await store.getJob(id))?.attempt;
      // A free slot's claim is the one way into running: it gives the start its attempt.
      const event = to === 'running' ? (await lifecycle.claim(), published.at(-1)) : await lifecycle.change(id, to, { attempt });
      t.ok(event, `${from} -> ${to} happens`);
      t.equal((await store.getJob(id))?.status, to);
      t.same(published.slice(before), [event], 'its one event is published');
      t.match(event, isFinal(to) ? { type: 'done', status: to } : { type: 'status', status: to }, 'a done event for a final status');
      t.same((await store.eventsAfter(id, (event as JobEvent).seq - 1, 10))[0], event, 'and it was stored first');
    }
  }
});

t.test('every edge not in the table is refused: no change, no event', async (t) => {
  let index = 0;
  for (const from of JOB_STATUSES) {
    for (const to of JOB_STATUSES.filter((status) => !TRANSITIONS[from].includes(status))) {
      const { store, lifecycle, published } = setUp(t);
      const id = `job_${(index += 1)}`;
      await jobIn(lifecycle, id, from);
      const before = published.length;
      const attempt = (await store.getJob(id))?.attempt;
      t.equal(await lifecycle.change(id, to, { attempt }), undefined, `${from} -> ${to} is refused`);
      t.equal((await store.getJob(id))?.status, from);
      t.equal(published.length, before, 'nothing is published');
    }
  }
});

t.test('a change from a stale attempt is refused', async (t) => {
  const { store, lifecycle } = setUp(t);
  await jobIn(lifecycle, 'job_a', 'running');
  await lifecycle.change('job_a', 'queued', { attempt: 1 });
  await lifecycle.claim();
  t.equal((await store.getJob('job_a'))?.attempt, 2, 'the second start has its own attempt');
  t.equal(await lifecycle.change('job_a', 'succeeded', { attempt: 1 }), undefined, 'the first start can no longer end it');
  t.ok(await lifecycle.change('job_a', 'succeeded', { attempt: 2 }), 'the current one can');
});

t.test("an epoch of a sweep's trial publishes the job's event and the sweep's, each in its own seq space", async (t) => {
  const { store, hub, lifecycle } = setUp(t);
  const sweepEvents: unknown[] = [];
  hub.subscribeSweep('sweep_s', (event) => sweepEvents.push(event));
  await store.createSweep({ id: 'sweep_s', spec: {} as never, status: 'running', createdAt: new Date().toISOString() });
  await lifecycle.submit([{ id: 'sweep_s_t0', spec: moonsJob(2), trial: { sweepId: 'sweep_s', index: 0, round: 0, values: {} } }]);
  const job = await lifecycle.claim();
  const recorded = await lifecycle.recordEpochs({
    jobId: 'sweep_s_t0',
    attempt: job?.attempt as number,
    checkpoint: new Uint8Array(8),
    events: [{ type: 'epoch', jobId: 'sweep_s_t0', epoch: 1, lr: 0.1, seconds: 0.01, train: { loss: 0.5 }, dev: { loss: 0.6 }, layers: [] }],
  });
  t.match(recorded?.events, [{ seq: 3, type: 'epoch', epoch: 1 }], "the job's third event");
  t.match(sweepEvents, [{ seq: 1, type: 'epoch', sweepId: 'sweep_s', trial: 0, jobId: 'sweep_s_t0', epoch: 1, dev: { loss: 0.6 } }], "the sweep's first");
  t.equal(
    await lifecycle.recordEpochs({
      jobId: 'sweep_s_t0',
      attempt: job?.attempt as number,
      checkpoint: new Uint8Array(8),
      events: [{ type: 'epoch', jobId: 'sweep_s_t0', epoch: 1, lr: 0.1, seconds: 0.01, train: { loss: 0.5 }, layers: [] }],
    }),
    undefined,
    'the same epoch again is refused',
  );
  t.equal(sweepEvents.length, 1, 'and sends nothing');
});
