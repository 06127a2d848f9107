// The job spec: the one definition of its shape, used by the CLI, the server, the OpenAPI
// document and the TypeScript types, composed of the engine's and the data's vocabulary.
// Defaults are filled by resolveSpec, in one place.
import { Type, type Static } from '@sinclair/typebox';
import { BuiltinDatasetSchema, ColumnsSchema, FileDatasetSchema, SplitSchema } from '../data/spec.js';
import { LossName, ModelSchema, NormalizationName, TrainingSchema } from '../engine/spec.js';

export * from '../data/spec.js';
export * from '../engine/spec.js';

const Strict = { additionalProperties: false } as const;

export const JobSpecSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    dataset: Type.Union([
      Type.String({ minLength: 1, maxLength: 64, description: 'a dataset id' }),
      BuiltinDatasetSchema,
      FileDatasetSchema,
    ]),
    split: Type.Optional(SplitSchema),
    columns: Type.Optional(ColumnsSchema),
    normalize: Type.Optional(NormalizationName),
    model: ModelSchema,
    loss: Type.Optional(LossName),
    training: TrainingSchema,
  },
  { ...Strict, $id: 'JobSpec' },
);

export type JobSpec = Static<typeof JobSpecSchema>;
