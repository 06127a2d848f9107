import t, { type Test } from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresStore } from '../../src/jobs/postgres-store.js';
import { StoreUnavailableError } from '../../src/jobs/store.js';
import { freshDatabase, noPostgres, onDatabase } from '../fixtures/postgres.js';
import { moonsJob, waitFor } from '../fixtures/service.js';
import { storeContract } from './store-contract.js';

/** Each store is a host of its own: its own folder of cached datasets. */
const hostFolder = () => mkdtempSync(join(tmpdir(), 'caviar-pg-host-'));

/** Opens stores on `url` as separate hosts would, closed when `t` ends. */
function hosts(t: Test, url: string): () => Promise<PostgresStore> {
  const opened: PostgresStore[] = [];
  t.teardown(async () => {
    for (const store of opened) await store.close();
  });
  return async () => {
    const store = await PostgresStore.open({ url, datasetCache: hostFolder() });
    opened.push(store);
    return store;
  };
}

t.test('the store contract', { skip: noPostgres }, async (t) => {
  // Each test gets a copy of one database migrated here, instead of migrating its own.
  const migrated = await freshDatabase(t);
  await (await PostgresStore.open({ url: migrated, datasetCache: hostFolder() })).close();
  storeContract(t, async (t) => {
    const open = hosts(t, await freshDatabase(t, migrated));
    return { store: await open(), another: open };
  });
});

t.test('servers that start at once on an empty database migrate it once', { skip: noPostgres }, async (t) => {
  const url = await freshDatabase(t);
  const open = hosts(t, url);
  const stores = await Promise.all([open(), open(), open(), open()]);
  t.equal(stores.length, 4, 'every one starts');
  const versions = await onDatabase(url, async (client) => (await client.query('SELECT version FROM schema_version')).rows);
  t.equal(versions.length, 1, 'one version row');
  t.ok(Number.isInteger(versions[0]?.version) && versions[0].version >= 1, `the current one (${versions[0]?.version})`);
  await (stores[0] as PostgresStore).createJobs([{ id: 'job_after', spec: moonsJob(1) }]);
  t.equal((await (stores[3] as PostgresStore).getJob('job_after'))?.status, 'queued', 'all of them on the same tables');
});

t.test('a database of a newer schema is refused, with the versions named', { skip: noPostgres }, async (t) => {
  const url = await freshDatabase(t);
  await (await PostgresStore.open({ url, datasetCache: hostFolder() })).close();
  await onDatabase(url, (client) => client.query('UPDATE schema_version SET version = 99'));
  await t.rejects(PostgresStore.open({ url, datasetCache: hostFolder() }), /schema 99; this version of Caviar reads up to schema \d+/);
});

t.test('hosts that claim at once each take a different job', { skip: noPostgres }, async (t) => {
  const open = hosts(t, await freshDatabase(t));
  const [one, two] = await Promise.all([open(), open()]);
  if (one === undefined || two === undefined) throw new Error('two stores');
  const ids = Array.from({ length: 12 }, (_, index) => `job_${index}`);
  await one.createJobs(ids.map((id) => ({ id, spec: moonsJob(1) })));
  const claims = await Promise.all(ids.map((_, index) => (index % 2 === 0 ? one : two).claimNext()));
  t.same(claims.map((claimed) => claimed?.job.id).sort(), [...ids].sort(), 'every job once');
  t.ok(
    claims.every((claimed) => claimed?.job.attempt === 1),
    'each started once',
  );
  t.equal(await two.claimNext(), undefined, 'none left');
});

t.test('a store whose database cannot be reached fails fast, naming why', async (t) => {
  // Nothing listens on port 1.
  await t.rejects(PostgresStore.open({ url: 'postgres://caviar@127.0.0.1:1/caviar', datasetCache: hostFolder(), connectTimeoutMs: 2000 }), /ECONNREFUSED/);
});

t.test('a call the database does not answer in time fails, and the store goes on', { skip: noPostgres }, async (t) => {
  const url = await freshDatabase(t);
  const store = await PostgresStore.open({ url, datasetCache: hostFolder(), queryTimeoutMs: 500 });
  t.teardown(() => store.close());
  await store.createJobs([{ id: 'job_held', spec: moonsJob(1) }]);
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  t.teardown(() => holder.end());
  // Another session holds the job's row, as a host frozen inside a transaction would.
  await holder.query('BEGIN');
  await holder.query(`SELECT * FROM jobs WHERE id = 'job_held' FOR UPDATE`);
  const started = Date.now();
  await t.rejects(store.transition('job_held', { from: ['queued'], to: 'paused', event: { type: 'status', jobId: 'job_held', status: 'paused' } }), /timeout/i);
  t.ok(Date.now() - started < 5000, 'within the query timeout, not a hang');
  await holder.query('ROLLBACK');
  t.equal((await store.getJob('job_held'))?.status, 'queued', 'the failed call changed nothing');
  t.ok(await store.transition('job_held', { from: ['queued'], to: 'paused', event: { type: 'status', jobId: 'job_held', status: 'paused' } }), 'the next call works');
});

t.test("a connection that breaks inside a transaction fails that call as unreachable, and the store goes on", { skip: noPostgres }, async (t) => {
  const url = await freshDatabase(t);
  const store = await PostgresStore.open({ url, datasetCache: hostFolder() });
  t.teardown(() => store.close());
  await store.createJobs([{ id: 'job_held', spec: moonsJob(1) }]);
  await onDatabase(url, async (holder) => {
    await holder.query('BEGIN');
    await holder.query(`SELECT * FROM jobs WHERE id = 'job_held' FOR UPDATE`);
    const pausing = store.transition('job_held', { from: ['queued'], to: 'paused', event: { type: 'status', jobId: 'job_held', status: 'paused' } });
    // The store's connection waits for the row inside its transaction; the server ends it
    // there, as a restart or an operator would.
    const waiting = await waitFor(async () => {
      const { rows } = await holder.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      return rows[0]?.pid;
    }, 10_000);
    await holder.query('SELECT pg_terminate_backend($1)', [waiting]);
    const failure = await pausing.then(() => undefined, (error: unknown) => error);
    t.ok(failure instanceof StoreUnavailableError, `the call fails as the database being unreachable (${String(failure)})`);
    await holder.query('ROLLBACK');
  });
  t.equal((await store.getJob('job_held'))?.status, 'queued', 'the broken call changed nothing');
  t.ok(await store.transition('job_held', { from: ['queued'], to: 'paused', event: { type: 'status', jobId: 'job_held', status: 'paused' } }), 'the next call works');
});
