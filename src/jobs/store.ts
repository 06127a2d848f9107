// What the service keeps, behind one small interface: jobs and their events, checkpoints,
// models and datasets. The SQLite implementation is the embedded default; nothing outside
// src/jobs/ knows which implementation runs.
import type { Labels } from '../data/index.js';
import type { EpochEvent, JobEvent, JobResult, UnsequencedEvent } from './events.js';
import type { Sample } from './search-space.js';
import type { JobSpec } from './spec.js';
import type { JobStatus } from './status.js';
import type { ResolvedSweepSpec, SweepEvent, SweepStatus, UnsequencedSweepEvent } from './sweep-spec.js';

/** The store cannot be reached now (its database is down or cut off); the same call may work later. */
export class StoreUnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE';
}

/** Whether an error says the disk under the store is full: SQLite's SQLITE_FULL, a file write's ENOSPC, PostgreSQL's disk_full. */
export function isStorageFull(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === '53100';
}

/** A stop asked for a running job, kept for whichever host runs it (or takes it over). */
export type StopRequest = 'cancel' | 'pause' | 'stop';

export interface JobError {
  code: string;
  message: string;
}

export interface JobRecord {
  id: string;
  name?: string;
  spec: JobSpec;
  status: JobStatus;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Starts so far; each start gets a new one, and writes of an older start are refused. */
  attempt: number;
  /** Epochs trained and recorded (the last checkpoint's epoch). */
  epochsDone: number;
  /** The rate set from outside that no epoch has used yet. */
  pendingLearningRate?: number;
  /** With it, that change's number (setPendingLearningRate's), which its epoch reports back. */
  pendingRateChange?: number;
  /** The seq of the job's last event. */
  lastSeq: number;
  /** A stop asked for while it runs, which its host has yet to carry out. */
  stopRequested?: StopRequest;
  result?: JobResult;
  error?: JobError;
  sweepId?: string;
}

export interface DatasetRecord {
  id: string;
  name: string;
  createdAt: string;
  rows: number;
  features: number;
  /** Rows of the dataset's own test part (0 when it has none). */
  testRows: number;
  labels: Labels;
  featureNames: string[];
}

export interface NewJob {
  id: string;
  spec: JobSpec;
  /** For a sweep's trial: kept with the job, in the same commit. */
  trial?: Omit<TrialRecord, 'jobId' | 'stopped'>;
}

/** A status change: applied only when the job is in one of `from`, with its event. */
export interface Transition {
  from: readonly JobStatus[];
  to: JobStatus;
  event: UnsequencedEvent;
  /** The start's token, for changes a running child causes: a stale start changes nothing. */
  attempt?: number;
  result?: JobResult;
  error?: JobError;
  /** The trained model (saved-model JSON), kept with a job that succeeds. */
  model?: string;
}

/**
 * Epochs of a running job, handed over together: a job of short epochs commits them once
 * an interval, not once an epoch, and its checkpoint with them.
 */
export interface EpochsRecord {
  jobId: string;
  attempt: number;
  /** Consecutive epochs, the first the one after the job's last kept. */
  events: Extract<UnsequencedEvent, { type: 'epoch' }>[];
  /** The trainer at the end of the last of them. */
  checkpoint: Uint8Array;
  /** Keep this checkpoint also as the job's best (early stopping that restores it). */
  best?: boolean;
  /**
   * The number of the latest rate change these epochs applied: the job's pending rate is
   * cleared in their commit when it is still that change (not one set since).
   */
  appliedRateChange?: number;
}

/**
 * The stored events the epochs made (the job's, and its sweep's when the job is a trial),
 * and what was asked of the job that its host may not have heard: a stop, and a rate set
 * from outside that these epochs did not apply.
 */
export interface RecordedEpochs {
  events: JobEvent[];
  sweepEvents: SweepEvent[];
  stopRequested?: StopRequest;
  pendingRate?: { learningRate: number; change: number };
}

export interface JobQuery {
  status?: JobStatus;
  /** A sweep's trials, or with 'none' the jobs of no sweep. */
  sweep?: string;
  /** A part of the name, in any case. */
  name?: string;
  limit: number;
  /** Where the previous page ended (its nextCursor). */
  cursor?: string;
}

/** Jobs newest first; nextCursor is there when older ones follow. */
export interface JobPage {
  jobs: JobRecord[];
  nextCursor?: string;
}

export interface SweepRecord {
  id: string;
  spec: ResolvedSweepSpec;
  status: SweepStatus;
  createdAt: string;
  finishedAt?: string;
  /** The seq of its newest event, on records read from the store. */
  lastSeq?: number;
  /** The trials created so far, on records read from the store. */
  trialCount?: number;
}

