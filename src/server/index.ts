// src/server: the HTTP and websocket face of the service. This file starts it: opens the
// store, recovers jobs a previous run left, listens, and stops gracefully on a signal.
import type { FastifyInstance } from 'fastify';
import { EventHub, Lifecycle, Scheduler, SqliteStore, Sweeps } from '../jobs/index.js';
import { buildApp, createLogger } from './app.js';
import { isLoopback, loadConfig, type ServerConfig } from './config.js';
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

export async function startServer(config: ServerConfig = loadConfig()): Promise<RunningServer> {
  const store = new SqliteStore(config.dataDirectory);
  const hub = new EventHub();
  const lifecycle = new Lifecycle(store, hub);
  const sockets = new SocketRegistry();
  let app: FastifyInstance | undefined;
  try {
    const log = createLogger(config.logLevel);
    const scheduler = new Scheduler(lifecycle, {
      concurrency: config.concurrency,
      threads: config.threadsPerJob,
      heartbeatMs: config.heartbeatMs,
      stallMs: config.stallMs,
      log,
    });
    const sweeps = new Sweeps(lifecycle, scheduler, hub, log);
    app = await buildApp({ config, store, hub, lifecycle, scheduler, sweeps, log }, sockets);
    const recovered = await scheduler.recover();
    await sweeps.recover();
    const url = await app.listen({ port: config.port, host: config.host });
    if (config.token === undefined && !isLoopback(config.host))
      app.log.warn(
        { host: config.host },
        'listening beyond this machine with no CAVIAR_TOKEN: whoever reaches the port can submit jobs and read datasets and models',
      );
    app.log.info(
      { url, dataDirectory: config.dataDirectory, concurrency: config.concurrency, threadsPerJob: config.threadsPerJob, recovered, auth: config.token !== undefined },
      'caviar is ready',
    );
    scheduler.kick();
    const server = app;
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        await Promise.all([
          sockets.closeAll(CLOSE_GOING_AWAY, 'server shutting down', SOCKET_GRACE_MS),
          scheduler.shutdown(WORKER_GRACE_MS),
          server.close(),
        ]);
        await store.close();
      })());
    return { app: server, url, stop };
  } catch (error) {
    await app?.close();
    await store.close();
    throw error;
  }
}

/** Runs the server until SIGTERM or SIGINT, then stops it within SHUTDOWN_LIMIT_MS and exits 0. */
export async function serve(config: ServerConfig = loadConfig()): Promise<void> {
  const server = await startServer(config);
  const onSignal = (signal: NodeJS.Signals) => {
    server.app.log.info({ signal }, 'stopping');
    setTimeout(() => {
      server.app.log.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        server.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
