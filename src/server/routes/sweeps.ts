// /v1/sweeps: start a hyperparameter sweep, read its ranked trials, follow its events,
// cancel it, delete it.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { SweepEventSchema, SweepSpecSchema, SweepStatusSchema, SweepViewSchema, resolveSweep, type SweepEvent, type SweepView, type Sweeps } from '../../jobs/index.js';
import { ApiError, ErrorSchema, notFound } from '../errors.js';
import { EventsQuery, IdParams } from '../schemas.js';
import type { Services } from '../context.js';
import { followHistory, type SocketRegistry } from './events.js';
import { newId } from './jobs.js';

const SweepListSchema = Type.Object({
  sweeps: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.Optional(Type.String()),
      status: SweepStatusSchema,
      trials: Type.Integer({ description: 'trials created so far (a cancelled sweep: the ones that ran)' }),
      plannedTrials: Type.Integer({ description: 'trials the spec asks for' }),
      createdAt: Type.String({ format: 'date-time' }),
      finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
    }),
  ),
});

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
        operationId: 'startSweep',
        tags: ['sweeps'],
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

  app.get('/v1/sweeps', { schema: { summary: 'sweeps, newest first', operationId: 'listSweeps', tags: ['sweeps'], response: { 200: SweepListSchema } } }, async () => ({
    sweeps: (await store.listSweeps()).map(({ id, spec, status, createdAt, finishedAt, trialCount }) => ({
      id,
      ...(spec.name === undefined ? {} : { name: spec.name }),
      status,
      trials: trialCount ?? 0,
      plannedTrials: spec.trials,
      createdAt,
      ...(finishedAt === undefined ? {} : { finishedAt }),
    })),
  }));

  app.get(
    '/v1/sweeps/:id',
    { schema: { summary: 'a sweep: its trials ranked by the metric, and the best', operationId: 'getSweep', tags: ['sweeps'], params: IdParams, response: { 200: SweepViewSchema, 404: ErrorSchema } } },
    async (request) => {
      const view = await sweeps.view(request.params.id);
      if (view === undefined) throw notFound('sweep', request.params.id);
      return view;
    },
  );

  app.post(
    '/v1/sweeps/:id/cancel',
    { schema: { summary: 'cancel the rest of a sweep', operationId: 'cancelSweep', tags: ['sweeps'], params: IdParams, response: { 200: SweepViewSchema, 404: ErrorSchema, 409: ErrorSchema } } },
    async (request) => {
      const { id } = request.params;
      const result = await sweeps.cancel(id);
      if (result === 'not-found') throw notFound('sweep', id);
      if (result === 'conflict') throw new ApiError('INVALID_STATE', `sweep ${id} has already ended`);
      return (await sweeps.view(id)) as SweepView;
    },
  );

  app.delete(
    '/v1/sweeps/:id',
    {
      schema: {
        summary: 'delete an ended sweep with its trials',
        description: '409 SWEEP_RUNNING while it runs or any of its trials has not ended yet (cancel it first).',
        operationId: 'deleteSweep',
        tags: ['sweeps'],
        params: IdParams,
        response: { 204: Type.Null({ description: 'deleted' }), 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if ((await store.getSweep(id)) === undefined) throw notFound('sweep', id);
      if (!(await store.deleteSweep(id))) throw new ApiError('SWEEP_RUNNING', `sweep ${id} or one of its trials is still running: cancel it first`);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/sweeps/:id/events',
    {
      websocket: true,
      schema: {
        summary: "a sweep's events (websocket): its stored events after since (trials, their epochs, new bests, done), then live ones",
        operationId: 'followSweepEvents',
        tags: ['sweeps'],
        params: IdParams,
        querystring: EventsQuery,
        response: { 101: SweepEventSchema, 404: ErrorSchema },
      },
      preValidation: async (request) => {
        const { id } = request.params as { id: string };
        if ((await store.getSweep(id)) === undefined) throw notFound('sweep', id);
      },
    },
    (socket, request) => {
      const { id } = request.params;
      sockets.add(socket);
      followHistory<SweepEvent>(socket, request.log, {
        since: request.query.since,
        read: (after, limit) => store.sweepEventsAfter(id, after, limit),
        subscribe: (listener) => sweeps.subscribe(id, listener),
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
