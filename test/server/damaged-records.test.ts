// What the service does with a record its store holds damaged: a checkpoint that fails its
// checksum fails the job resuming from it with CHECKPOINT_CORRUPT (no epoch trains on it);
// a model that fails its checksum, or does not parse, answers 500 MODEL_CORRUPT to its
// download and to predictions, is logged, and is never sent. A real server; the damage is
// written into its own SQLite file through a second connection, as WAL allows.
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { JobEvent } from '../../src/jobs/index.js';
import { call, moonsJob, openEvents, slowJob, startService, waitFor, type Service } from '../fixtures/service.js';

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

async function succeeded(id: string): Promise<void> {
  await waitFor(async () => (await call(service, 'GET', `/v1/jobs/${id}`)).body.status === 'succeeded', 60_000);
}

/** Rewrites a finished job's stored model text. */
function damageModel(id: string, damage: (text: string) => string): void {
  inStore((db) => {
    const { model } = db.prepare<[string], { model: string }>('SELECT model FROM models WHERE job_id = ?').get(id) as { model: string };
    db.prepare('UPDATE models SET model = ? WHERE job_id = ?').run(damage(model), id);
  });
}

/** The model download and a prediction both answer 500 MODEL_CORRUPT, with nothing of the model in them. */
async function refusedAsCorrupt(t: Test, id: string): Promise<void> {
  const download = await call(service, 'GET', `/v1/jobs/${id}/model`);
  t.equal(download.status, 500, 'the download answers 500');
  t.same(Object.keys(download.body), ['error'], 'an error and nothing else');
  t.match(download.body.error, { code: 'MODEL_CORRUPT', message: new RegExp(`model of job ${id} is damaged`) });
  t.notMatch(JSON.stringify(download.body), /layers|weight/, 'none of the stored bytes');
  const predicted = await call(service, 'POST', `/v1/jobs/${id}/predict`, { inputs: [[0, 0.5]] });
  t.equal(predicted.status, 500, 'a prediction answers 500');
  t.match(predicted.body, { error: { code: 'MODEL_CORRUPT' } });
  t.same(Object.keys(predicted.body), ['error']);
  // The log comes through a pipe of its own, perhaps after the reply.
  const logged = await waitFor(async () => {
    const lines = service
      .log()
      .split('\n')
      .filter((line) => line.includes('"msg":"a stored model is damaged"') && line.includes(`"jobId":"${id}"`));
    return lines.length >= 2 && lines;
  });
  t.equal(logged.length, 2, 'each refusal is logged, with the job');
  t.match(logged[0], /"level":50/, 'as an error');
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

t.test('a stored model with one base64 character changed answers 500 MODEL_CORRUPT to its download and to predictions', async (t) => {
  const id = await submit(moonsJob(2, { name: 'damaged model' }));
  await succeeded(id);
  const intact = await call(service, 'GET', `/v1/jobs/${id}/model`);
  t.equal(intact.status, 200, 'the model downloads before the damage');
  t.match(intact.body.checksum, /^sha256:[0-9a-f]{64}$/, 'with its checksum');

  damageModel(id, (text) => {
    const document = JSON.parse(text) as { layers: { weight: string }[] };
    const layer = document.layers[0] as { weight: string };
    layer.weight = `${layer.weight.slice(0, 10)}${layer.weight[10] === 'A' ? 'B' : 'A'}${layer.weight.slice(11)}`;
    return JSON.stringify(document);
  });
  await refusedAsCorrupt(t, id);
});

t.test('a stored model that does not parse answers 500 MODEL_CORRUPT too: the damage is the server\'s, not the client\'s', async (t) => {
  const id = await submit(moonsJob(2, { name: 'cut short' }));
  await succeeded(id);
  damageModel(id, (text) => text.slice(0, -20));
  await refusedAsCorrupt(t, id);
});

t.test('a stored model written before checksums downloads and predicts as before', async (t) => {
  const id = await submit(moonsJob(2, { name: 'older model' }));
  await succeeded(id);
  damageModel(id, (text) => {
    const { checksum: _checksum, ...older } = JSON.parse(text) as Record<string, unknown>;
    return JSON.stringify(older);
  });
  const download = await call(service, 'GET', `/v1/jobs/${id}/model`);
  t.equal(download.status, 200);
  t.equal(download.body.checksum, undefined, 'served as stored');
  t.equal((await call(service, 'POST', `/v1/jobs/${id}/predict`, { inputs: [[0, 0.5]] })).status, 200);
});
