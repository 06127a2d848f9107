// IDX files, the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
// an images file (items x rows x columns) and a labels file (items), gzipped or not.
import { basename } from 'node:path';
import { requireRows, type LoadedDataset } from './dataset.js';
import { invalid } from './errors.js';
import { gunzipIfNeeded, readDataFile } from './files.js';
import { encodeLabels } from './labels.js';
import { checkStorable, isStorable } from './numbers.js';

/** An IDX array: the first dimension counts items, the rest are flattened into each item. */
export interface IdxArray {
  dimensions: number[];
  items: number;
  /** Values per item: the product of the dimensions after the first. */
  size: number;
  values: Float32Array;
}

/** An images file and its labels file, as bytes. */
export interface IdxBytes {
  images: Uint8Array;
  labels: Uint8Array;
  /** Where each came from, for messages. */
  imagesSource?: string;
  labelsSource?: string;
}

/** An images file and its labels file, as paths. */
export interface IdxFiles {
  images: string;
  labels: string;
}

export interface IdxOptions<Part> {
  /** The dataset's name; the images file's name, or 'idx'. */
  name?: string;
  /** The name of each class index, when the labels are classes. */
  classNames?: string[];
  /** The dataset's own test part. */
  test?: Part;
}

// The third byte of the magic number gives the type of the values, as code: [bytes, reader].
const TYPES = new Map<number, [number, (view: DataView, offset: number) => number]>([
  [0x08, [1, (view, offset) => view.getUint8(offset)]],
  [0x09, [1, (view, offset) => view.getInt8(offset)]],
  [0x0b, [2, (view, offset) => view.getInt16(offset)]],
  [0x0c, [4, (view, offset) => view.getInt32(offset)]],
  [0x0d, [4, (view, offset) => view.getFloat32(offset)]],
  [0x0e, [8, (view, offset) => view.getFloat64(offset)]],
]);

