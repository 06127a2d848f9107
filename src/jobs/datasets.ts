// The arrays of a stored dataset as files: x and y of the train part (and of its own test
// part), raw little-endian float32, in a folder the store names. Metadata stays in the store.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, LoadedDataset } from '../data/index.js';
import type { StoredDataset } from './protocol.js';

const PARTS = ['train', 'test'] as const;

function floats(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
}

function bytesOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

export function writeDatasetArrays(directory: string, loaded: LoadedDataset): void {
  mkdirSync(directory, { recursive: true });
  for (const part of PARTS) {
    const data = loaded[part];
    if (data === undefined) continue;
    writeFileSync(join(directory, `${part}-x.f32`), bytesOf(data.x));
    writeFileSync(join(directory, `${part}-y.f32`), bytesOf(data.y));
  }
}

export function readDataset({ record, directory }: StoredDataset): LoadedDataset {
  const part = (name: (typeof PARTS)[number], rows: number): Dataset => ({
    x: floats(join(directory, `${name}-x.f32`)),
    y: floats(join(directory, `${name}-y.f32`)),
    rows,
    features: record.features,
  });
  return {
    name: record.name,
    train: part('train', record.rows),
    ...(record.testRows > 0 ? { test: part('test', record.testRows) } : {}),
    featureNames: record.featureNames,
    labels: record.labels,
  };
}
