// The promises of the store interface, as one suite that every store runs (the embedded
// SQLite one and PostgreSQL), so that the two cannot drift apart. Everything goes through
// the interface; what a store keeps inside is its own business.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { EpochEvent, JobStore, SweepRecord } from '../../src/jobs/index.js';
import { JOB_STATUSES, sources, type JobStatus } from '../../src/jobs/status.js';
import type { EpochsRecord, NewJob } from '../../src/jobs/store.js';
import { moonsJob } from '../fixtures/service.js';

export interface OpenedStore {
  store: JobStore;
  /** Another store over the same data, as a second process or host would open it. */
  another(): Promise<JobStore>;
}

/** Makes a fresh, empty store for one test, closed (with any `another`) when the test ends. */
export type StoreFactory = (t: Test) => Promise<OpenedStore>;

const job = (id: string, name = 'moons'): NewJob => ({ id, spec: moonsJob(3, { name }) });

function epochEvent(jobId: string, epoch: number, lr = 0.1): Omit<EpochEvent, 'seq'> {
  return {
    type: 'epoch',
    jobId,
    epoch,
    lr,
    seconds: 0.01,
    train: { loss: 1 / epoch, accuracy: 0.5 },
    dev: { loss: 1.1 / epoch },
    layers: [{ weightNorm: 1, gradNorm: 0.1 }],
  };
}

function epochRecord(jobId: string, attempt: number, epoch: number, extra: Partial<EpochsRecord> = {}): EpochsRecord {
  return { jobId, attempt, events: [epochEvent(jobId, epoch)], checkpoint: new Uint8Array([epoch, attempt, 7]), ...extra };
}

/** Epochs `from` to `to` handed over together, with the checkpoint after the last. */
function epochsRecord(jobId: string, attempt: number, from: number, to: number): EpochsRecord {
  const events = Array.from({ length: to - from + 1 }, (_, index) => epochEvent(jobId, from + index));
  return { jobId, attempt, events, checkpoint: new Uint8Array([to, attempt, 7]) };
}

function sweepRecord(id: string, status: SweepRecord['status'] = 'running'): SweepRecord {
  return {
    id,
    spec: { base: moonsJob(3), space: {}, trials: 4, parallel: 2, strategy: 'random', rounds: 3, metric: 'dev.accuracy', mode: 'max', seed: 0 },
    status,
    createdAt: new Date().toISOString(),
  };
}

const trialJob = (sweepId: string, index: number): NewJob => ({
  id: `${sweepId}_t${index}`,
  spec: moonsJob(3, { name: `trial ${index}` }),
  trial: { sweepId, index, round: 0, values: { '/training/optimizer/learningRate': 0.01 * (index + 1) } },
});

/** Moves a job to `to` from wherever it may come from, with the event that says so. */
function move(store: JobStore, id: string, to: JobStatus, attempt?: number) {
  const final = to === 'succeeded' || to === 'failed' || to === 'cancelled' || to === 'stopped';
  return store.transition(id, {
    from: sources(to),
    to,
    event: final ? { type: 'done', jobId: id, status: to } : { type: 'status', jobId: id, status: to },
    ...(attempt === undefined ? {} : { attempt }),
  });
}

/** Claims until `id` is the job claimed, and returns its attempt. */
async function claim(t: Test, store: JobStore, id: string): Promise<number> {
  const claimed = await store.claimNext();
  t.equal(claimed?.job.id, id, `${id} is claimed next`);
  return claimed?.job.attempt ?? -1;
}

