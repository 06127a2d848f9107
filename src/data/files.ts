// Reading dataset files: a missing file is a DataError naming it, and gzipped content is
// recognized by its magic bytes, not by its name, so any loader reads `.gz` files.
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { DataError } from './errors.js';

/** Whether bytes start with the gzip magic number (RFC 1952: 1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The bytes, inflated when they are gzipped. */
export function gunzipIfNeeded(bytes: Uint8Array, source: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw new DataError('INVALID_DATA', `corrupt gzip data (${(error as Error).message})`, { source });
  }
}

/** The same bytes as a Buffer, without a copy, for its text decoding. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A dataset file's bytes, inflated when gzipped. */
export async function readDataFile(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError('DATASET_NOT_FOUND', 'no such file', { source: path });
    if (code === 'EISDIR') throw new DataError('DATASET_NOT_FOUND', 'a folder, not a file', { source: path });
    throw error;
  }
  return gunzipIfNeeded(bytes, path);
}
