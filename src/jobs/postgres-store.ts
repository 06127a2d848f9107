// The distributed store: one PostgreSQL database shared by every API server and worker
// host, holding jobs, events, checkpoints, models and the datasets' arrays (in chunks,
// cached by id in a folder on each host). Writes that must not race (a status change, an
// epoch) lock the job's row first, so two hosts that both believe they run a job cannot
// both write. Submissions are committed in groups: those that arrive while a commit is in
// flight share the next one.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { eventText, type EpochEvent, type JobEvent, type UnsequencedEvent } from './events.js';
import { FinalStatusSchema, JOB_STATUSES, isFinal, type JobStatus } from './status.js';
import { StoreUnavailableError } from './store.js';
import type {
  DatasetRecord,
  EpochsRecord,
  JobPage,
  JobQuery,
  JobRecord,
  JobStore,
  NewJob,
  RecordedEpochs,
  StopRequest,
  SweepRecord,
  TrialRecord,
  Transition,
} from './store.js';
import type { SweepEvent, SweepStatus, UnsequencedSweepEvent } from './sweep-spec.js';
import {
  askedOfEpochs,
  followsLastKept,
  sweepEpochEvent,
  decodeCursor,
  encodeCursor,
  keepStop,
  toDataset,
  toJob,
  toSweep,
  toTrial,
  type DatasetRow,
  type JobRow,
  type PendingSubmission,
  type SweepRow,
  type TrialRow,
} from './store-rows.js';

/**
 * Each entry moves a database from schema version i to i + 1, in the one transaction of a
 * start; a database newer than the last is refused. Appended to, never edited.
 */
const MIGRATIONS = [
  // 1: the tables of the embedded store's schema 2, with the datasets' arrays in chunks.
  `CREATE TABLE jobs (
     position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     id text NOT NULL UNIQUE,
     name text,
     spec text NOT NULL,
     status text NOT NULL,
     created_at timestamptz NOT NULL,
     started_at timestamptz,
     finished_at timestamptz,
     attempt integer NOT NULL DEFAULT 0,
     epochs_done integer NOT NULL DEFAULT 0,
     pending_learning_rate double precision,
     last_seq integer NOT NULL DEFAULT 0,
     result text,
     error text,
     sweep_id text
   );
   CREATE INDEX jobs_by_status ON jobs (status, position);
   CREATE INDEX jobs_by_sweep ON jobs (sweep_id, position);
   CREATE TABLE events (
     job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
     seq integer NOT NULL,
     epoch integer,
     body text NOT NULL,
     PRIMARY KEY (job_id, seq),
     UNIQUE (job_id, epoch)
   );
   CREATE TABLE checkpoints (
     job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
     which text NOT NULL,
     epoch integer NOT NULL,
     bytes bytea NOT NULL,
     PRIMARY KEY (job_id, which)
   );
   CREATE TABLE models (
     job_id text PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
     model text NOT NULL
   );
   CREATE TABLE sweeps (
     position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     id text NOT NULL UNIQUE,
     spec text NOT NULL,
     status text NOT NULL,
     created_at timestamptz NOT NULL,
     finished_at timestamptz,
     last_seq integer NOT NULL DEFAULT 0
   );
   CREATE TABLE trials (
     sweep_id text NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
     trial integer NOT NULL,
     job_id text NOT NULL UNIQUE,
     round integer NOT NULL,
     sample text NOT NULL,
     stopped boolean NOT NULL DEFAULT false,
     PRIMARY KEY (sweep_id, trial)
   );
   CREATE TABLE sweep_events (
     sweep_id text NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
     seq integer NOT NULL,
     body text NOT NULL,
     PRIMARY KEY (sweep_id, seq)
   );
   CREATE TABLE datasets (
     id text PRIMARY KEY,
     name text NOT NULL,
     created_at timestamptz NOT NULL,
     rows integer NOT NULL,
     features integer NOT NULL,
     test_rows integer NOT NULL,
     labels text NOT NULL,
     feature_names text NOT NULL
   );
   CREATE TABLE dataset_chunks (
     dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
     file text NOT NULL,
     chunk integer NOT NULL,
     bytes bytea NOT NULL,
     PRIMARY KEY (dataset_id, file, chunk)
   );`,
  // 2: rates set from outside are numbered per job, and cleared by the number the epoch
  // that applied one reports (the embedded store's schema 4).
  `ALTER TABLE jobs ADD COLUMN rate_changes integer NOT NULL DEFAULT 0;
   UPDATE jobs SET rate_changes = 1 WHERE pending_learning_rate IS NOT NULL;`,
  // 3: a stop asked for a running job is kept with it (the embedded store's schema 5).
  `ALTER TABLE jobs ADD COLUMN stop_requested text;`,
];
const SCHEMA_VERSION = MIGRATIONS.length;

