// What a restart keeps: after a SIGKILL of the server every accepted job is still there, the
// queue runs, and the job that was training resumes from its checkpoint with no epoch lost
// or doubled, ending with the weights of an uninterrupted run; after a SIGTERM the server
// checkpoints, closes its sockets with 1001 and exits 0. Real servers on one data directory.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import type { JobEvent } from '../../src/jobs/index.js';
import { call, moonsJob, openEvents, slowJob, startService, temporaryDirectory, waitFor, type Service } from '../fixtures/service.js';
import { alive, childPids } from '../fixtures/processes.js';

async function finished(service: Service, id: string, timeoutMs = 60_000) {
  return waitFor(async () => {
    const { body } = await call(service, 'GET', `/v1/jobs/${id}`);
    return ['succeeded', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
  }, timeoutMs);
}

/** A job's whole history, replayed from seq 1 until the stream closes after its last event. */
async function history(service: Service, id: string): Promise<JobEvent[]> {
  const stream = openEvents(service, `/v1/jobs/${id}/events?since=0`);
  const closed = await stream.closed;
  if (closed.code !== 1000) throw new Error(`the event stream of ${id} closed with ${closed.code}`);
  return stream.events;
}

const epochsOf = (events: JobEvent[]) => events.flatMap((event) => (event.type === 'epoch' ? [event.epoch] : []));
const statusesOf = (events: JobEvent[]) => events.flatMap((event) => (event.type === 'status' ? [event.status] : []));
/** Epochs of a tenth of a second or so: long enough to stop a job inside one, short enough to run twice. */
const mediumJob = (epochs: number) => slowJob(epochs, { dataset: { builtin: 'moons', samples: 6000, noise: 0.2, seed: 3 } });
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

/** The parts of a saved model that training decides: normalization and every parameter. */
async function weights(service: Service, id: string) {
  const { status, body } = await call(service, 'GET', `/v1/jobs/${id}/model`);
  if (status !== 200) throw new Error(`no model for ${id}: ${status}`);
  return { normalization: body.normalization, layers: body.layers };
}

t.test('after a SIGKILL of the server no accepted job and no epoch is lost or doubled', async (t) => {
  const dataDirectory = temporaryDirectory();
  const env = { CAVIAR_CONCURRENCY: '1' };
  const first = await startService({ dataDirectory, env });
  t.teardown(() => first.stop('SIGKILL'));
  const spec = mediumJob(6);
  const resumed = (await call(first, 'POST', '/v1/jobs', spec)).body.id as string;
  const queued = [
    (await call(first, 'POST', '/v1/jobs', moonsJob(2))).body.id as string,
    (await call(first, 'POST', '/v1/jobs', moonsJob(2, { training: { epochs: 2, seed: 2 } }))).body.id as string,
  ];
  const before = openEvents(first, `/v1/jobs/${resumed}/events`);
  // Epoch 2 recorded: the worker is inside epoch 3 when the server dies.
  await before.next((event) => event.type === 'epoch' && event.epoch === 2);
  const worker = childPids(first.process.pid as number);
  t.equal(worker.length, 1, 'one worker trains');
  for (const id of queued) t.equal((await call(first, 'GET', `/v1/jobs/${id}`)).body.status, 'queued');
  const sentBeforeKill = [...before.events];

  t.equal(await first.stop('SIGKILL'), 'SIGKILL');
  await waitFor(async () => worker.every((pid) => !alive(pid)));
  t.ok(worker.every((pid) => !alive(pid)), 'the orphaned worker exits when its link to the server closes');

  // The same settings as before: the slots set each worker's BLAS threads, and those decide
  // the last bits of the weights.
  const second = await startService({ dataDirectory, env });
  t.teardown(() => second.stop('SIGKILL'));
  const listed = (await call(second, 'GET', '/v1/jobs')).body.jobs.map((job: { id: string }) => job.id);
  t.same(new Set(listed), new Set([resumed, ...queued]), 'every accepted job is still there');
  // The oracle: training is deterministic, so an uninterrupted run of the same spec and
  // seed ends with the same weights, bit for bit.
  const reference = (await call(second, 'POST', '/v1/jobs', spec)).body.id as string;

  const events = await history(second, resumed);
  t.same(events.map((event) => event.seq), range(1, events.length), 'seq runs 1..N with no gap');
  t.same(epochsOf(events), range(1, 6), 'every epoch exactly once, in order');
  t.same(statusesOf(events), ['queued', 'running', 'queued', 'running'], 'back to the queue on restart, then running again');
  t.match(events.at(-1), { type: 'done', status: 'succeeded', result: { epochs: 6 } });
  t.same(events.slice(0, sentBeforeKill.length), sentBeforeKill, 'events sent before the kill replay with the same seq and content');
  const restartAt = events.findIndex((event, index) => index > 1 && event.type === 'status' && event.status === 'queued');
  const firstResumed = events.slice(restartAt).find((event) => event.type === 'epoch');
  const keptBefore = epochsOf(events.slice(0, restartAt));
  t.ok(keptBefore.length >= 2, `${keptBefore.length} epochs were kept from before the kill`);
  t.match(firstResumed, { epoch: keptBefore.length + 1 }, 'training resumes at the epoch after the last checkpoint');

  for (const id of queued) {
    const job = await finished(second, id);
    t.equal(job.status, 'succeeded', 'a queued job runs after the restart');
    t.same(statusesOf(await history(second, id)), ['queued', 'running'], 'and ran once');
  }

  t.equal((await finished(second, reference)).status, 'succeeded');
  t.same(statusesOf(await history(second, reference)), ['queued', 'running'], 'the reference ran uninterrupted');
  t.same(await weights(second, resumed), await weights(second, reference), 'the resumed model equals an uninterrupted one');
});

t.test('a 202 is durable: a job accepted just before a SIGKILL is there after the restart', async (t) => {
  const dataDirectory = temporaryDirectory();
  const first = await startService({ dataDirectory });
  t.teardown(() => first.stop('SIGKILL'));
  const submitted = await call(first, 'POST', '/v1/jobs', moonsJob(2));
  t.equal(submitted.status, 202);
  // No other request in between: the kill follows the reply at once.
  first.process.kill('SIGKILL');
  await first.exited;

  const second = await startService({ dataDirectory });
  t.teardown(() => second.stop('SIGKILL'));
  const job = await call(second, 'GET', `/v1/jobs/${submitted.body.id}`);
  t.match(job, { status: 200, body: { id: submitted.body.id, spec: moonsJob(2) } }, 'the accepted job is in the store, spec and all');
});

t.test('SIGTERM stops taking jobs, checkpoints the running one, closes sockets with 1001 and exits 0; the job resumes after', async (t) => {
  const dataDirectory = temporaryDirectory();
  const env = { CAVIAR_CONCURRENCY: '1' };
  const first = await startService({ dataDirectory, env });
  t.teardown(() => first.stop('SIGKILL'));
  const spec = mediumJob(6);
  const running = (await call(first, 'POST', '/v1/jobs', spec)).body.id as string;
  const waiting = (await call(first, 'POST', '/v1/jobs', moonsJob(2))).body.id as string;
  const stream = openEvents(first, `/v1/jobs/${running}/events`);
  const everyJob = openEvents(first, '/v1/events');
  await stream.next((event) => event.type === 'epoch' && event.epoch === 2);

  first.process.kill('SIGTERM');
  t.equal((await stream.closed).code, 1001, "a job's event socket closes with 1001");
  t.equal((await everyJob.closed).code, 1001, 'so does the socket of every event');
  const late = await call(first, 'POST', '/v1/jobs', moonsJob(2)).then(
    (reply) => reply.status,
    () => 'refused',
  );
  t.not(late, 202, `a job submitted during shutdown is not accepted (${late})`);
  t.equal(await first.exited, 0, 'the process exits 0');
  t.match(first.log(), /"msg":"stopping"/);

  const second = await startService({ dataDirectory, env });
  t.teardown(() => second.stop('SIGKILL'));
  t.equal((await call(second, 'GET', '/v1/jobs')).body.jobs.length, 2, 'no job was taken during the shutdown');
  const events = await history(second, running);
  t.same(events.map((event) => event.seq), range(1, events.length), 'seq runs 1..N with no gap');
  t.same(epochsOf(events), range(1, 6), 'every epoch exactly once');
  t.same(statusesOf(events), ['queued', 'running', 'queued', 'running'], 'returned to the queue at shutdown, running again after');
  const stoppedAt = events.findIndex((event, index) => index > 1 && event.type === 'status' && event.status === 'queued');
  const kept = epochsOf(events.slice(0, stoppedAt));
  t.ok(kept.length >= 2, `${kept.length} epochs were checkpointed before the shutdown`);
  t.match(events.slice(stoppedAt).find((event) => event.type === 'epoch'), { epoch: kept.length + 1 }, 'it resumes after its checkpoint');

  t.equal((await finished(second, waiting)).status, 'succeeded');
  t.same(statusesOf(await history(second, waiting)), ['queued', 'running'], 'the queued job did not start while the server stopped');
  // (That the resumed weights equal an uninterrupted run's is the SIGKILL test's oracle.)
  t.match(await finished(second, running), { status: 'succeeded', epochsDone: 6 });
});

/**
 * A websocket client that completes the upgrade and then never reads again: it answers no
 * close frame, and what the server sends piles up in the kernel's buffers, then in the server's.
 */
function nonReadingClient(service: Service, path: string): Promise<Socket> {
  const { hostname, port } = new URL(service.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    socket.once('error', reject);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      if (chunk.toString('latin1').startsWith('HTTP/1.1 101')) resolve(socket);
      else reject(new Error(`no upgrade: ${chunk.toString('latin1').split('\r\n')[0]}`));
    });
  });
}

