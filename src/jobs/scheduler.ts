// The scheduler: a fixed number of slots; a job takes a free one and trains in its own
// worker process. On one machine the oldest queued job is claimed when a slot frees (kick);
// with many hosts, a queue delivers each job to one host, which trains it through run().
// Cancel, pause, a new learning rate and shutdown reach running jobs through here.
import { DataError } from '../data/index.js';
import type { EpochMetrics } from '../engine/index.js';
import { epochEvent } from './training.js';
import type { Lifecycle } from './lifecycle.js';
import type { StoredDataset, WorkerTask } from './protocol.js';
import { WorkerPool, type WorkerProcess, type Outcome } from './runner.js';
import type { ControlStatus, FinalStatus } from './status.js';
import { StoreUnavailableError, isStorageFull, type JobError, type JobRecord, type StopRequest } from './store.js';
import { needsDevF1 } from './training.js';

export interface SchedulerOptions {
  /** Jobs trained at once. */
  concurrency: number;
  /** OpenBLAS threads of each worker. */
  threads: number;
  heartbeatMs: number;
  stallMs: number;
  /** Reports what the caller's logs should show. */
  log: { error(object: object, message: string): void; info(object: object, message: string): void };
  /**
   * Set where many hosts share the store: jobs then arrive through run() (a queue delivers
   * them), never from kick(), and control requests for a job running on another host are
   * sent to every host.
   */
  cluster?: Cluster;
}

/** A control request for a running job, sent to every host: the one running it applies it. */
export type ControlMessage =
  | { jobId: string; action: 'cancel' | 'pause' | 'stop' }
  | { jobId: string; action: 'learningRate'; learningRate: number; change: number };

export interface Cluster {
  control(message: ControlMessage): Promise<void>;
}

/**
 * How a job given to run() left this host: it ended here (whatever its outcome), it went
 * back to the queue (this host is stopping), or the store refused the claim (the job was
 * cancelled, paused or finished meanwhile).
 */
export type RunEnd = 'ended' | 'requeued' | 'refused';

/**
 * Why a running job was asked to stop; the worker's "cancelled" means different things.
 * 'moved': the store refused an epoch because another host took the job over (this one
 * was frozen or cut off past its lock); 'unrecorded': the store could not keep an epoch (a
 * full disk, a database cut off), so the job ends at the last epoch kept: in a cluster it
 * goes back to the queue to resume from there, on one machine it fails with why. Either
 * way nothing more of this attempt is written.
 */
type StopReason = StopRequest | 'shutdown' | 'moved' | 'unrecorded';

/** Where a job a worker stopped goes, by why it was stopped (a shutdown requeues it). */
const STOPPED_TO: Record<StopRequest, 'cancelled' | 'paused' | 'stopped'> = {
  cancel: 'cancelled',
  pause: 'paused',
  stop: 'stopped',
};

/** The waits between tries to record how a job ended, on one machine: doubling from the first to the last. */
const END_RETRY_FIRST_MS = 500;
const END_RETRY_LAST_MS = 30_000;

/** A job in a slot: claimed, then (once its task is read) training in a worker. */
interface Running {
  job: JobRecord;
  worker?: WorkerProcess;
  /** Asked for before it stopped; a stop asked before its worker exists reaches the worker at its start. */
  stop?: StopReason;
  /** Set once the job is back in the queue (a shutdown stopped it). */
  requeued?: boolean;
  /** The newest rate change its worker has been given. */
  rateChange?: number;
  /** Why the job failed, when the store could not keep one of its epochs on one machine. */
  unrecorded?: JobError;
  /** Resolves once the job has left its slot, with its end recorded. */
  left: Promise<void>;
}

/** The status a control request leads to, or why it could not be made. */
export type ControlResult = ControlStatus | 'not-found' | 'conflict';

/** Something that judges jobs between their epochs (a sweep's stopping rule). */
export interface EpochJudge {
  /** Whether this job's epochs wait for the judge. */
  judges(job: JobRecord): boolean;
  /** Resolves once the judge has seen the job's latest epoch (and stopped it, or not). */
  judged(jobId: string): Promise<void>;
  /** The metric a trial's sweep ranks it by. */
  rankMetric?(job: JobRecord): string | undefined;
}

