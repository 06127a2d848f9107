import t, { type Test } from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHub, Lifecycle, Scheduler, SqliteStore, type EpochEvent, type JobEvent } from '../../src/jobs/index.js';
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

t.test('after a restart, a job asked to stop before the crash stops instead of training again', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'caviar-scheduler-'));
  const first = new SqliteStore(directory);
  const lifecycle = new Lifecycle(first, new EventHub());
  await lifecycle.submit([{ id: 'job_cancelled', spec: moonsJob(2) }, { id: 'job_paused', spec: moonsJob(2) }]);
  await lifecycle.claim();
  await lifecycle.claim();
  await first.requestStop('job_cancelled', 'cancel');
  await first.requestStop('job_paused', 'pause');
  first.close();

  const store = new SqliteStore(directory);
  const scheduler = new Scheduler(new Lifecycle(store, new EventHub()), { concurrency: 1, threads: 1, heartbeatMs: 500, stallMs: 30_000, log: quiet });
  t.teardown(async () => {
    await scheduler.shutdown(1000);
    store.close();
  });
  t.equal(await scheduler.recover(), 0, 'none goes back to the queue');
  t.equal((await store.getJob('job_cancelled'))?.status, 'cancelled');
  t.equal((await store.getJob('job_paused'))?.status, 'paused');
});

/**
 * Two hosts over one store, as past one machine: one trains the job the queue gave it, the
 * other (an API server) takes control requests, and every message between them is lost.
 */
function twoHosts(t: Test) {
  const store = new SqliteStore(mkdtempSync(join(tmpdir(), 'caviar-scheduler-')));
  const lostMessages: unknown[] = [];
  const cluster = { control: async (message: unknown) => void lostMessages.push(message) };
  const options = { threads: 1, heartbeatMs: 500, stallMs: 30_000, log: quiet, cluster };
  const trainerHub = new EventHub();
  const trainer = new Scheduler(new Lifecycle(store, trainerHub), { ...options, concurrency: 1 });
  const api = new Scheduler(new Lifecycle(store, new EventHub()), { ...options, concurrency: 0 });
  t.teardown(async () => {
    await trainer.shutdown(1000);
    store.close();
  });
  const epochs: EpochEvent[] = [];
  trainerHub.subscribe('*', (event) => event.type === 'epoch' && epochs.push(event));
  const firstEpoch = (id: string) => new Promise<void>((resolve) => trainerHub.subscribe(id, (event) => event.type === 'epoch' && resolve()));
  return { store, trainer, api, lostMessages, epochs, firstEpoch };
}

t.test('past one machine, a cancel whose message is lost still stops the job, at its next epoch', async (t) => {
  const { store, trainer, api, lostMessages, firstEpoch } = twoHosts(t);
  await store.createJobs([{ id: 'job_far', spec: slowJob(8) }]);
  const run = trainer.run('job_far');
  await firstEpoch('job_far');
  t.equal(await api.cancel('job_far'), 'cancelling');
  t.equal(lostMessages.length, 1, 'the message was sent, and lost');
  t.equal(await run, 'ended');
  const job = await store.getJob('job_far');
  t.equal(job?.status, 'cancelled');
  t.ok((job?.epochsDone ?? 8) <= 3, `it stopped after ${job?.epochsDone} of 8 epochs`);
});

t.test('past one machine, a learning rate whose message is lost reaches the job by the epoch after next', async (t) => {
  const { store, trainer, api, epochs, firstEpoch } = twoHosts(t);
  // Epochs long beside a commit, so that the worker is not several epochs ahead of the store.
  await store.createJobs([{ id: 'job_rate', spec: slowJob(8) }]);
  const run = trainer.run('job_rate');
  await firstEpoch('job_rate');
  t.equal(await api.setLearningRate('job_rate', 0.0123), 'running');
  const setAt = epochs.length;
  await run;
  const job = await store.getJob('job_rate');
  t.equal(job?.status, 'succeeded');
  const changed = epochs.findIndex((event) => event.lr === 0.0123);
  t.ok(changed >= 0, 'an epoch trained at the new rate');
  t.ok(changed <= setAt + 2, `the new rate from epoch ${changed + 1}, set during epoch ${setAt + 1}`);
  t.equal(job?.pendingLearningRate, undefined, 'and it is no longer pending');
});

t.test('past one machine, a host that takes over a job asked to stop stops it without training', async (t) => {
  const { store, trainer } = twoHosts(t);
  await store.createJobs([{ id: 'job_orphan', spec: moonsJob(2) }]);
  await store.claim('job_orphan');
  await store.requestStop('job_orphan', 'pause');
  t.equal(await trainer.run('job_orphan'), 'ended');
  const job = await store.getJob('job_orphan');
  t.equal(job?.status, 'paused');
  t.equal(job?.epochsDone, 0);
});

const diskFull = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

t.test('on one machine, an epoch the store cannot keep ends the job at its last epoch kept, failed with STORAGE_FULL', async (t) => {
  const { store, next, submit } = setUp(t, 1);
  const appendEpochs = store.appendEpochs.bind(store);
  store.appendEpochs = async (record) => {
    if (record.events.some((event) => event.epoch === 2)) throw diskFull();
    return appendEpochs(record);
  };
  const ended = next('job_full', done);
  // Epochs long enough to be handed over one by one.
  await submit('job_full', slowJob(3));
  t.match(await ended, { status: 'failed', error: { code: 'STORAGE_FULL', message: /after epoch 1$/ } });
  t.equal((await store.getJob('job_full'))?.epochsDone, 1);
});

t.test('on one machine, an end the store cannot write now is tried again, the job holding its slot until it is kept', async (t) => {
  const { store, next, submit, errors } = setUp(t, 1);
  const transition = store.transition.bind(store);
  let refusals = 2;
  store.transition = async (id, change) => {
    if (change.to === 'succeeded' && refusals > 0) {
      refusals -= 1;
      throw diskFull();
    }
    return transition(id, change);
  };
  const ended = next('job_end', done);
  const after = next('job_after', running);
  await submit('job_end');
  await submit('job_after');
  t.match(await ended, { status: 'succeeded' }, 'kept on the third try');
  t.equal(errors.filter(({ message }) => message.startsWith('could not record how a job ended')).length, 2);
  await after;
  t.equal((await store.getJob('job_end'))?.status, 'succeeded', 'the next job took the slot only after');
});

t.test('a job of many short epochs commits them in few hand-overs, every epoch once and in order, its checkpoint the last epoch', async (t) => {
  const { store, next, submit } = setUp(t, 1);
  let commits = 0;
  const appendEpochs = store.appendEpochs.bind(store);
  store.appendEpochs = async (record) => {
    commits += 1;
    return appendEpochs(record);
  };
  const epochs: number[] = [];
  const seqs: number[] = [];
  const ended = next('job_short', (event) => {
    if (event.type === 'epoch') epochs.push(event.epoch);
    seqs.push(event.seq);
    return event.type === 'done';
  });
  await submit('job_short', moonsJob(300));
  t.match(await ended, { status: 'succeeded' });
  t.same(epochs, Array.from({ length: 300 }, (_, index) => index + 1), 'every epoch once, in order');
  t.same(seqs, Array.from({ length: seqs.length }, (_, index) => (seqs[0] as number) + index), 'and every event, seq after seq');
  t.ok(commits < 300, `${commits} commits for 300 epochs`);
  const resumed = (await store.getJob('job_short'))?.epochsDone;
  t.equal(resumed, 300, 'the checkpoint kept is the last epoch');
});
