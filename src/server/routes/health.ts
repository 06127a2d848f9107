// Liveness (/healthz), readiness (/readyz: the store answers, the engine is loaded) and
// Prometheus metrics (/metrics).
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { blasInfo } from '../../engine/index.js';
import type { JobStatus } from '../../jobs/index.js';
import type { Services } from '../context.js';
import type { SocketRegistry } from './events.js';

export const healthRoutes: FastifyPluginAsync<Services & { sockets: SocketRegistry }> = async (app, { store, hub, scheduler, sockets }) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'caviar_' });
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
    help: 'Jobs waiting for a slot',
    registers: [registry],
    async collect() {
      this.set((await store.countByStatus()).queued);
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

  const Status = Type.Object({ status: Type.String() });
  app.get('/healthz', { config: { public: true }, schema: { summary: 'liveness', operationId: 'checkLiveness', tags: ['operations'], response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { config: { public: true }, schema: { summary: 'readiness: the store answers and the engine is loaded', operationId: 'checkReadiness', tags: ['operations'], response: { 200: Type.Object({ status: Type.String(), blas: Type.String() }) } } },
    async () => {
      await store.countByStatus();
      return { status: 'ready', blas: blasInfo() };
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
