// The embedded store: one SQLite file in WAL mode under the data directory, dataset arrays
// as files beside it. Submissions (and sweeps) are committed with synchronous=FULL, in groups:
// the submissions of one event-loop turn share one commit and one fsync.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { eventText, type EpochEvent, type JobEvent, type UnsequencedEvent } from './events.js';
import { FinalStatusSchema, JOB_STATUSES, isFinal, type JobStatus } from './status.js';
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

/** The store's file cannot be read as a database, or SQLite's check found damage in it. */
export class StoreDamagedError extends Error {
  constructor(file: string, problem: string) {
    super(`the store ${file} is damaged (${problem}): restore it from a backup, or move it away to start with an empty one`);
    this.name = 'StoreDamagedError';
  }
}

/** The tables as the first version made them; MIGRATIONS bring them to the current one. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  spec TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  attempt INTEGER NOT NULL DEFAULT 0,
  epochs_done INTEGER NOT NULL DEFAULT 0,
  pending_learning_rate REAL,
  last_seq INTEGER NOT NULL DEFAULT 0,
  result TEXT,
  error TEXT,
  sweep_id TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, position);
CREATE TABLE IF NOT EXISTS events (
  job_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  epoch INTEGER,
  body TEXT NOT NULL,
  PRIMARY KEY (job_id, seq),
  UNIQUE (job_id, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
  job_id TEXT NOT NULL,
  which TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY (job_id, which)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS models (
  job_id TEXT PRIMARY KEY,
  model TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sweeps (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  spec TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  finished_at TEXT,
  last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS trials (
  sweep_id TEXT NOT NULL,
  trial INTEGER NOT NULL,
  job_id TEXT NOT NULL UNIQUE,
  round INTEGER NOT NULL,
  sample TEXT NOT NULL,
  stopped INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (sweep_id, trial)
);
CREATE TABLE IF NOT EXISTS sweep_events (
  sweep_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (sweep_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS datasets (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  rows INTEGER NOT NULL,
  features INTEGER NOT NULL,
  test_rows INTEGER NOT NULL,
  labels TEXT NOT NULL,
  feature_names TEXT NOT NULL
);
`;

/**
 * Gives `events` the seqs after their owner's last, which `reserved` (its row after
 * last_seq moved on by their count; undefined: no such row) says, and inserts each.
 */
function numbered<Sequenced extends { seq: number }>(
  events: object[],
  reserved: { last_seq: number } | undefined,
  owner: string,
  insert: (event: Sequenced) => void,
): Sequenced[] {
  if (reserved === undefined) throw new Error(`no ${owner}`);
  const first = reserved.last_seq - events.length + 1;
  return events.map((event, index) => {
    const sequenced = { seq: first + index, ...event } as unknown as Sequenced;
    insert(sequenced);
    return sequenced;
  });
}

/** The finished statuses as an SQL list, for the statements that act only on ended jobs. */
const FINAL_SQL = FinalStatusSchema.anyOf.map((literal) => `'${literal.const}'`).join(', ');

/**
 * Each entry moves a store from schema version i + 1 to i + 2, in one transaction; a store
 * newer than the last is refused. Appended to, never edited.
 */
