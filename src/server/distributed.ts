// The job system's parts in each mode: on one machine, the SQLite store and this process's
// slots; past one machine, PostgreSQL as the store of record, a BullMQ queue that delivers
// jobs to worker hosts, and a Redis channel for the control of running jobs. The routes see
// the same parts (store, hub, lifecycle, scheduler) either way.
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { blasInfo } from '../engine/index.js';
import { ControlChannel } from '../jobs/control.js';
import { EventHub, Lifecycle, Scheduler, SqliteStore, type JobStore, type Sweeps } from '../jobs/index.js';
import { SweepLeases } from '../jobs/lease.js';
import type { SweepOwnership } from '../jobs/sweeps.js';
import { PgHub } from '../jobs/pg-hub.js';
import { PostgresStore } from '../jobs/postgres-store.js';
import { JobQueue } from '../jobs/queue.js';
import { WorkerHost } from '../jobs/worker-host.js';
import { threadsPerJob, type DistributedConfig, type ServerConfig } from './config.js';

/** The reconciler's full pass; it also runs as soon as Redis answers again after a lost connection. */
const RECONCILE_MS = 30_000;
/** An API server's safety net for lost event notices. */
const EVENT_POLL_MS = 2000;
/** How often an API server looks for running sweeps whose server is gone, to take them over. */
const SWEEP_TAKEOVER_MS = 3000;

export interface JobSystem {
  store: JobStore;
  hub: EventHub;
  lifecycle: Lifecycle;
  scheduler: Scheduler;
  /** Where several API servers share the store: which of them controls each sweep. */
  sweepOwnership?: SweepOwnership;
  /** In the distributed mode: the queue that delivers jobs to worker hosts. */
  queue?: JobQueue;
  /** Settles what an earlier run left (before the server listens); resolves with the jobs requeued. */
  recover(sweeps: Sweeps): Promise<number>;
  /** Starts taking jobs. */
  start(): Promise<void>;
  /** Stops taking jobs; running ones go back to the queue at their checkpoints. */
  shutdown(graceMs: number): Promise<void>;
  /** Closes the connections, the store's last. */
  close(): Promise<void>;
}

type Log = FastifyBaseLogger;

/** One machine: the SQLite store, and every job trains in this process's slots. */
export function embeddedJobs(config: ServerConfig, log: Log): JobSystem {
  const store = new SqliteStore(config.dataDirectory);
  const hub = new EventHub();
  const lifecycle = new Lifecycle(store, hub);
  const scheduler = new Scheduler(lifecycle, {
    concurrency: config.concurrency,
    threads: config.threadsPerJob,
    heartbeatMs: config.heartbeatMs,
    stallMs: config.stallMs,
    log,
  });
  return {
    store,
    hub,
    lifecycle,
    scheduler,
    async recover(sweeps) {
      const recovered = await scheduler.recover();
      await sweeps.recover();
      return recovered;
    },
    async start() {
      scheduler.kick();
    },
    shutdown: (graceMs) => scheduler.shutdown(graceMs),
    close: () => store.close(),
  };
}

/**
 * The parts every process of the distributed mode has: the shared store, an event hub
 * (`hubOf` makes it), the control channel, and a worker host when it has slots.
 */
async function clusterParts(
  config: ServerConfig,
  cluster: DistributedConfig,
  slots: number,
  log: Log,
  hubOf: (store: PostgresStore) => Promise<EventHub>,
) {
  const store = await PostgresStore.open({ url: cluster.databaseUrl, datasetCache: join(config.dataDirectory, 'datasets') });
  let hub: EventHub;
  try {
    hub = await hubOf(store);
  } catch (error) {
    await store.close();
    throw error;
  }
  const settings = { redisUrl: cluster.redisUrl, prefix: cluster.redisPrefix };
  const control = new ControlChannel(settings, log);
  const lifecycle = new Lifecycle(store, hub);
  const scheduler = new Scheduler(lifecycle, {
    concurrency: slots,
    threads: slots === config.concurrency ? config.threadsPerJob : threadsPerJob(slots),
    heartbeatMs: config.heartbeatMs,
    stallMs: config.stallMs,
    log,
    cluster: control,
  });
  let host: WorkerHost | undefined;
  const hostJobs = async () => {
    if (slots > 0) host = await WorkerHost.start(scheduler, control, { ...settings, slots, lockMs: cluster.lockMs }, log);
  };
  const stopHost = async (graceMs: number) => {
    // The host stops taking jobs and waits for its deliveries, which end once the
    // scheduler has put their jobs back in the queue.
    await Promise.all([host?.close(), scheduler.shutdown(graceMs)]);
  };
  return { store, settings, control, hub, lifecycle, scheduler, hostJobs, stopHost };
}

