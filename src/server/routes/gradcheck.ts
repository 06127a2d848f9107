// POST /v1/gradcheck: a gradient check of a network on random data, in a short-lived
// worker process (double precision, dropout off), on the engine's default sample of each
// parameter tensor's coordinates, as `caviar gradcheck` checks.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Value } from '@sinclair/typebox/value';
import { ApiError, ErrorSchema } from '../errors.js';
import { GradCheckReplySchema, GradCheckRequestSchema } from '../schemas.js';
import type { Services } from '../context.js';

const GRADCHECK_TIMEOUT_MS = 60_000;

export const gradCheckRoutes: FastifyPluginAsync<Services> = async (plain, { scheduler }) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/v1/gradcheck',
    {
      config: { invalidBodyCode: 'INVALID_SPEC' },
      schema: {
        summary: "compare backprop's gradients with centred differences",
        operationId: 'checkGradients',
        tags: ['gradcheck'],
        body: GradCheckRequestSchema,
        response: { 200: GradCheckReplySchema, 400: ErrorSchema },
      },
    },
    async (request) => {
      // The body was validated as sent; the schema's defaults fill what it left out.
      const { samples, features, seed, ...spec } = Value.Default(GradCheckRequestSchema, structuredClone(request.body)) as typeof request.body & Record<'samples' | 'features' | 'seed', number>;
      const outcome = await scheduler.runTask({ kind: 'gradcheck', spec, samples, features, seed }, GRADCHECK_TIMEOUT_MS);
      if (outcome.type === 'gradcheck') return outcome.result;
      if (outcome.type === 'failed') {
        const { code, message, path } = outcome.error;
        if (code === 'INVALID_SPEC' || code === 'SHAPE_MISMATCH') throw new ApiError(code, message, path);
        throw new Error(`gradient check failed: ${code}: ${message}`);
      }
      throw new Error(`the gradient check answered ${outcome.type}`);
    },
  );
};