const MIGRATIONS = [
  // 2: jobs filtered by name and by sweep; trials stopped by a sweep's rule have a status of
  // their own (they used to end 'cancelled'), in their rows and in their done events.
  `ALTER TABLE jobs ADD COLUMN name TEXT;
   UPDATE jobs SET name = json_extract(spec, '$.name');
   CREATE INDEX jobs_by_sweep ON jobs (sweep_id, position);
   UPDATE jobs SET status = 'stopped'
     WHERE status = 'cancelled' AND id IN (SELECT job_id FROM trials WHERE stopped = 1);
   UPDATE events SET body = json_set(body, '$.status', 'stopped')
     WHERE json_extract(body, '$.type') = 'done'
       AND job_id IN (SELECT id FROM jobs WHERE status = 'stopped');`,
  // 3: each trial epoch is also a sweep event (written with the epoch from now on): the
  // sweeps of before get theirs after their last event, in trial and epoch order.
  `CREATE TEMP TABLE backfill AS
     SELECT t.sweep_id, s.last_seq + row_number() OVER (PARTITION BY t.sweep_id ORDER BY t.trial, e.epoch) AS seq,
            t.trial, e.job_id, e.epoch, e.body
     FROM events e JOIN trials t ON t.job_id = e.job_id JOIN sweeps s ON s.id = t.sweep_id
     WHERE e.epoch IS NOT NULL;
   INSERT INTO sweep_events (sweep_id, seq, body)
     SELECT sweep_id, seq, json_remove(json_object(
              'seq', seq, 'type', 'epoch', 'sweepId', sweep_id, 'trial', trial, 'jobId', job_id, 'epoch', epoch,
              'lr', json_extract(body, '$.lr'), 'train', json(json_extract(body, '$.train')),
              'dev', json(coalesce(json_extract(body, '$.dev'), 'null'))),
            CASE WHEN json_extract(body, '$.dev') IS NULL THEN '$.dev' ELSE '$.none' END)
     FROM backfill;
   UPDATE sweeps SET last_seq = coalesce((SELECT max(seq) FROM backfill WHERE backfill.sweep_id = sweeps.id), last_seq);
   DROP TABLE backfill;`,
  // 4: rates set from outside are numbered per job (rate_changes counts them; a pending one
  // is the last), and the epoch that applied one clears it by its number, not by its lr
  // (which a decay schedule makes differ). A rate pending before is change 1, applied by
  // the job's next epoch.
  `ALTER TABLE jobs ADD COLUMN rate_changes INTEGER NOT NULL DEFAULT 0;
   UPDATE jobs SET rate_changes = 1 WHERE pending_learning_rate IS NOT NULL;`,
  // 5: a stop asked for a running job is kept with it, so that it outlives a lost control
  // message or a crash: the job's host reads it back with each epoch's commit.
  `ALTER TABLE jobs ADD COLUMN stop_requested TEXT;`,
];
const SCHEMA_VERSION = MIGRATIONS.length + 1;

/** The trials a sweep has created so far, beside each sweep row read. */
const TRIAL_COUNT = '(SELECT count(*) FROM trials WHERE trials.sweep_id = sweeps.id) AS trial_count';

export class SqliteStore implements JobStore {
  private readonly db: Database.Database;
  private pending: PendingSubmission[] = [];
  private readonly statements;

