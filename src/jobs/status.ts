// A job's statuses and the one table of the moves between them; the stores, the lifecycle,
// the events and the views all take them from here.
import { Type, type Static } from '@sinclair/typebox';
import { oneOf } from './spec.js';

export const JobStatusSchema = oneOf('queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled', 'stopped');
export type JobStatus = Static<typeof JobStatusSchema>;
export const JOB_STATUSES: readonly JobStatus[] = JobStatusSchema.anyOf.map((literal) => literal.const);

/** The statuses a job ends in: it never trains again, and its checkpoint is dropped. */
export const FinalStatusSchema = oneOf('succeeded', 'failed', 'cancelled', 'stopped');
export type FinalStatus = Static<typeof FinalStatusSchema>;
const FINAL: ReadonlySet<JobStatus> = new Set(FinalStatusSchema.anyOf.map((literal) => literal.const));

export function isFinal(status: JobStatus): status is FinalStatus {
  return FINAL.has(status);
}

/** The statuses a job may go to from each, and why: the one table of the lifecycle. */
export const TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  // claimed by a free slot; paused or cancelled before it started; a sweep's rule may stop
  // a trial that a restart put back in the queue
  queued: ['running', 'paused', 'cancelled', 'stopped'],
  // finished, failed, stopped by the user or by a sweep's rule, or back in the queue when
  // the server stops
  running: ['succeeded', 'failed', 'cancelled', 'stopped', 'paused', 'queued'],
  paused: ['queued', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
  stopped: [],
};

export function canChange(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The statuses a job can leave for `to`. */
export function sources(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((from) => canChange(from, to));
}

/**
 * What a control request (cancel, pause, resume) leads to: the status reached, or, for a
 * running job, the status it is on its way to (reached at its next mini-batch or epoch).
 */
export const ControlStatusSchema = Type.Union([JobStatusSchema, oneOf('pausing', 'cancelling')]);
export type ControlStatus = Static<typeof ControlStatusSchema>;
