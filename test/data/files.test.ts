import t from 'tap';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { asBuffer, gunzipIfNeeded, isGzip, readDataFile } from '../../src/data/files.js';

t.test('recognizes gzip by its magic bytes and inflates it', async (t) => {
  const packed = gzipSync('hello');
  t.ok(isGzip(packed));
  t.notOk(isGzip(Buffer.from('hello')));
  t.notOk(isGzip(Buffer.from([0x1f])));
  t.equal(Buffer.from(gunzipIfNeeded(packed, 'x')).toString(), 'hello');
  const plain = Buffer.from('plain');
  t.equal(gunzipIfNeeded(plain, 'x'), plain, 'plain bytes pass through uncopied');
});

t.test('views bytes as a Buffer without copying', async (t) => {
  const bytes = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
  const buffer = asBuffer(bytes);
  t.same(Array.from(buffer), [2, 3]);
  buffer[0] = 9;
  t.equal(bytes[0], 9);
});

t.test('reads files, gzipped or not, and names a missing file or a folder', async (t) => {
  const directory = t.testdir({ 'a.txt': 'text', 'b.gz': gzipSync('text'), folder: {} });
  t.equal(Buffer.from(await readDataFile(join(directory, 'a.txt'))).toString(), 'text');
  t.equal(Buffer.from(await readDataFile(join(directory, 'b.gz'))).toString(), 'text');
  const notFound = (message: RegExp) => ({ code: 'DATASET_NOT_FOUND', message });
  await t.rejects(readDataFile(join(directory, 'absent')), notFound(/no such file/));
  await t.rejects(readDataFile(join(directory, 'folder')), notFound(/a folder, not a file/));
});