  constructor(private readonly directory: string) {
    mkdirSync(join(directory, 'datasets'), { recursive: true });
    const file = join(directory, 'caviar.db');
    this.db = new Database(file);
    try {
      this.db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode survives a crash of this process (the promise to clients); the
      // submissions' commits switch to FULL to survive the machine's too.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      // A damaged file is refused at start, with one message, rather than failing later in
      // the recovery of whatever job touches the damage. quick_check reads every page once
      // (about a second per GB) and skips the slow cross-checks of integrity_check.
      const problems = this.db.pragma('quick_check(5)', { simple: false }) as { quick_check: string }[];
      if (problems.length !== 1 || problems[0]?.quick_check !== 'ok')
        throw new StoreDamagedError(file, problems.map((row) => row.quick_check).join('; '));
      this.migrate();
    } catch (error) {
      this.db.close();
      const code = (error as { code?: unknown }).code;
      if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') throw new StoreDamagedError(file, (error as Error).message);
      throw error;
    }
    const db = this.db;
    this.statements = {
      insertJob: db.prepare(
        `INSERT INTO jobs (id, name, spec, status, created_at, sweep_id) VALUES (?, ?, ?, 'queued', ?, ?)`,
      ),
      job: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?'),
      reserveSeqs: db.prepare<[number, string], { last_seq: number }>(
        'UPDATE jobs SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq',
      ),
      insertEvent: db.prepare('INSERT INTO events (job_id, seq, epoch, body) VALUES (?, ?, ?, ?)'),
      // Each filter is on when its parameter is not null, so one statement serves them all.
      newestJobs: db.prepare<
        { before: number; status: string | null; sweep: string | null; outside: number; name: string | null; limit: number },
        JobRow
      >(
        `SELECT * FROM jobs
         WHERE position < @before
           AND (@status IS NULL OR status = @status)
           AND (@sweep IS NULL OR sweep_id = @sweep)
           AND (@outside = 0 OR sweep_id IS NULL)
           AND (@name IS NULL OR instr(lower(name), lower(@name)) > 0)
         ORDER BY position DESC LIMIT @limit`,
      ),
      jobIds: db.prepare<[string], { id: string }>(
        'SELECT id FROM jobs WHERE status IN (SELECT value FROM json_each(?)) ORDER BY position',
      ),
      oldestQueued: db.prepare<[], JobRow>(
        `SELECT * FROM jobs WHERE status = 'queued' ORDER BY position LIMIT 1`,
      ),
      start: db.prepare(
        `UPDATE jobs SET status = 'running', attempt = attempt + 1, started_at = coalesce(started_at, ?) WHERE id = ?`,
      ),
      setStatus: db.prepare(
        `UPDATE jobs SET status = ?, finished_at = ?, result = coalesce(?, result), error = coalesce(?, error), stop_requested = NULL
         WHERE id = ?`,
      ),
      epochs: db.prepare<[string], { body: string }>(
        'SELECT body FROM events WHERE job_id = ? AND epoch IS NOT NULL ORDER BY epoch',
      ),
      trialOf: db.prepare<[string], { trial: number }>('SELECT trial FROM trials WHERE job_id = ?'),
      recordEpoch: db.prepare<{ id: string; epoch: number; applied: number | null }>(
        `UPDATE jobs SET epochs_done = @epoch,
           pending_learning_rate = CASE WHEN rate_changes = @applied THEN NULL ELSE pending_learning_rate END
         WHERE id = @id`,
      ),
      saveCheckpoint: db.prepare(
        'INSERT INTO checkpoints (job_id, which, epoch, bytes) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT (job_id, which) DO UPDATE SET epoch = excluded.epoch, bytes = excluded.bytes',
      ),
      dropCheckpoint: db.prepare('DELETE FROM checkpoints WHERE job_id = ?'),
      saveModel: db.prepare('INSERT OR REPLACE INTO models (job_id, model) VALUES (?, ?)'),
      requestStop: db.prepare<{ id: string; stop: StopRequest }>(`UPDATE jobs SET ${keepStop('@stop')} WHERE id = @id AND status = 'running'`),
      setPendingRate: db.prepare<[number, string], { rate_changes: number }>(
        'UPDATE jobs SET pending_learning_rate = ?, rate_changes = rate_changes + 1 WHERE id = ? RETURNING rate_changes',
      ),
      eventsAfter: db.prepare<[string, number, number], { body: string }>(
        'SELECT body FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      checkpoint: db.prepare<[string, string], { bytes: Buffer }>(
        'SELECT bytes FROM checkpoints WHERE job_id = ? AND which = ?',
      ),
      model: db.prepare<[string], { model: string }>('SELECT model FROM models WHERE job_id = ?'),
      countByStatus: db.prepare<[], { status: JobStatus; count: number }>(
        'SELECT status, count(*) AS count FROM jobs GROUP BY status',
      ),
      insertSweep: db.prepare(
        `INSERT INTO sweeps (id, spec, status, created_at) VALUES (@id, @spec, @status, @createdAt)`,
      ),
      sweep: db.prepare<[string], SweepRow>(`SELECT *, ${TRIAL_COUNT} FROM sweeps WHERE id = ?`),
      sweeps: db.prepare<[], SweepRow>(`SELECT *, ${TRIAL_COUNT} FROM sweeps ORDER BY position DESC`),
      sweepsIn: db.prepare<[string], SweepRow>(`SELECT *, ${TRIAL_COUNT} FROM sweeps WHERE status = ? ORDER BY position`),
      insertTrial: db.prepare('INSERT INTO trials (sweep_id, trial, job_id, round, sample) VALUES (?, ?, ?, ?, ?)'),
      trials: db.prepare<[string], TrialRow>('SELECT * FROM trials WHERE sweep_id = ? ORDER BY trial'),
      stopTrial: db.prepare('UPDATE trials SET stopped = 1 WHERE job_id = ?'),
      finishSweep: db.prepare(`UPDATE sweeps SET status = ?, finished_at = ? WHERE id = ? AND status = 'running'`),
      reserveSweepSeqs: db.prepare<[number, string], { last_seq: number }>(
        'UPDATE sweeps SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq',
      ),
      insertSweepEvent: db.prepare('INSERT INTO sweep_events (sweep_id, seq, body) VALUES (?, ?, ?)'),
      sweepEventsAfter: db.prepare<[string, number, number], { body: string }>(
        'SELECT body FROM sweep_events WHERE sweep_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      insertDataset: db.prepare(
        `INSERT INTO datasets (id, name, created_at, rows, features, test_rows, labels, feature_names)
         VALUES (@id, @name, @createdAt, @rows, @features, @testRows, @labels, @featureNames)`,
      ),
      dataset: db.prepare<[string], DatasetRow>('SELECT * FROM datasets WHERE id = ?'),
      datasets: db.prepare<[], DatasetRow>('SELECT * FROM datasets ORDER BY created_at DESC'),
      deleteDataset: db.prepare('DELETE FROM datasets WHERE id = ?'),
      deleteJob: db.prepare(`DELETE FROM jobs WHERE id = ? AND status IN (${FINAL_SQL})`),
      deleteJobRow: db.prepare('DELETE FROM jobs WHERE id = ?'),
      deleteJobData: ['events', 'checkpoints', 'models'].map((table) => db.prepare(`DELETE FROM ${table} WHERE job_id = ?`)),
      openTrials: db.prepare<[string], { count: number }>(
        `SELECT count(*) AS count FROM jobs WHERE sweep_id = ? AND status NOT IN (${FINAL_SQL})`,
      ),
      trialJobs: db.prepare<[string], { job_id: string }>('SELECT job_id FROM trials WHERE sweep_id = ?'),
      deleteSweep: db.prepare(`DELETE FROM sweeps WHERE id = ? AND status != 'running'`),
      deleteSweepRows: ['trials', 'sweep_events'].map((table) => db.prepare(`DELETE FROM ${table} WHERE sweep_id = ?`)),
    };
  }

