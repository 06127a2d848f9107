import t, { type Test } from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHub, Lifecycle, Scheduler, SqliteStore, type JobEvent } from '../../src/jobs/index.js';
import { moonsJob, slowJob } from '../fixtures/service.js';

const quiet = { info: () => {}, error: () => {} };

function setUp(t: Test, concurrency: number) {
  const store = new SqliteStore(mkdtempSync(join(tmpdir(), 'caviar-scheduler-')));
  const hub = new EventHub();
  const lifecycle = new Lifecycle(store, hub);
  const errors: { object: object; message: string }[] = [];
  const scheduler = new Scheduler(lifecycle, {
    concurrency,
    threads: 1,
    heartbeatMs: 500,
    stallMs: 30_000,
    log: { ...quiet, error: (object, message) => errors.push({ object, message }) },
  });
  t.teardown(async () => {
    await scheduler.shutdown(1000);
    store.close();
  });
  /** Resolves with the first event of `jobId` that matches. */
  const next = (jobId: string, match: (event: JobEvent) => boolean) =>
    new Promise<JobEvent>((resolve) => {
      const unsubscribe = hub.subscribe(jobId, (event) => {
        if (!match(event)) return;
        unsubscribe();
        resolve(event);
      });
    });
  const submit = async (id: string, spec = moonsJob(2)) => {
    await lifecycle.submit([{ id, spec }]);
    scheduler.kick();
  };
  return { store, scheduler, next, submit, errors };
}

const done = (event: JobEvent) => event.type === 'done';
const running = (event: JobEvent) => event.type === 'status' && event.status === 'running';

t.test('jobs take free slots oldest first; one beyond the slots waits its turn', async (t) => {
  const { store, next, submit } = setUp(t, 1);
  const first = next('job_1', running);
  await submit('job_1', slowJob(3));
  await submit('job_2');
  await first;
  t.equal((await store.getJob('job_2'))?.status, 'queued', 'the second waits while the only slot is taken');
  const order: string[] = [];
  await Promise.all(['job_1', 'job_2'].map((id) => next(id, done).then(() => order.push(id))));
  t.same(order, ['job_1', 'job_2']);
  t.equal((await store.getJob('job_2'))?.status, 'succeeded');
});

t.test('two slots run two jobs at once', async (t) => {
  const { next, submit } = setUp(t, 2);
  const order: string[] = [];
  const seen = ['job_a', 'job_b'].flatMap((id) => [
    next(id, running).then(() => order.push(`${id} running`)),
    next(id, done).then(() => order.push(`${id} done`)),
  ]);
  await submit('job_a', slowJob(2));
  await submit('job_b', slowJob(2));
  await Promise.all(seen);
  t.same(order.slice(0, 2).sort(), ['job_a running', 'job_b running'], 'both started before either ended');
});

t.test('cancel, pause and stop answer what they lead to, and the job ends there', async (t) => {
  const { store, scheduler, next, submit } = setUp(t, 1);
  await submit('job_run', slowJob(50));
  await submit('job_wait');
  await next('job_run', (event) => event.type === 'epoch');
  t.equal(await scheduler.cancel('job_wait'), 'cancelled', 'a waiting job is cancelled at once');
  const paused = next('job_run', (event) => event.type === 'status' && event.status === 'paused');
  t.equal(await scheduler.pause('job_run'), 'pausing', 'a running one is on its way');
  await paused;
  t.ok(((await store.getJob('job_run'))?.epochsDone ?? 0) >= 1, 'it keeps its checkpoint');
  const resumed = next('job_run', running);
  t.equal(await scheduler.resume('job_run'), 'queued');
  await resumed;
  const stopped = next('job_run', done);
  t.equal(await scheduler.stop('job_run'), 'cancelling', "a sweep's stop reaches it through its worker");
  t.match(await stopped, { type: 'done', status: 'stopped' });
  t.equal(await scheduler.resume('job_run'), 'conflict', 'a stopped job stays stopped');
  t.equal(await scheduler.cancel('job_nope'), 'not-found');
});

t.test("a job whose dataset was deleted fails with DATASET_NOT_FOUND, and a store fault is INTERNAL and logged", async (t) => {
  const { store, next, submit, errors } = setUp(t, 1);
  const ended = next('job_gone', done);
  await submit('job_gone', { ...moonsJob(2), dataset: 'ds_deleted' });
  t.match(await ended, { status: 'failed', error: { code: 'DATASET_NOT_FOUND' } });
  t.equal(errors.length, 0, 'the client’s fault is not logged as ours');

  const checkpoint = store.checkpoint.bind(store);
  store.checkpoint = () => Promise.reject(new Error('disk I/O error'));
  const broken = next('job_broken', done);
  await submit('job_broken');
  t.match(await broken, { status: 'failed', error: { code: 'INTERNAL' } });
  t.match(errors, [{ message: 'could not start a job' }]);
  store.checkpoint = checkpoint;
});

t.test('after a restart, jobs left running go back to the queue and finish', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'caviar-scheduler-'));
  const first = new SqliteStore(directory);
  const lifecycle = new Lifecycle(first, new EventHub());
  await lifecycle.submit([{ id: 'job_orphan', spec: moonsJob(2) }]);
  await lifecycle.claim();
  first.close();

  const store = new SqliteStore(directory);
  const hub = new EventHub();
  const scheduler = new Scheduler(new Lifecycle(store, hub), { concurrency: 1, threads: 1, heartbeatMs: 500, stallMs: 30_000, log: quiet });
  t.teardown(async () => {
    await scheduler.shutdown(1000);
    store.close();
  });
  t.equal(await scheduler.recover(), 1);
  const ended = new Promise<JobEvent>((resolve) => hub.subscribe('job_orphan', (event) => event.type === 'done' && resolve(event)));
  scheduler.kick();
  t.match(await ended, { status: 'succeeded' });
  t.equal((await store.getJob('job_orphan'))?.attempt, 2, 'a new start, with its own attempt');
});
