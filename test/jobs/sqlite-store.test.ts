import t from 'tap';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/jobs/index.js';
import { moonsJob } from '../fixtures/service.js';

const directory = () => mkdtempSync(join(tmpdir(), 'caviar-store-'));

/** Turns a store written by this version back into what version 1 wrote: no name column, stopped trials cancelled. */
function downgradeToVersion1(file: string, stoppedJob: string): void {
  const db = new Database(file);
  db.exec(`DROP INDEX jobs_by_sweep; ALTER TABLE jobs DROP COLUMN name;`);
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
  await store.markTrialStopped('sweep_a_t0');
  await store.transition('sweep_a_t0', { from: ['queued'], to: 'stopped', event: { type: 'done', jobId: 'sweep_a_t0', status: 'stopped' } });
  store.close();
  downgradeToVersion1(join(folder, 'caviar.db'), 'sweep_a_t0');

  const migrated = new SqliteStore(folder);
  t.teardown(() => migrated.close());
  t.same((await migrated.listJobs({ name: 'findABLE', limit: 10 })).jobs.map((job) => job.id), ['job_named']);
  t.equal((await migrated.getJob('sweep_a_t0'))?.status, 'stopped');
  const events = await migrated.eventsAfter('sweep_a_t0', 0, 10);
  t.match(events.at(-1), { type: 'done', status: 'stopped' }, 'its done event too');
  t.equal((await migrated.getSweep('sweep_a'))?.trialCount, 1);
});

t.test('a store written by a newer version is refused with the versions named', async (t) => {
  const folder = directory();
  new SqliteStore(folder).close();
  const db = new Database(join(folder, 'caviar.db'));
  db.pragma('user_version = 99');
  db.close();
  t.throws(() => new SqliteStore(folder), /schema 99.*up to schema 2/);
});
