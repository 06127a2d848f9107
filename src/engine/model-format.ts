// The saved-model format (docs/model-format.md): versioned JSON, every float array as
// base64 of little-endian float32, so a model moves between machines and languages, and a
// checksum of the rest, so that a model damaged at rest or on the way is refused.
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { Type, type Static } from '@sinclair/typebox';
import { ActivationName, InitName, LossName, NormalizationName } from './spec.js';
import { PreprocessingSchema, type Preprocessing } from '../data/preprocess.js';
import { EngineError } from './errors.js';
import type { NativeLayerParameters, NativeModelState } from './native.js';

export const MODEL_FORMAT = 'caviar-model';
export const MODEL_VERSION = 1;

const Floats = Type.String({ contentEncoding: 'base64', description: 'little-endian float32' });

export const SavedModelSchema = Type.Object(
  {
    format: Type.Literal(MODEL_FORMAT),
    version: Type.Literal(MODEL_VERSION),
    checksum: Type.Optional(
      Type.String({ description: "'sha256:' and the hex SHA-256 of the document without this field, as RFC 8785 canonical JSON" }),
    ),
    network: Type.Object({
      inputs: Type.Integer({ minimum: 1 }),
      layers: Type.Array(
        Type.Object({
          units: Type.Integer({ minimum: 1 }),
          activation: ActivationName,
          batchNorm: Type.Boolean(),
          dropout: Type.Number({ minimum: 0, exclusiveMaximum: 1 }),
        }),
        { minItems: 1 },
      ),
      loss: LossName,
      init: InitName,
      initScale: Type.Number(),
    }),
    normalization: Type.Object({ type: NormalizationName, shift: Floats, scale: Floats }),
    classes: Type.Optional(Type.Array(Type.String(), { description: 'class names, by index' })),
    features: Type.Optional(Type.Array(Type.String(), { description: "the input columns' names, in order" })),
    label: Type.Optional(Type.String({ description: "the label column's name in the training data" })),
    preprocessing: Type.Optional(PreprocessingSchema),
    layers: Type.Array(
      Type.Object({
        weight: Floats,
        bias: Type.Optional(Floats),
        gamma: Type.Optional(Floats),
        beta: Type.Optional(Floats),
        runningMean: Type.Optional(Floats),
        runningVar: Type.Optional(Floats),
      }),
    ),
  },
  { $id: 'SavedModel' },
);
export type SavedModel = Static<typeof SavedModelSchema>;

const littleEndian = endianness() === 'LE';

function swapped(bytes: Buffer): Buffer {
  return littleEndian ? bytes : Buffer.from(bytes).swap32();
}

export function encodeFloats(values: Float32Array): string {
  return swapped(Buffer.from(values.buffer, values.byteOffset, values.byteLength)).toString('base64');
}

export function decodeFloats(text: string, path: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength % 4 !== 0)
    throw new EngineError('INVALID_MODEL', `${path} is not a whole number of float32 values`, path);
  // Copied into a fresh buffer: a Float32Array needs 4-byte alignment.
  const values = new Float32Array(bytes.byteLength / 4);
  swapped(bytes).copy(Buffer.from(values.buffer));
  return values;
}

const parameterNames = ['weight', 'bias', 'gamma', 'beta', 'runningMean', 'runningVar'] as const;

/** What a model records of its training data's columns, for reading new rows by name. */
export interface ModelColumns {
  features?: string[];
  label?: string;
  /** How the training data's raw columns became the inputs (a table's). */
  preprocessing?: Preprocessing;
}

export function toSavedModel(state: NativeModelState, classes?: string[], columns: ModelColumns = {}): SavedModel {
  return {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    network: {
      ...state.network,
      loss: state.network.loss as SavedModel['network']['loss'],
      init: state.network.init as SavedModel['network']['init'],
      layers: state.network.layers.map((layer) => ({
        ...layer,
        activation: layer.activation as SavedModel['network']['layers'][number]['activation'],
      })),
    },
    normalization: {
      type: state.normalization as SavedModel['normalization']['type'],
      shift: encodeFloats(state.shift),
      scale: encodeFloats(state.scale),
    },
    ...(classes === undefined ? {} : { classes }),
    ...(columns.features === undefined ? {} : { features: columns.features }),
    ...(columns.label === undefined ? {} : { label: columns.label }),
    ...(columns.preprocessing === undefined ? {} : { preprocessing: columns.preprocessing }),
    layers: state.layers.map((layer) => {
      const encoded: SavedModel['layers'][number] = { weight: encodeFloats(layer.weight) };
      for (const name of parameterNames) {
        const values = layer[name];
        if (values !== undefined) encoded[name] = encodeFloats(values);
      }
      return encoded;
    }),
  };
}

/**
 * RFC 8785's canonical JSON (keys sorted by UTF-16 code units, no whitespace, numbers as
 * ECMAScript writes them): the text any writer of the same document hashes alike, however
 * it orders keys or spaces its own text.
 */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const fields = Object.entries(value as Record<string, unknown>).filter(([, field]) => field !== undefined);
    fields.sort(([first], [second]) => (first < second ? -1 : 1));
    return `{${fields.map(([key, field]) => `${JSON.stringify(key)}:${canonicalJson(field)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function checksumOf(content: object): string {
  return `sha256:${createHash('sha256').update(canonicalJson(content)).digest('hex')}`;
}

/** A saved model as its JSON text, for storing or sending: with the checksum of its content. */
export function serializeModel(model: SavedModel): string {
  const { checksum: _previous, ...content } = model;
  return JSON.stringify({ ...content, checksum: checksumOf(content) });
}

/**
 * Throws MODEL_CORRUPT when a parsed document's content does not match its checksum. It
 * runs before the document is read as a model, so that damage is reported as damage even
 * where it also breaks a field. A document without a checksum (written before there were
 * checksums) passes.
 */
export function verifyChecksum(document: unknown): void {
  if (typeof document !== 'object' || document === null || !Object.hasOwn(document, 'checksum')) return;
  const { checksum, ...content } = document as Record<string, unknown>;
  if (checksum !== checksumOf(content))
    throw new EngineError('MODEL_CORRUPT', "the model's content does not match its checksum: it was damaged after it was written");
}

export function fromSavedModel(model: SavedModel): NativeModelState {
  return {
    network: model.network,
    normalization: model.normalization.type,
    shift: decodeFloats(model.normalization.shift, '/normalization/shift'),
    scale: decodeFloats(model.normalization.scale, '/normalization/scale'),
    layers: model.layers.map((layer, index) => {
      const decoded: NativeLayerParameters = { weight: decodeFloats(layer.weight, `/layers/${index}/weight`) };
      for (const name of parameterNames) {
        const text = layer[name];
        if (text !== undefined) decoded[name] = decodeFloats(text, `/layers/${index}/${name}`);
      }
      return decoded;
    }),
  };
}
