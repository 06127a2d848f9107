// The saved-model format (docs/model-format.md): versioned JSON, every float array as
// base64 of little-endian float32, so a model moves between machines and languages.
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
