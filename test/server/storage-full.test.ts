import { execFileSync } from 'node:child_process';
import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { call, moonsJob, openEvents, startService, temporaryDirectory, waitFor } from '../fixtures/service.js';

// A real full disk: the data folder on a small tmpfs that the test mounts, which needs root
// (and a kernel that lets this process mount); elsewhere the test says why it skips.
function mountSmallDisk(megabytes: number): string | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'mounting a small tmpfs needs root' };
  const folder = temporaryDirectory();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', folder], { stdio: 'pipe' });
  } catch (error) {
    return { skip: `could not mount a tmpfs: ${(error as Error).message.split('\n')[0]}` };
  }
  return folder;
}

const disk = mountSmallDisk(48);
const skip = typeof disk === 'string' ? false : disk.skip;

/** Fills the disk under `folder` to the last byte; returns the file's path, to delete. */
function fill(folder: string): string {
  const file = join(folder, 'filler');
  const { bavail, bsize } = statfsSync(folder);
  writeFileSync(file, Buffer.alloc(bavail * bsize));
  return file;
}

t.test('a disk that fills up mid-job: the job fails with STORAGE_FULL at its last epoch kept; uploads answer 507; /readyz says so; the server goes on', { skip }, async (t) => {
  const folder = disk as string;
  t.teardown(() => execFileSync('umount', ['-l', folder]));
  const service = await startService({ dataDirectory: folder, env: { CAVIAR_CONCURRENCY: '1', CAVIAR_MIN_FREE_MB: '1' } });
  t.teardown(() => service.stop('SIGKILL'));
  t.equal((await call(service, 'GET', '/readyz')).status, 200);

  // Checkpoints of about 3 MB (a 2-512-512-1 network and Adam's two moments), rewritten in
  // place each epoch; the events grow the store until a write finds no room.
  const spec = moonsJob(200, {
    dataset: { builtin: 'moons', samples: 500, noise: 0.2, seed: 3 },
    model: { layers: [{ units: 512, activation: 'relu' }, { units: 512, activation: 'relu' }, { units: 1, activation: 'sigmoid' }], init: 'he' },
  });
  const id = (await call(service, 'POST', '/v1/jobs', spec)).body.id as string;
  const events = openEvents(service, `/v1/jobs/${id}/events`);
  await events.next((event) => event.type === 'epoch' && event.epoch === 2);
  const filler = fill(folder);
  await waitFor(async () => service.log().includes('could not record an epoch'), 120_000);

  t.equal((await call(service, 'GET', '/healthz')).status, 200, 'the server goes on');
  const ready = await call(service, 'GET', '/readyz');
  t.match(ready, { status: 507, body: { error: { code: 'STORAGE_FULL' } } }, '/readyz reports the store cannot write');
  const upload = await call(service, 'POST', '/v1/datasets', `x1,x2,label\n${'1.5,2.5,a\n'.repeat(100_000)}`, { 'content-type': 'text/csv' });
  t.match(upload, { status: 507, body: { error: { code: 'STORAGE_FULL' } } }, 'an upload that does not fit answers 507');
  // Room again (the job's end is kept now, or on the next try if it could not be written).
  rmSync(filler);
  const done = await events.next((event) => event.type === 'done');
  t.match(done, { status: 'failed', error: { code: 'STORAGE_FULL' } }, 'the subscriber is told');
  const epochs = events.events.flatMap((event) => (event.type === 'epoch' ? [event.epoch] : []));
  const job = (await call(service, 'GET', `/v1/jobs/${id}`)).body;
  t.same(epochs, Array.from({ length: job.epochsDone }, (_, index) => index + 1), 'every epoch it kept was sent, once');
  t.ok(job.epochsDone >= 2 && job.epochsDone < 200, `it ended after epoch ${job.epochsDone}, the last it kept`);
  t.match(job.error.message, new RegExp(`after epoch ${job.epochsDone}\\b`));

  t.equal((await call(service, 'GET', '/readyz')).status, 200, 'ready again');
  const next = (await call(service, 'POST', '/v1/jobs', moonsJob(2))).body.id as string;
  const ended = await waitFor(async () => {
    const { body } = await call(service, 'GET', `/v1/jobs/${next}`);
    return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
  });
  t.equal(ended.status, 'succeeded', 'a job after it trains');
});
