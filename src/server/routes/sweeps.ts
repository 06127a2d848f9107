// /v1/sweeps: start a hyperparameter sweep, read its ranked trials, follow its events,
// cancel it.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { SweepSpecSchema, SweepViewSchema, resolveSweep, type SweepEvent, type SweepView, type Sweeps } from '../../jobs/index.js';
import { ApiError, ErrorSchema, notFound } from '../errors.js';
import { EventsQuery, IdParams } from '../schemas.js';
import type { Services } from '../context.js';
import { followHistory, sendBounded, type SocketRegistry } from './events.js';
import { newId } from './jobs.js';

export const sweepRoutes: FastifyPluginAsync<Services & { sweeps: Sweeps; sockets: SocketRegistry }> = async (
  plain,
  { store, sweeps, sockets, config },
) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/v1/sweeps',
    {
      bodyLimit: 256 * 1024,
      config: { invalidBodyCode: 'INVALID_SPEC' },
      schema: {
        summary: 'start a sweep: trials of a base spec over a search space',
        body: SweepSpecSchema,
        response: { 202: Type.Object({ id: Type.String(), status: Type.Literal('running') }), 400: ErrorSchema },
      },
    },
    async (request, reply) => {
      const spec = await resolveSweep(request.body, store, config.concurrency, config.jobMemoryBytes);
      const id = newId('sweep');
      await sweeps.start(id, spec);
      return reply.code(202).header('location', `/v1/sweeps/${id}`).send({ id, status: 'running' as const });
    },
  );

  app.get('/v1/sweeps', { schema: { summary: 'sweeps, newest first' } }, async () => ({
    sweeps: (await store.listSweeps()).map(({ id, spec, status, createdAt, finishedAt }) => ({
      id,
      ...(spec.name === undefined ? {} : { name: spec.name }),
      status,
      trials: spec.trials,
      createdAt,
      ...(finishedAt === undefined ? {} : { finishedAt }),
    })),
  }));

  app.get(
    '/v1/sweeps/:id',
    { schema: { summary: 'a sweep: its trials ranked by the metric, and the best', params: IdParams, response: { 200: SweepViewSchema, 404: ErrorSchema } } },
    async (request) => {
      const view = await sweeps.view(request.params.id);
      if (view === undefined) throw notFound('sweep', request.params.id);
      return view;
    },
  );

  app.post(
    '/v1/sweeps/:id/cancel',
    { schema: { summary: 'cancel the rest of a sweep', params: IdParams, response: { 200: SweepViewSchema, 404: ErrorSchema, 409: ErrorSchema } } },
    async (request) => {
      const { id } = request.params;
      const result = await sweeps.cancel(id);
      if (result === 'not-found') throw notFound('sweep', id);
      if (result === 'conflict') throw new ApiError(409, 'INVALID_STATE', `sweep ${id} has already ended`);
      return (await sweeps.view(id)) as SweepView;
    },
  );

  app.get(
    '/v1/sweeps/:id/events',
    {
      websocket: true,
      schema: {
        summary: "a sweep's events (websocket): its stored sweep events after since, then live ones, with its trials' job events",
        params: IdParams,
        querystring: EventsQuery,
      },
      preValidation: async (request) => {
        const { id } = request.params as { id: string };
        if ((await store.getSweep(id)) === undefined) throw notFound('sweep', id);
      },
    },
    (socket, request) => {
      const { id } = request.params;
      sockets.add(socket);
      // `since` counts sweep events; the trials' job events (with their own seqs) are live only.
      followHistory<SweepEvent>(socket, request.log, {
        since: request.query.since,
        read: (after, limit) => store.sweepEventsAfter(id, after, limit),
        subscribe: (listener) =>
          sweeps.subscribe(id, (event) => {
            if ('sweepId' in event) listener(event);
            else sendBounded(socket, event, () => 'too far behind: reconnect with since=');
          }),
        isLast: (event) => event.type === 'done',
        lastReason: 'sweep finished',
        finalSeq: async () => {
          const sweep = await store.getSweep(id);
          // A finished sweep's done event, kept with its status, is its last.
          return sweep !== undefined && sweep.status !== 'running' ? sweep.lastSeq : undefined;
        },
      });
    },
  );
};
