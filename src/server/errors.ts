// Client errors as the contract shapes them, {"error": {code, message, path}}, and the one
// handler that turns every failure into that shape: 4xx for the client's mistakes, a bare
// 500 (details in the log only) for ours.
import type { FastifyError, FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { EngineError } from '../engine/index.js';
import { DataError } from '../data/index.js';
import { SpecError } from '../jobs/admission.js';
import { StoreUnavailableError, isStorageFull } from '../jobs/store.js';

/** What a 503 STORE_UNAVAILABLE asks a client to wait, in seconds. */
const STORE_RETRY_SECONDS = 2;

/**
 * Every code the API answers with, its HTTP status, and what it means: the one list. The
 * handler takes statuses from it, the OpenAPI document lists it, and a test holds the
 * README's table of errors to it.
 */
export const API_ERRORS = {
  INVALID_SPEC: [400, 'a job, sweep or gradient-check spec (or a dataset field) is wrong; `path` points at the field'],
  INVALID_REQUEST: [400, 'a query string, route parameter or body other than a spec is wrong; `path` points at it'],
  INVALID_JSON: [400, 'the body is not JSON'],
  INVALID_DATA: [400, 'an upload or the rows of a prediction cannot be read: the message names the row and column'],
  INVALID_CURSOR: [400, "a jobs list `cursor` that is not a page's `nextCursor`"],
  SHAPE_MISMATCH: [400, 'rows with another number of features than the model takes'],
  DATASET_NOT_FOUND: [400, 'the spec names a dataset id or a built-in set that does not exist'],
  TOO_LARGE: [400, 'the job or gradient check would need more memory than CAVIAR_JOB_MEMORY_MB allows'],
  GRADCHECK_TOO_LONG: [400, 'a gradient check over its cap of work (coordinates checked times the forward passes\' multiply-adds): use fewer samples, a smaller network, or `caviar gradcheck`'],
  INVALID_MODEL: [400, 'a saved model that cannot be read'],
  BAD_REQUEST: [400, 'a request the server cannot read otherwise (a malformed header, say)'],
  UNAUTHORIZED: [401, 'no valid token: send `Authorization: Bearer <token>` (the server was started with CAVIAR_TOKEN)'],
  FORBIDDEN_ORIGIN: [403, 'a websocket upgrade from a page of another origin'],
  NOT_FOUND: [404, 'no such job, sweep, dataset or route (or it belongs to another tenant)'],
  INVALID_STATE: [409, 'a control request the job or sweep cannot take now (resume a running job, cancel a finished one)'],
  JOB_ACTIVE: [409, 'DELETE of a job that is queued, running or paused: cancel it first'],
  JOB_IN_SWEEP: [409, "DELETE of a sweep's trial: delete the sweep"],
  SWEEP_RUNNING: [409, 'DELETE of a sweep that runs, or whose trials are still stopping'],
  MODEL_NOT_READY: [409, 'the model of a job that has not succeeded'],
  BODY_TOO_LARGE: [413, 'a body over its route\'s cap (an upload over CAVIAR_MAX_UPLOAD_MB)'],
  UNSUPPORTED_MEDIA_TYPE: [415, 'a body of a content type the route does not take: the message says what to send'],
  UPGRADE_REQUIRED: [426, 'a plain GET on a websocket route'],
  INTERNAL: [500, 'a failure on the server\'s side: its log has the details'],
  MODEL_CORRUPT: [500, "a job's stored model is damaged (it fails its checksum, or does not parse): the server's log has the details"],
  STORE_UNAVAILABLE: [503, 'the store (PostgreSQL, in the distributed mode) cannot be reached now: retry after `Retry-After` seconds'],
  GRADCHECK_BUSY: [503, 'every gradient-check place is taken and its queue is full, or the wait for one ran out (CAVIAR_GRADCHECK_TIMEOUT_MS): retry after `Retry-After` seconds'],
  GRADCHECK_TIMEOUT: [504, 'an admitted gradient check ran past CAVIAR_GRADCHECK_TIMEOUT_MS'],
  STORAGE_FULL: [507, "the disk under the server's data is full: nothing of the request was kept; retry once space is freed"],
} as const satisfies Record<string, readonly [number, string]>;

export type ApiErrorCode = keyof typeof API_ERRORS;
const API_ERROR_CODES = Object.keys(API_ERRORS) as ApiErrorCode[];

function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return typeof code === 'string' && Object.hasOwn(API_ERRORS, code);
}

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.Unsafe<ApiErrorCode>({ type: 'string', enum: API_ERROR_CODES, description: 'what went wrong; the README lists each' }),
      message: Type.String(),
      path: Type.Optional(Type.String({ description: 'JSON pointer to the field at fault' })),
    }),
  },
  { $id: 'Error' },
);

export class ApiError extends Error {
  readonly statusCode: number;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.statusCode = API_ERRORS[code][0];
  }
}

export const notFound = (what: string, id: string) => new ApiError('NOT_FOUND', `no ${what} '${id}'`);

/** Fastify's own client errors, under names a client can act on. */
const FASTIFY_CODES: Record<string, ApiErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The code of this route's body validation errors (INVALID_SPEC for a job spec). */
    invalidBodyCode?: ApiErrorCode;
  }
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    void reply.code(API_ERRORS.NOT_FOUND[0]).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const send = (code: ApiErrorCode, message: string, path?: string) =>
      reply.code(API_ERRORS[code][0]).send({ error: { code, message, ...(path === undefined ? {} : { path }) } });
    if (error instanceof ApiError) return send(error.code, error.message, error.path);
    if (error instanceof StoreUnavailableError) {
      request.log.warn({ err: error }, 'the store cannot be reached');
      void reply.header('retry-after', String(STORE_RETRY_SECONDS));
      return send('STORE_UNAVAILABLE', 'the store cannot be reached now; retry shortly');
    }
    if (isStorageFull(error)) {
      request.log.error({ err: error }, 'the disk under the store is full');
      return send('STORAGE_FULL', "the server's disk is full: nothing of this request was kept");
    }
    if (error.validation !== undefined) {
      // The validator reports the first error only (allErrors would be a denial-of-service
      // risk), with its path in the message already.
      const first = error.validation[0];
      const context = error.validationContext ?? 'body';
      const pointer = first?.instancePath || '/';
      const message = first?.message ?? 'is invalid';
      if (context === 'body') return send(request.routeOptions.config.invalidBodyCode ?? 'INVALID_REQUEST', message, pointer);
      return send('INVALID_REQUEST', `${context} ${message}`, `/${context}${pointer === '/' ? '' : pointer}`);
    }
    // The layers below throw their own codes: those that name a client's mistake go out as
    // they are; any other (an engine's INTERNAL, say) is ours.
    const lower = error instanceof EngineError || error instanceof SpecError || error instanceof DataError ? error.code : undefined;
    if (isApiErrorCode(lower) && API_ERRORS[lower][0] < 500) return send(lower, error.message, 'path' in error ? (error.path as string | undefined) : undefined);
    const status = error.statusCode ?? 500;
    if (lower === undefined && status >= 400 && status < 500) return send(FASTIFY_CODES[error.code] ?? 'BAD_REQUEST', error.message);
    request.log.error({ err: error }, 'request failed');
    return send('INTERNAL', 'internal error; the server log has the details');
  });
}