  /** Brings a new or older store to SCHEMA_VERSION; refuses one written by a newer Caviar. */
  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION)
      throw new Error(`${this.directory} holds a store of schema ${version}; this version of Caviar reads up to schema ${SCHEMA_VERSION}`);
    this.db.transaction(() => {
      if (version === 0) this.db.exec(SCHEMA);
      for (const migration of MIGRATIONS.slice(Math.max(0, version - 1))) this.db.exec(migration);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  /** Numbers and keeps an event of a job; inside the caller's transaction. */
  private append(jobId: string, event: UnsequencedEvent): JobEvent {
    return this.appendAll(jobId, [event])[0] as JobEvent;
  }

  /** Numbers the events after the job's last with one update of its row, then inserts them. */
  private appendAll(jobId: string, events: UnsequencedEvent[]): JobEvent[] {
    return numbered<JobEvent>(events, this.statements.reserveSeqs.get(events.length, jobId), `job ${jobId}`, (event) =>
      this.statements.insertEvent.run(jobId, event.seq, event.type === 'epoch' ? event.epoch : null, eventText(event)),
    );
  }

  createJobs(jobs: NewJob[]): Promise<JobEvent[]> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => this.commitSubmissions());
      this.pending.push({ jobs, resolve, reject });
    });
  }

  private commitSubmissions(): void {
    // close() may have committed them already.
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const now = new Date().toISOString();
    const insert = this.db.transaction(() =>
      batch.map(({ jobs }) =>
        jobs.map((job) => {
          this.statements.insertJob.run(job.id, job.spec.name ?? null, JSON.stringify(job.spec), now, job.trial?.sweepId ?? null);
          if (job.trial !== undefined) {
            const { sweepId, index, round, values } = job.trial;
            this.statements.insertTrial.run(sweepId, index, job.id, round, JSON.stringify(values));
          }
          return this.append(job.id, { type: 'status', jobId: job.id, status: 'queued' });
        }),
      ),
    );
    // A sweep's trials alone need no fsync: the sweep was kept durably, and after a crash of
    // the machine its controller makes a lost trial again, the same (its index fixes its
    // values). A sweep of tiny trials would otherwise wait on the disk for each one.
    const durable = batch.some(({ jobs }) => jobs.some((job) => job.trial === undefined));
    try {
      const events = durable ? this.durably(insert) : insert();
      batch.forEach((submission, index) => submission.resolve(events[index] as JobEvent[]));
    } catch (error) {
      for (const submission of batch) submission.reject(error);
    }
  }

  /** Runs `write` with its commit on the disk before it returns: for what a client is told is kept. */
  private durably<T>(write: () => T): T {
    this.db.pragma('synchronous = FULL');
    try {
      return write();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const row = this.statements.job.get(id);
    return row === undefined ? undefined : toJob(row);
  }

  async listJobs({ status, sweep, name, limit, cursor }: JobQuery): Promise<JobPage> {
    const decoded = cursor === undefined ? String(Number.MAX_SAFE_INTEGER) : decodeCursor(cursor);
    const before = decoded === undefined ? undefined : Number(decoded);
    if (before === undefined) throw new RangeError(`'${cursor}' is not a cursor this service gave`);
    const rows = this.statements.newestJobs.all({
      before,
      status: status ?? null,
      sweep: sweep === undefined || sweep === 'none' ? null : sweep,
      outside: sweep === 'none' ? 1 : 0,
      name: name ?? null,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { jobs: page.map(toJob), ...(rows.length > limit && last !== undefined ? { nextCursor: encodeCursor(last.position) } : {}) };
  }

  async countByStatus(): Promise<Record<JobStatus, number>> {
    const counts = Object.fromEntries(JOB_STATUSES.map((status) => [status, 0])) as Record<JobStatus, number>;
    for (const { status, count } of this.statements.countByStatus.all()) counts[status] = count;
    return counts;
  }

  async jobIds(statuses: readonly JobStatus[]): Promise<string[]> {
    return this.statements.jobIds.all(JSON.stringify(statuses)).map((row) => row.id);
  }

  async claimNext(): Promise<{ job: JobRecord; event: JobEvent } | undefined> {
    return this.db.transaction(() => {
      const row = this.statements.oldestQueued.get();
      if (row === undefined) return undefined;
      this.statements.start.run(new Date().toISOString(), row.id);
      const event = this.append(row.id, { type: 'status', jobId: row.id, status: 'running' });
      return { job: toJob(this.statements.job.get(row.id) as JobRow), event };
    })();
  }

  async claim(id: string): Promise<{ job: JobRecord; event: JobEvent } | undefined> {
    return this.db.transaction(() => {
      const row = this.statements.job.get(id);
      if (row === undefined || (row.status !== 'queued' && row.status !== 'running')) return undefined;
      this.statements.start.run(new Date().toISOString(), id);
      const event = this.append(id, { type: 'status', jobId: id, status: 'running' });
      return { job: toJob(this.statements.job.get(id) as JobRow), event };
    })();
  }

  async transition(id: string, change: Transition): Promise<JobEvent | undefined> {
    return this.db.transaction(() => {
      const row = this.statements.job.get(id);
      if (row === undefined || !change.from.includes(row.status)) return undefined;
      if (change.attempt !== undefined && change.attempt !== row.attempt) return undefined;
      const finished = isFinal(change.to) ? new Date().toISOString() : null;
      const result = change.result === undefined ? null : JSON.stringify(change.result);
      const error = change.error === undefined ? null : JSON.stringify(change.error);
      this.statements.setStatus.run(change.to, finished, result, error, id);
      if (change.model !== undefined) this.statements.saveModel.run(id, change.model);
      // A finished job never resumes: its checkpoint is only weight to carry.
      if (isFinal(change.to)) this.statements.dropCheckpoint.run(id);
      return this.append(id, change.event);
    })();
  }

  async appendEpochs({ jobId, attempt, events, checkpoint, best, appliedRateChange }: EpochsRecord): Promise<RecordedEpochs | undefined> {
    return this.db.transaction((): RecordedEpochs | undefined => {
      const row = this.statements.job.get(jobId);
      if (row === undefined || row.status !== 'running' || row.attempt !== attempt) return undefined;
      if (!followsLastKept(events, row.epochs_done)) return undefined;
      const last = row.epochs_done + events.length;
      this.statements.saveCheckpoint.run(jobId, 'latest', last, checkpoint);
      if (best === true) this.statements.saveCheckpoint.run(jobId, 'best', last, checkpoint);
      this.statements.recordEpoch.run({ id: jobId, epoch: last, applied: appliedRateChange ?? null });
      const recorded = this.appendAll(jobId, events);
      const asked = askedOfEpochs(row, appliedRateChange);
      if (row.sweep_id === null) return { events: recorded, sweepEvents: [], ...asked };
      const sweepId = row.sweep_id;
      const { trial } = this.statements.trialOf.get(jobId) as { trial: number };
      const sweepEvents = this.appendSweepAll(sweepId, events.map((event) => sweepEpochEvent(sweepId, trial, event)));
      return { events: recorded, sweepEvents, ...asked };
    })();
  }

  async requestStop(id: string, stop: StopRequest): Promise<boolean> {
    return this.statements.requestStop.run({ id, stop }).changes === 1;
  }

  async epochs(jobId: string): Promise<EpochEvent[]> {
    return this.statements.epochs.all(jobId).map((row) => JSON.parse(row.body) as EpochEvent);
  }

  async deleteJob(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      const row = this.statements.job.get(id);
      if (row === undefined || row.sweep_id !== null || this.statements.deleteJob.run(id).changes === 0) return false;
      for (const statement of this.statements.deleteJobData) statement.run(id);
      return true;
    })();
  }

  async deleteSweep(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      if ((this.statements.openTrials.get(id) as { count: number }).count > 0) return false;
      if (this.statements.deleteSweep.run(id).changes === 0) return false;
      for (const { job_id: jobId } of this.statements.trialJobs.all(id)) {
        for (const statement of this.statements.deleteJobData) statement.run(jobId);
        this.statements.deleteJobRow.run(jobId);
      }
      for (const statement of this.statements.deleteSweepRows) statement.run(id);
      return true;
    })();
  }

  async setPendingLearningRate(id: string, learningRate: number): Promise<number> {
    const changed = this.statements.setPendingRate.get(learningRate, id);
    if (changed === undefined) throw new Error(`no job ${id}`);
    return changed.rate_changes;
  }

  async eventsAfter(jobId: string, since: number, limit: number): Promise<JobEvent[]> {
    return this.statements.eventsAfter.all(jobId, since, limit).map((row) => JSON.parse(row.body) as JobEvent);
  }

  async checkpoint(jobId: string, which: 'latest' | 'best' = 'latest'): Promise<Uint8Array | undefined> {
    return this.statements.checkpoint.get(jobId, which)?.bytes;
  }

  async model(jobId: string): Promise<string | undefined> {
    return this.statements.model.get(jobId)?.model;
  }

  async createSweep(record: SweepRecord): Promise<void> {
    this.durably(() => this.statements.insertSweep.run({ ...record, spec: JSON.stringify(record.spec) }));
  }

  async getSweep(id: string): Promise<SweepRecord | undefined> {
    const row = this.statements.sweep.get(id);
    return row === undefined ? undefined : toSweep(row);
  }

  async listSweeps(status?: SweepStatus): Promise<SweepRecord[]> {
    return (status === undefined ? this.statements.sweeps.all() : this.statements.sweepsIn.all(status)).map(toSweep);
  }

  async trials(sweepId: string): Promise<TrialRecord[]> {
    return this.statements.trials.all(sweepId).map(toTrial);
  }

  async markTrialStopped(jobId: string): Promise<void> {
    this.statements.stopTrial.run(jobId);
  }

  async finishSweep(id: string, status: SweepStatus, done: UnsequencedSweepEvent): Promise<SweepEvent | undefined> {
    return this.db.transaction(() => {
      if (this.statements.finishSweep.run(status, new Date().toISOString(), id).changes === 0) return undefined;
      return this.appendSweep(id, done);
    })();
  }

  async appendSweepEvent(sweepId: string, event: UnsequencedSweepEvent): Promise<SweepEvent> {
    return this.db.transaction(() => this.appendSweep(sweepId, event))();
  }

  /** Numbers and keeps an event of a sweep; inside the caller's transaction. */
  private appendSweep(sweepId: string, event: UnsequencedSweepEvent): SweepEvent {
    return this.appendSweepAll(sweepId, [event])[0] as SweepEvent;
  }

  private appendSweepAll(sweepId: string, events: UnsequencedSweepEvent[]): SweepEvent[] {
    return numbered<SweepEvent>(events, this.statements.reserveSweepSeqs.get(events.length, sweepId), `sweep ${sweepId}`, (event) =>
      this.statements.insertSweepEvent.run(sweepId, event.seq, eventText(event)),
    );
  }

  async sweepEventsAfter(sweepId: string, since: number, limit: number): Promise<SweepEvent[]> {
    return this.statements.sweepEventsAfter.all(sweepId, since, limit).map((row) => JSON.parse(row.body) as SweepEvent);
  }

  datasetDirectory(id: string): string {
    return join(this.directory, 'datasets', id);
  }

  async datasetFiles(id: string): Promise<string> {
    const directory = this.datasetDirectory(id);
    if (!existsSync(directory)) throw new Error(`dataset ${id} is not stored`);
    return directory;
  }

  async createDataset(record: DatasetRecord): Promise<void> {
    this.statements.insertDataset.run({
      ...record,
      labels: JSON.stringify(record.labels),
      featureNames: JSON.stringify(record.featureNames),
    });
  }

  async getDataset(id: string): Promise<DatasetRecord | undefined> {
    const row = this.statements.dataset.get(id);
    return row === undefined ? undefined : toDataset(row);
  }

  async listDatasets(): Promise<DatasetRecord[]> {
    return this.statements.datasets.all().map(toDataset);
  }

  async deleteDataset(id: string): Promise<boolean> {
    const deleted = this.statements.deleteDataset.run(id).changes > 0;
    if (deleted) rmSync(this.datasetDirectory(id), { recursive: true, force: true });
    return deleted;
  }

  async close(): Promise<void> {
    this.commitSubmissions();
    this.db.close();
  }
}
