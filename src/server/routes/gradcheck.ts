// POST /v1/gradcheck: a gradient check of a network on random data, in a short-lived
// worker process (double precision, dropout off), on the engine's default sample of each
// parameter tensor's coordinates, as `caviar gradcheck` checks. A check is admitted before
// it starts, as a job is: its memory against CAVIAR_JOB_MEMORY_MB and its work against a cap
// that keeps it to seconds. It then runs in a pool of its own, outside the job slots, so
// that checks cannot crowd out training nor start a process per request.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Value } from '@sinclair/typebox/value';
import { GRADIENT_CHECK_COORDINATES } from '../../engine/index.js';
import type { LayerSpec } from '../../jobs/spec.js';
import { ApiError, ErrorSchema } from '../errors.js';
import { GradCheckReplySchema, GradCheckRequestSchema } from '../schemas.js';
import type { Services } from '../context.js';

/** The most multiply-adds a check may take: a few seconds of one core in double precision. */
const GRADCHECK_MAX_WORK = 1e10;

interface CheckCost {
  bytes: number;
  /** Multiply-adds of all the forward and backward passes. */
  work: number;
  parameters: number;
  passes: number;
  /** The layer that holds the most parameters: where an error over memory points. */
  heaviest: number;
}

/**
 * What a check costs, roughly. Memory, in doubles: the parameters four times (the weights,
 * their gradients, backprop's gradient kept for the comparison, and the index that the sample
 * is drawn from, as long as the largest tensor); for `samples` rows, up to four activations a
 * unit, backward's two buffers as wide as the widest layer, and the data twice (float, double).
 * The job estimate (src/jobs/admission.ts) does not fit it: floats, an optimizer's moments,
 * checkpoints, a dataset's copies. Work: each coordinate checked (up to
 * GRADIENT_CHECK_COORDINATES of each of a layer's two tensors: its weights, and its biases or
 * batch norm's gamma and beta) costs two forward passes of `samples` rows; backprop's gradient,
 * about three.
 */
function checkCost(layers: readonly LayerSpec[], features: number, samples: number): CheckCost {
  const DOUBLE = 8;
  let inputs = features;
  let widest = features;
  let parameters = 0;
  let largest = 0;
  let units = 0;
  let coordinates = 0;
  let heaviest = 0;
  let most = 0;
  for (const [index, layer] of layers.entries()) {
    const weights = inputs * layer.units;
    const others = (layer.batchNorm === true ? 2 : 1) * layer.units;
    parameters += weights + others;
    largest = Math.max(largest, weights, others);
    coordinates += Math.min(GRADIENT_CHECK_COORDINATES, weights) + Math.min(GRADIENT_CHECK_COORDINATES, others);
    if (weights + others > most) {
      most = weights + others;
      heaviest = index;
    }
    units += layer.units;
    widest = Math.max(widest, layer.units);
    inputs = layer.units;
  }
  const passes = 2 * coordinates + 3;
  const bytes = DOUBLE * (3 * parameters + largest + samples * (4 * units + 2 * widest + 2 * (features + inputs)));
  return { bytes, work: passes * samples * parameters, parameters, passes, heaviest };
}

/**
 * At most `size` holders at once; up to `queue` more wait, in order, each for `waitMs` at most.
 * A place that is left passes straight to the longest waiting.
 */
class Pool {
  private holders = 0;
  private readonly waiting = new Set<() => void>();

  constructor(
    private readonly size: number,
    private readonly queue: number,
    private readonly waitMs: number,
  ) {}

  /** Undefined once a place is had; else why none was: at once when the queue is full, or once the wait ran out. */
  async enter(): Promise<string | undefined> {
    if (this.holders < this.size) {
      this.holders += 1;
      return undefined;
    }
    if (this.waiting.size >= this.queue) return `all ${this.size} are taken and ${this.waiting.size} more are waiting`;
    return new Promise((resolve) => {
      const turn = () => {
        clearTimeout(timer);
        this.waiting.delete(turn);
        resolve(undefined);
      };
      const timer = setTimeout(() => {
        this.waiting.delete(turn);
        resolve(`none came free in ${this.waitMs} ms`);
      }, this.waitMs);
      this.waiting.add(turn);
    });
  }

  leave(): void {
    const next = this.waiting.values().next();
    if (next.done === true) this.holders -= 1;
    else next.value();
  }
}

