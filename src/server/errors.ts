// Client errors as the contract shapes them, {"error": {code, message, path}}, and the one
// handler that turns every failure into that shape: 4xx for the client's mistakes, a bare
// 500 (details in the log only) for ours.
import type { FastifyError, FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { EngineError } from '../engine/index.js';
import { DataError } from '../data/index.js';
import { SpecError } from '../jobs/admission.js';

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      path: Type.Optional(Type.String({ description: 'JSON pointer to the field at fault' })),
    }),
  },
  { $id: 'Error' },
);

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string, id: string) => new ApiError(404, 'NOT_FOUND', `no ${what} '${id}'`);

/** Fastify's own client errors, under names a client can act on. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The code of this route's body validation errors (INVALID_SPEC for a job spec). */
    invalidBodyCode?: string;
  }
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const send = (status: number, code: string, message: string, path?: string) =>
      reply.code(status).send({ error: { code, message, ...(path === undefined ? {} : { path }) } });
    if (error instanceof ApiError) return send(error.statusCode, error.code, error.message, error.path);
    if (error.validation !== undefined) {
      // The validator reports the first error only (allErrors would be a denial-of-service
      // risk), with its path in the message already.
      const first = error.validation[0];
      const context = error.validationContext ?? 'body';
      const pointer = first?.instancePath || '/';
      const message = first?.message ?? 'is invalid';
      if (context === 'body') return send(400, request.routeOptions.config.invalidBodyCode ?? 'INVALID_REQUEST', message, pointer);
      return send(400, 'INVALID_REQUEST', `${context} ${message}`, `/${context}${pointer === '/' ? '' : pointer}`);
    }
    if (error instanceof EngineError || error instanceof SpecError) return send(400, error.code, error.message, error.path);
    if (error instanceof DataError) return send(400, error.code, error.message);
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return send(status, FASTIFY_CODES[error.code] ?? error.code ?? 'BAD_REQUEST', error.message);
    request.log.error({ err: error }, 'request failed');
    return send(500, 'INTERNAL', 'internal error; the server log has the details');
  });
}
