import t from 'tap';
import { openSync, readFileSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { call, moonsJob, startService, temporaryDirectory, waitFor } from '../fixtures/service.js';

/** Starts a server on a data directory and resolves with its exit code and output, expecting it not to start. */
async function refusedStart(dataDirectory: string): Promise<{ code: number | NodeJS.Signals | undefined; output: string }> {
  try {
    const service = await startService({ dataDirectory });
    await service.stop('SIGKILL');
    return { code: undefined, output: 'it started' };
  } catch (error) {
    const output = (error as Error).message;
    const code = /exited \((\w+)\)/.exec(output)?.[1];
    return { code: code === undefined ? undefined : Number(code), output };
  }
}

t.test('a store whose pages are damaged is refused at start with one message and exit code 3', async (t) => {
  const dataDirectory = temporaryDirectory();
  const service = await startService({ dataDirectory });
  for (let index = 0; index < 20; index += 1) await call(service, 'POST', '/v1/jobs', moonsJob(1, { name: `job ${index}` }));
  await waitFor(async () => (await call(service, 'GET', '/v1/jobs?status=succeeded')).body.jobs.length === 20, 60_000);
  t.equal(await service.stop(), 0);
  const file = join(dataDirectory, 'caviar.db');
  const size = statSync(file).size;
  t.ok(size > 8 * 4096, `a store of ${size} bytes`);
  // Garbage over pages 3 to 6, where the tables' b-trees live.
  const descriptor = openSync(file, 'r+');
  writeSync(descriptor, Buffer.alloc(4 * 4096, 0xa5), 0, 4 * 4096, 2 * 4096);
  closeSync(descriptor);

  const { code, output } = await refusedStart(dataDirectory);
  t.equal(code, 3, 'exit code 3');
  t.match(output, /caviar: the store .*caviar\.db is damaged/, 'one line that says so');
  t.notMatch(output, /\n\s+at /, 'no stack trace');
});

t.test('a file that is not a database at all is refused the same way', async (t) => {
  const dataDirectory = temporaryDirectory();
  writeFileSync(join(dataDirectory, 'caviar.db'), 'this is not a database, only some text that is long enough'.repeat(100));
  const { code, output } = await refusedStart(dataDirectory);
  t.equal(code, 3);
  t.match(output, /is damaged/);
  t.ok(readFileSync(join(dataDirectory, 'caviar.db'), 'utf8').startsWith('this is not'), 'and the file is left as it was, for recovery');
});
