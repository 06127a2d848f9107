// The rows both stores read back, and how each becomes a record: SQLite hands back its
// times as ISO text and its booleans as 0/1, PostgreSQL as Dates and booleans; nothing else
// differs, so the conversions exist once.
import type { JobEvent } from './events.js';
import type { JobStatus } from './status.js';
import type { DatasetRecord, EpochsRecord, JobRecord, NewJob, RecordedEpochs, StopRequest, SweepRecord, TrialRecord } from './store.js';
import type { SweepStatus, UnsequencedSweepEvent } from './sweep-spec.js';

type Time = string | Date;

const iso = (time: Time): string => (typeof time === 'string' ? time : time.toISOString());

export interface JobRow {
  position: number | string;
  id: string;
  spec: string;
  status: JobStatus;
  created_at: Time;
  started_at: Time | null;
  finished_at: Time | null;
  attempt: number;
  epochs_done: number;
  pending_learning_rate: number | null;
  /** Rate changes set so far: the pending one, when there is one, is the last. */
  rate_changes: number;
  last_seq: number;
  stop_requested: StopRequest | null;
  result: string | null;
  error: string | null;
  sweep_id: string | null;
}

export interface SweepRow {
  id: string;
  spec: string;
  status: SweepStatus;
  created_at: Time;
  finished_at: Time | null;
  last_seq: number;
  trial_count: number;
}

export interface TrialRow {
  sweep_id: string;
  trial: number;
  job_id: string;
  round: number;
  sample: string;
  stopped: number | boolean;
}

export interface DatasetRow {
  id: string;
  name: string;
  created_at: Time;
  rows: number;
  features: number;
  test_rows: number;
  labels: string;
  feature_names: string;
}

export function toJob(row: JobRow): JobRecord {
  const spec = JSON.parse(row.spec) as JobRecord['spec'];
  return {
    id: row.id,
    ...(spec.name === undefined ? {} : { name: spec.name }),
    spec,
    status: row.status,
    createdAt: iso(row.created_at),
    ...(row.started_at === null ? {} : { startedAt: iso(row.started_at) }),
    ...(row.finished_at === null ? {} : { finishedAt: iso(row.finished_at) }),
    attempt: row.attempt,
    epochsDone: row.epochs_done,
    ...(row.pending_learning_rate === null
      ? {}
      : { pendingLearningRate: row.pending_learning_rate, pendingRateChange: row.rate_changes }),
    lastSeq: row.last_seq,
    ...(row.stop_requested === null ? {} : { stopRequested: row.stop_requested }),
    ...(row.result === null ? {} : { result: JSON.parse(row.result) }),
    ...(row.error === null ? {} : { error: JSON.parse(row.error) }),
    ...(row.sweep_id === null ? {} : { sweepId: row.sweep_id }),
  };
}

/** What epochs' commit tells their host, read from the job's row before the commit's own change. */
export function askedOfEpochs(row: JobRow, appliedRateChange: number | undefined): Pick<RecordedEpochs, 'stopRequested' | 'pendingRate'> {
  const pending = row.pending_learning_rate !== null && row.rate_changes !== appliedRateChange;
  return {
    ...(row.stop_requested === null ? {} : { stopRequested: row.stop_requested }),
    ...(pending ? { pendingRate: { learningRate: row.pending_learning_rate as number, change: row.rate_changes } } : {}),
  };
}

/** Whether the epochs follow the job's last kept one by one: a late writer can neither repeat one nor leave a gap. */
export function followsLastKept(events: EpochsRecord['events'], epochsDone: number): boolean {
  return events.length > 0 && events.every((event, index) => event.epoch === epochsDone + 1 + index);
}

/** A trial's epoch as its sweep's log keeps it. */
export function sweepEpochEvent(sweepId: string, trial: number, event: EpochsRecord['events'][number]): UnsequencedSweepEvent {
  const { jobId, epoch, lr, train, dev } = event;
  return { type: 'epoch', sweepId, trial, jobId, epoch, lr, train, ...(dev === undefined ? {} : { dev }) };
}

/** The SET clause of requestStop, in either SQL dialect: `stop` is the new stop's placeholder. */
export const keepStop = (stop: string) =>
  `stop_requested = CASE WHEN stop_requested IS NULL OR (stop_requested = 'pause' AND ${stop} != 'pause') THEN ${stop} ELSE stop_requested END`;

export function toSweep(row: SweepRow): SweepRecord {
  return {
    id: row.id,
    spec: JSON.parse(row.spec),
    status: row.status,
    createdAt: iso(row.created_at),
    ...(row.finished_at === null ? {} : { finishedAt: iso(row.finished_at) }),
    lastSeq: row.last_seq,
    trialCount: row.trial_count,
  };
}

export function toTrial(row: TrialRow): TrialRecord {
  return {
    sweepId: row.sweep_id,
    index: row.trial,
    jobId: row.job_id,
    round: row.round,
    values: JSON.parse(row.sample),
    stopped: row.stopped === true || row.stopped === 1,
  };
}

export function toDataset(row: DatasetRow): DatasetRecord {
  return {
    id: row.id,
    name: row.name,
    createdAt: iso(row.created_at),
    rows: row.rows,
    features: row.features,
    testRows: row.test_rows,
    labels: JSON.parse(row.labels),
    featureNames: JSON.parse(row.feature_names),
  };
}

/** A page boundary of the jobs list: the position of the last job sent, opaque to clients. */
export const encodeCursor = (position: number | string) => Buffer.from(`p${position}`).toString('base64url');

/** The position in a cursor this service made, as digits; undefined for any other text. */
export function decodeCursor(cursor: string): string | undefined {
  return /^p(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString())?.[1];
}

/** Submissions waiting for the next group commit. */
export interface PendingSubmission {
  jobs: NewJob[];
  resolve(events: JobEvent[]): void;
  reject(error: unknown): void;
}
