// /v1/jobs: submit, list, read, control (cancel, pause, resume, learning rate), and the
// trained model with predictions from it.
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Model } from '../../engine/index.js';
import { admit } from '../../jobs/admission.js';
import { JobSpecSchema, type ControlResult } from '../../jobs/index.js';
import { ApiError, ErrorSchema, notFound } from '../errors.js';
import {
  IdParams,
  JobListQuery,
  JobViewSchema,
  MetricsSchema,
  PatchJobSchema,
  PredictReplySchema,
  PredictRequestSchema,
  SubmittedSchema,
} from '../schemas.js';
import type { Services } from '../context.js';

export const newId = (prefix: string) => `${prefix}_${randomBytes(9).toString('base64url')}`;

const Errors = { 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };

/** Trained models by job id, parsed once: predictions come in series. */
class ModelCache {
  private readonly models = new Map<string, Model>();

  constructor(private readonly capacity: number) {}

  get(jobId: string, load: () => Model): Model {
    let model = this.models.get(jobId);
    if (model === undefined) {
      model = load();
      if (this.models.size >= this.capacity) this.models.delete(this.models.keys().next().value as string);
    } else this.models.delete(jobId);
    this.models.set(jobId, model);
    return model;
  }
}

export const jobRoutes: FastifyPluginAsync<Services> = async (plain, { store, lifecycle, scheduler, config }) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const models = new ModelCache(16);

  const findJob = async (id: string) => {
    const job = await store.getJob(id);
    if (job === undefined) throw notFound('job', id);
    return job;
  };

  const control = async (id: string, result: ControlResult, action: string) => {
    if (result === 'not-found') throw notFound('job', id);
    const job = await findJob(id);
    if (result === 'conflict') throw new ApiError(409, 'INVALID_STATE', `cannot ${action} a job that is ${job.status}`);
    return job;
  };

  app.post(
    '/v1/jobs',
    {
      bodyLimit: 256 * 1024,
      config: { invalidBodyCode: 'INVALID_SPEC' },
      schema: { summary: 'submit a training job', body: JobSpecSchema, response: { 202: SubmittedSchema, ...Errors } },
    },
    async (request, reply) => {
      await admit(request.body, store, config.jobMemoryBytes);
      const id = newId('job');
      await lifecycle.submit([{ id, spec: request.body }]);
      scheduler.kick();
      return reply.code(202).header('location', `/v1/jobs/${id}`).send({ id, status: 'queued' as const });
    },
  );

  app.get(
    '/v1/jobs',
    { schema: { summary: 'jobs, newest first', querystring: JobListQuery, response: { 200: Type.Object({ jobs: Type.Array(JobViewSchema) }) } } },
    async (request) => ({ jobs: await store.listJobs(request.query) }),
  );

  app.get(
    '/v1/jobs/:id',
    { schema: { summary: 'one job', params: IdParams, response: { 200: JobViewSchema, ...Errors } } },
    async (request) => findJob(request.params.id),
  );

  app.get(
    '/v1/jobs/:id/metrics',
    { schema: { summary: "a job's epoch metrics so far", params: IdParams, response: { 200: MetricsSchema, ...Errors } } },
    async (request) => {
      const job = await findJob(request.params.id);
      const events = await store.eventsAfter(job.id, 0, Number.MAX_SAFE_INTEGER);
      const epochs = events.flatMap((event) => {
        if (event.type !== 'epoch') return [];
        const { seq, type, jobId, ...metrics } = event;
        return [metrics];
      });
      return { jobId: job.id, epochs };
    },
  );

  for (const [action, run] of [
    ['cancel', (id: string) => scheduler.cancel(id)],
    ['pause', (id: string) => scheduler.pause(id)],
    ['resume', (id: string) => scheduler.resume(id)],
  ] as const) {
    app.post(
      `/v1/jobs/:id/${action}`,
      { schema: { summary: `${action} a job`, params: IdParams, response: { 200: JobViewSchema, ...Errors } } },
      async (request) => control(request.params.id, await run(request.params.id), action),
    );
  }

  app.patch(
    '/v1/jobs/:id',
    {
      schema: {
        summary: "set a job's learning rate from its next epoch",
        params: IdParams,
        body: PatchJobSchema,
        response: { 200: JobViewSchema, ...Errors },
      },
    },
    async (request) => {
      const { id } = request.params;
      return control(id, await scheduler.setLearningRate(id, request.body.learningRate), 'change the learning rate of');
    },
  );

  const trainedModel = async (id: string): Promise<string> => {
    const job = await findJob(id);
    const model = await store.model(job.id);
    if (model === undefined) throw new ApiError(409, 'MODEL_NOT_READY', `job ${id} is ${job.status}; a model exists once it has succeeded`);
    return model;
  };

  plain.get<{ Params: { id: string } }>(
    '/v1/jobs/:id/model',
    // The stored JSON goes out as it is: no second serialization of the weights.
    { schema: { summary: 'the trained model (saved-model JSON, docs/model-format.md)', params: IdParams, response: Errors } },
    async (request, reply) => {
      const model = await trainedModel(request.params.id);
      return reply
        .type('application/json')
        .header('content-disposition', `attachment; filename="${request.params.id}.model.json"`)
        .send(model);
    },
  );

  app.post(
    '/v1/jobs/:id/predict',
    {
      bodyLimit: 32 * 1024 * 1024,
      schema: {
        summary: 'outputs (and classes) of the trained model for rows of raw features',
        params: IdParams,
        body: PredictRequestSchema,
        response: { 200: PredictReplySchema, ...Errors },
      },
    },
    async (request) => {
      const { id } = request.params;
      const saved = await trainedModel(id);
      const model = models.get(id, () => Model.load(saved));
      const { inputs } = request.body;
      const features = model.inputs;
      const x = new Float32Array(inputs.length * features);
      inputs.forEach((row, index) => {
        if (row.length !== features)
          throw new ApiError(400, 'SHAPE_MISMATCH', `the model takes ${features} features; row ${index} has ${row.length}`, `/inputs/${index}`);
        x.set(row, index * features);
      });
      const { outputs, classes } = await model.predict(x, inputs.length);
      const units = model.outputs;
      const rows = Array.from({ length: inputs.length }, (_, row) => Array.from(outputs.subarray(row * units, (row + 1) * units)));
      const names = model.classNames;
      return {
        outputs: rows,
        ...(classes === undefined ? {} : { classes: Array.from(classes) }),
        ...(classes === undefined || names === undefined ? {} : { classNames: Array.from(classes, (index) => names[index] ?? String(index)) }),
      };
    },
  );
};