const format = (count: number) => (count < 1e9 ? count.toLocaleString('en') : count.toExponential(1));
const mib = (bytes: number) => `${Math.ceil(bytes / 2 ** 20).toLocaleString('en')} MiB`;

export const gradCheckRoutes: FastifyPluginAsync<Services> = async (plain, { scheduler, config }) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const pool = new Pool(config.gradCheckConcurrency, config.gradCheckQueue, config.gradCheckTimeoutMs);
  const retryAfter = String(Math.ceil(config.gradCheckTimeoutMs / 1000));
  app.post(
    '/v1/gradcheck',
    {
      config: { invalidBodyCode: 'INVALID_SPEC' },
      schema: {
        summary: "compare backprop's gradients with centred differences",
        description:
          `A check is refused (400) when it would need more memory than CAVIAR_JOB_MEMORY_MB (TOO_LARGE) or more than ` +
          `${GRADCHECK_MAX_WORK.toExponential()} multiply-adds (GRADCHECK_TOO_LONG). CAVIAR_GRADCHECK_CONCURRENCY checks run at ` +
          `once; CAVIAR_GRADCHECK_QUEUE more wait up to CAVIAR_GRADCHECK_TIMEOUT_MS for a place (else 503 GRADCHECK_BUSY), ` +
          `and a check runs for that long at most (else 504 GRADCHECK_TIMEOUT).`,
        operationId: 'checkGradients',
        tags: ['gradcheck'],
        body: GradCheckRequestSchema,
        response: { 200: GradCheckReplySchema, 400: ErrorSchema, 503: ErrorSchema, 504: ErrorSchema },
      },
    },
    async (request, reply) => {
      // The body was validated as sent; the schema's defaults fill what it left out.
      const { samples, features, seed, ...spec } = Value.Default(GradCheckRequestSchema, structuredClone(request.body)) as typeof request.body & Record<'samples' | 'features' | 'seed', number>;
      const cost = checkCost(spec.model.layers, features, samples);
      if (cost.bytes > config.jobMemoryBytes)
        throw new ApiError(
          'TOO_LARGE',
          `the check would need about ${mib(cost.bytes)} for ${format(cost.parameters)} parameters in double precision; a check may use ${mib(config.jobMemoryBytes)} (CAVIAR_JOB_MEMORY_MB)`,
          `/model/layers/${cost.heaviest}/units`,
        );
      if (cost.work > GRADCHECK_MAX_WORK)
        throw new ApiError(
          'GRADCHECK_TOO_LONG',
          `the check would take about ${format(cost.work)} multiply-adds (${format(cost.passes)} passes of ${samples} rows through ${format(cost.parameters)} parameters); ` +
            `the service checks up to ${format(GRADCHECK_MAX_WORK)}: use fewer samples or a smaller network, or run caviar gradcheck`,
          '/model/layers',
        );
      const refusal = await pool.enter();
      if (refusal !== undefined) {
        request.log.warn({ refusal }, 'gradient check refused: no place');
        void reply.header('retry-after', retryAfter);
        throw new ApiError('GRADCHECK_BUSY', `no gradient-check place: ${refusal} (CAVIAR_GRADCHECK_CONCURRENCY, CAVIAR_GRADCHECK_QUEUE); retry in ${retryAfter} s`);
      }
      const outcome = await scheduler
        .runTask({ kind: 'gradcheck', spec, samples, features, seed }, config.gradCheckTimeoutMs)
        .finally(() => pool.leave());
      if (outcome.type === 'gradcheck') return outcome.result;
      if (outcome.type === 'failed') {
        const { code, message, path } = outcome.error;
        if (code === 'INVALID_SPEC' || code === 'SHAPE_MISMATCH') throw new ApiError(code, message, path);
        if (code === 'TIMEOUT') {
          request.log.error({ parameters: cost.parameters, samples, work: cost.work }, 'gradient check timed out');
          throw new ApiError('GRADCHECK_TIMEOUT', `the check ran past ${config.gradCheckTimeoutMs} ms (CAVIAR_GRADCHECK_TIMEOUT_MS) and was stopped`);
        }
        throw new Error(`gradient check failed: ${code}: ${message}`);
      }
      throw new Error(`the gradient check answered ${outcome.type}`);
    },
  );
};