/** The key of the advisory lock that lets one starting server at a time migrate. */
const MIGRATION_LOCK = '7233010526315806001';

/** A dataset's arrays go into the database in pieces of this size. */
const CHUNK_BYTES = 1024 * 1024;

const FINAL: string[] = FinalStatusSchema.anyOf.map((literal) => literal.const);

/** The trials a sweep has created so far, beside each sweep row read. */
const TRIAL_COUNT = '(SELECT count(*)::integer FROM trials WHERE trials.sweep_id = sweeps.id) AS trial_count';

/**
 * Every commit that adds an event says so on this channel, in its own transaction:
 * PostgreSQL delivers the notice only once the commit is done, to every listening server.
 */
export const EVENTS_CHANNEL = 'caviar_events';

/** A notice: a job's or a sweep's event of this seq was committed (an earlier one may be missing: read from the last one seen). */
export interface StoreChange {
  kind: 'job' | 'sweep';
  id: string;
  seq: number;
}

/** Failures that say the database cannot be reached now, not that a statement is wrong. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const UNREACHABLE_MESSAGE = /connection terminated|timeout exceeded when trying to connect|query read timeout|connection error|not queryable/i;

/** An error of pg, as the store's callers should see it: StoreUnavailableError when the database cannot be reached. */
function storeError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof StoreUnavailableError) return error;
  const code = (error as { code?: unknown }).code;
  // SQLSTATE class 08: connection exceptions; 57P01-03: the server shuts down or starts.
  const unreachable =
    (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code))) ||
    UNREACHABLE_MESSAGE.test(error.message);
  return unreachable ? new StoreUnavailableError(`the database cannot be reached: ${error.message}`, { cause: error }) : error;
}

/** A listening connection lost is opened again after this long. */
const RELISTEN_MS = 1000;

function parseChange(payload: string | undefined): StoreChange | undefined {
  try {
    const change = JSON.parse(payload ?? '') as StoreChange;
    return (change.kind === 'job' || change.kind === 'sweep') && typeof change.id === 'string' && Number.isInteger(change.seq) ? change : undefined;
  } catch {
    return undefined;
  }
}

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** This host's folder of dataset arrays: new datasets are written there, others fetched there. */
  datasetCache: string;
  /** Connections at most (default 10). */
  connections?: number;
  /** How long a query waits for a connection before it fails (default 10 s). */
  connectTimeoutMs?: number;
  /** How long a query may take before it fails, so that a server that stopped answering never hangs a caller (default 30 s). */
  queryTimeoutMs?: number;
}