export class Scheduler {
  private readonly running = new Map<string, Running>();
  private judge: EpochJudge | undefined;
  private accepting = true;
  private filling = false;
  private fillAgain = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly workers: WorkerPool;

  constructor(
    private readonly lifecycle: Lifecycle,
    private readonly options: SchedulerOptions,
  ) {
    this.workers = new WorkerPool({ threads: options.threads, keepIdle: options.concurrency });
  }

  /** Starts the worker processes of every slot now, rather than at the slots' first jobs. */
  warmUp(): void {
    this.workers.warm(this.options.concurrency);
  }

  /** Jobs the judge judges wait for its verdict after each epoch. */
  setJudge(judge: EpochJudge): void {
    this.judge = judge;
  }

  get runningCount(): number {
    return this.running.size;
  }

  /**
   * Jobs a previous server left running go back to the queue, to resume from their
   * checkpoints; those asked to stop before it went down stop now.
   */
  async recover(): Promise<number> {
    const { jobs: orphans } = await this.lifecycle.store.listJobs({ status: 'running', limit: Number.MAX_SAFE_INTEGER });
    let requeued = 0;
    for (const job of orphans) {
      if (job.stopRequested !== undefined) await this.lifecycle.change(job.id, STOPPED_TO[job.stopRequested]);
      else if ((await this.lifecycle.change(job.id, 'queued')) !== undefined) requeued += 1;
    }
    return requeued;
  }

  /** Fills free slots with the oldest queued jobs (on one machine: in a cluster, jobs come through run). */
  kick(): void {
    if (!this.accepting || this.options.cluster !== undefined) return;
    // A slot freed while a fill runs may come after the fill looked: it fills again then.
    if (this.filling) {
      this.fillAgain = true;
      return;
    }
    this.filling = true;
    this.idle = this.fill().finally(() => {
      this.filling = false;
      if (this.fillAgain) {
        this.fillAgain = false;
        this.kick();
      }
    });
  }

  private async fill(): Promise<void> {
    while (this.accepting && this.running.size < this.options.concurrency) {
      const job = await this.lifecycle.claim();
      if (job === undefined) return;
      await this.begin(job);
    }
  }

  /**
   * Trains one job that a queue delivered to this host, in a slot (the queue gives a host no
   * more jobs at once than it has slots); resolves once the job has left the slot.
   */
  async run(jobId: string): Promise<RunEnd> {
    // Delivered again while it trains here (the queue thought this host lost it): this
    // delivery ends with the run that holds the job.
    const here = this.running.get(jobId);
    if (here !== undefined) {
      await here.left;
      return 'ended';
    }
    if (!this.accepting) return 'requeued';
    const job = await this.lifecycle.claim(jobId);
    if (job === undefined) return 'refused';
    // Asked to stop while the host it came from had it: it stops without training again.
    if (job.stopRequested !== undefined) {
      await this.lifecycle.change(job.id, STOPPED_TO[job.stopRequested], { attempt: job.attempt });
      return 'ended';
    }
    if (!this.accepting) {
      await this.lifecycle.change(job.id, 'queued', { attempt: job.attempt });
      return 'requeued';
    }
    const running = await this.begin(job);
    await running.left;
    return running.requeued === true ? 'requeued' : 'ended';
  }

  /** Takes a slot for a claimed job and starts its worker (or fails the job when it cannot start). */
  private async begin(job: JobRecord): Promise<Running> {
    let leave = () => {};
    // The slot is taken from the claim on, so a cancel before the worker exists reaches it.
    const running: Running = { job, left: new Promise((resolve) => (leave = resolve)) };
    this.running.set(job.id, running);
    try {
      this.start(running, await this.task(job), leave);
    } catch (error) {
      this.running.delete(job.id);
      // A store that cannot be reached fails no job: the delivery is tried again later.
      if (error instanceof StoreUnavailableError) {
        leave();
        throw error;
      }
      try {
        // A dataset deleted while its job waited is the job's fault; anything else is ours.
        const failure =
          error instanceof DataError
            ? { code: error.code, message: error.message }
            : { code: 'INTERNAL', message: 'the job could not be started; the server log has the details' };
        if (!(error instanceof DataError)) this.options.log.error({ err: error, jobId: job.id }, 'could not start a job');
        await this.lifecycle.change(job.id, 'failed', { attempt: job.attempt, error: failure });
      } finally {
        leave();
      }
    }
    return running;
  }

