// /v1/datasets: uploads (CSV or JSON), streamed to a file and read by a worker process so
// that a large file never holds the event loop; listing, reading and deleting.
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { DatasetRecord } from '../../jobs/index.js';
import { ApiError, ErrorSchema, notFound } from '../errors.js';
import { DatasetUploadQuery, DatasetViewSchema, IdParams } from '../schemas.js';
import type { Services } from '../context.js';
import { newId } from './jobs.js';

const IMPORT_TIMEOUT_MS = 10 * 60 * 1000;

function datasetView(record: DatasetRecord) {
  const { labels, ...rest } = record;
  if (labels.kind === 'values') return { ...rest, outputs: labels.width };
  return { ...rest, classes: labels.count, ...(labels.names === undefined ? {} : { classNames: labels.names }) };
}

/** Passes bytes on until `limit`, then fails with 413. */
function capped(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > limit) callback(new ApiError(413, 'BODY_TOO_LARGE', `the upload is over ${limit} bytes (CAVIAR_MAX_UPLOAD_MB)`));
      else callback(null, chunk);
    },
  });
}

export const datasetRoutes: FastifyPluginAsync<Services> = async (plain, { store, scheduler, config }) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  // Bodies reach the handler as streams: they go to disk, never whole into memory.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['text/csv', 'application/json'], (_request, payload, done) => done(null, payload));

  app.post(
    '/v1/datasets',
    {
      schema: {
        summary: 'upload a dataset: text/csv with a header row, or JSON {name, x, y}',
        querystring: DatasetUploadQuery,
        response: { 201: DatasetViewSchema, 400: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema },
      },
    },
    async (request, reply) => {
      const format = request.headers['content-type']?.startsWith('text/csv') ? 'csv' : 'json';
      const id = newId('ds');
      const uploads = join(config.dataDirectory, 'uploads');
      await mkdir(uploads, { recursive: true });
      const file = join(uploads, `${id}.${format}`);
      const directory = store.datasetDirectory(id);
      try {
        await pipeline(request.body as NodeJS.ReadableStream, capped(config.maxUploadBytes), createWriteStream(file));
        const name = request.query.name ?? `upload.${format}`;
        const { label } = request.query;
        const outcome = await scheduler.runTask({ kind: 'import', file, format, name, directory, ...(label === undefined ? {} : { label }) }, IMPORT_TIMEOUT_MS);
        if (outcome.type === 'failed') {
          const status = outcome.error.code === 'INVALID_DATA' || outcome.error.code === 'INVALID_SPEC' ? 400 : 500;
          if (status === 500) request.log.error({ error: outcome.error }, 'dataset import failed');
          throw new ApiError(status, outcome.error.code, outcome.error.message);
        }
        if (outcome.type !== 'imported') throw new Error(`the import answered ${outcome.type}`);
        // The name in the query wins; then a JSON body's own name; then the default.
        const record: DatasetRecord = { id, createdAt: new Date().toISOString(), ...outcome.dataset, name: request.query.name ?? outcome.dataset.name };
        await store.createDataset(record);
        return reply.code(201).header('location', `/v1/datasets/${id}`).send(datasetView(record));
      } catch (error) {
        await rm(directory, { recursive: true, force: true });
        // The rest of an upload cut short is never read: the connection cannot carry another
        // request (one sent on it would hang), so the reply closes it.
        if (error instanceof ApiError && error.statusCode === 413) void reply.header('connection', 'close');
        throw error;
      } finally {
        await rm(file, { force: true });
      }
    },
  );

  app.get(
    '/v1/datasets',
    { schema: { summary: 'datasets, newest first', response: { 200: Type.Object({ datasets: Type.Array(DatasetViewSchema) }) } } },
    async () => ({ datasets: (await store.listDatasets()).map(datasetView) }),
  );

  app.get(
    '/v1/datasets/:id',
    { schema: { summary: 'one dataset', params: IdParams, response: { 200: DatasetViewSchema, 404: ErrorSchema } } },
    async (request) => {
      const record = await store.getDataset(request.params.id);
      if (record === undefined) throw notFound('dataset', request.params.id);
      return datasetView(record);
    },
  );

  app.delete(
    '/v1/datasets/:id',
    { schema: { summary: 'delete a dataset', params: IdParams, response: { 204: Type.Null(), 404: ErrorSchema } } },
    async (request, reply) => {
      if (!(await store.deleteDataset(request.params.id))) throw notFound('dataset', request.params.id);
      return reply.code(204).send(null);
    },
  );
};