export class PostgresStore implements JobStore {
  private pending: PendingSubmission[] = [];
  private committing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly fetching = new Map<string, Promise<string>>();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly datasetCache: string,
  ) {}

  /** Connects and brings the database to SCHEMA_VERSION; refuses one written by a newer Caviar. */
  static async open({
    url,
    datasetCache,
    connections = 10,
    connectTimeoutMs = 10_000,
    queryTimeoutMs = 30_000,
  }: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: connections,
      connectionTimeoutMillis: connectTimeoutMs,
      query_timeout: queryTimeoutMs,
      keepAlive: true,
    });
    // An idle connection that breaks (the server restarted) is dropped and replaced at the
    // next query; a query's own failure reaches its caller.
    pool.on('error', () => undefined);
    const store = new PostgresStore(pool, url, datasetCache);
    try {
      await mkdir(datasetCache, { recursive: true });
      await store.migrate();
      return store;
    } catch (error) {
      await pool.end();
      throw error;
    }
  }

  private async migrate(): Promise<void> {
    await this.transaction(async (client) => {
      // Servers that start at once take turns: the first migrates, the others find it done.
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)');
      const { rows } = await client.query<{ version: number; database: string }>(
        'SELECT version, current_database() AS database FROM schema_version',
      );
      const version = rows[0]?.version ?? 0;
      if (version > SCHEMA_VERSION)
        throw new Error(
          `the database ${rows[0]?.database} holds a store of schema ${version}; this version of Caviar reads up to schema ${SCHEMA_VERSION}`,
        );
      for (const migration of MIGRATIONS.slice(version)) await client.query(migration);
      if (rows.length === 0) await client.query('INSERT INTO schema_version (version) VALUES ($1)', [SCHEMA_VERSION]);
      else await client.query('UPDATE schema_version SET version = $1', [SCHEMA_VERSION]);
    });
  }

  /** A statement on any connection of the pool. */
  private query<Row extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>> {
    return this.pool.query<Row>(text, values).catch((error: unknown) => {
      throw storeError(error);
    });
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect().catch((error: unknown) => {
      throw storeError(error);
    });
    let broken: Error | undefined;
    // A checked-out connection that breaks emits 'error' besides failing its query; with no
    // listener that would end the process. The call fails through its query, and the
    // connection is dropped on release.
    const onBroken = (error: Error) => {
      broken = error;
    };
    client.on('error', onBroken);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollback: Error) => {
        broken = rollback;
      });
      throw storeError(error);
    } finally {
      client.removeListener('error', onBroken);
      client.release(broken);
    }
  }

  /** The job's row, locked until the transaction ends, with its trial's index when it is one. */
  private async lockJob(client: pg.PoolClient, id: string): Promise<(JobRow & { trial: number | null }) | undefined> {
    const { rows } = await client.query<JobRow & { trial: number | null }>(
      'SELECT jobs.*, trials.trial FROM jobs LEFT JOIN trials ON trials.job_id = jobs.id WHERE jobs.id = $1 FOR UPDATE OF jobs',
      [id],
    );
    return rows[0];
  }

  /** Keeps an event of a job whose row the transaction holds, numbered after `lastSeq`. */
  private async append(client: pg.PoolClient, lastSeq: number, event: UnsequencedEvent): Promise<JobEvent> {
    return (await this.appendAll(client, lastSeq, event.jobId, [event]))[0] as JobEvent;
  }

  /** Numbers and keeps a job's events in one statement, each with its notice. */
  private async appendAll(client: pg.PoolClient, lastSeq: number, jobId: string, events: UnsequencedEvent[]): Promise<JobEvent[]> {
    const sequenced = events.map((event, index) => ({ seq: lastSeq + 1 + index, ...event }) as JobEvent);
    await client.query(
      `WITH numbered AS (UPDATE jobs SET last_seq = $2 WHERE id = $1),
         kept AS (INSERT INTO events (job_id, seq, epoch, body) SELECT $1, * FROM unnest($3::integer[], $4::integer[], $5::text[]))
       SELECT pg_notify($6, notice) FROM unnest($7::text[]) AS notice`,
      [
        jobId,
        lastSeq + events.length,
        sequenced.map((event) => event.seq),
        sequenced.map((event) => (event.type === 'epoch' ? event.epoch : null)),
        sequenced.map(eventText),
        EVENTS_CHANNEL,
        sequenced.map((event) => JSON.stringify({ kind: 'job', id: jobId, seq: event.seq })),
      ],
    );
    return sequenced;
  }

  /** Numbers and keeps an event of a sweep; the sweep's row stays locked until the transaction ends. */
  private async appendSweep(client: pg.PoolClient, sweepId: string, event: UnsequencedSweepEvent): Promise<SweepEvent> {
    return (await this.appendSweepAll(client, sweepId, [event]))[0] as SweepEvent;
  }

  private async appendSweepAll(client: pg.PoolClient, sweepId: string, events: UnsequencedSweepEvent[]): Promise<SweepEvent[]> {
    const { rows } = await client.query<{ last_seq: number }>(
      'UPDATE sweeps SET last_seq = last_seq + $2 WHERE id = $1 RETURNING last_seq',
      [sweepId, events.length],
    );
    const next = rows[0];
    if (next === undefined) throw new Error(`no sweep ${sweepId}`);
    const first = next.last_seq - events.length + 1;
    const sequenced = events.map((event, index) => ({ seq: first + index, ...event }) as SweepEvent);
    await client.query(
      `WITH kept AS (INSERT INTO sweep_events (sweep_id, seq, body) SELECT $1, * FROM unnest($2::integer[], $3::text[]))
       SELECT pg_notify($4, notice) FROM unnest($5::text[]) AS notice`,
      [
        sweepId,
        sequenced.map((event) => event.seq),
        sequenced.map(eventText),
        EVENTS_CHANNEL,
        sequenced.map((event) => JSON.stringify({ kind: 'sweep', id: sweepId, seq: event.seq })),
      ],
    );
    return sequenced;
  }

  createJobs(jobs: NewJob[]): Promise<JobEvent[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ jobs, resolve, reject });
      // The first submission of a turn starts the commit loop after the turn, so that the
      // turn's other submissions join it; later ones wait for the commit in flight.
      this.committing ??= new Promise<void>((started) => setImmediate(started)).then(() => this.commitSubmissions());
    });
  }

  private async commitSubmissions(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        const events = await this.insertJobs(batch.flatMap((submission) => submission.jobs));
        let offset = 0;
        for (const submission of batch) {
          submission.resolve(events.slice(offset, offset + submission.jobs.length));
          offset += submission.jobs.length;
        }
      } catch (error) {
        for (const submission of batch) submission.reject(error);
      }
    }
    this.committing = undefined;
  }

  /** The jobs, their trials and their first events in one statement: one round trip, one commit. */
  private async insertJobs(jobs: NewJob[]): Promise<JobEvent[]> {
    const events = jobs.map((job): JobEvent => ({ seq: 1, type: 'status', jobId: job.id, status: 'queued' }));
    const trials = jobs.filter((job) => job.trial !== undefined);
    await this.query(
      `WITH new_jobs AS (
         INSERT INTO jobs (id, name, spec, status, created_at, sweep_id, last_seq)
         SELECT id, name, spec, 'queued', now(), sweep_id, 1
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS submitted (id, name, spec, sweep_id)
       ), new_trials AS (
         INSERT INTO trials (sweep_id, trial, job_id, round, sample)
         SELECT * FROM unnest($5::text[], $6::integer[], $7::text[], $8::integer[], $9::text[])
       ), first_events AS (
         INSERT INTO events (job_id, seq, body) SELECT id, 1, body FROM unnest($1::text[], $10::text[]) AS first (id, body)
       )
       SELECT count(pg_notify($11, json_build_object('kind', 'job', 'id', id, 'seq', 1)::text)) FROM unnest($1::text[]) AS noticed (id)`,
      [
        jobs.map((job) => job.id),
        jobs.map((job) => job.spec.name ?? null),
        jobs.map((job) => JSON.stringify(job.spec)),
        jobs.map((job) => job.trial?.sweepId ?? null),
        trials.map((job) => job.trial?.sweepId),
        trials.map((job) => job.trial?.index),
        trials.map((job) => job.id),
        trials.map((job) => job.trial?.round),
        trials.map((job) => JSON.stringify(job.trial?.values)),
        events.map(eventText),
        EVENTS_CHANNEL,
      ],
    );
    return events;
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const { rows } = await this.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : toJob(rows[0]);
  }

  async listJobs({ status, sweep, name, limit, cursor }: JobQuery): Promise<JobPage> {
    const before = cursor === undefined ? null : decodeCursor(cursor);
    if (before === undefined) throw new RangeError(`'${cursor}' is not a cursor this service gave`);
    // Each filter is on when its parameter is not null, so one statement serves them all.
    const { rows } = await this.query<JobRow>(
      `SELECT * FROM jobs
       WHERE ($1::bigint IS NULL OR position < $1)
         AND ($2::text IS NULL OR status = $2)
         AND ($3::text IS NULL OR sweep_id = $3)
         AND (NOT $4::boolean OR sweep_id IS NULL)
         AND ($5::text IS NULL OR strpos(lower(name), lower($5)) > 0)
       ORDER BY position DESC LIMIT $6`,
      [before, status ?? null, sweep === undefined || sweep === 'none' ? null : sweep, sweep === 'none', name ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { jobs: page.map(toJob), ...(rows.length > limit && last !== undefined ? { nextCursor: encodeCursor(last.position) } : {}) };
  }

  async countByStatus(): Promise<Record<JobStatus, number>> {
    const counts = Object.fromEntries(JOB_STATUSES.map((status) => [status, 0])) as Record<JobStatus, number>;
    const { rows } = await this.query<{ status: JobStatus; count: number }>(
      'SELECT status, count(*)::integer AS count FROM jobs GROUP BY status',
    );
    for (const { status, count } of rows) counts[status] = count;
    return counts;
  }

  async jobIds(statuses: readonly JobStatus[]): Promise<string[]> {
    const { rows } = await this.query<{ id: string }>('SELECT id FROM jobs WHERE status = ANY($1) ORDER BY position', [statuses]);
    return rows.map((row) => row.id);
  }

  async claimNext(): Promise<{ job: JobRecord; event: JobEvent } | undefined> {
    return this.transaction(async (client) => {
      // SKIP LOCKED: hosts claiming at once each take a different job instead of queueing
      // behind the same row.
      const { rows } = await client.query<JobRow>(
        `UPDATE jobs SET status = 'running', attempt = attempt + 1, started_at = coalesce(started_at, now())
         WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      const event = await this.append(client, row.last_seq, { type: 'status', jobId: row.id, status: 'running' });
      return { job: toJob({ ...row, last_seq: event.seq }), event };
    });
  }

  async claim(id: string): Promise<{ job: JobRecord; event: JobEvent } | undefined> {
    return this.transaction(async (client) => {
      const { rows } = await client.query<JobRow>(
        `UPDATE jobs SET status = 'running', attempt = attempt + 1, started_at = coalesce(started_at, now())
         WHERE id = $1 AND status IN ('queued', 'running')
         RETURNING *`,
        [id],
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      const event = await this.append(client, row.last_seq, { type: 'status', jobId: row.id, status: 'running' });
      return { job: toJob({ ...row, last_seq: event.seq }), event };
    });
  }

  async transition(id: string, change: Transition): Promise<JobEvent | undefined> {
    return this.transaction(async (client) => {
      const row = await this.lockJob(client, id);
      if (row === undefined || !change.from.includes(row.status)) return undefined;
      if (change.attempt !== undefined && change.attempt !== row.attempt) return undefined;
      await client.query(
        `UPDATE jobs SET status = $2, finished_at = CASE WHEN $3 THEN now() END,
           result = coalesce($4, result), error = coalesce($5, error), stop_requested = NULL
         WHERE id = $1`,
        [
          id,
          change.to,
          isFinal(change.to),
          change.result === undefined ? null : JSON.stringify(change.result),
          change.error === undefined ? null : JSON.stringify(change.error),
        ],
      );
      if (change.model !== undefined)
        await client.query(
          'INSERT INTO models (job_id, model) VALUES ($1, $2) ON CONFLICT (job_id) DO UPDATE SET model = excluded.model',
          [id, change.model],
        );
      // A finished job never resumes: its checkpoint is only weight to carry.
      if (isFinal(change.to)) await client.query('DELETE FROM checkpoints WHERE job_id = $1', [id]);
      return this.append(client, row.last_seq, change.event);
    });
  }

  async appendEpochs({ jobId, attempt, events, checkpoint, best, appliedRateChange }: EpochsRecord): Promise<RecordedEpochs | undefined> {
    return this.transaction(async (client): Promise<RecordedEpochs | undefined> => {
      const row = await this.lockJob(client, jobId);
      if (row === undefined || row.status !== 'running' || row.attempt !== attempt) return undefined;
      if (!followsLastKept(events, row.epochs_done)) return undefined;
      const last = row.epochs_done + events.length;
      await client.query(
        `INSERT INTO checkpoints (job_id, which, epoch, bytes)
         SELECT $1, which, $2, $3 FROM unnest($4::text[]) AS kept (which)
         ON CONFLICT (job_id, which) DO UPDATE SET epoch = excluded.epoch, bytes = excluded.bytes`,
        [jobId, last, checkpoint, best === true ? ['latest', 'best'] : ['latest']],
      );
      await client.query(
        `UPDATE jobs SET epochs_done = $2,
           pending_learning_rate = CASE WHEN rate_changes = $3 THEN NULL ELSE pending_learning_rate END
         WHERE id = $1`,
        [jobId, last, appliedRateChange ?? null],
      );
      const recorded = await this.appendAll(client, row.last_seq, jobId, events);
      const asked = askedOfEpochs(row, appliedRateChange);
      if (row.sweep_id === null || row.trial === null) return { events: recorded, sweepEvents: [], ...asked };
      const sweepId = row.sweep_id;
      const trial = row.trial;
      const sweepEvents = await this.appendSweepAll(client, sweepId, events.map((event) => sweepEpochEvent(sweepId, trial, event)));
      return { events: recorded, sweepEvents, ...asked };
    });
  }

  async requestStop(id: string, stop: StopRequest): Promise<boolean> {
    const { rowCount } = await this.query(`UPDATE jobs SET ${keepStop('$2::text')} WHERE id = $1 AND status = 'running'`, [id, stop]);
    return rowCount === 1;
  }

  async epochs(jobId: string): Promise<EpochEvent[]> {
    const { rows } = await this.query<{ body: string }>(
      'SELECT body FROM events WHERE job_id = $1 AND epoch IS NOT NULL ORDER BY epoch',
      [jobId],
    );
    return rows.map((row) => JSON.parse(row.body) as EpochEvent);
  }

  async deleteJob(id: string): Promise<boolean> {
    // Its events, checkpoints and model go with it (ON DELETE CASCADE).
    const { rowCount } = await this.query('DELETE FROM jobs WHERE id = $1 AND sweep_id IS NULL AND status = ANY($2)', [id, FINAL]);
    return rowCount === 1;
  }

  async deleteSweep(id: string): Promise<boolean> {
    return this.transaction(async (client) => {
      const { rows } = await client.query<{ status: SweepStatus }>('SELECT status FROM sweeps WHERE id = $1 FOR UPDATE', [id]);
      if (rows[0] === undefined || rows[0].status === 'running') return false;
      const open = await client.query('SELECT 1 FROM jobs WHERE sweep_id = $1 AND NOT status = ANY($2) LIMIT 1', [id, FINAL]);
      if (open.rowCount !== 0) return false;
      await client.query('DELETE FROM jobs WHERE id IN (SELECT job_id FROM trials WHERE sweep_id = $1)', [id]);
      // Its trials and events go with it (ON DELETE CASCADE).
      await client.query('DELETE FROM sweeps WHERE id = $1', [id]);
      return true;
    });
  }

  async setPendingLearningRate(id: string, learningRate: number): Promise<number> {
    const { rows } = await this.query<{ rate_changes: number }>(
      'UPDATE jobs SET pending_learning_rate = $2, rate_changes = rate_changes + 1 WHERE id = $1 RETURNING rate_changes',
      [id, learningRate],
    );
    const changed = rows[0];
    if (changed === undefined) throw new Error(`no job ${id}`);
    return changed.rate_changes;
  }

  async eventsAfter(jobId: string, since: number, limit: number): Promise<JobEvent[]> {
    const { rows } = await this.query<{ body: string }>(
      'SELECT body FROM events WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [jobId, since, limit],
    );
    return rows.map((row) => JSON.parse(row.body) as JobEvent);
  }

  async checkpoint(jobId: string, which: 'latest' | 'best' = 'latest'): Promise<Uint8Array | undefined> {
    const { rows } = await this.query<{ bytes: Buffer }>('SELECT bytes FROM checkpoints WHERE job_id = $1 AND which = $2', [jobId, which]);
    return rows[0]?.bytes;
  }

  async model(jobId: string): Promise<string | undefined> {
    const { rows } = await this.query<{ model: string }>('SELECT model FROM models WHERE job_id = $1', [jobId]);
    return rows[0]?.model;
  }

  async createSweep(record: SweepRecord): Promise<void> {
    await this.query('INSERT INTO sweeps (id, spec, status, created_at) VALUES ($1, $2, $3, $4)', [
      record.id,
      JSON.stringify(record.spec),
      record.status,
      record.createdAt,
    ]);
  }

  async getSweep(id: string): Promise<SweepRecord | undefined> {
    const { rows } = await this.query<SweepRow>(`SELECT *, ${TRIAL_COUNT} FROM sweeps WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : toSweep(rows[0]);
  }

  async listSweeps(status?: SweepStatus): Promise<SweepRecord[]> {
    // As the embedded store: all of them newest first, those of one status oldest first.
    const { rows } =
      status === undefined
        ? await this.query<SweepRow>(`SELECT *, ${TRIAL_COUNT} FROM sweeps ORDER BY position DESC`)
        : await this.query<SweepRow>(`SELECT *, ${TRIAL_COUNT} FROM sweeps WHERE status = $1 ORDER BY position`, [status]);
    return rows.map(toSweep);
  }

  async trials(sweepId: string): Promise<TrialRecord[]> {
    const { rows } = await this.query<TrialRow>('SELECT * FROM trials WHERE sweep_id = $1 ORDER BY trial', [sweepId]);
    return rows.map(toTrial);
  }

  async markTrialStopped(jobId: string): Promise<void> {
    await this.query('UPDATE trials SET stopped = true WHERE job_id = $1', [jobId]);
  }

  async finishSweep(id: string, status: SweepStatus, done: UnsequencedSweepEvent): Promise<SweepEvent | undefined> {
    return this.transaction(async (client) => {
      const { rowCount } = await client.query(`UPDATE sweeps SET status = $2, finished_at = now() WHERE id = $1 AND status = 'running'`, [id, status]);
      if (rowCount === 0) return undefined;
      return this.appendSweep(client, id, done);
    });
  }

  async appendSweepEvent(sweepId: string, event: UnsequencedSweepEvent): Promise<SweepEvent> {
    return this.transaction((client) => this.appendSweep(client, sweepId, event));
  }

  async sweepEventsAfter(sweepId: string, since: number, limit: number): Promise<SweepEvent[]> {
    const { rows } = await this.query<{ body: string }>(
      'SELECT body FROM sweep_events WHERE sweep_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [sweepId, since, limit],
    );
    return rows.map((row) => JSON.parse(row.body) as SweepEvent);
  }

  datasetDirectory(id: string): string {
    return join(this.datasetCache, id);
  }

  async datasetFiles(id: string): Promise<string> {
    const directory = this.datasetDirectory(id);
    if (existsSync(directory)) return directory;
    // Slots of this host that need the same dataset share one download.
    let fetched = this.fetching.get(id);
    if (fetched === undefined) {
      fetched = this.fetchDataset(id, directory).finally(() => this.fetching.delete(id));
      this.fetching.set(id, fetched);
    }
    return fetched;
  }

  /** Writes the dataset's files into a folder of its own, then renames it: the cache never holds half a dataset. */
  private async fetchDataset(id: string, directory: string): Promise<string> {
    const { rows: files } = await this.query<{ file: string; chunks: number }>(
      'SELECT file, count(*)::integer AS chunks FROM dataset_chunks WHERE dataset_id = $1 GROUP BY file',
      [id],
    );
    if (files.length === 0) throw new Error(`dataset ${id} is not stored`);
    const partial = join(this.datasetCache, `.${id}-${randomBytes(6).toString('hex')}`);
    await mkdir(partial);
    try {
      for (const { file, chunks } of files) {
        const handle = await open(join(partial, file), 'w');
        try {
          for (let chunk = 0; chunk < chunks; chunk += 1) {
            const { rows } = await this.query<{ bytes: Buffer }>(
              'SELECT bytes FROM dataset_chunks WHERE dataset_id = $1 AND file = $2 AND chunk = $3',
              [id, file, chunk],
            );
            if (rows[0] === undefined) throw new Error(`dataset ${id} was deleted while it was fetched`);
            await handle.write(rows[0].bytes);
          }
        } finally {
          await handle.close();
        }
      }
      await rename(partial, directory).catch((error: NodeJS.ErrnoException) => {
        // Another process of this host fetched it first: its copy is as good.
        if (!existsSync(directory)) throw error;
      });
      return directory;
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }

  /** The record with the arrays this host wrote into datasetDirectory(id), in one transaction. */
  async createDataset(record: DatasetRecord): Promise<void> {
    const directory = this.datasetDirectory(record.id);
    const files = (await readdir(directory, { withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => entry.name);
    await this.transaction(async (client) => {
      await client.query(
        `INSERT INTO datasets (id, name, created_at, rows, features, test_rows, labels, feature_names)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          record.id,
          record.name,
          record.createdAt,
          record.rows,
          record.features,
          record.testRows,
          JSON.stringify(record.labels),
          JSON.stringify(record.featureNames),
        ],
      );
      for (const file of files) {
        const handle = await open(join(directory, file), 'r');
        try {
          // An empty file is still one (empty) chunk, so that it is fetched too.
          for (let chunk = 0; ; chunk += 1) {
            const buffer = Buffer.alloc(CHUNK_BYTES);
            const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, chunk * CHUNK_BYTES);
            if (bytesRead === 0 && chunk > 0) break;
            await client.query('INSERT INTO dataset_chunks (dataset_id, file, chunk, bytes) VALUES ($1, $2, $3, $4)', [
              record.id,
              file,
              chunk,
              buffer.subarray(0, bytesRead),
            ]);
            if (bytesRead < CHUNK_BYTES) break;
          }
        } finally {
          await handle.close();
        }
      }
    });
  }

  async getDataset(id: string): Promise<DatasetRecord | undefined> {
    const { rows } = await this.query<DatasetRow>('SELECT * FROM datasets WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : toDataset(rows[0]);
  }

  async listDatasets(): Promise<DatasetRecord[]> {
    const { rows } = await this.query<DatasetRow>('SELECT * FROM datasets ORDER BY created_at DESC');
    return rows.map(toDataset);
  }

  async deleteDataset(id: string): Promise<boolean> {
    // Its chunks go with it (ON DELETE CASCADE); copies other hosts cached stay until
    // their folders are cleared, unused: ids are never given twice.
    const { rowCount } = await this.query('DELETE FROM datasets WHERE id = $1', [id]);
    if (rowCount === 1) await rm(this.datasetDirectory(id), { recursive: true, force: true });
    return rowCount === 1;
  }

  /**
   * Hands `onChange` the notice of each commit that adds events, from every process on this
   * database, on a connection of its own; after that connection was lost and opened again,
   * `onGap` (notices sent meanwhile are lost). Resolves once listening; the function it
   * resolves with stops.
   */
  async listen(onChange: (change: StoreChange) => void, onGap: () => void, onError: (error: Error) => void): Promise<() => Promise<void>> {
    let client: pg.Client | undefined;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      const next = new pg.Client({ connectionString: this.url, keepAlive: true });
      const lost = (error?: Error) => {
        if (error !== undefined) onError(error);
        if (client !== next || stopped) return;
        client = undefined;
        void next.end().catch(() => undefined);
        timer = setTimeout(() => void reconnect(), RELISTEN_MS);
      };
      next.on('error', lost);
      next.on('end', () => lost());
      next.on('notification', (message) => {
        const change = parseChange(message.payload);
        if (change !== undefined) onChange(change);
      });
      client = next;
      await next.connect();
      await next.query(`LISTEN ${EVENTS_CHANNEL}`);
    };
    const reconnect = async () => {
      try {
        await connect();
        onGap();
      } catch (error) {
        onError(error as Error);
        if (!stopped) timer = setTimeout(() => void reconnect(), RELISTEN_MS);
      }
    };
    await connect();
    return async () => {
      stopped = true;
      clearTimeout(timer);
      await client?.end().catch(() => undefined);
    };
  }

  /** The seq of the newest event of each job (or sweep) named; ids the store lacks are left out. */
  async lastSeqs(kind: StoreChange['kind'], ids: string[]): Promise<Map<string, number>> {
    const { rows } = await this.query<{ id: string; last_seq: number }>(
      `SELECT id, last_seq FROM ${kind === 'job' ? 'jobs' : 'sweeps'} WHERE id = ANY($1::text[])`,
      [ids],
    );
    return new Map(rows.map((row) => [row.id, row.last_seq]));
  }

  /** Closing twice is closing once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.committing;
      await this.pool.end();
    })();
    return this.closing;
  }
}