  private async task(job: JobRecord): Promise<WorkerTask> {
    const { store } = this.lifecycle;
    let dataset: StoredDataset | undefined;
    if (typeof job.spec.dataset === 'string') {
      const record = await store.getDataset(job.spec.dataset);
      if (record === undefined) throw new DataError('DATASET_NOT_FOUND', `dataset ${job.spec.dataset} was deleted before the job started`);
      dataset = { record, directory: await store.datasetFiles(record.id) };
    }
    const checkpoint = await store.checkpoint(job.id);
    const bestCheckpoint = await store.checkpoint(job.id, 'best');
    const history =
      job.spec.training.earlyStopping === undefined || job.epochsDone === 0
        ? undefined
        : (await store.epochs(job.id)).map(({ epoch, train, dev }) => ({ epoch, train, ...(dev === undefined ? {} : { dev }) }));
    return {
      kind: 'train',
      spec: job.spec,
      ...(dataset === undefined ? {} : { dataset }),
      ...(checkpoint === undefined ? {} : { checkpoint }),
      ...(bestCheckpoint === undefined ? {} : { bestCheckpoint }),
      ...(history === undefined ? {} : { history }),
      ...(job.pendingLearningRate === undefined ? {} : { learningRate: job.pendingLearningRate, rateChange: job.pendingRateChange }),
      ...(this.judge?.judges(job) === true ? { stepwise: true } : {}),
      ...(needsDevF1(job.spec, this.judge?.rankMetric?.(job)) ? { devF1: true } : {}),
    };
  }

  private start(running: Running, task: WorkerTask, leave: () => void): void {
    const { job } = running;
    const { heartbeatMs, stallMs, log } = this.options;
    const stepwise = task.kind === 'train' && task.stepwise === true;
    const worker: WorkerProcess = this.workers.run(task, {
      heartbeatMs,
      stallMs,
      onEpochs: async (epochs, checkpoint, best) => {
        const events = epochs.map((metrics) => epochEvent(job.id, metrics));
        const first = (epochs[0] as EpochMetrics).epoch;
        // Only a job that restores its best epoch needs that epoch's checkpoint kept.
        const keepBest = best && job.spec.training.earlyStopping?.restoreBest === true;
        const applied = epochs.flatMap((metrics) => (metrics.appliedRateChange === undefined ? [] : [metrics.appliedRateChange]));
        let moved: boolean;
        try {
          const recorded = await this.lifecycle.recordEpochs({
            jobId: job.id,
            attempt: job.attempt,
            events,
            checkpoint,
            best: keepBest,
            ...(applied.length === 0 ? {} : { appliedRateChange: Math.max(...applied) }),
          });
          moved = recorded === undefined && (await this.moved(job));
          // What was asked while the epochs trained, in case its message never came.
          if (recorded?.stopRequested !== undefined) this.stopRunning(job.id, recorded.stopRequested);
          if (recorded?.pendingRate !== undefined) this.giveRate(running, recorded.pendingRate.learningRate, recorded.pendingRate.change);
        } catch (error) {
          const inCluster = this.options.cluster !== undefined;
          log.error(
            { err: error, jobId: job.id, epoch: first },
            `could not record an epoch: the job ${inCluster ? 'goes back to the queue' : 'fails'} at its last epoch kept`,
          );
          running.stop = 'unrecorded';
          running.unrecorded = isStorageFull(error)
            ? { code: 'STORAGE_FULL', message: `the disk under the store is full: epoch ${first} could not be kept, so the job ended after epoch ${first - 1}` }
            : { code: 'INTERNAL', message: `the store could not keep epoch ${first}; the server log has the details` };
          worker.kill();
          return;
        }
        if (moved) {
          log.info({ jobId: job.id, attempt: job.attempt, epoch: first }, 'the job moved to another host: its epochs were refused; stopping its worker');
          running.stop = 'moved';
          worker.kill();
          return;
        }
        if (stepwise) {
          await this.judge?.judged(job.id);
          worker.epochDone();
        }
      },
      onError: (error) => log.error({ err: error, jobId: job.id }, 'could not record an epoch'),
    });
    running.worker = worker;
    if (task.kind === 'train' && task.rateChange !== undefined) running.rateChange = task.rateChange;
    if (running.stop !== undefined) worker.cancel();
    log.info({ jobId: job.id, attempt: job.attempt, pid: worker.pid }, 'job started');
    void worker.outcome
      .then((outcome) => this.recordEnd(running, outcome))
      .catch((error: unknown) => {
        log.error({ err: error, jobId: job.id }, 'could not record how a job ended');
        // In a cluster the job is delivered again and resumes from its last epoch kept.
        if (this.options.cluster !== undefined) running.requeued = true;
      })
      .finally(() => {
        this.running.delete(job.id);
        leave();
        this.kick();
      });
  }

