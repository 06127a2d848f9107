// What the service does with a record its store holds damaged: a checkpoint that fails its
// checksum fails the job resuming from it with CHECKPOINT_CORRUPT (no epoch trains on it).
// A real server; the damage is written into its own SQLite file through a second
// connection, as WAL allows.
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { JobEvent } from '../../src/jobs/index.js';
import { call, openEvents, slowJob, startService, type Service } from '../fixtures/service.js';

const service: Service = await startService({ env: { CAVIAR_CONCURRENCY: '1' } });
t.teardown(async () => {
  await service.stop('SIGKILL');
  rmSync(service.dataDirectory, { recursive: true, force: true });
});

function inStore<T>(change: (db: Database.Database) => T): T {
  const db = new Database(join(service.dataDirectory, 'caviar.db'));
  db.pragma('busy_timeout = 5000');
  try {
    return change(db);
  } finally {
    db.close();
  }
}

async function submit(spec: unknown): Promise<string> {
  const reply = await call(service, 'POST', '/v1/jobs', spec);
  if (reply.status !== 202) throw new Error(`submit answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body.id as string;
}

t.test('a job whose checkpoint was damaged while it was paused fails with CHECKPOINT_CORRUPT when it resumes', async (t) => {
  const id = await submit(slowJob(6, { name: 'damaged while paused' }));
  const stream = openEvents(service, `/v1/jobs/${id}/events`);
  await stream.next((event) => event.type === 'epoch' && event.epoch === 1);
  t.equal((await call(service, 'POST', `/v1/jobs/${id}/pause`)).status, 202);
  await stream.next((event) => event.type === 'status' && event.status === 'paused');
  const { epochsDone } = (await call(service, 'GET', `/v1/jobs/${id}`)).body as { epochsDone: number };

  // One bit of a first-layer weight (the parameters follow a header of some 150 bytes): a
  // job resumed from such a checkpoint used to train on, and succeed.
  inStore((db) => {
    const row = db.prepare<[string], { bytes: Buffer }>("SELECT bytes FROM checkpoints WHERE job_id = ? AND which = 'latest'").get(id);
    const bytes = Buffer.from((row as { bytes: Buffer }).bytes);
    bytes[1000] = (bytes[1000] as number) ^ 0x10;
    db.prepare("UPDATE checkpoints SET bytes = ? WHERE job_id = ? AND which = 'latest'").run(bytes, id);
  });
  t.match(await call(service, 'POST', `/v1/jobs/${id}/resume`), { status: 200, body: { status: 'queued' } });

  t.equal((await stream.closed).code, 1000, 'the event stream ends');
  const done = stream.events.at(-1) as Extract<JobEvent, { type: 'done' }>;
  t.match(done, { type: 'done', status: 'failed', error: { code: 'CHECKPOINT_CORRUPT', message: /do not match their checksum/ } });
  const resumedAt = stream.events.findIndex((event) => event.type === 'status' && event.status === 'paused');
  t.same(stream.events.slice(resumedAt).filter((event) => event.type === 'epoch'), [], 'no epoch trained on the damaged state');
  const job = (await call(service, 'GET', `/v1/jobs/${id}`)).body;
  t.match(job, { status: 'failed', epochsDone, error: { code: 'CHECKPOINT_CORRUPT' } });
});
