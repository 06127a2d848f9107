// The event hub: hands each event, once the store has kept it, to the listeners of its job
// and to those of every job. In memory, for one server; a cluster would carry it on Redis.
import type { JobEvent } from './events.js';

export type EventListener = (event: JobEvent) => void;

export class EventHub {
  private readonly byJob = new Map<string, Set<EventListener>>();
  private readonly everyJob = new Set<EventListener>();

  /** Listens to one job's events, or to every job's with '*'; returns the unsubscribe. */
  subscribe(jobId: string, listener: EventListener): () => void {
    if (jobId === '*') {
      this.everyJob.add(listener);
      return () => this.everyJob.delete(listener);
    }
    let listeners = this.byJob.get(jobId);
    if (listeners === undefined) {
      listeners = new Set();
      this.byJob.set(jobId, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.byJob.delete(jobId);
    };
  }

  publish(event: JobEvent): void {
    for (const listener of this.byJob.get(event.jobId) ?? []) listener(event);
    for (const listener of this.everyJob) listener(event);
  }
}
