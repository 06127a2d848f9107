// /v1/datasets: uploads (CSV or JSON), streamed to a file and read by a worker process so
// that a large file never holds the event loop; listing, reading and deleting.
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { DatasetRecord } from '../../jobs/index.js';
import { readTable } from '../../jobs/datasets.js';
import { columnView } from '../../data/columns.js';
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

/** Passes bytes on until `limit`, then fails with 413; notes whether a line break went by. */
function capped(limit: number): { stream: Transform; hadLineBreak(): boolean } {
  let seen = 0;
  let lineBreak = false;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      lineBreak ||= chunk.includes(0x0a) || chunk.includes(0x0d);
      if (seen > limit) callback(new ApiError('BODY_TOO_LARGE', `the upload is over ${limit} bytes (CAVIAR_MAX_UPLOAD_MB)`));
      else callback(null, chunk);
    },
  });
  return { stream, hadLineBreak: () => lineBreak };
}

const HOW_TO_SEND =
  "send the CSV itself as the body: curl -H 'content-type: text/csv' --data-binary @file.csv (or JSON {name, x, y} as application/json)";

/** The upload's format by its content type, or a 415 that says what to send instead. */
function uploadFormat(contentType: string | undefined): 'csv' | 'json' {
  const type = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  // curl -F under -H 'content-type: text/csv' sends a multipart form: its boundary gives it away.
  const form = type === 'multipart/form-data' || /;\s*boundary=/i.test(contentType ?? '');
  if (!form && type === 'text/csv') return 'csv';
  if (!form && type === 'application/json') return 'json';
  const why = form
    ? 'a form upload (curl -F) is not read'
    : !type
      ? 'the upload has no content type'
      : type === 'application/x-www-form-urlencoded'
        ? "the upload came as a form (application/x-www-form-urlencoded: what curl --data-binary sends without -H 'content-type: ...')"
        : `an upload is text/csv or application/json, not ${type}`;
  throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `${why}; ${HOW_TO_SEND}`);
}

export const datasetRoutes: FastifyPluginAsync<Services> = async (plain, { store, scheduler, config }) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  // Bodies of every type reach the handler as streams: they go to disk, never whole into
  // memory, and one of a type the handler refuses is left unread (Node discards it), so the
  // client gets the reply rather than a connection closed under its upload.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  app.post(
    '/v1/datasets',
    {
      schema: {
        summary: 'upload a dataset: text/csv with a header row, or JSON {name, x, y}',
        operationId: 'uploadDataset',
        tags: ['datasets'],
        querystring: DatasetUploadQuery,
        response: { 201: DatasetViewSchema, 400: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema, 507: ErrorSchema },
      },
    },
    async (request, reply) => {
      const format = uploadFormat(request.headers['content-type']);
      const id = newId('ds');
      const uploads = join(config.dataDirectory, 'uploads');
      await mkdir(uploads, { recursive: true });
      const file = join(uploads, `${id}.${format}`);
      const directory = store.datasetDirectory(id);
      try {
        const upload = capped(config.maxUploadBytes);
        await pipeline(request.body as NodeJS.ReadableStream, upload.stream, createWriteStream(file));
        const name = request.query.name ?? `upload.${format}`;
        const { label } = request.query;
        const outcome = await scheduler.runTask({ kind: 'import', file, format, name, directory, ...(label === undefined ? {} : { label }) }, IMPORT_TIMEOUT_MS);
        if (outcome.type === 'failed') {
          const { code, message } = outcome.error;
          if (code !== 'INVALID_DATA' && code !== 'INVALID_SPEC') throw new Error(`the import failed with ${code}: ${message}`);
          // curl -d @file.csv drops the line breaks: the whole file arrives as one header row.
          const hint = format === 'csv' && !upload.hadLineBreak() ? '; the upload has no line breaks: curl -d drops them, --data-binary keeps them' : '';
          throw new ApiError(code, message + hint);
        }
        if (outcome.type !== 'imported') throw new Error(`the import answered ${outcome.type}`);
        const { labelColumn, columns, ...imported } = outcome.dataset;
        // The name in the query wins; then a JSON body's own name; then the default.
        const record: DatasetRecord = { id, createdAt: new Date().toISOString(), ...imported, name: request.query.name ?? imported.name };
        await store.createDataset(record);
        const labelNote = labelColumn === undefined ? {} : { label: { name: labelColumn, inferred: label === undefined } };
        return reply
          .code(201)
          .header('location', `/v1/datasets/${id}`)
          .send({ ...datasetView(record), ...(columns === undefined ? {} : { columns }), ...labelNote });
      } catch (error) {
        await rm(directory, { recursive: true, force: true });
        // The rest of an upload cut short (over its cap, or a full disk) is never read: the
        // connection cannot carry another request (one sent on it would hang), so the reply closes it.
        if (!(request.body as Readable).readableEnded) void reply.header('connection', 'close');
        throw error;
      } finally {
        await rm(file, { force: true });
      }
    },
  );

  app.get(
    '/v1/datasets',
    { schema: { summary: 'datasets, newest first', operationId: 'listDatasets', tags: ['datasets'], response: { 200: Type.Object({ datasets: Type.Array(DatasetViewSchema) }) } } },
    async () => ({ datasets: (await store.listDatasets()).map(datasetView) }),
  );

  app.get(
    '/v1/datasets/:id',
    { schema: { summary: 'one dataset', operationId: 'getDataset', tags: ['datasets'], params: IdParams, response: { 200: DatasetViewSchema, 404: ErrorSchema } } },
    async (request) => {
      const record = await store.getDataset(request.params.id);
      if (record === undefined) throw notFound('dataset', request.params.id);
      // A table's columns are kept with its arrays (a dataset stored before them has none).
      const table = readTable(await store.datasetFiles(record.id));
      return { ...datasetView(record), ...(table === undefined ? {} : { columns: table.columns.map(columnView) }) };
    },
  );

  app.delete(
    '/v1/datasets/:id',
    { schema: { summary: 'delete a dataset', operationId: 'deleteDataset', tags: ['datasets'], params: IdParams, response: { 204: Type.Null(), 404: ErrorSchema } } },
    async (request, reply) => {
      if (!(await store.deleteDataset(request.params.id))) throw notFound('dataset', request.params.id);
      return reply.code(204).send(null);
    },
  );
};
