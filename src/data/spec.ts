// The vocabulary of datasets: the shapes a spec's dataset, split and column sections take.
import { Type, type Static } from '@sinclair/typebox';
import { oneOf } from '../engine/spec.js';

const Strict = { additionalProperties: false } as const;

/** What a column of tabular data is read as (src/data/columns.ts infers it; a spec may say). */
export const ColumnTypeName = oneOf('number', 'category', 'boolean', 'ignore');

export const BuiltinDatasetSchema = Type.Object(
  {
    builtin: Type.String({ minLength: 1, maxLength: 64 }),
    samples: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e7 })),
    noise: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    classes: Type.Optional(Type.Integer({ minimum: 2, maximum: 1000 })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  },
  Strict,
);

export const FileDatasetSchema = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 4096 }),
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    test: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  },
  Strict,
);

export const SplitSchema = Type.Object(
  {
    dev: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
    test: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  },
  Strict,
);

/** Column types that override the inferred ones, by column name. */
export const ColumnsSchema = Type.Record(
  Type.String(),
  Type.Object({ type: ColumnTypeName }, Strict),
  { maxProperties: 10000, description: "overrides of the types inferred for a CSV dataset's columns, by column name" },
);

export type ColumnType = Static<typeof ColumnTypeName>;