/**
 * An API server past one machine: jobs it accepts go to the queue once committed, and it
 * trains them itself only with `slots` above 0 (`caviar serve --workers N`).
 */
export async function clusterJobs(config: ServerConfig, cluster: DistributedConfig, slots: number, log: Log): Promise<JobSystem> {
  const queue = new JobQueue({ redisUrl: cluster.redisUrl, prefix: cluster.redisPrefix }, log);
  let pgHub: PgHub | undefined;
  const hubOf = async (store: PostgresStore) =>
    (pgHub = await PgHub.open(store, {
      pollMs: EVENT_POLL_MS,
      log,
      // Every job committed as queued here (submitted, resumed, requeued) goes to the queue.
      onCommitted: (event) => {
        if (event.type === 'status' && event.status === 'queued') queue.add(event.jobId, event.seq > 1);
      },
    }));
  let parts: Awaited<ReturnType<typeof clusterParts>>;
  let leases: SweepLeases;
  try {
    leases = await SweepLeases.open(cluster.databaseUrl, log);
    try {
      parts = await clusterParts(config, cluster, slots, log, hubOf);
    } catch (error) {
      await leases.close();
      throw error;
    }
  } catch (error) {
    await queue.close();
    throw error;
  }
  const { store, hub, control } = parts;
  let takeovers: NodeJS.Timeout | undefined;
  let closed = false;
  return {
    store,
    hub,
    lifecycle: parts.lifecycle,
    scheduler: parts.scheduler,
    sweepOwnership: leases,
    queue,
    async recover(sweeps) {
      // Running jobs belong to their hosts; the queue redelivers those of dead ones.
      queue.startReconciler(store, RECONCILE_MS);
      leases.onLost = (sweepIds) => {
        for (const id of sweepIds) sweeps.drop(id);
      };
      // The sweeps of no live server (this one's before a restart among them), now and later.
      await sweeps.recover();
      const takeOver = () => {
        if (closed) return;
        takeovers = setTimeout(() => {
          sweeps
            .recover()
            .catch((error: unknown) => log.warn({ err: error }, 'could not look for sweeps to take over'))
            .finally(takeOver);
        }, SWEEP_TAKEOVER_MS);
        takeovers.unref();
      };
      takeOver();
      return 0;
    },
    start: parts.hostJobs,
    shutdown: parts.stopHost,
    async close() {
      closed = true;
      clearTimeout(takeovers);
      await leases.close();
      await queue.close();
      await pgHub?.close();
      await control.close();
      await store.close();
    },
  };
}

export interface RunningWorkerHost {
  log: Log;
  /** Stops taking jobs, returns running ones to the queue at their checkpoints, and closes the connections. */
  stop(graceMs: number): Promise<void>;
}

/** `caviar worker`: takes jobs from the queue with CAVIAR_CONCURRENCY slots and trains them. */
export async function startWorkerHost(config: ServerConfig, cluster: DistributedConfig, log: Log): Promise<RunningWorkerHost> {
  const parts = await clusterParts(config, cluster, config.concurrency, log, async () => new EventHub());
  try {
    await parts.hostJobs();
  } catch (error) {
    await parts.control.close();
    await parts.store.close();
    throw error;
  }
  log.info({ slots: config.concurrency, threadsPerJob: config.threadsPerJob, blas: blasInfo(), lockMs: cluster.lockMs }, 'caviar worker is ready');
  return {
    log,
    async stop(graceMs) {
      await parts.stopHost(graceMs);
      await parts.control.close();
      await parts.store.close();
    },
  };
}
