import { rmSync } from 'node:fs';
import t from 'tap';
import { alive, childPids } from '../fixtures/processes.js';
import { call, startService, waitFor, type Service } from '../fixtures/service.js';

async function serve(env: Record<string, string>): Promise<Service> {
  const service = await startService({ env });
  t.teardown(async () => {
    await service.stop('SIGKILL');
    rmSync(service.dataDirectory, { recursive: true, force: true });
  });
  return service;
}

// Two checks at once, beside two job slots: each slot keeps one idle worker process, so the
// server's live children are the checks running plus those kept for the next one.
const service = await serve({ CAVIAR_CONCURRENCY: '2', CAVIAR_GRADCHECK_CONCURRENCY: '2' });

const dense = (...units: number[]) => ({
  layers: units.map((count, index) => ({ units: count, activation: index === units.length - 1 ? 'softmax' : 'tanh' })),
});
/** About 3e9 multiply-adds: a second or so on one core, long enough for four to overlap. */
const medium = { model: dense(256, 256, 10), features: 64, samples: 16, seed: 1 };

t.test('a small network still checks, with the sampled coordinates', async (t) => {
  const reply = await call(service, 'POST', '/v1/gradcheck', { model: dense(8, 6, 3), samples: 8, seed: 2 });
  t.equal(reply.status, 200, JSON.stringify(reply.body));
  t.equal(reply.body.passed, true);
  t.equal(reply.body.parameters, 5 * 8 + 9 * 6 + 7 * 3);
});

t.test('a 1024-2048-2048-2 network is refused at once as too long a check, naming the network', async (t) => {
  const started = Date.now();
  const reply = await call(service, 'POST', '/v1/gradcheck', { model: dense(1024, 2048, 2048, 2) });
  t.ok(Date.now() - started < 5000, `answered in ${Date.now() - started} ms`);
  t.equal(reply.status, 400, JSON.stringify(reply.body));
  t.match(reply.body.error, { code: 'GRADCHECK_TOO_LONG', path: '/model/layers', message: /multiply-adds/ });
});

t.test('a 65536x65536 network is refused for its memory, at the layer that holds the most', async (t) => {
  const reply = await call(service, 'POST', '/v1/gradcheck', { model: dense(65536, 65536) });
  t.equal(reply.status, 400, JSON.stringify(reply.body));
  t.match(reply.body.error, { code: 'TOO_LARGE', path: '/model/layers/1/units', message: /CAVIAR_JOB_MEMORY_MB/ });
});

t.test('four checks at once all answer, never more than two of them in worker processes', async (t) => {
  const serverPid = service.process.pid as number;
  let most = 0;
  const sampler = setInterval(() => {
    most = Math.max(most, childPids(serverPid).filter(alive).length);
  }, 10);
  const replies = await Promise.all([1, 2, 3, 4].map((seed) => call(service, 'POST', '/v1/gradcheck', { ...medium, seed })));
  clearInterval(sampler);
  for (const reply of replies) t.equal(reply.status, 200, JSON.stringify(reply.body));
  t.ok(most >= 1, 'the sampler saw the workers');
  t.ok(most <= 2, `at most 2 worker processes at once (saw ${most})`);
});

t.test('beyond the pool and its queue a check answers 503 at once; one past its time answers 504 and is logged', async (t) => {
  const tight = await serve({ CAVIAR_GRADCHECK_CONCURRENCY: '1', CAVIAR_GRADCHECK_QUEUE: '0', CAVIAR_GRADCHECK_TIMEOUT_MS: '300' });
  const first = call(tight, 'POST', '/v1/gradcheck', medium);
  // The first holds the only place once its worker process exists.
  await waitFor(async () => childPids(tight.process.pid as number).some(alive));
  const busy = await call(tight, 'POST', '/v1/gradcheck', medium);
  t.equal(busy.status, 503, JSON.stringify(busy.body));
  t.equal(busy.body.error.code, 'GRADCHECK_BUSY');
  t.ok(await waitFor(async () => /gradient check refused: no place/.test(tight.log()), 5000), 'the refusal is logged');
  t.ok(Number(busy.headers.get('retry-after')) > 0, 'with a Retry-After');
  const timedOut = await first;
  t.equal(timedOut.status, 504, JSON.stringify(timedOut.body));
  t.equal(timedOut.body.error.code, 'GRADCHECK_TIMEOUT');
  t.ok(await waitFor(async () => /gradient check timed out/.test(tight.log()), 5000), 'the timeout is logged');
});
