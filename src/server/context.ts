// What the routes share: the job system's parts and the settings, handed to each plugin.
import type { FastifyBaseLogger } from 'fastify';
import type { EventHub, JobStore, Lifecycle, Scheduler, Sweeps } from '../jobs/index.js';
import type { QueueView } from '../jobs/queue.js';
import type { ServerConfig } from './config.js';

export interface Services {
  config: ServerConfig;
  store: JobStore;
  hub: EventHub;
  lifecycle: Lifecycle;
  scheduler: Scheduler;
  sweeps: Sweeps;
  /** The one logger: the app's requests and the job system's events. */
  log: FastifyBaseLogger;
  /** In the distributed mode: the queue that delivers jobs to worker hosts. */
  queue?: QueueView;
}
