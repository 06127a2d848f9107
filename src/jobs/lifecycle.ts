// The job lifecycle: every change of a job's status goes through here, and each is written
// to the store (with its event) before the event hub sends it anywhere.
import type { JobEvent } from './events.js';
import { isFinal, sources, type JobStatus } from './status.js';
import type { EventHub } from './hub.js';
import type { EpochsRecord, JobRecord, JobStore, NewJob, RecordedEpochs, Transition } from './store.js';

export type Change = Omit<Transition, 'from' | 'to' | 'event'>;

export class Lifecycle {
  constructor(
    readonly store: JobStore,
    private readonly hub: EventHub,
  ) {}

  private publish<Event extends JobEvent | undefined>(event: Event): Event {
    if (event !== undefined) this.hub.publish(event);
    return event;
  }

  async submit(jobs: NewJob[]): Promise<JobEvent[]> {
    const events = await this.store.createJobs(jobs);
    for (const event of events) this.publish(event);
    return events;
  }

  /** The oldest queued job, or the one named (delivered to this host), now running. */
  async claim(id?: string): Promise<JobRecord | undefined> {
    const claimed = id === undefined ? await this.store.claimNext() : await this.store.claim(id);
    if (claimed === undefined) return undefined;
    this.publish(claimed.event);
    return claimed.job;
  }

  /**
   * Moves a job to `to` from any status allowed to go there, with the event that says so:
   * a status event, or the done event of a finished job. Undefined when the job is not in
   * such a status (or `attempt` is stale): the change did not happen.
   */
  async change(id: string, to: JobStatus, change: Change = {}): Promise<JobEvent | undefined> {
    const event = isFinal(to)
      ? {
          type: 'done' as const,
          jobId: id,
          status: to,
          ...(change.result === undefined ? {} : { result: change.result }),
          ...(change.error === undefined ? {} : { error: change.error }),
        }
      : { type: 'status' as const, jobId: id, status: to };
    return this.publish(await this.store.transition(id, { ...change, from: sources(to), to, event }));
  }

  /** Keeps epochs and sends their events; undefined when the store refused them (stale or kept). */
  async recordEpochs(record: EpochsRecord): Promise<RecordedEpochs | undefined> {
    const recorded = await this.store.appendEpochs(record);
    if (recorded === undefined) return undefined;
    for (const event of recorded.events) this.publish(event);
    for (const event of recorded.sweepEvents) this.hub.publishSweep(event);
    return recorded;
  }
}
