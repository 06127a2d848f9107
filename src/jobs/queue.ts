// Delivery past one machine: one BullMQ queue on Redis carries job ids from the API servers
// to the worker hosts. The store is the record of every job; the queue only delivers, at
// least once, so a job's BullMQ id is its own id (add with an id already there is a no-op)
// and a reconciler adds again whatever the store has waiting that the queue lost.
import { Queue } from 'bullmq';
import type { JobStore } from './store.js';

export const QUEUE_NAME = 'caviar-jobs';

/**
 * BullMQ priorities: a job that has waited before (resumed, requeued by a stopping host,
 * re-added by the reconciler) goes before new ones, as the oldest queued job does on one
 * machine; new jobs among themselves in the order they came.
 */
const PRIORITY = { waitedBefore: 1, new: 2 } as const;

/** Adds sent to Redis in one round trip at most. */
const BULK = 500;

/** How often the reconciler looks whether Redis came back after a closed connection. */
const RECONNECT_CHECK_MS = 1000;

export interface RedisAddress {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls?: object;
}

/** Connection settings for ioredis (and BullMQ, which passes them on) from a redis:// or rediss:// URL. */
export function redisOptions(url: string): RedisAddress {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname,
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    db,
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

export interface QueueSettings {
  redisUrl: string;
  /** The prefix of every Redis key and channel of this deployment. */
  prefix: string;
}

interface Pending {
  id: string;
  priority: number;
}

/** What operators see of the queue: jobs waiting for a host or delivered, and the hosts connected. */
export interface QueueView {
  counts(): Promise<{ waiting: number; active: number }>;
  workers(): Promise<number>;
}

export class JobQueue implements QueueView {
  private readonly queue: Queue;
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    settings: QueueSettings,
    private readonly log: { error(object: object, message: string): void; info(object: object, message: string): void },
  ) {
    this.queue = new Queue(QUEUE_NAME, {
      // An add while Redis is down fails at once instead of waiting in memory: the job is
      // committed already, and the reconciler adds it once Redis is back.
      connection: { ...redisOptions(settings.redisUrl), enableOfflineQueue: false, maxRetriesPerRequest: 1 },
      prefix: settings.prefix,
      // BullMQ only delivers: the store keeps each job's outcome. A job removed at its end
      // can be added again under its id when it waits again (a resume, a requeue).
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
    });
    this.queue.on('error', (error) => log.error({ err: error }, 'job queue connection error'));
  }

  /**
   * Hands jobs that the store has committed as queued to the queue. Adds made in the same
   * turn go in one round trip; a failure is logged (the reconciler adds them later).
   */
  add(id: string, waitedBefore: boolean): void {
    this.pending.push({ id, priority: waitedBefore ? PRIORITY.waitedBefore : PRIORITY.new });
    this.flushing ??= new Promise<void>((started) => setImmediate(started)).then(() => this.flush());
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, BULK);
      try {
        await this.addAll(batch);
      } catch (error) {
        this.log.error({ err: error, jobs: batch.length }, 'could not hand jobs to the queue; the reconciler will');
      }
    }
    this.flushing = undefined;
  }

  private async addAll(jobs: Pending[]): Promise<void> {
    for (let start = 0; start < jobs.length; start += BULK)
      await this.queue.addBulk(jobs.slice(start, start + BULK).map(({ id, priority }) => ({ name: 'train', data: {}, opts: { jobId: id, priority } })));
  }

  /**
   * Adds every job the store has queued or running that the queue lacks (Redis lost them,
   * or a server died between its commit and its add): an id the queue has is left as it is.
   * A running job whose host is alive but whose delivery was lost is taken over by the host
   * it goes to, and its first host gives it up at its next epoch. Resolves with the jobs offered.
   */
  async reconcile(store: JobStore): Promise<number> {
    const offered = (await store.jobIds(['queued', 'running'])).map((id) => ({ id, priority: PRIORITY.waitedBefore }));
    await this.addAll(offered);
    return offered.length;
  }

  /**
   * Reconciles now, every `everyMs`, and as soon as Redis answers again after its
   * connection closed (a restart may have emptied it); a failure (Redis or the store down)
   * is logged and tried again at the next check.
   */
  startReconciler(store: JobStore, everyMs: number, checkMs = RECONNECT_CHECK_MS): void {
    let due = true;
    let last = 0;
    this.queue.on('ioredis:close', () => {
      due = true;
    });
    const tick = async () => {
      if (due || Date.now() - last >= everyMs) {
        try {
          await this.reconcile(store);
          due = false;
          last = Date.now();
        } catch (error) {
          due = true;
          this.log.error({ err: error }, 'could not reconcile the queue with the store');
        }
      }
      this.timer = setTimeout(() => void tick(), checkMs);
      this.timer.unref();
    };
    void tick();
  }

  /** Jobs waiting for a host and delivered, as BullMQ counts them. */
  async counts(): Promise<{ waiting: number; active: number }> {
    const counts = await this.queue.getJobCounts('wait', 'prioritized', 'active');
    return { waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0), active: counts.active ?? 0 };
  }

  /** The worker hosts connected to the queue now. */
  async workers(): Promise<number> {
    return this.queue.getWorkersCount();
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.flushing;
    await this.queue.close();
  }
}
