// A worker host: takes job ids from the queue, as many at once as it has slots, and trains
// each through the scheduler's run(), in today's worker processes. BullMQ holds a lock on
// each job while the host lives; a host that dies (or stops answering) past the lock has
// its jobs delivered to another host, which takes them over in the store from their last
// checkpoint. The processor resolves when the job has left the host, whatever its outcome:
// the store holds the outcome, BullMQ only delivers.
import { hostname } from 'node:os';
import { DelayedError, WaitingError, Worker } from 'bullmq';
import { ControlChannel } from './control.js';
import { QUEUE_NAME, redisOptions, type QueueSettings } from './queue.js';
import type { RunEnd, Scheduler } from './scheduler.js';
import { StoreUnavailableError } from './store.js';

export interface WorkerHostOptions extends QueueSettings {
  /** Jobs trained at once. */
  slots: number;
  /** How long a silent host keeps its jobs before they go to another (BullMQ's lock duration). */
  lockMs: number;
}

/**
 * How often the hosts look for jobs whose lock has run out: a dead host's jobs move within
 * the lock plus one check, so the checks are frequent (one script for all hosts, not each).
 */
const stalledCheckMs = (lockMs: number) => Math.max(200, Math.min(2000, Math.floor(lockMs / 2)));

/** A delivery the store could not take (it cannot be reached) is tried again this much later. */
const STORE_RETRY_MS = 2000;

export class WorkerHost {
  private constructor(private readonly worker: Worker) {}

  static async start(
    scheduler: Scheduler,
    control: ControlChannel,
    options: WorkerHostOptions,
    log: { error(object: object, message: string): void; info(object: object, message: string): void },
  ): Promise<WorkerHost> {
    await control.listen((message) => scheduler.control(message));
    const worker = new Worker(
      QUEUE_NAME,
      async (job, token) => {
        const jobId = job.id as string;
        let end: RunEnd;
        try {
          end = await scheduler.run(jobId);
        } catch (error) {
          if (!(error instanceof StoreUnavailableError)) throw error;
          log.error({ err: error, jobId }, 'the store cannot be reached: the delivery is tried again shortly');
          await job.moveToDelayed(Date.now() + STORE_RETRY_MS, token);
          throw new DelayedError();
        }
        if (end === 'refused') log.info({ jobId }, 'a delivered job no longer waits (cancelled, paused or finished): skipped');
        if (end === 'requeued') {
          // Back to BullMQ's waiting list, for another host (this one is stopping).
          await job.moveToWait(token);
          throw new WaitingError();
        }
      },
      {
        connection: { ...redisOptions(options.redisUrl), maxRetriesPerRequest: null },
        prefix: options.prefix,
        name: `${hostname()}:${process.pid}`,
        concurrency: options.slots,
        lockDuration: options.lockMs,
        stalledInterval: stalledCheckMs(options.lockMs),
        // A job may move any number of times (hosts die); the store's attempt fence makes
        // each move safe, and a job BullMQ failed for moving too often would be lost to it.
        maxStalledCount: Number.MAX_SAFE_INTEGER,
        autorun: false,
      },
    );
    worker.on('error', (error) => log.error({ err: error }, 'worker host queue error'));
    worker.on('failed', (job, error) => log.error({ err: error, jobId: job?.id }, 'a delivery failed'));
    void worker.run().catch((error: unknown) => log.error({ err: error }, 'the worker host stopped taking jobs'));
    await worker.waitUntilReady();
    return new WorkerHost(worker);
  }

  /** Stops taking jobs and waits for those it holds to leave (the scheduler's shutdown requeues them). */
  async close(): Promise<void> {
    await this.worker.close();
  }
}
