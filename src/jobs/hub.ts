// The event hub: hands each event, once the store has kept it, to its listeners: a job's
// events to that job's and to every job's, a sweep's to that sweep's. In memory, for one
// server; a cluster would carry it on Redis.
import type { JobEvent } from './events.js';
import type { SweepEvent } from './sweep-spec.js';

export type EventListener = (event: JobEvent) => void;
export type SweepEventListener = (event: SweepEvent) => void;

/** Listeners by key, with '*' for those of every key. */
class Listeners<Event> {
  private readonly byKey = new Map<string, Set<(event: Event) => void>>();

  subscribe(key: string, listener: (event: Event) => void): () => void {
    let listeners = this.byKey.get(key);
    if (listeners === undefined) {
      listeners = new Set();
      this.byKey.set(key, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.byKey.delete(key);
    };
  }

  publish(key: string, event: Event): void {
    for (const listener of this.byKey.get(key) ?? []) listener(event);
    for (const listener of this.byKey.get('*') ?? []) listener(event);
  }
}

export class EventHub {
  private readonly jobs = new Listeners<JobEvent>();
  private readonly sweeps = new Listeners<SweepEvent>();

  /** Listens to one job's events, or to every job's with '*'; returns the unsubscribe. */
  subscribe(jobId: string, listener: EventListener): () => void {
    return this.jobs.subscribe(jobId, listener);
  }

  publish(event: JobEvent): void {
    this.jobs.publish(event.jobId, event);
  }

  /** Listens to one sweep's events, or to every sweep's with '*'; returns the unsubscribe. */
  subscribeSweep(sweepId: string, listener: SweepEventListener): () => void {
    return this.sweeps.subscribe(sweepId, listener);
  }

  publishSweep(event: SweepEvent): void {
    this.sweeps.publish(event.sweepId, event);
  }
}