/** Parses one IDX file's bytes, gzipped or not. */
export function parseIdx(bytes: Uint8Array, source = 'idx'): IdxArray {
  const data = gunzipIfNeeded(bytes, source);
  if (data.length < 4) {
    invalid(`truncated: ${data.length} bytes, shorter than the 4-byte magic number`, { source });
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const magic = view.getUint32(0);
  const type = TYPES.get(data[2] as number);
  const rank = data[3] as number;
  if (data[0] !== 0 || data[1] !== 0 || type === undefined || rank === 0) {
    invalid(`bad magic number 0x${magic.toString(16).padStart(8, '0')}: not an IDX file`, { source });
  }
  const headerBytes = 4 + 4 * rank;
  if (data.length < headerBytes) {
    invalid(`truncated: the header needs ${headerBytes} bytes, the file has ${data.length}`, { source });
  }
  const dimensions = Array.from({ length: rank }, (_, index) => view.getUint32(4 + 4 * index));
  const [width] = type;
  const items = dimensions[0] as number;
  const size = dimensions.slice(1).reduce((product, dimension) => product * dimension, 1);
  const expected = headerBytes + items * size * width;
  if (data.length < expected) {
    const shape = dimensions.join(' x ');
    invalid(`truncated: ${shape} values need ${expected} bytes, the file has ${data.length}`, { source });
  }
  if (data.length > expected) {
    const shape = dimensions.join(' x ');
    invalid(`${data.length - expected} bytes beyond the ${shape} values the header gives`, { source });
  }
  const values = readValues(data, headerBytes, size, items * size, source);
  return { dimensions, items, size, values };
}

/** A dataset from an images file and a labels file (and a test pair), as bytes. */
export function datasetFromIdx(train: IdxBytes, options: IdxOptions<IdxBytes> = {}): LoadedDataset {
  const trainPart = readPair(train);
  const testPart = options.test && readPair(options.test);
  if (testPart && testPart.images.size !== trainPart.images.size) {
    invalid(`${testPart.images.size} values an image, but train has ${trainPart.images.size}`, {
      source: testPart.imagesSource,
    });
  }
  const locateIn = (part: Pair) => (index: number) => ({ source: part.labelsSource, row: index + 1 });
  const encoded = encodeLabels(
    { cells: Array.from(trainPart.labels.values), locate: locateIn(trainPart) },
    testPart && { cells: Array.from(testPart.labels.values), locate: locateIn(testPart) },
  );
  let { labels } = encoded;
  if (options.classNames) {
    const names = options.classNames;
    if (labels.kind !== 'classes' || labels.count > names.length) {
      invalid(`the labels are not classes 0..${names.length - 1}`, { source: trainPart.labelsSource });
    }
    labels = { kind: 'classes', count: names.length, names };
  }
  const features = trainPart.images.size;
  const loaded: LoadedDataset = {
    name: options.name ?? 'idx',
    train: { x: trainPart.images.values, y: encoded.train, rows: trainPart.images.items, features },
    featureNames: Array.from({ length: features }, (_, index) => `pixel${index + 1}`),
    labels,
  };
  requireRows(loaded.train, trainPart.imagesSource);
  if (testPart && encoded.test) {
    loaded.test = { x: testPart.images.values, y: encoded.test, rows: testPart.images.items, features };
    requireRows(loaded.test, testPart.imagesSource);
  }
  return loaded;
}

/** Loads an images file and its labels file (and a test pair), gzipped or not. */
export async function loadIdx(train: IdxFiles, options: IdxOptions<IdxFiles> = {}): Promise<LoadedDataset> {
  const pairs = options.test ? [train, options.test] : [train];
  // Read at once; of several missing or unreadable files, the first in order is reported,
  // not whichever failed first.
  const reads = await Promise.allSettled(pairs.flatMap((files) => [readDataFile(files.images), readDataFile(files.labels)]));
  const failed = reads.find((read) => read.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  const bytes = reads.map((read) => (read as PromiseFulfilledResult<Uint8Array>).value);
  const [trainBytes, testBytes] = pairs.map((files, index) => ({
    images: bytes[2 * index] as Uint8Array,
    labels: bytes[2 * index + 1] as Uint8Array,
    imagesSource: files.images,
    labelsSource: files.labels,
  }));
  return datasetFromIdx(trainBytes as IdxBytes, {
    name: options.name ?? basename(train.images),
    ...(options.classNames && { classNames: options.classNames }),
    ...(testBytes && { test: testBytes }),
  });
}

/** The labels file that goes with an images file by MNIST's naming:
 * train-images-idx3-ubyte.gz -> train-labels-idx1-ubyte.gz. Undefined when the name does
 * not follow it. */
export function labelsPathFor(imagesPath: string): string | undefined {
  const name = basename(imagesPath);
  if (!name.includes('images-idx3')) return undefined;
  return imagesPath.slice(0, imagesPath.length - name.length) + name.replace('images-idx3', 'labels-idx1');
}

interface Pair {
  images: IdxArray;
  labels: IdxArray;
  imagesSource: string;
  labelsSource: string;
}

function readPair(pair: IdxBytes): Pair {
  const imagesSource = pair.imagesSource ?? 'idx images';
  const labelsSource = pair.labelsSource ?? 'idx labels';
  const images = parseIdx(pair.images, imagesSource);
  const labels = parseIdx(pair.labels, labelsSource);
  if (labels.dimensions.length !== 1) {
    invalid(`labels must be one-dimensional, not ${labels.dimensions.join(' x ')}`, { source: labelsSource });
  }
  if (labels.items !== images.items) {
    invalid(`${labels.items} labels for ${images.items} images`, { source: labelsSource });
  }
  return { images, labels, imagesSource, labelsSource };
}

function readValues(
  data: Uint8Array,
  offset: number,
  size: number,
  count: number,
  source: string,
): Float32Array {
  const code = data[2] as number;
  // Unsigned bytes (every MNIST file) convert in one typed-array copy.
  if (code === 0x08) return new Float32Array(data.subarray(offset, offset + count));
  const [width, read] = TYPES.get(code) as [number, (view: DataView, offset: number) => number];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const values = new Float32Array(count);
  for (let index = 0; index < count; index += 1) {
    const value = read(view, offset + index * width);
    values[index] = isStorable(value)
      ? value
      : checkStorable(value, { source, row: Math.floor(index / size) + 1 });
  }
  return values;
}
