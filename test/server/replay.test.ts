// Replaying a long history to many clients at once shares the event loop: the server answers
// its other requests between pages. Real server, real sockets.
import t from 'tap';
import WebSocket from 'ws';
import { call, moonsJob, startService, waitFor, type Service } from '../fixtures/service.js';

const CLIENTS = 200;
const EPOCHS = 2000;

/** Follows a job's events from seq 0 to the close, counting them (parsing only the last). */
function replay(service: Service, id: string): Promise<{ count: number; code: number; last: { type?: string } }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${service.url.replace(/^http/, 'ws')}/v1/jobs/${id}/events?since=0`);
    let count = 0;
    let last: WebSocket.RawData | undefined;
    socket.on('message', (data) => {
      count += 1;
      last = data;
    });
    socket.on('close', (code) => resolve({ count, code, last: last === undefined ? {} : JSON.parse(last.toString()) }));
    socket.on('error', reject);
  });
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;

t.test(`/healthz stays prompt while ${CLIENTS} clients replay a ${EPOCHS}-epoch history from seq 0`, async (t) => {
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '1' } });
  t.teardown(() => service.stop('SIGKILL'));
  const spec = moonsJob(EPOCHS, {
    dataset: { builtin: 'moons', samples: 100, noise: 0.2, seed: 3 },
    model: { layers: [{ units: 1, activation: 'sigmoid' }] },
    training: { epochs: EPOCHS, batchSize: 100, optimizer: { type: 'sgd', learningRate: 0.01 } },
  });
  const trainingStarted = performance.now();
  const id = (await call(service, 'POST', '/v1/jobs', spec)).body.id as string;
  const job = await waitFor(async () => {
    const { body } = await call(service, 'GET', `/v1/jobs/${id}`);
    return body.status === 'succeeded' ? body : undefined;
  }, 60_000, 200);
  t.comment(`${EPOCHS} epochs trained in ${((performance.now() - trainingStarted) / 1000).toFixed(1)} s; ${job.lastSeq} events`);

  const replaysStarted = performance.now();
  let replaying = true;
  const replays = Promise.all(Array.from({ length: CLIENTS }, () => replay(service, id))).finally(() => (replaying = false));
  const probes: { ms: number; status: number }[] = [];
  while (replaying) {
    const sent = performance.now();
    const { status } = await call(service, 'GET', '/healthz');
    probes.push({ ms: performance.now() - sent, status });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const results = await replays;
  const seconds = (performance.now() - replaysStarted) / 1000;

  const times = probes.map((probe) => probe.ms).sort((a, b) => a - b);
  t.comment(
    `${CLIENTS} replays of ${job.lastSeq} events took ${seconds.toFixed(1)} s; /healthz answered ${probes.length} times meanwhile: ` +
      `median ${quantile(times, 0.5).toFixed(0)} ms, p95 ${quantile(times, 0.95).toFixed(0)} ms, max ${(times.at(-1) ?? 0).toFixed(0)} ms`,
  );
  t.ok(results.every((result) => result.count === job.lastSeq && result.code === 1000 && result.last.type === 'done'), 'every client got the whole history, then a normal close');
  t.ok(probes.length >= 5, `/healthz was asked while the replays ran (${probes.length} times)`);
  t.ok(probes.every((probe) => probe.status === 200), 'and answered 200 every time');
  t.ok((times.at(-1) ?? 0) < 2000, `never slower than 2 s (${(times.at(-1) ?? 0).toFixed(0)} ms)`);
});
