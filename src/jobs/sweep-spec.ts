// The sweep spec: a base job spec, a search space over it, how to search, what to
// optimize, and when to stop trials early. One definition for the server and the CLI.
import { Type, type Static } from '@sinclair/typebox';
import { StoppingSchema } from './early-stopping.js';
import { SpaceSchema } from './search-space.js';
import { PartMetricsSchema } from './events.js';
import { JobSpecSchema, oneOf } from './spec.js';
import { JobStatusSchema } from './status.js';

export const SweepMetricName = oneOf('dev.accuracy', 'dev.loss', 'dev.f1', 'train.accuracy', 'train.loss');
export type SweepMetric = Static<typeof SweepMetricName>;

export const SweepSpecSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    base: JobSpecSchema,
    space: Type.Optional(SpaceSchema),
    trials: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'default 20; a grid: its size' })),
    parallel: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'trials at once (default: the concurrency)' })),
    strategy: Type.Optional(oneOf('random', 'grid', 'coarse-to-fine')),
    rounds: Type.Optional(Type.Integer({ minimum: 2, maximum: 20, description: 'coarse-to-fine: rounds (default 3)' })),
    metric: Type.Optional(SweepMetricName),
    mode: Type.Optional(oneOf('max', 'min')),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    stopping: Type.Optional(StoppingSchema),
  },
  { additionalProperties: false, $id: 'SweepSpec' },
);
export type SweepSpec = Static<typeof SweepSpecSchema>;

/** A sweep with every default resolved, so a restart carries on with the same choices. */
export type ResolvedSweepSpec = Required<Omit<SweepSpec, 'name' | 'stopping'>> & Pick<SweepSpec, 'name' | 'stopping'>;

export const SweepStatusSchema = oneOf('running', 'succeeded', 'cancelled');
export type SweepStatus = Static<typeof SweepStatusSchema>;

/** A trial's status is its job's ('stopped' when the sweep's rule stopped it). */
export const TrialStatusSchema = JobStatusSchema;
export type TrialStatus = Static<typeof TrialStatusSchema>;

const Values = Type.Record(Type.String(), Type.Union([Type.Number(), Type.String(), Type.Boolean()]), {
  description: 'the sampled value of each pointer',
});

const SweepEventBase = { seq: Type.Integer({ minimum: 1 }), sweepId: Type.String() };

export const TrialEventSchema = Type.Object({
  ...SweepEventBase,
  type: Type.Literal('trial'),
  trial: Type.Integer({ minimum: 0 }),
  jobId: Type.String(),
  status: TrialStatusSchema,
  values: Values,
  metric: Type.Optional(Type.Number({ description: "the sweep's metric at the trial's latest epoch" })),
});

/** A trial that has succeeded and now ranks first: the sweep's best model is its model. */
export const BestEventSchema = Type.Object({
  ...SweepEventBase,
  type: Type.Literal('best'),
  trial: Type.Integer({ minimum: 0 }),
  jobId: Type.String(),
  metric: Type.Number({ description: "the sweep's metric at the trial's last epoch" }),
  epoch: Type.Integer({ minimum: 1, description: 'that epoch' }),
  values: Values,
});

/** A trial's epoch, kept with the epoch itself, so a sweep's replay has every curve. */
export const SweepEpochEventSchema = Type.Object({
  ...SweepEventBase,
  type: Type.Literal('epoch'),
  trial: Type.Integer({ minimum: 0 }),
  jobId: Type.String(),
  epoch: Type.Integer({ minimum: 1 }),
  lr: Type.Number(),
  train: PartMetricsSchema,
  dev: Type.Optional(PartMetricsSchema),
});

export const SweepDoneEventSchema = Type.Object({ ...SweepEventBase, type: Type.Literal('done'), status: SweepStatusSchema });

export const SweepEventSchema = Type.Union([TrialEventSchema, BestEventSchema, SweepEpochEventSchema, SweepDoneEventSchema], { $id: 'SweepEvent' });
export type SweepEvent = Static<typeof SweepEventSchema>;
export type UnsequencedSweepEvent = SweepEvent extends infer Event ? (Event extends SweepEvent ? Omit<Event, 'seq'> : never) : never;

export const RankedTrialSchema = Type.Object({
  trial: Type.Integer({ minimum: 0 }),
  jobId: Type.String(),
  round: Type.Integer({ minimum: 0, description: 'coarse-to-fine: the round that drew it' }),
  status: TrialStatusSchema,
  values: Values,
  metric: Type.Optional(
    Type.Number({ description: "the sweep's metric at the epoch whose weights the trial's model has (its last, unless early stopping restored an earlier one): the ranking's key" }),
  ),
  bestMetric: Type.Optional(Type.Number({ description: "the best value of the metric over the trial's epochs, for information" })),
  bestEpoch: Type.Optional(Type.Integer({ minimum: 1, description: 'the epoch of bestMetric' })),
  epochs: Type.Integer({ minimum: 0, description: 'epochs recorded' }),
});
export type RankedTrial = Static<typeof RankedTrialSchema>;

export const SweepViewSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.Optional(Type.String()),
    status: SweepStatusSchema,
    spec: Type.Unsafe<ResolvedSweepSpec>(Type.Object({}, { additionalProperties: true, description: 'the sweep spec with its defaults filled' })),
    createdAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
    trials: Type.Array(RankedTrialSchema, { description: 'best first by their final metric; trials with no value yet last, in order' }),
    best: Type.Optional(
      Type.Composite([RankedTrialSchema, Type.Object({ model: Type.String({ description: 'the model of the first-ranked succeeded trial' }) })]),
    ),
  },
  { $id: 'Sweep' },
);
export type SweepView = Static<typeof SweepViewSchema>;
