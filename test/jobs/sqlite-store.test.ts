import t from 'tap';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/jobs/index.js';
import { moonsJob } from '../fixtures/service.js';
import { storeContract } from './store-contract.js';

const directory = () => mkdtempSync(join(tmpdir(), 'caviar-store-'));

/**
 * Turns a store written by this version back into what version 1 wrote: no name or
 * rate_changes or stop_requested column, stopped trials cancelled, no sweep events for trial epochs.
 */
function downgradeToVersion1(file: string, stoppedJob: string): void {
  const db = new Database(file);
  db.exec(`DELETE FROM sweep_events WHERE json_extract(body, '$.type') = 'epoch';
           UPDATE sweeps SET last_seq = coalesce((SELECT max(seq) FROM sweep_events WHERE sweep_id = sweeps.id), 0);`);
  db.exec(`DROP INDEX jobs_by_sweep; ALTER TABLE jobs DROP COLUMN name; ALTER TABLE jobs DROP COLUMN rate_changes;
           ALTER TABLE jobs DROP COLUMN stop_requested;`);
  db.prepare(`UPDATE jobs SET status = 'cancelled' WHERE id = ?`).run(stoppedJob);
  db.prepare(`UPDATE events SET body = json_set(body, '$.status', 'cancelled') WHERE job_id = ? AND json_extract(body, '$.type') = 'done'`).run(
    stoppedJob,
  );
  db.pragma('user_version = 1');
  db.close();
}

t.test('a store of schema 1 is migrated: names are searchable and stopped trials say stopped', async (t) => {
  const folder = directory();
  const store = new SqliteStore(folder);
  await store.createSweep({ id: 'sweep_a', spec: {} as never, status: 'running', createdAt: new Date().toISOString() });
  await store.createJobs([
    { id: 'job_named', spec: moonsJob(2, { name: 'Findable' }) },
    { id: 'sweep_a_t0', spec: moonsJob(2, { name: 'trial' }), trial: { sweepId: 'sweep_a', index: 0, round: 0, values: {} } },
  ]);
  await store.appendSweepEvent('sweep_a', { type: 'trial', sweepId: 'sweep_a', trial: 0, jobId: 'sweep_a_t0', status: 'running', values: {} });
  const claimed = await store.claimNext();
  const claimedTrial = claimed?.job.id === 'sweep_a_t0' ? claimed : await store.claimNext();
  const attempt = claimedTrial?.job.attempt as number;
  for (const epoch of [1, 2])
    await store.appendEpochs({
      jobId: 'sweep_a_t0',
      attempt,
      checkpoint: new Uint8Array(4),
      events: [{ type: 'epoch', jobId: 'sweep_a_t0', epoch, lr: 0.1, seconds: 0.01, train: { loss: 1 / epoch }, layers: [] }],
    });
  const live = await store.sweepEventsAfter('sweep_a', 0, 100);
  await store.markTrialStopped('sweep_a_t0');
  await store.transition('sweep_a_t0', { from: ['running'], to: 'stopped', event: { type: 'done', jobId: 'sweep_a_t0', status: 'stopped' } });
  store.close();
  downgradeToVersion1(join(folder, 'caviar.db'), 'sweep_a_t0');

  const migrated = new SqliteStore(folder);
  t.teardown(() => migrated.close());
  t.same((await migrated.listJobs({ name: 'findABLE', limit: 10 })).jobs.map((job) => job.id), ['job_named']);
  t.equal((await migrated.getJob('sweep_a_t0'))?.status, 'stopped');
  const events = await migrated.eventsAfter('sweep_a_t0', 0, 10);
  t.match(events.at(-1), { type: 'done', status: 'stopped' }, 'its done event too');
  t.equal((await migrated.getSweep('sweep_a'))?.trialCount, 1);
  const backfilled = await migrated.sweepEventsAfter('sweep_a', 0, 100);
  t.same(backfilled, live, "the trial's epochs are sweep events again, after the sweep's own, numbered on");
  t.equal((await migrated.getSweep('sweep_a'))?.lastSeq, 3);
});

t.test('a store of schema 3 is migrated: a rate pending there is change 1, cleared by the epoch that applies it', async (t) => {
  const folder = directory();
  const store = new SqliteStore(folder);
  await store.createJobs([{ id: 'job_lr', spec: moonsJob(2) }]);
  await store.setPendingLearningRate('job_lr', 0.05);
  await store.close();
  const db = new Database(join(folder, 'caviar.db'));
  db.exec('ALTER TABLE jobs DROP COLUMN rate_changes; ALTER TABLE jobs DROP COLUMN stop_requested');
  db.pragma('user_version = 3');
  db.close();

  const migrated = new SqliteStore(folder);
  t.teardown(() => migrated.close());
  t.match(await migrated.getJob('job_lr'), { pendingLearningRate: 0.05, pendingRateChange: 1 });
  const attempt = (await migrated.claimNext())?.job.attempt as number;
  const event = { type: 'epoch' as const, jobId: 'job_lr', epoch: 1, lr: 0.025, seconds: 0.01, train: { loss: 1 }, layers: [] };
  await migrated.appendEpochs({ jobId: 'job_lr', attempt, checkpoint: new Uint8Array(4), events: [event], appliedRateChange: 1 });
  t.equal((await migrated.getJob('job_lr'))?.pendingLearningRate, undefined);
  t.equal(await migrated.setPendingLearningRate('job_lr', 0.01), 2, 'the next change is number 2');
});

t.test('a store written by a newer version is refused with the versions named', async (t) => {
  const folder = directory();
  new SqliteStore(folder).close();
  const db = new Database(join(folder, 'caviar.db'));
  db.pragma('user_version = 99');
  db.close();
  t.throws(() => new SqliteStore(folder), /schema 99.*reads up to schema \d+/);
});

t.test('the store contract', async (t) => {
  storeContract(t, async (t) => {
    const folder = directory();
    const opened: SqliteStore[] = [];
    const open = () => {
      const store = new SqliteStore(folder);
      opened.push(store);
      return store;
    };
    t.teardown(async () => {
      for (const store of opened) await store.close();
    });
    return { store: open(), another: async () => open() };
  });
});
