// Liveness (/healthz), readiness (/readyz: the store answers and has room, the engine is loaded) and
// Prometheus metrics (/metrics): the process, every route's requests, jobs and sweeps.
import { statfs } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { blasInfo } from '../../engine/index.js';
import { JOB_STATUSES, SweepStatusSchema, type JobStatus, type SweepStatus } from '../../jobs/index.js';
import type { Services } from '../context.js';
import { ApiError, ErrorSchema } from '../errors.js';
import type { SocketRegistry } from './events.js';

const PREFIX = 'caviar_';

/**
 * prom-client's counts of active handles, requests and resources in all: gauges named as
 * counters (_total), which `promtool check metrics` refuses. The same counts by type stay,
 * and sum(caviar_nodejs_active_handles) is the total.
 */
const GAUGES_NAMED_AS_COUNTERS = ['handles', 'requests', 'resources'].map((what) => `${PREFIX}nodejs_active_${what}_total`);

const SWEEP_STATUSES: readonly SweepStatus[] = SweepStatusSchema.anyOf.map((literal) => literal.const);

/** Counts by status, every status present (a series that vanishes at 0 reads as missing data). */
function countBy<Status extends string>(statuses: readonly Status[], items: Iterable<{ status: Status }>): Map<Status, number> {
  const counts = new Map(statuses.map((status) => [status, 0]));
  for (const { status } of items) counts.set(status, (counts.get(status) ?? 0) + 1);
  return counts;
}

const healthPlugin: FastifyPluginAsync<Services & { sockets: SocketRegistry }> = async (app, { config, store, hub, scheduler, sockets, queue }) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  for (const name of GAUGES_NAMED_AS_COUNTERS) registry.removeSingleMetric(name);

  const requests = new Histogram({
    name: 'caviar_http_request_duration_seconds',
    help: 'HTTP requests (the _count) and how long they took, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    // The route's pattern (/v1/jobs/:id), not the URL: one series per route, whatever the ids.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.observe({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000);
  });

  new Gauge({
    name: 'caviar_jobs',
    help: 'Jobs by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await store.countByStatus();
      for (const [status, count] of Object.entries(counts)) this.set({ status: status as JobStatus }, count);
    },
  });
  new Gauge({
    name: 'caviar_queue_depth',
    help: 'Jobs waiting for a slot (in the distributed mode, in the BullMQ queue for a worker host)',
    registers: [registry],
    async collect() {
      if (queue === undefined) this.set((await store.countByStatus()).queued);
      else {
        // Redis down: the series keeps its last value rather than failing the whole scrape.
        const counts = await queue.counts().catch(() => undefined);
        if (counts !== undefined) this.set(counts.waiting);
      }
    },
  });
  if (queue !== undefined)
    new Gauge({
      name: 'caviar_worker_hosts',
      help: 'Worker hosts connected to the queue (the distributed mode)',
      registers: [registry],
      async collect() {
        const hosts = await queue.workers().catch(() => undefined);
        if (hosts !== undefined) this.set(hosts);
      },
    });
  new Gauge({
    name: 'caviar_running_jobs',
    help: 'Jobs training now, one worker process each',
    registers: [registry],
    collect() {
      this.set(scheduler.runningCount);
    },
  });
  new Gauge({
    name: 'caviar_websocket_clients',
    help: 'Open event websockets',
    registers: [registry],
    collect() {
      this.set(sockets.sockets.size);
    },
  });
  const epochs = new Counter({ name: 'caviar_epochs_trained_total', help: 'Epochs trained and recorded', registers: [registry] });
  hub.subscribe('*', (event) => {
    if (event.type === 'epoch') epochs.inc();
  });
  new Gauge({
    name: 'caviar_sweeps',
    help: 'Sweeps by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      for (const [status, count] of countBy(SWEEP_STATUSES, await store.listSweeps())) this.set({ status }, count);
    },
  });
  new Gauge({
    name: 'caviar_sweep_trials',
    help: 'Trials of the running sweeps by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const trials: { status: JobStatus }[] = [];
      for (const sweep of await store.listSweeps('running')) {
        let cursor: string | undefined;
        do {
          const page = await store.listJobs({ sweep: sweep.id, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
          trials.push(...page.jobs);
          cursor = page.nextCursor;
        } while (cursor !== undefined);
      }
      for (const [status, count] of countBy(JOB_STATUSES, trials)) this.set({ status }, count);
    },
  });

  const Status = Type.Object({ status: Type.String() });
  app.get('/healthz', { config: { public: true }, schema: { summary: 'liveness', operationId: 'checkLiveness', tags: ['operations'], response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        summary: 'readiness: the store answers and has room, and the engine is loaded',
        description:
          "507 STORAGE_FULL while the data folder's disk has less free space than CAVIAR_MIN_FREE_MB. In the distributed mode, 503 STORE_UNAVAILABLE while PostgreSQL cannot be reached; the reply names the mode, the queue's jobs and the worker hosts connected (null while Redis cannot be asked: jobs are still accepted, and delivered once it is back).",
        operationId: 'checkReadiness',
        tags: ['operations'],
        response: {
          200: Type.Object({
            status: Type.String(),
            blas: Type.String(),
            freeBytes: Type.Integer({ description: "free space on the data folder's disk" }),
            mode: Type.Union([Type.Literal('embedded'), Type.Literal('distributed')]),
            queue: Type.Optional(Type.Union([Type.Object({ waiting: Type.Integer(), active: Type.Integer() }), Type.Null()])),
            workerHosts: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
          }),
          503: ErrorSchema,
          507: ErrorSchema,
        },
      },
    },
    async () => {
      await store.countByStatus();
      const disk = await statfs(config.dataDirectory);
      const freeBytes = disk.bavail * disk.bsize;
      if (freeBytes < config.minFreeBytes)
        throw new ApiError('STORAGE_FULL', `${freeBytes} bytes free on the data folder's disk, under CAVIAR_MIN_FREE_MB (${config.minFreeBytes / 1024 / 1024})`);
      const ready = { status: 'ready', blas: blasInfo(), freeBytes };
      if (queue === undefined) return { ...ready, mode: 'embedded' as const };
      const [counts, hosts] = await Promise.all([queue.counts().catch(() => null), queue.workers().catch(() => null)]);
      return { ...ready, mode: 'distributed' as const, queue: counts, workerHosts: hosts };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        operationId: 'getMetrics',
        tags: ['operations'],
        hide: false,
        response: { 200: { description: 'the text exposition format', content: { 'text/plain': { schema: Type.String() } } } },
      },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
};

/** Not encapsulated, as fastify-plugin would make it: its request hook sees every route registered after it. */
export const healthRoutes = Object.assign(healthPlugin, { [Symbol.for('skip-override')]: true });