  /** Whether the store has the job in another attempt than this one, or no longer running. */
  private async moved(job: JobRecord): Promise<boolean> {
    const stored = await this.lifecycle.store.getJob(job.id);
    return stored === undefined || stored.status !== 'running' || stored.attempt !== job.attempt;
  }

  /**
   * Records how a job ended. On one machine a store that cannot write now (a full disk) is
   * tried again while the job holds its slot, so that it never stays `running` with nothing
   * running; in a cluster, or when the server stops, the job is delivered or recovered again.
   */
  private async recordEnd(running: Running, outcome: Outcome): Promise<void> {
    for (let waitMs = END_RETRY_FIRST_MS; ; waitMs = Math.min(2 * waitMs, END_RETRY_LAST_MS)) {
      try {
        return await this.finish(running, outcome);
      } catch (error) {
        if (this.options.cluster !== undefined || !this.accepting) throw error;
        this.options.log.error({ err: error, jobId: running.job.id }, `could not record how a job ended; trying again in ${waitMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  private async finish(running: Running, outcome: Outcome): Promise<void> {
    const { job, stop } = running;
    const { attempt } = job;
    // Another host has the job now, or the next one will: whatever this worker did is not the job's.
    if (stop === 'moved') return;
    if (stop === 'unrecorded') {
      if (this.options.cluster !== undefined || running.unrecorded === undefined) running.requeued = true;
      else await this.lifecycle.change(job.id, 'failed', { attempt, error: running.unrecorded });
      return;
    }
    if (stop === 'shutdown') {
      // Killed or cancelled on the way out: the job resumes from its checkpoint next time.
      if (outcome.type !== 'succeeded') {
        running.requeued = (await this.lifecycle.change(job.id, 'queued', { attempt })) !== undefined;
        return;
      }
    }
    if (outcome.type === 'succeeded') {
      await this.lifecycle.change(job.id, 'succeeded', { attempt, result: outcome.result, model: outcome.model });
    } else if (outcome.type === 'cancelled') {
      // A shutdown's stop requeued the job above; a worker stops on its own only when asked.
      await this.lifecycle.change(job.id, STOPPED_TO[stop === undefined || stop === 'shutdown' ? 'cancel' : stop], { attempt });
    } else if (outcome.type === 'failed') {
      this.options.log.info({ jobId: job.id, error: outcome.error }, 'job failed');
      await this.lifecycle.change(job.id, 'failed', { attempt, error: outcome.error });
    } else {
      await this.lifecycle.change(job.id, 'failed', {
        attempt,
        error: { code: 'INTERNAL', message: `the worker answered a training task with ${outcome.type}` },
      });
    }
  }

  /**
   * Cancels a job that has not finished: at once when it waits ('cancelled'), within a
   * mini-batch when it runs ('cancelling' until then).
   */
  async cancel(id: string): Promise<ControlResult> {
    return this.requestStop(id, 'cancel');
  }

  /** Pauses a job: a running one stops at its last checkpoint and frees its slot ('pausing' until then). */
  async pause(id: string): Promise<ControlResult> {
    return this.requestStop(id, 'pause');
  }

  /** Ends a trial that a sweep's rule stopped, as `stopped`. */
  async stop(id: string): Promise<ControlResult> {
    return this.requestStop(id, 'stop');
  }

  /**
   * A job that waits stops at once. For a running one the stop is kept in the store, where
   * its host reads it back with its next epoch (and a host that takes it over, at the
   * claim), and it is sent at once to its worker, here or through every host.
   */
  private async requestStop(id: string, reason: StopRequest): Promise<ControlResult> {
    const job = await this.lifecycle.store.getJob(id);
    if (job === undefined) return 'not-found';
    if (job.status !== 'running') {
      const to = STOPPED_TO[reason];
      // The attempt fences a claim in between: a job that started meanwhile is stopped as a running one.
      if ((await this.lifecycle.change(id, to, { attempt: job.attempt })) !== undefined) return to;
    }
    if (!(await this.lifecycle.store.requestStop(id, reason))) return 'conflict';
    const here = this.stopRunning(id, reason);
    if (here !== undefined) return here;
    await this.options.cluster?.control({ jobId: id, action: reason });
    return reason === 'pause' ? 'pausing' : 'cancelling';
  }

  async resume(id: string): Promise<ControlResult> {
    const job = await this.lifecycle.store.getJob(id);
    if (job === undefined) return 'not-found';
    if (job.status !== 'paused') return 'conflict';
    const moved = await this.lifecycle.change(id, 'queued');
    this.kick();
    return moved === undefined ? 'conflict' : 'queued';
  }

  /** The rate from the next epoch on; kept so that a resumed job still takes it. */
  async setLearningRate(id: string, learningRate: number): Promise<ControlResult> {
    const job = await this.lifecycle.store.getJob(id);
    if (job === undefined) return 'not-found';
    if (job.status !== 'queued' && job.status !== 'running' && job.status !== 'paused') return 'conflict';
    const change = await this.lifecycle.store.setPendingLearningRate(id, learningRate);
    const running = this.running.get(id);
    if (running !== undefined) this.giveRate(running, learningRate, change);
    else if (job.status === 'running') await this.options.cluster?.control({ jobId: id, action: 'learningRate', learningRate, change });
    return job.status;
  }

  /** Applies a control request sent to every host, if the job runs here; false when it does not. */
  control(message: ControlMessage): boolean {
    const running = this.running.get(message.jobId);
    if (running === undefined) return false;
    if (message.action === 'learningRate') this.giveRate(running, message.learningRate, message.change);
    else this.stopRunning(message.jobId, message.action);
    return true;
  }

  /** Gives a running worker a rate change it has not had (its message and an epoch's commit may both bring it). */
  private giveRate(running: Running, learningRate: number, change: number): void {
    if (running.worker === undefined || change <= (running.rateChange ?? 0)) return;
    running.rateChange = change;
    running.worker.setLearningRate(learningRate, change);
  }

  /** Asks a running job's worker to stop; undefined when the job does not run here. */
  private stopRunning(id: string, reason: StopRequest): ControlResult | undefined {
    const running = this.running.get(id);
    if (running === undefined) return undefined;
    // A cancel overrides a pause asked for before it; nothing overrides a shutdown or a move.
    if (running.stop === undefined || (running.stop === 'pause' && reason !== 'pause')) running.stop = reason;
    running.worker?.cancel();
    return running.stop === 'pause' ? 'pausing' : running.stop === 'cancel' || running.stop === 'stop' ? 'cancelling' : 'running';
  }

  /** Runs a short task (a gradient check, a dataset import) in a worker, outside the slots. */
  async runTask(task: WorkerTask, timeoutMs: number): Promise<Outcome> {
    const { heartbeatMs, stallMs } = this.options;
    const worker = this.workers.run(task, { heartbeatMs, stallMs });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      worker.kill();
    }, timeoutMs);
    const outcome = await worker.outcome;
    clearTimeout(timer);
    if (timedOut && outcome.type === 'failed')
      return { type: 'failed', error: { code: 'TIMEOUT', message: `the ${task.kind} task took over ${timeoutMs} ms` } };
    return outcome;
  }

  /**
   * Stops taking jobs and asks running ones to stop at their next mini-batch; they go back
   * to the queue with their checkpoints. Workers still alive after `graceMs` are killed.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.accepting = false;
    await this.idle;
    const stopping = [...this.running.values()];
    for (const running of stopping) {
      running.stop = 'shutdown';
      running.worker?.cancel();
    }
    const killer = setTimeout(() => {
      for (const running of stopping) running.worker?.kill();
    }, graceMs);
    await Promise.all(stopping.map(async ({ worker }) => worker?.outcome));
    // Each finish writes the store after its outcome; wait until all are recorded.
    while (this.running.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    clearTimeout(killer);
    this.workers.close();
  }
}