/** Bytes waiting in the kernel's queues of the TCP connections to or from `port` (/proc/net/tcp). */
function queuedBytes(port: number): { unread: number; unsent: number } {
  let unread = 0;
  let unsent = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').trim().split('\n').slice(1)) {
    const [, local, remote, state, queues] = line.trim().split(/\s+/);
    // A listening socket's queues count connections, not bytes.
    if (state !== '01') continue;
    const [tx, rx] = (queues as string).split(':').map((hex) => parseInt(hex, 16)) as [number, number];
    if (parseInt((remote as string).split(':')[1] as string, 16) === port) unread += rx;
    if (parseInt((local as string).split(':')[1] as string, 16) === port) unsent += tx;
  }
  return { unread, unsent };
}

t.test('SIGTERM with 200 websocket clients that never read exits 0 within 8 s; the job resumes at its checkpoint', async (t) => {
  const dataDirectory = temporaryDirectory();
  const env = { CAVIAR_CONCURRENCY: '1' };
  const first = await startService({ dataDirectory, env });
  t.teardown(() => first.stop('SIGKILL'));
  // Quick epochs with large events (an entry per layer, 3 kB): plenty to fill the buffers.
  const chatty = moonsJob(1_000_000, {
    dataset: { builtin: 'moons', samples: 1000, noise: 0.2, seed: 3 },
    model: { layers: [...Array.from({ length: 60 }, () => ({ units: 4, activation: 'tanh' as const })), { units: 1, activation: 'sigmoid' }], init: 'xavier' },
    training: { epochs: 1_000_000, batchSize: 200, optimizer: { type: 'sgd', learningRate: 0.001 } },
  });
  const id = (await call(first, 'POST', '/v1/jobs', chatty)).body.id as string;
  const watcher = openEvents(first, `/v1/jobs/${id}/events`);
  await watcher.next((event) => event.type === 'epoch' && event.epoch === 200);
  const clients = await Promise.all(
    Array.from({ length: 200 }, (_, index) => nonReadingClient(first, index % 2 === 0 ? `/v1/jobs/${id}/events?since=0` : '/v1/events')),
  );
  t.teardown(() => clients.forEach((client) => client.destroy()));
  // More epochs: the live ones pile up behind the replays.
  const connected = watcher.events.length;
  await watcher.next((event) => event.type === 'epoch' && event.seq > connected + 200);
  const queued = queuedBytes(Number(new URL(first.url).port));
  t.comment(`before SIGTERM: ${(queued.unread / 2 ** 20).toFixed(1)} MiB unread by the clients, ${(queued.unsent / 2 ** 20).toFixed(1)} MiB unsent by the server`);
  t.ok(queued.unread > 200 * 64 * 1024, 'the clients have left what they were sent unread');

  const signalled = performance.now();
  first.process.kill('SIGTERM');
  const code = await first.exited;
  const seconds = (performance.now() - signalled) / 1000;
  t.comment(`exited ${code} ${seconds.toFixed(2)} s after SIGTERM`);
  t.equal(code, 0, 'the process exits 0');
  t.ok(seconds < 8, `within 8 s (${seconds.toFixed(2)} s)`);
  t.notOk(first.log().includes('shutdown took too long'), 'the shutdown did not run out of time');

  const second = await startService({ dataDirectory, env });
  t.teardown(() => second.stop('SIGKILL'));
  const stream = openEvents(second, `/v1/jobs/${id}/events?since=0`);
  let requeued = -1;
  await stream.next((event) => {
    if (requeued === -1 && event.type === 'status' && event.status === 'queued' && event.seq > 1) requeued = stream.events.indexOf(event);
    return requeued !== -1 && event.type === 'epoch' && stream.events.indexOf(event) > requeued;
  });
  const kept = epochsOf(stream.events.slice(0, requeued));
  t.same(kept, range(1, kept.length), `${kept.length} epochs were checkpointed before the shutdown, in order`);
  t.same(statusesOf(stream.events), ['queued', 'running', 'queued', 'running'], 'returned to the queue at shutdown, running again after');
  // Epochs arrive a hand-over at a time: the first after the requeue, not the latest.
  t.match(stream.events.slice(requeued).find((event) => event.type === 'epoch'), { epoch: kept.length + 1 }, 'it resumes after its checkpoint');
});