export interface TrialRecord {
  sweepId: string;
  index: number;
  jobId: string;
  round: number;
  values: Sample;
  /** Stopped early by the sweep's rule (its job then ends stopped). */
  stopped: boolean;
}

export interface JobStore {
  /**
   * Adds queued jobs with their first event; resolves once they survive a crash of the
   * machine (a sweep's trials alone, once they survive a crash of the process: the sweep,
   * kept as durably, makes them again).
   */
  createJobs(jobs: NewJob[]): Promise<JobEvent[]>;
  getJob(id: string): Promise<JobRecord | undefined>;
  /** Throws a RangeError for a cursor it did not make. */
  listJobs(query: JobQuery): Promise<JobPage>;
  countByStatus(): Promise<Record<JobStatus, number>>;
  /** The ids alone of the jobs in one of `statuses`, oldest first: a sweep over many jobs that needs no more. */
  jobIds(statuses: readonly JobStatus[]): Promise<string[]>;
  /** The oldest queued job, now running with a new attempt; undefined when none waits. */
  claimNext(): Promise<{ job: JobRecord; event: JobEvent } | undefined>;
  /**
   * One job, delivered to this host by id: a queued one now running with a new attempt,
   * or a running one taken over (its host died or lost it) with the next attempt, so that
   * the writes of the earlier one are refused. Undefined for a job in any other status.
   */
  claim(id: string): Promise<{ job: JobRecord; event: JobEvent } | undefined>;
  /** The event, or undefined when the job was not in `from` (or the attempt is stale). A stop asked for is cleared. */
  transition(id: string, transition: Transition): Promise<JobEvent | undefined>;
  /**
   * Keeps a stop for a running job (a cancel or a sweep's stop replaces a pause asked for
   * before, never the reverse); false when the job is not running.
   */
  requestStop(id: string, stop: StopRequest): Promise<boolean>;
  /**
   * Epochs' events and the checkpoint after them in one commit, with the sweep's epoch
   * events for a trial; undefined (nothing kept) for a stale attempt, or epochs that do not
   * follow the last kept (one already kept, or a gap).
   */
  appendEpochs(record: EpochsRecord): Promise<RecordedEpochs | undefined>;
  /** A job's epoch events, in order. */
  epochs(jobId: string): Promise<EpochEvent[]>;
  /** Deletes a finished job outside any sweep with all it keeps; false when it is not one. */
  deleteJob(id: string): Promise<boolean>;
  /**
   * Keeps a rate for the job's next epoch, in place of any pending one; resolves with the
   * change's number: 1 for the job's first, one more for each after (never reused).
   */
  setPendingLearningRate(id: string, learningRate: number): Promise<number>;
  /** Events with seq > since, in order, at most `limit`. */
  eventsAfter(jobId: string, since: number, limit: number): Promise<JobEvent[]>;
  /** The job's latest checkpoint, or the best epoch's one. */
  checkpoint(jobId: string, which?: 'latest' | 'best'): Promise<Uint8Array | undefined>;
  model(jobId: string): Promise<string | undefined>;

  /** Keeps a new sweep; resolves once it survives a crash of the machine. */
  createSweep(record: SweepRecord): Promise<void>;
  getSweep(id: string): Promise<SweepRecord | undefined>;
  listSweeps(status?: SweepStatus): Promise<SweepRecord[]>;
  trials(sweepId: string): Promise<TrialRecord[]>;
  markTrialStopped(jobId: string): Promise<void>;
  /** Ends a running sweep with its done event, in one transaction; undefined when it had already ended. */
  finishSweep(id: string, status: SweepStatus, done: UnsequencedSweepEvent): Promise<SweepEvent | undefined>;
  appendSweepEvent(sweepId: string, event: UnsequencedSweepEvent): Promise<SweepEvent>;
  /** Deletes an ended sweep whose trials have all ended, with them; false otherwise. */
  deleteSweep(id: string): Promise<boolean>;
  sweepEventsAfter(sweepId: string, since: number, limit: number): Promise<SweepEvent[]>;

  /** The folder of this host where a new dataset's arrays are written before createDataset. */
  datasetDirectory(id: string): string;
  /** A local folder holding the dataset's arrays, fetched to this host first where the store keeps them elsewhere. */
  datasetFiles(id: string): Promise<string>;
  /** Keeps the record with the arrays written into datasetDirectory(record.id). */
  createDataset(record: DatasetRecord): Promise<void>;
  getDataset(id: string): Promise<DatasetRecord | undefined>;
  listDatasets(): Promise<DatasetRecord[]>;
  deleteDataset(id: string): Promise<boolean>;
  /** Resolves once pending submissions are committed and the connections closed. */
  close(): Promise<void>;
}
