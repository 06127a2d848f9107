// src/server: the HTTP and websocket face of the service. This file starts it: opens the
// store, recovers jobs a previous run left, listens, and stops gracefully on a signal.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { blasInfo } from '../engine/index.js';
import { Sweeps } from '../jobs/index.js';
import { buildApp, createLogger } from './app.js';
import { isLoopback, loadConfig, type DistributedConfig, type ServerConfig } from './config.js';
import { clusterJobs, embeddedJobs, startWorkerHost } from './distributed.js';
import { CLOSE_GOING_AWAY, SocketRegistry } from './routes/events.js';

/** Running jobs get this long to stop at a mini-batch before their workers are killed. */
const WORKER_GRACE_MS = 5000;
/** Websocket clients get this long to answer the close frame before their sockets are cut. */
const SOCKET_GRACE_MS = 2000;
/** Container runtimes wait 10 s after SIGTERM; stop within 8. */
const SHUTDOWN_LIMIT_MS = 8000;

export interface RunningServer {
  app: FastifyInstance;
  /** The address it listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Stops taking jobs, returns running ones to the queue, closes sockets (1001) and the store. */
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** In the distributed mode, the jobs this API server trains itself (0: it only serves). */
  workers?: number;
}

export async function startServer(config: ServerConfig = loadConfig(), options: ServeOptions = {}): Promise<RunningServer> {
  const log = createLogger(config.logLevel);
  const jobs =
    config.distributed === undefined ? embeddedJobs(config, log) : await clusterJobs(config, config.distributed, options.workers ?? 0, log);
  const { store, hub, lifecycle, scheduler } = jobs;
  const sockets = new SocketRegistry();
  let app: FastifyInstance | undefined;
  try {
    const sweeps = new Sweeps(lifecycle, scheduler, hub, log, jobs.sweepOwnership);
    app = await buildApp({ config, store, hub, lifecycle, scheduler, sweeps, log, ...(jobs.queue === undefined ? {} : { queue: jobs.queue }) }, sockets);
    const recovered = await jobs.recover(sweeps);
    const url = await app.listen({ port: config.port, host: config.host });
    if (config.token === undefined && !isLoopback(config.host))
      app.log.warn(
        { host: config.host },
        'listening beyond this machine with no CAVIAR_TOKEN: whoever reaches the port can submit jobs and read datasets and models',
      );
    app.log.info(
      {
        url,
        dataDirectory: config.dataDirectory,
        mode: config.distributed === undefined ? 'embedded' : 'distributed',
        concurrency: config.distributed === undefined ? config.concurrency : (options.workers ?? 0),
        threadsPerJob: config.threadsPerJob,
        blas: blasInfo(),
        recovered,
        auth: config.token !== undefined,
      },
      'caviar is ready',
    );
    await jobs.start();
    const server = app;
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        await Promise.all([
          sockets.closeAll(CLOSE_GOING_AWAY, 'server shutting down', SOCKET_GRACE_MS),
          jobs.shutdown(WORKER_GRACE_MS),
          server.close(),
        ]);
        await jobs.close();
      })());
    return { app: server, url, stop };
  } catch (error) {
    await app?.close();
    await jobs.close();
    throw error;
  }
}

/** Runs the server until SIGTERM or SIGINT, then stops it within SHUTDOWN_LIMIT_MS and exits 0. */
export async function serve(config: ServerConfig = loadConfig(), options: ServeOptions = {}): Promise<void> {
  const server = await startServer(config, options);
  stopOnSignal(server.app.log, () => server.stop());
}

/** Runs a worker host (the distributed mode) until SIGTERM or SIGINT, then stops it as serve does. */
export async function work(config: ServerConfig & { distributed: DistributedConfig }): Promise<void> {
  const host = await startWorkerHost(config, config.distributed, createLogger(config.logLevel));
  stopOnSignal(host.log, () => host.stop(WORKER_GRACE_MS));
}

function stopOnSignal(log: FastifyBaseLogger, stop: () => Promise<void>): void {
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'stopping');
    setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
