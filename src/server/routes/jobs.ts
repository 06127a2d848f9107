// /v1/jobs: submit, list, read, control (cancel, pause, resume, learning rate), and the
// trained model with predictions from it.
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import { EngineError, Model, readSavedModel } from '../../engine/index.js';
import { admit } from '../../jobs/admission.js';
import { JobSpecSchema, type ControlResult } from '../../jobs/index.js';
import { SavedModelSchema } from '../../engine/model-format.js';
import { ApiError, ErrorSchema, notFound } from '../errors.js';
import { requireUtf8 } from '../../data/csv.js';
import { classProbabilities, predictionCsv, readPredictionCsv } from '../../data/predict-csv.js';
import { encodeRecords, type Preprocessing, type RawRecord } from '../../data/preprocess.js';
import {
  ControlReplySchema,
  IdParams,
  JOB_PAGE_SIZE,
  JobListQuery,
  JobPageSchema,
  JobViewSchema,
  MetricsSchema,
  PatchJobSchema,
  PredictCsvSchema,
  PredictedCsvSchema,
  PredictReplySchema,
  PredictRequestSchema,
  SubmittedSchema,
} from '../schemas.js';
import type { Services } from '../context.js';

export const newId = (prefix: string) => `${prefix}_${randomBytes(9).toString('base64url')}`;

const Errors = { 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };
/** The errors of a route that reads a job's stored model: MODEL_CORRUPT besides. */
const ModelErrors = { ...Errors, 500: ErrorSchema };
/** A prediction request's body at most: 10,000 rows of a wide table. */
const PREDICT_BODY_BYTES = 32 * 1024 * 1024;

/** Rows of the features the network takes, as they are. */
function featureRows(model: Model, inputs: number[][]): Float32Array {
  const features = model.inputs;
  const x = new Float32Array(inputs.length * features);
  inputs.forEach((row, index) => {
    if (row.length !== features)
      throw new ApiError('SHAPE_MISMATCH', `the model takes ${features} features; row ${index} has ${row.length}`, `/inputs/${index}`);
    x.set(row, index * features);
  });
  return x;
}

/**
 * Raw records by column name, preprocessed as the model's training data was. A model trained
 * on numbers alone reads its named features as numbers, and cannot fill a gap.
 */
function encodePredictRecords(model: Model, records: RawRecord[]): Float32Array {
  const path = '/records';
  const names = model.featureNames;
  const preprocessing: Preprocessing | undefined =
    model.preprocessing ?? (names && { version: 1, columns: names.map((name) => ({ name, type: 'number', fill: Number.NaN, indicator: false })) });
  if (preprocessing === undefined)
    throw new ApiError('INVALID_REQUEST', 'this model records no column names (it was saved without them): send inputs, rows of its features', path);
  const x = encodeRecords(preprocessing, records, { label: model.labelName, path });
  if (model.preprocessing === undefined) {
    const gap = x.findIndex((value) => Number.isNaN(value));
    if (gap !== -1) {
      const name = (names as string[])[gap % model.inputs] as string;
      throw new ApiError('INVALID_DATA', `no value for ${name}: this model was trained on numbers without gaps, and needs every feature`, `${path}/${Math.floor(gap / model.inputs)}/${name}`);
    }
  }
  return x;
}

/** What a stored model that does not read throws: it was written whole, so the fault is ours. */
const STORED_MODEL_FAULTS = new Set(['MODEL_CORRUPT', 'INVALID_MODEL', 'SHAPE_MISMATCH']);

/**
 * Reads a job's stored model with `read`. One that fails its checksum or does not parse is
 * the server's damage, not the client's: a logged 500 MODEL_CORRUPT, and nothing of it sent.
 */