export function storeContract(t: Test, open: StoreFactory): void {
  t.test('submitted jobs read back queued, each with its first event at seq 1', async (t) => {
    const { store } = await open(t);
    const before = Date.now();
    const events = await store.createJobs([job('job_a', 'Alpha'), job('job_b')]);
    t.same(events, [
      { seq: 1, type: 'status', jobId: 'job_a', status: 'queued' },
      { seq: 1, type: 'status', jobId: 'job_b', status: 'queued' },
    ]);
    const read = await store.getJob('job_a');
    t.match(read, { id: 'job_a', name: 'Alpha', spec: moonsJob(3, { name: 'Alpha' }), status: 'queued', attempt: 0, epochsDone: 0, lastSeq: 1 });
    t.same(read?.spec, moonsJob(3, { name: 'Alpha' }), 'the spec as it was submitted');
    t.ok(Date.parse(read?.createdAt ?? '') >= before - 1000, 'createdAt is the time of the submission');
    t.notOk(read?.startedAt ?? read?.finishedAt ?? read?.sweepId ?? read?.result ?? read?.error, 'nothing it has not done yet');
    t.same(await store.eventsAfter('job_a', 0, 10), [events[0]]);
    t.equal(await store.getJob('job_missing'), undefined);
  });

  t.test('a submission is kept once it resolves: another store over the same data reads it', async (t) => {
    const { store, another } = await open(t);
    await store.createJobs([job('job_kept')]);
    t.equal((await (await another()).getJob('job_kept'))?.status, 'queued');
  });

  t.test('submissions made at once are grouped, and each resolves with its own events', async (t) => {
    const { store } = await open(t);
    const ids = Array.from({ length: 50 }, (_, index) => `job_${index}`);
    const results = await Promise.all(ids.map((id) => store.createJobs([job(id)])));
    t.same(
      results.map((events) => events.map((event) => event.jobId)),
      ids.map((id) => [id]),
    );
    t.equal((await store.countByStatus()).queued, 50);
  });

  t.test('a submission that fails keeps none of its jobs', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_taken')]);
    await t.rejects(store.createJobs([job('job_new'), job('job_taken')]));
    t.equal(await store.getJob('job_new'), undefined, 'the job beside the taken id was not kept');
    t.equal((await store.getJob('job_taken'))?.lastSeq, 1, 'the taken one is untouched');
  });

  t.test('claimNext takes the oldest queued job, with a new attempt each start', async (t) => {
    const { store } = await open(t);
    for (const id of ['job_1', 'job_2', 'job_3']) await store.createJobs([job(id)]);
    const first = await store.claimNext();
    t.match(first?.job, { id: 'job_1', status: 'running', attempt: 1, lastSeq: 2 });
    t.ok(first?.job.startedAt, 'it has started');
    t.same(first?.event, { seq: 2, type: 'status', jobId: 'job_1', status: 'running' });
    t.same(await store.eventsAfter('job_1', 1, 10), [first?.event], 'its running event is stored');
    t.equal((await store.claimNext())?.job.id, 'job_2');
    await move(store, 'job_1', 'queued', 1);
    t.equal((await store.claimNext())?.job.id, 'job_1', 'a requeued job keeps its place: older than job_3');
    const again = await store.getJob('job_1');
    t.equal(again?.attempt, 2, 'a second start is a second attempt');
    t.equal(again?.startedAt, first?.job.startedAt, 'startedAt is the first start');
    t.equal((await store.claimNext())?.job.id, 'job_3');
    t.equal(await store.claimNext(), undefined, 'none left');
  });

  t.test('claim takes one queued job by id with a new attempt, and refuses a job that waits for nothing', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_old'), job('job_new'), job('job_paused'), job('job_done')]);
    const claimed = await store.claim('job_new');
    t.match(claimed?.job, { id: 'job_new', status: 'running', attempt: 1, lastSeq: 2 }, 'not the oldest: the one named');
    t.ok(claimed?.job.startedAt, 'it has started');
    t.same(claimed?.event, { seq: 2, type: 'status', jobId: 'job_new', status: 'running' });
    t.same(await store.eventsAfter('job_new', 1, 10), [claimed?.event], 'its running event is stored');
    await move(store, 'job_paused', 'paused');
    await move(store, 'job_done', 'cancelled');
    t.equal(await store.claim('job_paused'), undefined, 'a paused job is refused');
    t.equal(await store.claim('job_done'), undefined, 'a finished job is refused');
    t.equal(await store.claim('job_missing'), undefined, 'an unknown job is refused');
    t.match(await store.getJob('job_paused'), { status: 'paused', attempt: 0, lastSeq: 2 }, 'a refused claim changes nothing');
    t.equal((await store.claimNext())?.job.id, 'job_old', 'claimNext still takes the oldest of the rest');
  });

  t.test("claim takes over a running job with the next attempt: the earlier attempt's writes are refused", async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_moved')]);
    const first = await store.claim('job_moved');
    t.ok(await store.appendEpochs(epochRecord('job_moved', 1, 1)), 'the first host keeps epoch 1');
    const taken = await store.claim('job_moved');
    t.match(taken?.job, { status: 'running', attempt: 2, epochsDone: 1 }, 'still running, a new attempt, from the epoch kept');
    t.equal(taken?.job.startedAt, first?.job.startedAt, 'startedAt is the first start');
    t.same(taken?.event, { seq: 4, type: 'status', jobId: 'job_moved', status: 'running' });
    t.equal(await store.appendEpochs(epochRecord('job_moved', 1, 2)), undefined, "the first host's next epoch is refused");
    t.equal(await move(store, 'job_moved', 'succeeded', 1), undefined, "the first host's end is refused");
    t.ok(await store.appendEpochs(epochRecord('job_moved', 2, 2)), "the second host's epoch 2 is kept");
    t.same(
      (await store.epochs('job_moved')).map((event) => event.epoch),
      [1, 2],
      'every epoch once',
    );
    t.same(await store.checkpoint('job_moved'), new Uint8Array([2, 2, 7]), "the checkpoint is the second host's");
  });

  t.test("each job's events are numbered from 1 without gaps, whatever other jobs do", async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_x'), job('job_y')]);
    const attempt = await claim(t, store, 'job_x');
    await store.appendEpochs(epochRecord('job_x', attempt, 1));
    await move(store, 'job_y', 'paused');
    await store.appendEpochs(epochRecord('job_x', attempt, 2));
    await move(store, 'job_y', 'queued');
    await move(store, 'job_x', 'succeeded', attempt);
    const x = await store.eventsAfter('job_x', 0, 100);
    const y = await store.eventsAfter('job_y', 0, 100);
    t.same(
      x.map((event) => event.seq),
      [1, 2, 3, 4, 5],
    );
    t.same(
      x.map((event) => event.type),
      ['status', 'status', 'epoch', 'epoch', 'done'],
    );
    t.same(
      y.map((event) => event.seq),
      [1, 2, 3],
    );
    t.equal((await store.getJob('job_x'))?.lastSeq, 5);
    t.same(
      (await store.eventsAfter('job_x', 2, 2)).map((event) => event.seq),
      [3, 4],
      'after a seq, at most limit',
    );
    t.same(await store.eventsAfter('job_x', 5, 10), [], 'nothing after the last');
  });

  t.test('a transition happens only from the statuses it names, with its event', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_t')]);
    const refused = await store.transition('job_t', { from: ['running'], to: 'succeeded', event: { type: 'done', jobId: 'job_t', status: 'succeeded' } });
    t.equal(refused, undefined);
    t.match(await store.getJob('job_t'), { status: 'queued', lastSeq: 1 }, 'no change and no event');
    t.same(await move(store, 'job_t', 'paused'), { seq: 2, type: 'status', jobId: 'job_t', status: 'paused' });
    t.equal((await store.getJob('job_t'))?.status, 'paused');
    t.equal(await move(store, 'job_missing', 'paused'), undefined, 'an unknown job changes nothing');
  });

  t.test('a transition for an earlier attempt changes nothing', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_s')]);
    const first = await claim(t, store, 'job_s');
    await move(store, 'job_s', 'queued', first);
    const second = await claim(t, store, 'job_s');
    t.equal(await move(store, 'job_s', 'failed', first), undefined, 'the first start is stale');
    t.match(await store.getJob('job_s'), { status: 'running', attempt: second });
    t.match(await move(store, 'job_s', 'succeeded', second), { type: 'done', status: 'succeeded' });
  });

  t.test('a finished job keeps its result, error and model, and drops its checkpoints', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_ok'), job('job_bad')]);
    const ok = await claim(t, store, 'job_ok');
    const bad = await claim(t, store, 'job_bad');
    await store.appendEpochs(epochRecord('job_ok', ok, 1, { best: true }));
    const result = {
      epochs: 1,
      train: { loss: 0.2, accuracy: 0.9 },
      diagnosis: { avoidableBias: 0.1, threshold: 0.05, verdict: 'high bias' as const, advice: ['train longer'] },
    };
    const model = JSON.stringify({ layers: [1, 2, 3] });
    const done = await store.transition('job_ok', {
      from: ['running'],
      to: 'succeeded',
      attempt: ok,
      event: { type: 'done', jobId: 'job_ok', status: 'succeeded', result },
      result,
      model,
    });
    t.same(done, { seq: 4, type: 'done', jobId: 'job_ok', status: 'succeeded', result });
    const finished = await store.getJob('job_ok');
    t.same(finished?.result, result);
    t.ok(finished?.finishedAt, 'it has a finish time');
    t.equal(await store.model('job_ok'), model);
    t.equal(await store.checkpoint('job_ok'), undefined, 'no latest checkpoint');
    t.equal(await store.checkpoint('job_ok', 'best'), undefined, 'no best checkpoint');
    const error = { code: 'TRAINING_DIVERGED', message: 'the loss is NaN' };
    await store.transition('job_bad', { from: ['running'], to: 'failed', attempt: bad, event: { type: 'done', jobId: 'job_bad', status: 'failed', error }, error });
    t.same((await store.getJob('job_bad'))?.error, error);
    t.equal(await store.model('job_bad'), undefined, 'a job without a model has none');
  });

  t.test("an epoch is kept with its checkpoint, in one step, and advances the job's epochs", async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_e')]);
    const attempt = await claim(t, store, 'job_e');
    const first = await store.appendEpochs(epochRecord('job_e', attempt, 1, { best: true }));
    t.same(first, { events: [{ seq: 3, ...epochEvent('job_e', 1) }], sweepEvents: [] }, 'its stored event, and no sweep event outside a sweep');
    t.same(await store.checkpoint('job_e'), new Uint8Array([1, attempt, 7]));
    t.same(await store.checkpoint('job_e', 'best'), new Uint8Array([1, attempt, 7]), 'kept as the best too');
    await store.appendEpochs(epochRecord('job_e', attempt, 2));
    t.same(await store.checkpoint('job_e'), new Uint8Array([2, attempt, 7]), 'the latest is the newest epoch');
    t.same(await store.checkpoint('job_e', 'best'), new Uint8Array([1, attempt, 7]), 'the best stays until another epoch is best');
    t.match(await store.getJob('job_e'), { epochsDone: 2, lastSeq: 4 });
    t.same(
      (await store.epochs('job_e')).map((event) => [event.seq, event.epoch]),
      [
        [3, 1],
        [4, 2],
      ],
    );
    const large = new Uint8Array(3 * 1024 * 1024).map((_, index) => index % 251);
    await store.appendEpochs(epochRecord('job_e', attempt, 3, { checkpoint: large }));
    t.same(Buffer.from((await store.checkpoint('job_e')) ?? []), Buffer.from(large), 'a checkpoint of megabytes comes back whole');
  });

  t.test('epochs handed over together are kept in one commit, each with its own event, and the checkpoint after the last', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_batch')]);
    const attempt = await claim(t, store, 'job_batch');
    const kept = await store.appendEpochs(epochsRecord('job_batch', attempt, 1, 4));
    t.same(kept?.events.map((event) => [event.seq, event.type === 'epoch' && event.epoch]), [[3, 1], [4, 2], [5, 3], [6, 4]]);
    t.same(await store.checkpoint('job_batch'), new Uint8Array([4, attempt, 7]));
    t.match(await store.getJob('job_batch'), { epochsDone: 4, lastSeq: 6 });
    t.equal(await store.appendEpochs(epochsRecord('job_batch', attempt, 4, 6)), undefined, 'epochs that repeat a kept one are refused whole');
    t.equal(await store.appendEpochs({ ...epochsRecord('job_batch', attempt, 5, 7), events: [epochEvent('job_batch', 5), epochEvent('job_batch', 7)] }), undefined, 'and epochs with a gap among them');
    t.match(await store.getJob('job_batch'), { epochsDone: 4, lastSeq: 6 }, 'neither kept anything');
    t.same((await store.epochs('job_batch')).map((event) => event.epoch), [1, 2, 3, 4]);
    t.ok(await store.appendEpochs(epochsRecord('job_batch', attempt, 5, 6)), 'the next ones follow');
    t.same(await store.checkpoint('job_batch'), new Uint8Array([6, attempt, 7]));
  });

  t.test('an epoch from an earlier attempt is refused and keeps nothing', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_late')]);
    const first = await claim(t, store, 'job_late');
    await store.appendEpochs(epochRecord('job_late', first, 1));
    await move(store, 'job_late', 'queued', first);
    const second = await claim(t, store, 'job_late');
    t.equal(await store.appendEpochs(epochRecord('job_late', first, 2)), undefined, 'the stale start writes nothing');
    t.same(await store.checkpoint('job_late'), new Uint8Array([1, first, 7]), 'the checkpoint stays the last kept one');
    t.match(await store.getJob('job_late'), { epochsDone: 1, lastSeq: 5 });
    t.ok(await store.appendEpochs(epochRecord('job_late', second, 2)), 'the current start writes epoch 2');
  });

  t.test('an epoch already kept is refused: nothing is doubled', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_twice')]);
    const attempt = await claim(t, store, 'job_twice');
    await store.appendEpochs(epochRecord('job_twice', attempt, 1));
    await store.appendEpochs(epochRecord('job_twice', attempt, 2));
    const repeated = epochRecord('job_twice', attempt, 1, { checkpoint: new Uint8Array([9, 9]) });
    t.equal(await store.appendEpochs(repeated), undefined);
    t.same(await store.checkpoint('job_twice'), new Uint8Array([2, attempt, 7]), "epoch 2's checkpoint stays");
    t.equal((await store.epochs('job_twice')).length, 2);
  });

  t.test('an epoch that skips one is refused: nothing is lost', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_gap')]);
    const attempt = await claim(t, store, 'job_gap');
    await store.appendEpochs(epochRecord('job_gap', attempt, 1));
    t.equal(await store.appendEpochs(epochRecord('job_gap', attempt, 3)), undefined, 'epoch 3 before epoch 2');
    t.match(await store.getJob('job_gap'), { epochsDone: 1, lastSeq: 3 });
    t.same(await store.checkpoint('job_gap'), new Uint8Array([1, attempt, 7]));
  });

  t.test('an epoch of a job that is not running is refused', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_idle')]);
    t.equal(await store.appendEpochs(epochRecord('job_idle', 0, 1)), undefined, 'queued');
    const attempt = await claim(t, store, 'job_idle');
    await move(store, 'job_idle', 'paused', attempt);
    t.equal(await store.appendEpochs(epochRecord('job_idle', attempt, 1)), undefined, 'paused');
    t.equal(await store.appendEpochs(epochRecord('job_missing', 1, 1)), undefined, 'unknown');
    t.equal(await store.checkpoint('job_idle'), undefined);
  });

  t.test('two writers of the same epoch at once: exactly one is kept', async (t) => {
    const { store, another } = await open(t);
    const other = await another();
    await store.createJobs([job('job_race')]);
    const attempt = await claim(t, store, 'job_race');
    const same = await Promise.all([store.appendEpochs(epochRecord('job_race', attempt, 1)), store.appendEpochs(epochRecord('job_race', attempt, 1))]);
    t.equal(same.filter((recorded) => recorded !== undefined).length, 1, 'one store, two calls');
    const hosts = await Promise.all([store.appendEpochs(epochRecord('job_race', attempt, 2)), other.appendEpochs(epochRecord('job_race', attempt, 2))]);
    t.equal(hosts.filter((recorded) => recorded !== undefined).length, 1, 'two stores over the same data');
    t.same(
      (await store.epochs('job_race')).map((event) => event.epoch),
      [1, 2],
    );
    t.match(await store.getJob('job_race'), { epochsDone: 2, lastSeq: 4 });
  });

  t.test("a trial's epoch is also an epoch event of its sweep, in the sweep's own seqs", async (t) => {
    const { store } = await open(t);
    await store.createSweep(sweepRecord('sweep_e'));
    const trialEvent = await store.appendSweepEvent('sweep_e', {
      type: 'trial',
      sweepId: 'sweep_e',
      trial: 1,
      jobId: 'sweep_e_t1',
      status: 'queued',
      values: {},
    });
    t.equal(trialEvent.seq, 1);
    await store.createJobs([trialJob('sweep_e', 1)]);
    const attempt = await claim(t, store, 'sweep_e_t1');
    const recorded = await store.appendEpochs(epochRecord('sweep_e_t1', attempt, 1));
    const { epoch, lr, train, dev } = epochEvent('sweep_e_t1', 1);
    const expected = { seq: 2, type: 'epoch', sweepId: 'sweep_e', trial: 1, jobId: 'sweep_e_t1', epoch, lr, train, dev };
    t.same(recorded?.sweepEvents, [expected]);
    t.same(await store.sweepEventsAfter('sweep_e', 1, 10), [expected], 'stored with the epoch');
    t.equal((await store.getSweep('sweep_e'))?.lastSeq, 2);
    t.equal(await store.appendEpochs(epochRecord('sweep_e_t1', attempt, 1)), undefined, 'a refused epoch makes no sweep event');
    t.equal((await store.getSweep('sweep_e'))?.lastSeq, 2);
    const together = await store.appendEpochs(epochsRecord('sweep_e_t1', attempt, 2, 3));
    t.same(together?.sweepEvents.map((event) => [event.seq, event.type === 'epoch' && event.epoch]), [[3, 2], [4, 3]], 'epochs handed over together make a sweep event each, in order');
    t.same((await store.sweepEventsAfter('sweep_e', 2, 10)).map((event) => event.seq), [3, 4]);
  });

  t.test('a learning rate set from outside is numbered, and stays pending until the epoch that applied that change is kept', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_lr')]);
    t.equal(await store.setPendingLearningRate('job_lr', 0.05), 1, "the job's first change is number 1");
    t.match(await store.getJob('job_lr'), { pendingLearningRate: 0.05, pendingRateChange: 1 });
    const attempt = await claim(t, store, 'job_lr');
    // A decay schedule makes an epoch's lr anything: only the change's number tells.
    await store.appendEpochs(epochRecord('job_lr', attempt, 1, { events: [epochEvent('job_lr', 1, 0.05)] }));
    t.equal((await store.getJob('job_lr'))?.pendingLearningRate, 0.05, 'an epoch that applied no change leaves it, even at its rate');
    t.equal(await store.setPendingLearningRate('job_lr', 0.02), 2, 'a second change is number 2, in place of the first');
    await store.appendEpochs(epochRecord('job_lr', attempt, 2, { appliedRateChange: 1 }));
    t.match(await store.getJob('job_lr'), { pendingLearningRate: 0.02, pendingRateChange: 2 }, 'an epoch that applied the older change leaves the newer');
    await store.appendEpochs(epochRecord('job_lr', attempt, 3, { events: [epochEvent('job_lr', 3, 0.013)], appliedRateChange: 2 }));
    const cleared = await store.getJob('job_lr');
    t.equal(cleared?.pendingLearningRate, undefined, 'the epoch that applied it clears it, at whatever lr');
    t.equal(cleared?.pendingRateChange, undefined);
    t.equal(await store.setPendingLearningRate('job_lr', 0.03), 3, 'a number is never given twice');
  });

  t.test('a stop asked for a running job is kept for its host: a cancel replaces a pause, and a status change clears it', async (t) => {
    const { store, another } = await open(t);
    await store.createJobs([job('job_stop')]);
    t.equal(await store.requestStop('job_stop', 'cancel'), false, 'a queued job takes no stop request: it is stopped at once instead');
    const attempt = await claim(t, store, 'job_stop');
    t.equal(await store.requestStop('job_stop', 'pause'), true);
    t.equal((await store.getJob('job_stop'))?.stopRequested, 'pause');
    t.equal(await store.requestStop('job_stop', 'cancel'), true);
    t.equal(await store.requestStop('job_stop', 'pause'), true, 'a pause after a cancel is taken, and changes nothing');
    const other = await another();
    t.equal((await other.getJob('job_stop'))?.stopRequested, 'cancel', 'another host reads it');
    t.match(await store.appendEpochs(epochRecord('job_stop', attempt, 1)), { stopRequested: 'cancel' }, "the epoch's commit tells the host");
    const takenOver = await store.claim('job_stop');
    t.equal(takenOver?.job.stopRequested, 'cancel', 'a host that takes the job over gets it with the claim');
    await move(store, 'job_stop', 'cancelled', takenOver?.job.attempt);
    t.equal((await store.getJob('job_stop'))?.stopRequested, undefined, 'the change it asked for clears it');
    t.equal(await store.requestStop('job_stop', 'cancel'), false, 'a finished job takes none');
  });

  t.test("an epoch's commit tells the host of a rate set from outside that the epoch did not apply", async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_rate')]);
    const attempt = await claim(t, store, 'job_rate');
    const plain = await store.appendEpochs(epochRecord('job_rate', attempt, 1));
    t.equal(plain?.pendingRate, undefined, 'nothing pending, nothing told');
    t.equal(plain?.stopRequested, undefined);
    const change = await store.setPendingLearningRate('job_rate', 0.04);
    t.same((await store.appendEpochs(epochRecord('job_rate', attempt, 2)))?.pendingRate, { learningRate: 0.04, change });
    t.equal((await store.appendEpochs(epochRecord('job_rate', attempt, 3, { appliedRateChange: change })))?.pendingRate, undefined, 'applied: no longer pending');
  });

  t.test('listJobs pages newest first with a cursor, and refuses one it did not make', async (t) => {
    const { store } = await open(t);
    for (let index = 1; index <= 5; index += 1) await store.createJobs([job(`job_${index}`)]);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listJobs({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
      pages.push(page.jobs.map((listed) => listed.id));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    t.same(pages, [['job_5', 'job_4'], ['job_3', 'job_2'], ['job_1']]);
    t.notOk((await store.listJobs({ limit: 5 })).nextCursor, 'a page that holds the rest has no cursor');
    const page = await store.listJobs({ limit: 2 });
    await store.createJobs([job('job_6')]);
    t.same(
      (await store.listJobs({ limit: 2, cursor: page.nextCursor as string })).jobs.map((listed) => listed.id),
      ['job_3', 'job_2'],
      'a job submitted meanwhile does not shift the pages after',
    );
    await t.rejects(store.listJobs({ limit: 2, cursor: 'not-a-cursor' }), RangeError);
    await t.rejects(store.listJobs({ limit: 2, cursor: Buffer.from('x12').toString('base64url') }), RangeError);
  });

  t.test('listJobs filters by status, by sweep, by no sweep and by a part of the name in any case', async (t) => {
    const { store } = await open(t);
    await store.createSweep(sweepRecord('sweep_f'));
    await store.createJobs([job('job_alpha', 'Alpha Run'), job('job_beta', 'beta'), trialJob('sweep_f', 0), trialJob('sweep_f', 1)]);
    await move(store, 'job_beta', 'paused');
    const ids = async (query: Parameters<JobStore['listJobs']>[0]) => (await store.listJobs(query)).jobs.map((listed) => listed.id);
    t.same(await ids({ limit: 10, status: 'paused' }), ['job_beta']);
    t.same(await ids({ limit: 10, sweep: 'sweep_f' }), ['sweep_f_t1', 'sweep_f_t0']);
    t.same(await ids({ limit: 10, sweep: 'none' }), ['job_beta', 'job_alpha']);
    t.same(await ids({ limit: 10, name: 'ALPHA r' }), ['job_alpha']);
    t.same(await ids({ limit: 10, name: 'TRIAL' }), ['sweep_f_t1', 'sweep_f_t0']);
    t.same(await ids({ limit: 10, name: '%' }), [], 'a name is matched as text, not as a pattern');
    t.same(await ids({ limit: 10, status: 'queued', sweep: 'none' }), ['job_alpha'], 'filters combine');
    const first = await store.listJobs({ limit: 1, sweep: 'sweep_f' });
    t.same(
      (await store.listJobs({ limit: 1, sweep: 'sweep_f', cursor: first.nextCursor as string })).jobs.map((listed) => listed.id),
      ['sweep_f_t0'],
      'a filtered list pages too',
    );
  });

  t.test('jobIds gives the ids of the jobs in the statuses named, oldest first, and no others', async (t) => {
    const { store } = await open(t);
    await store.createJobs([job('job_a'), job('job_b'), job('job_c'), job('job_d')]);
    await claim(t, store, 'job_a');
    await move(store, 'job_c', 'paused');
    t.same(await store.jobIds(['queued', 'running']), ['job_a', 'job_b', 'job_d']);
    t.same(await store.jobIds(['paused']), ['job_c']);
    t.same(await store.jobIds(['succeeded']), []);
  });

  t.test('countByStatus counts every status, those with no job as 0', async (t) => {
    const { store } = await open(t);
    const empty = await store.countByStatus();
    t.same(empty, Object.fromEntries(JOB_STATUSES.map((status) => [status, 0])));
    await store.createJobs(['job_ok', 'job_bad', 'job_run', 'job_wait', 'job_pause', 'job_cancel', 'job_stop'].map((id) => job(id)));
    for (const id of ['job_ok', 'job_bad', 'job_run']) await claim(t, store, id);
    await move(store, 'job_ok', 'succeeded');
    await move(store, 'job_bad', 'failed');
    await move(store, 'job_pause', 'paused');
    await move(store, 'job_cancel', 'cancelled');
    await move(store, 'job_stop', 'stopped');
    t.same(await store.countByStatus(), { queued: 1, running: 1, paused: 1, succeeded: 1, failed: 1, cancelled: 1, stopped: 1 });
  });

  t.test('sweeps read back with their last seq and trial count, listed newest first or by status oldest first', async (t) => {
    const { store } = await open(t);
    const a = sweepRecord('sweep_a');
    await store.createSweep(a);
    await store.createSweep(sweepRecord('sweep_b', 'succeeded'));
    await store.createSweep(sweepRecord('sweep_c'));
    await store.createJobs([trialJob('sweep_a', 0), trialJob('sweep_a', 1)]);
    t.same(await store.getSweep('sweep_a'), { ...a, lastSeq: 0, trialCount: 2 });
    t.equal(await store.getSweep('sweep_missing'), undefined);
    t.same(
      (await store.listSweeps()).map((sweep) => sweep.id),
      ['sweep_c', 'sweep_b', 'sweep_a'],
    );
    t.same(
      (await store.listSweeps('running')).map((sweep) => sweep.id),
      ['sweep_a', 'sweep_c'],
    );
  });

  t.test("a sweep's trials are kept with their jobs, and one can be marked stopped", async (t) => {
    const { store } = await open(t);
    await store.createSweep(sweepRecord('sweep_t'));
    await store.createJobs([trialJob('sweep_t', 1), trialJob('sweep_t', 0)]);
    await store.markTrialStopped('sweep_t_t1');
    t.same(await store.trials('sweep_t'), [
      { sweepId: 'sweep_t', index: 0, jobId: 'sweep_t_t0', round: 0, values: { '/training/optimizer/learningRate': 0.01 }, stopped: false },
      { sweepId: 'sweep_t', index: 1, jobId: 'sweep_t_t1', round: 0, values: { '/training/optimizer/learningRate': 0.02 }, stopped: true },
    ]);
    t.equal((await store.getJob('sweep_t_t0'))?.sweepId, 'sweep_t');
    t.same(await store.trials('sweep_missing'), []);
  });

  t.test("a sweep's events are numbered from 1 in its own seqs and replayed after a seq", async (t) => {
    const { store } = await open(t);
    await store.createSweep(sweepRecord('sweep_1'));
    await store.createSweep(sweepRecord('sweep_2'));
    const trial = (sweepId: string, index: number) =>
      store.appendSweepEvent(sweepId, { type: 'trial', sweepId, trial: index, jobId: `${sweepId}_t${index}`, status: 'queued', values: {} });
    const one = [await trial('sweep_1', 0), await trial('sweep_1', 1)];
    const two = await trial('sweep_2', 0);
    t.same(
      one.map((event) => event.seq),
      [1, 2],
    );
    t.equal(two.seq, 1, "another sweep's seqs are its own");
    t.same(await store.sweepEventsAfter('sweep_1', 0, 10), one);
    t.same(await store.sweepEventsAfter('sweep_1', 1, 10), [one[1]]);
    t.same(await store.sweepEventsAfter('sweep_1', 0, 1), [one[0]], 'at most limit');
    await t.rejects(trial('sweep_missing', 0), 'an event of an unknown sweep is refused');
  });

  t.test('finishSweep ends a running sweep with its done event, together', async (t) => {
    const { store } = await open(t);
    await store.createSweep(sweepRecord('sweep_end'));
    const done = await store.finishSweep('sweep_end', 'succeeded', { type: 'done', sweepId: 'sweep_end', status: 'succeeded' });
    t.same(done, { seq: 1, type: 'done', sweepId: 'sweep_end', status: 'succeeded' });
    const ended = await store.getSweep('sweep_end');
    t.match(ended, { status: 'succeeded', lastSeq: 1 });
    t.ok(ended?.finishedAt, 'it has a finish time');
    t.same(await store.sweepEventsAfter('sweep_end', 0, 10), [done]);
    const again = await store.finishSweep('sweep_end', 'cancelled', { type: 'done', sweepId: 'sweep_end', status: 'cancelled' });
    t.equal(again, undefined, 'ending it again makes no event');
    t.equal((await store.getSweep('sweep_end'))?.status, 'succeeded', 'an ended sweep keeps the status it ended with');
    t.equal((await store.getSweep('sweep_end'))?.lastSeq, 1);
  });

  t.test('deleteJob removes a finished job with all it keeps, and nothing else', async (t) => {
    const { store } = await open(t);
    await store.createSweep(sweepRecord('sweep_d'));
    await store.createJobs([job('job_done'), job('job_active'), trialJob('sweep_d', 0)]);
    const attempt = await claim(t, store, 'job_done');
    await store.appendEpochs(epochRecord('job_done', attempt, 1));
    await store.transition('job_done', {
      from: ['running'],
      to: 'succeeded',
      attempt,
      event: { type: 'done', jobId: 'job_done', status: 'succeeded' },
      model: '{}',
    });
    await move(store, 'sweep_d_t0', 'cancelled');
    t.equal(await store.deleteJob('job_active'), false, 'a queued job is not deleted');
    t.equal(await store.deleteJob('sweep_d_t0'), false, "a trial goes only with its sweep, even when it has ended");
    t.equal(await store.deleteJob('job_missing'), false);
    t.equal(await store.deleteJob('job_done'), true);
    t.equal(await store.getJob('job_done'), undefined);
    t.same(await store.eventsAfter('job_done', 0, 10), [], 'its events are gone');
    t.same(await store.epochs('job_done'), []);
    t.equal(await store.model('job_done'), undefined, 'its model is gone');
    t.equal(await store.deleteJob('job_done'), false, 'a second delete finds nothing');
    t.ok(await store.getJob('job_active'), 'the others stay');
    t.ok(await store.getJob('sweep_d_t0'));
  });

  t.test('deleteSweep removes an ended sweep with its trials, their jobs and its events; not before', async (t) => {
    const { store } = await open(t);
    await store.createSweep(sweepRecord('sweep_x'));
    await store.createSweep(sweepRecord('sweep_keep'));
    await store.createJobs([trialJob('sweep_x', 0), trialJob('sweep_x', 1), trialJob('sweep_keep', 0), job('job_alone')]);
    await store.appendSweepEvent('sweep_x', { type: 'trial', sweepId: 'sweep_x', trial: 0, jobId: 'sweep_x_t0', status: 'queued', values: {} });
    t.equal(await store.deleteSweep('sweep_x'), false, 'a running sweep is not deleted');
    await move(store, 'sweep_x_t0', 'cancelled');
    await store.finishSweep('sweep_x', 'cancelled', { type: 'done', sweepId: 'sweep_x', status: 'cancelled' });
    t.equal(await store.deleteSweep('sweep_x'), false, 'nor one with a trial that has not ended');
    await move(store, 'sweep_x_t1', 'stopped');
    t.equal(await store.deleteSweep('sweep_x'), true);
    t.equal(await store.getSweep('sweep_x'), undefined);
    t.same(await store.trials('sweep_x'), []);
    t.same(await store.sweepEventsAfter('sweep_x', 0, 10), []);
    t.equal(await store.getJob('sweep_x_t0'), undefined, 'its trial jobs are gone');
    t.same(await store.eventsAfter('sweep_x_t1', 0, 10), [], 'with their events');
    t.equal(await store.deleteSweep('sweep_x'), false, 'a second delete finds nothing');
    t.ok(await store.getSweep('sweep_keep'), 'other sweeps stay');
    t.ok(await store.getJob('sweep_keep_t0'));
    t.ok(await store.getJob('job_alone'));
  });

  t.test('datasets are created, read, listed newest first and deleted', async (t) => {
    const { store } = await open(t);
    const record = (id: string, createdAt: string) => ({
      id,
      name: `data ${id}`,
      createdAt,
      rows: 10,
      features: 2,
      testRows: 3,
      labels: { kind: 'classes' as const, count: 2, names: ['no', 'yes'] },
      featureNames: ['x', 'y'],
    });
    for (const [id, createdAt] of [
      ['ds_old', '2026-01-01T00:00:00.000Z'],
      ['ds_new', '2026-02-01T00:00:00.000Z'],
    ] as const) {
      mkdirSync(store.datasetDirectory(id), { recursive: true });
      writeFileSync(join(store.datasetDirectory(id), 'train-x.f32'), Buffer.alloc(80));
      await store.createDataset(record(id, createdAt));
    }
    t.same(await store.getDataset('ds_old'), record('ds_old', '2026-01-01T00:00:00.000Z'));
    t.equal(await store.getDataset('ds_missing'), undefined);
    t.same(
      (await store.listDatasets()).map((dataset) => dataset.id),
      ['ds_new', 'ds_old'],
    );
    t.equal(await store.deleteDataset('ds_old'), true);
    t.equal(await store.getDataset('ds_old'), undefined);
    await t.rejects(store.datasetFiles('ds_old'), /ds_old/, 'its files are gone');
    t.equal(await store.deleteDataset('ds_old'), false, 'a second delete finds nothing');
    t.same(
      (await store.listDatasets()).map((dataset) => dataset.id),
      ['ds_new'],
    );
  });

  t.test("a dataset's files come back byte for byte, also to another store over the same data", async (t) => {
    const { store, another } = await open(t);
    const files = {
      // Over two megabytes: more than one piece where a store cuts files in pieces.
      'train-x.f32': Buffer.from(new Float32Array(640_000).map((_, index) => Math.sin(index)).buffer),
      'train-y.f32': Buffer.from(new Float32Array([0, 1, 1, 0]).buffer),
      'test-x.f32': Buffer.alloc(0),
    };
    const written = store.datasetDirectory('ds_files');
    mkdirSync(written, { recursive: true });
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(written, name), bytes);
    await store.createDataset({
      id: 'ds_files',
      name: 'files',
      createdAt: new Date().toISOString(),
      rows: 4,
      features: 1,
      testRows: 0,
      labels: { kind: 'classes', count: 2 },
      featureNames: ['x'],
    });
    const read = (directory: string) => Object.fromEntries(readdirSync(directory).sort().map((name) => [name, readFileSync(join(directory, name))]));
    const expected = Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)));
    t.same(read(await store.datasetFiles('ds_files')), expected, 'on the store that created it');
    const other = await another();
    const [once, twice] = await Promise.all([other.datasetFiles('ds_files'), other.datasetFiles('ds_files')]);
    t.equal(once, twice, 'one folder for both readers');
    t.same(read(once), expected, 'on another store');
    await t.rejects(other.datasetFiles('ds_missing'), /ds_missing/, 'an unknown dataset has no files');
  });

  t.test('close commits the submissions still waiting for their commit', async (t) => {
    const { store, another } = await open(t);
    const submitted = store.createJobs([job('job_last')]);
    await store.close();
    t.same(await submitted, [{ seq: 1, type: 'status', jobId: 'job_last', status: 'queued' }]);
    t.equal((await (await another()).getJob('job_last'))?.status, 'queued');
  });
}
