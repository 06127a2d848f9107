// The events of a job, as the websocket sends them, `caviar train --json` prints them and
// the store keeps them: one definition of their shapes.
import { Type, type Static } from '@sinclair/typebox';
import { ClassificationMetricsSchema, RegressionMetricsSchema } from './metrics.js';
import { oneOf } from './spec.js';
import { FinalStatusSchema, JobStatusSchema } from './status.js';

export { JobStatusSchema, type JobStatus } from './status.js';

export const PartMetricsSchema = Type.Object({
  loss: Type.Number(),
  accuracy: Type.Optional(Type.Number()),
  f1: Type.Optional(Type.Number({ description: "dev: macro F1, in the epochs of a job whose early stopping or sweep ranks by dev.f1" })),
});

/** A finished job's part: its loss and accuracy, and what its predictions tell (src/jobs/metrics.ts). */
export const ResultPartSchema = Type.Composite([PartMetricsSchema, Type.Partial(ClassificationMetricsSchema), Type.Partial(RegressionMetricsSchema)]);
export type ResultPart = Static<typeof ResultPartSchema>;

export const DiagnosisSchema = Type.Object({
  avoidableBias: Type.Number({ description: 'train error - human-level error' }),
  variance: Type.Optional(Type.Number({ description: 'dev error - train error' })),
  threshold: Type.Number({ description: 'the size from which a gap counts as high' }),
  verdict: oneOf('high bias', 'high variance', 'high bias and high variance', 'neither'),
  advice: Type.Array(Type.String()),
  // Optional: results stored before these fields existed lack them.
  humanLevelError: Type.Optional(Type.Number({ description: 'the error avoidable bias is measured from; 0 when the spec gives none' })),
  avoidableBiasIsUpperBound: Type.Optional(
    Type.Boolean({ description: 'no human-level error was given: avoidable bias is measured against 0, an upper bound' }),
  ),
  notes: Type.Optional(Type.Array(Type.String(), { description: 'what qualifies the figures, one sentence each' })),
});

export const JobResultSchema = Type.Object({
  epochs: Type.Integer({ description: "the epochs behind the final weights (early stopping's best when it restored it)" }),
  train: ResultPartSchema,
  dev: Type.Optional(ResultPartSchema),
  test: Type.Optional(ResultPartSchema),
  diagnosis: DiagnosisSchema,
  earlyStopping: Type.Optional(
    Type.Object({
      stoppedAt: Type.Optional(Type.Integer({ description: 'the epoch after which the rule stopped training' })),
      bestEpoch: Type.Integer(),
      restored: Type.Boolean({ description: "whether the model has the best epoch's weights" }),
    }),
  ),
  classWeights: Type.Optional(
    Type.Record(Type.String(), Type.Number(), {
      description:
        "the spec's training.classWeights as applied: every class's weight in the cost training minimized, by class name (its index when the data has no names); the losses reported are unweighted",
    }),
  ),
});
export type JobResult = Static<typeof JobResultSchema>;

export const JobErrorSchema = Type.Object({ code: Type.String(), message: Type.String() });

const EventBase = { seq: Type.Integer({ minimum: 1 }), jobId: Type.String() };

export const StatusEventSchema = Type.Object({ ...EventBase, type: Type.Literal('status'), status: JobStatusSchema });

export const EpochEventSchema = Type.Object({
  ...EventBase,
  type: Type.Literal('epoch'),
  epoch: Type.Integer({ minimum: 1 }),
  lr: Type.Number(),
  seconds: Type.Number({ description: "the epoch's wall time, dev scoring included" }),
  train: PartMetricsSchema,
  dev: Type.Optional(PartMetricsSchema),
  layers: Type.Array(Type.Object({ weightNorm: Type.Number(), gradNorm: Type.Number() })),
});

export const DoneEventSchema = Type.Object({
  ...EventBase,
  type: Type.Literal('done'),
  status: FinalStatusSchema,
  result: Type.Optional(JobResultSchema),
  error: Type.Optional(JobErrorSchema),
});

export const JobEventSchema = Type.Union([StatusEventSchema, EpochEventSchema, DoneEventSchema], { $id: 'JobEvent' });
export type JobEvent = Static<typeof JobEventSchema>;
export type EpochEvent = Static<typeof EpochEventSchema>;

/** An event before the store numbers it. */
export type UnsequencedEvent = JobEvent extends infer Event ? (Event extends JobEvent ? Omit<Event, 'seq'> : never) : never;

/**
 * What `make` gives, made once for `event` and kept on it under `key`, which JSON and spreads
 * leave out: a WeakMap entry an event cost more than the JSON itself (about 3 us an epoch,
 * much of it in the collector).
 */
export function keptOn<T>(event: object, key: symbol, make: () => T): T {
  const kept = (event as Record<symbol, T | undefined>)[key];
  if (kept !== undefined) return kept;
  const value = make();
  Object.defineProperty(event, key, { value });
  return value;
}

// A job's or sweep's event as JSON text, made once: the store keeps it, and the sockets send
// the same text to every client (a hand-over of epochs is hundreds of events).
const TEXT = Symbol('eventText');

export function eventText(event: object): string {
  return keptOn(event, TEXT, () => JSON.stringify(event));
}
