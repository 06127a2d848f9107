// The shapes of the API's requests and replies (the job spec and events live in src/jobs):
// routes validate with them, and the OpenAPI document is made from them.
import { Type, type Static } from '@sinclair/typebox';
import { GRADIENT_CHECK_COORDINATES } from '../engine/index.js';
import { ModelSchema, LossName } from '../jobs/spec.js';
import { JobErrorSchema, JobResultSchema, JobStatusSchema, EpochEventSchema } from '../jobs/events.js';
import { ControlStatusSchema } from '../jobs/status.js';
import { ColumnViewSchema } from '../data/columns.js';
import { MAX_DATASET_NAME_LENGTH } from '../data/limits.js';
import { JobSpecSchema } from '../jobs/spec.js';

const Strict = { additionalProperties: false } as const;

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const JobViewSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.Optional(Type.String()),
    status: JobStatusSchema,
    spec: JobSpecSchema,
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: Type.Optional(Type.String({ format: 'date-time' })),
    finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
    epochsDone: Type.Integer(),
    pendingLearningRate: Type.Optional(Type.Number({ description: 'set from outside, for the next epoch' })),
    lastSeq: Type.Integer({ description: "the seq of the job's last event" }),
    result: Type.Optional(JobResultSchema),
    error: Type.Optional(JobErrorSchema),
    sweepId: Type.Optional(Type.String()),
  },
  { $id: 'Job' },
);
export type JobView = Static<typeof JobViewSchema>;

/** Jobs in one page of the list when the client names no limit. */
export const JOB_PAGE_SIZE = 100;

export const JobListQuery = Type.Object(
  {
    status: Type.Optional(JobStatusSchema),
    sweep: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "a sweep's id for its trials, or 'none' for the jobs of no sweep" })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'jobs whose name contains this, in any case' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: JOB_PAGE_SIZE })),
    cursor: Type.Optional(Type.String({ maxLength: 64, description: "the previous page's nextCursor" })),
  },
  Strict,
);

export const JobPageSchema = Type.Object(
  {
    jobs: Type.Array(JobViewSchema, { description: 'newest first' }),
    nextCursor: Type.Optional(Type.String({ description: 'pass as cursor for the next (older) page; absent on the last' })),
  },
  { $id: 'JobPage' },
);

export const ControlReplySchema = Type.Object(
  {
    id: Type.String(),
    status: Type.Unsafe<Static<typeof ControlStatusSchema>>({
      ...ControlStatusSchema,
      description: "200: the status reached; 202: 'pausing' or 'cancelling', for a running job, which stops at its next mini-batch (a paused one keeps its last epoch's checkpoint); its events then report the status",
    }),
  },
  { $id: 'ControlReply' },
);

export const SubmittedSchema = Type.Object({ id: Type.String(), status: Type.Literal('queued') });

export const PatchJobSchema = Type.Object(
  { learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 1e3 }) },
  Strict,
);

export const MetricsSchema = Type.Object({
  jobId: Type.String(),
  epochs: Type.Array(Type.Omit(EpochEventSchema, ['seq', 'type', 'jobId'])),
});

export const EventsQuery = Type.Object(
  { since: Type.Integer({ minimum: 0, default: 0, description: 'send the events with seq > since' }) },
  Strict,
);

/** Rows of a prediction request; the caps keep one request to a bounded amount of work. */
export const PredictRequestSchema = Type.Object(
  {
    inputs: Type.Optional(
      Type.Array(Type.Array(Type.Number(), { maxItems: 65536 }), { minItems: 1, maxItems: 10000, description: 'rows of the features the network takes, in order' }),
    ),
    records: Type.Optional(
      Type.Array(Type.Record(Type.String(), Type.Union([Type.Number(), Type.String(), Type.Boolean(), Type.Null()])), {
        minItems: 1,
        maxItems: 10000,
        description: "rows of raw values by the training data's column names, as in its CSV; a field left out (or null, or NA) is a gap",
      }),
    ),
  },
  { ...Strict, description: 'either inputs or records' },
);

export const PredictReplySchema = Type.Object({
  outputs: Type.Array(Type.Array(Type.Number()), { description: "the network's outputs, per row" }),
  classes: Type.Optional(
    Type.Array(Type.Union([Type.Integer(), Type.String()]), {
      description: "a classifier's class per row: its index for inputs; for records its name when the data has names",
    }),
  ),
  classNames: Type.Optional(Type.Array(Type.String(), { description: "inputs: each row's class, by name" })),
  probabilities: Type.Optional(Type.Array(Type.Array(Type.Number()), { description: "a classifier's probability of each class, per row" })),
});

/** A CSV body to predict, and the same rows with the predictions appended. */
export const PredictCsvSchema = Type.String({
  description: 'CSV with a header row: the raw columns of the training data, by name, in any order (its label column may be there; it is left out)',
});
export const PredictedCsvSchema = Type.String({
  description: 'the rows sent, as sent, with predicted_<label> and p_<class> for each class appended (RFC 4180; a cell starting with = + - @ tab or CR gets a leading single quote)',
});

export const GradCheckRequestSchema = Type.Object(
  {
    model: ModelSchema,
    loss: Type.Optional(LossName),
    l2: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6 })),
    // Optional: the route fills in the defaults (bodies are validated as sent, without them).
    samples: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 16 })),
    features: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, default: 4, description: 'input features of the random data' })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 })),
  },
  Strict,
);

export const GradCheckReplySchema = Type.Object({
  difference: Type.Number(),
  layers: Type.Array(Type.Number()),
  parameters: Type.Integer(),
  checked: Type.Integer({ description: `the coordinates compared: up to ${GRADIENT_CHECK_COORDINATES} of each parameter tensor, drawn from the seed` }),
  passed: Type.Boolean({ description: 'difference <= 1e-7' }),
});

export const DatasetViewSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    rows: Type.Integer(),
    features: Type.Integer(),
    classes: Type.Optional(Type.Integer({ description: 'for class labels' })),
    classNames: Type.Optional(Type.Array(Type.String())),
    outputs: Type.Optional(Type.Integer({ description: 'values per row, for regression targets' })),
    testRows: Type.Integer({ description: "rows of the dataset's own test part" }),
    featureNames: Type.Array(Type.String()),
    columns: Type.Optional(
      Type.Array(ColumnViewSchema, {
        description: "a CSV's feature columns: each one's type (inferred; a job spec's `columns` may override it), missing cells and categories",
      }),
    ),
    label: Type.Optional(
      Type.Object(
        {
          name: Type.String({ description: 'the header name of the label column' }),
          inferred: Type.Boolean({ description: 'true when no label= named it, so the last column was taken' }),
        },
        { description: "in a CSV upload's reply: the column read as the label" },
      ),
    ),
  },
  { $id: 'Dataset' },
);

export const DatasetUploadQuery = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_DATASET_NAME_LENGTH })),
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: "CSV: the label column (default: the last)" })),
  },
  Strict,
);
