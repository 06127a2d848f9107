// The arrays of a stored dataset as files: x and y of the train part (and of its own test
// part), raw little-endian float32, in a folder the store names; for a table (a CSV), x holds
// its raw cells and columns.json says what each column holds (src/data/columns.ts), so that
// every job fits its own preprocessing. Datasets stored before columns.json existed have
// none, and their x holds the features as they are. Other metadata stays in the store.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, LoadedDataset } from '../data/index.js';
import type { StoredColumn } from '../data/columns.js';
import type { StoredDataset } from './protocol.js';

const PARTS = ['train', 'test'] as const;

function floats(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
}

function bytesOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

const COLUMNS_FILE = 'columns.json';
const COLUMNS_VERSION = 1;

export function writeDatasetArrays(directory: string, loaded: LoadedDataset): void {
  mkdirSync(directory, { recursive: true });
  if (loaded.columns !== undefined)
    writeFileSync(join(directory, COLUMNS_FILE), JSON.stringify({ version: COLUMNS_VERSION, label: loaded.labelColumn, columns: loaded.columns } satisfies StoredTable));
  for (const part of PARTS) {
    const data = loaded[part];
    if (data === undefined) continue;
    writeFileSync(join(directory, `${part}-x.f32`), bytesOf(data.x));
    writeFileSync(join(directory, `${part}-y.f32`), bytesOf(data.y));
  }
}

/** What columns.json holds. */
interface StoredTable {
  version: number;
  /** The label column's name. */
  label?: string | undefined;
  columns: StoredColumn[];
}

/** A stored table's columns and label; undefined for a dataset that is no table, or stored before them. */
export function readTable(directory: string): StoredTable | undefined {
  const path = join(directory, COLUMNS_FILE);
  if (!existsSync(path)) return undefined;
  const stored = JSON.parse(readFileSync(path, 'utf8')) as StoredTable;
  if (stored.version !== COLUMNS_VERSION) throw new Error(`${path} is version ${stored.version}; this server reads ${COLUMNS_VERSION}`);
  return stored;
}

export function readDataset({ record, directory }: StoredDataset): LoadedDataset {
  const table = readTable(directory);
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
    ...(table === undefined ? {} : { columns: table.columns, ...(table.label === undefined ? {} : { labelColumn: table.label }) }),
  };
}