function readStoredModel<T>(jobId: string, log: FastifyBaseLogger, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof EngineError) || !STORED_MODEL_FAULTS.has(error.code)) throw error;
    log.error({ err: error, jobId }, 'a stored model is damaged');
    throw new ApiError('MODEL_CORRUPT', `the stored model of job ${jobId} is damaged and cannot be used; the server's log has the details`);
  }
}

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

  /** Throws the error a refused control request answers. */
  const refuse = async (id: string, result: ControlResult, action: string): Promise<never> => {
    if (result === 'not-found') throw notFound('job', id);
    const job = await findJob(id);
    throw new ApiError('INVALID_STATE', `cannot ${action} a job that is ${job.status}`);
  };

  app.post(
    '/v1/jobs',
    {
      bodyLimit: 256 * 1024,
      config: { invalidBodyCode: 'INVALID_SPEC' },
      schema: { summary: 'submit a training job', operationId: 'submitJob', tags: ['jobs'], body: JobSpecSchema, response: { 202: SubmittedSchema, ...Errors, 507: ErrorSchema } },
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
    {
      schema: {
        summary: 'jobs, newest first, a page at a time, filtered by status, sweep and name',
        operationId: 'listJobs',
        tags: ['jobs'],
        querystring: JobListQuery,
        response: { 200: JobPageSchema, 400: ErrorSchema },
      },
    },
    async (request) => {
      const { limit = JOB_PAGE_SIZE, ...filters } = request.query;
      try {
        return await store.listJobs({ ...filters, limit });
      } catch (error) {
        if (error instanceof RangeError) throw new ApiError('INVALID_CURSOR', error.message, '/cursor');
        throw error;
      }
    },
  );

  app.get(
    '/v1/jobs/:id',
    { schema: { summary: 'one job', operationId: 'getJob', tags: ['jobs'], params: IdParams, response: { 200: JobViewSchema, ...Errors } } },
    async (request) => findJob(request.params.id),
  );

  app.get(
    '/v1/jobs/:id/metrics',
    { schema: { summary: "a job's epoch metrics so far", operationId: 'getJobMetrics', tags: ['jobs'], params: IdParams, response: { 200: MetricsSchema, ...Errors } } },
    async (request) => {
      const job = await findJob(request.params.id);
      const epochs = (await store.epochs(job.id)).map(({ seq, type, jobId, ...metrics }) => metrics);
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
      {
        schema: {
          summary: `${action} a job`,
          description:
            "200 with the status reached, or 202 with 'pausing' or 'cancelling' for a running job: it stops at its next mini-batch (a paused one keeps its last epoch's checkpoint, and resumes from it), and its events then say so.",
          operationId: `${action}Job`,
          tags: ['jobs'],
          params: IdParams,
          response: { 200: ControlReplySchema, 202: ControlReplySchema, ...Errors },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        const result = await run(id);
        if (result === 'not-found' || result === 'conflict') return refuse(id, result, action);
        return reply.code(result === 'pausing' || result === 'cancelling' ? 202 : 200).send({ id, status: result });
      },
    );
  }

  app.delete(
    '/v1/jobs/:id',
    {
      schema: {
        summary: 'delete a finished job with its events and model',
        description: "409 JOB_ACTIVE while it is queued, running or paused (cancel it first); 409 JOB_IN_SWEEP for a sweep's trial (delete the sweep).",
        operationId: 'deleteJob',
        tags: ['jobs'],
        params: IdParams,
        response: { 204: Type.Null({ description: 'deleted' }), ...Errors },
      },
    },
    async (request, reply) => {
      const job = await findJob(request.params.id);
      if (job.sweepId !== undefined)
        throw new ApiError('JOB_IN_SWEEP', `job ${job.id} is a trial of sweep ${job.sweepId}: delete the sweep instead`);
      if (!(await store.deleteJob(job.id)))
        throw new ApiError('JOB_ACTIVE', `job ${job.id} is ${(await findJob(job.id)).status}: cancel it before deleting it`);
      return reply.code(204).send(null);
    },
  );

  app.patch(
    '/v1/jobs/:id',
    {
      schema: {
        summary: "set a job's learning rate from its next epoch",
        operationId: 'setJobLearningRate',
        tags: ['jobs'],
        params: IdParams,
        body: PatchJobSchema,
        response: { 200: JobViewSchema, ...Errors },
      },
    },
    async (request) => {
      const { id } = request.params;
      const result = await scheduler.setLearningRate(id, request.body.learningRate);
      if (result === 'not-found' || result === 'conflict') return refuse(id, result, 'change the learning rate of');
      return findJob(id);
    },
  );

  const trainedModel = async (id: string): Promise<string> => {
    const job = await findJob(id);
    const model = await store.model(job.id);
    if (model === undefined) throw new ApiError('MODEL_NOT_READY', `job ${id} is ${job.status}; a model exists once it has succeeded`);
    return model;
  };

  plain.get<{ Params: { id: string } }>(
    '/v1/jobs/:id/model',
    // The stored JSON goes out as it is, once it has passed its checksum: no second
    // serialization of the weights.
    { schema: { summary: 'the trained model (saved-model JSON, docs/model-format.md)', operationId: 'getJobModel', tags: ['jobs'], params: IdParams, response: { 200: SavedModelSchema, ...ModelErrors } } },
    async (request, reply) => {
      const model = await trainedModel(request.params.id);
      readStoredModel(request.params.id, request.log, () => readSavedModel(model));
      return reply
        .type('application/json')
        .header('content-disposition', `attachment; filename="${request.params.id}.model.json"`)
        .send(model);
    },
  );

  // The predict route has a scope of its own: only it reads text/csv bodies.
  await plain.register(async (scope) => {
    scope.addContentTypeParser('text/csv', { parseAs: 'buffer', bodyLimit: PREDICT_BODY_BYTES }, (_request, body, done) => {
      try {
        requireUtf8(body as Buffer, 'the body');
        done(null, (body as Buffer).toString('utf8'));
      } catch (error) {
        done(error as Error);
      }
    });
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/v1/jobs/:id/predict',
      {
        bodyLimit: PREDICT_BODY_BYTES,
        schema: {
          summary: 'predictions of the trained model: for rows of features, for raw records, or for a CSV file',
          description:
            "JSON {inputs} (rows of the features the network takes) or {records} (raw values by the training data's column names; gaps, text and unseen categories are preprocessed as in training) answers JSON; a text/csv body answers text/csv: its rows with the prediction and each class's probability appended.",
          operationId: 'predict',
          tags: ['jobs'],
          params: IdParams,
          body: { content: { 'application/json': { schema: PredictRequestSchema }, 'text/csv': { schema: PredictCsvSchema } } },
          response: { 200: { content: { 'application/json': { schema: PredictReplySchema }, 'text/csv': { schema: PredictedCsvSchema } } }, ...ModelErrors },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        const saved = await trainedModel(id);
        const model = models.get(id, () => readStoredModel(id, request.log, () => Model.load(saved)));
        const body = request.body as string | Static<typeof PredictRequestSchema>;
        if (typeof body === 'string') {
          const rows = readPredictionCsv(body, model, { source: 'the body' });
          const { outputs, classes } = await model.predict(rows.x, rows.rows);
          const text = predictionCsv(rows.input, { outputs, units: model.outputs, classes, classNames: model.classNames, labelName: model.labelName });
          return reply.type('text/csv; charset=utf-8').send(text);
        }
        const { inputs, records } = body;
        if ((inputs === undefined) === (records === undefined))
          throw new ApiError('INVALID_REQUEST', 'send either inputs (rows of features) or records (raw values by column name), not both or neither', '/');
        const rows = (inputs ?? records ?? []).length;
        const x = inputs === undefined ? encodePredictRecords(model, records ?? []) : featureRows(model, inputs);
        const { outputs, classes } = await model.predict(x, rows);
        const units = model.outputs;
        const names = model.classNames;
        const classified =
          classes === undefined
            ? {}
            : {
                classes: inputs === undefined && names !== undefined ? Array.from(classes, (index) => names[index] ?? String(index)) : Array.from(classes),
                ...(inputs === undefined || names === undefined ? {} : { classNames: Array.from(classes, (index) => names[index] ?? String(index)) }),
                probabilities: Array.from({ length: rows }, (_, row) => classProbabilities(outputs, units, row)),
              };
        return { outputs: Array.from({ length: rows }, (_, row) => Array.from(outputs.subarray(row * units, (row + 1) * units))), ...classified };
      },
    );
  });
};
