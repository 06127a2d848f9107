// A worker process that dies or goes silent fails its own job alone: the server, the other
// running job and the queue carry on. Real server, real worker processes, real signals.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { call, moonsJob, openEvents, slowJob, startService, waitFor, type Service } from '../fixtures/service.js';
import { alive, childPids } from '../fixtures/processes.js';

/** The worker process of a running job: named by the server's log, and one of its children. */
async function workerOf(service: Service, jobId: string): Promise<number> {
  return waitFor(async () => {
    const started = [...service.log().matchAll(new RegExp(`"jobId":"${jobId}","attempt":\\d+,"pid":(\\d+),"msg":"job started"`, 'g'))];
    const pid = Number(started.at(-1)?.[1]);
    const serverPid = service.process.pid as number;
    return Number.isInteger(pid) && childPids(serverPid).includes(pid) ? pid : undefined;
  });
}

async function finished(service: Service, id: string, timeoutMs = 60_000) {
  return waitFor(async () => {
    const { body } = await call(service, 'GET', `/v1/jobs/${id}`);
    return ['succeeded', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
  }, timeoutMs);
}

t.test('a worker killed by SIGKILL fails its job alone, and its slot takes the next job', async (t) => {
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '2' } });
  t.teardown(() => service.stop('SIGKILL'));
  // The survivor outlasts the victim's death and the job that takes its slot.
  const survivor = (await call(service, 'POST', '/v1/jobs', slowJob(24))).body.id as string;
  const victim = (await call(service, 'POST', '/v1/jobs', slowJob(200))).body.id as string;
  const victimEvents = openEvents(service, `/v1/jobs/${victim}/events`);
  await victimEvents.next((event) => event.type === 'epoch');
  const survivorPid = await workerOf(service, survivor);
  const victimPid = await workerOf(service, victim);
  t.not(victimPid, survivorPid, 'each running job has its own process');

  process.kill(victimPid, 'SIGKILL');
  const failed = await finished(service, victim);
  t.equal(failed.status, 'failed');
  t.equal(failed.error.code, 'WORKER_CRASHED');
  t.match(failed.error.message, /killed \(SIGKILL\)/, `the cause is named: "${failed.error.message}"`);
  t.equal((await victimEvents.closed).code, 1000, 'its event stream ends normally');
  t.match(victimEvents.events.at(-1), { type: 'done', status: 'failed', error: { code: 'WORKER_CRASHED' } });
  t.notOk(childPids(service.process.pid as number).includes(victimPid), 'the dead worker is reaped');

  t.match(await call(service, 'GET', '/healthz'), { status: 200, body: { status: 'ok' } }, 'the server answers');
  t.equal((await call(service, 'GET', `/v1/jobs/${survivor}`)).body.status, 'running', 'the other job trains on');
  t.ok(alive(survivorPid), "and its process is untouched");

  const next = (await call(service, 'POST', '/v1/jobs', moonsJob(3))).body.id as string;
  const nextDone = await finished(service, next);
  t.equal(nextDone.status, 'succeeded', 'a new job runs in the freed slot');
  const survivorDone = await finished(service, survivor, 80_000);
  t.equal(survivorDone.status, 'succeeded', 'the other job succeeds');
  t.equal(survivorDone.epochsDone, 24);
  t.ok(Date.parse(nextDone.startedAt) < Date.parse(survivorDone.finishedAt), 'the new job started while the other still held its slot');
  t.equal((await call(service, 'GET', `/v1/jobs/${victim}`)).body.status, 'failed', 'the crashed job is not retried');
});

t.test('a worker that stops sending heartbeats (SIGSTOP) is failed as stalled, and killed', async (t) => {
  // Heartbeats every 100 ms; 4 s of silence is a stall (long enough for a busy machine to
  // start a worker, short enough for a test).
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '1', CAVIAR_HEARTBEAT_MS: '100', CAVIAR_STALL_MS: '4000' } });
  let stopped: number | undefined;
  t.teardown(async () => {
    await service.stop('SIGKILL');
    // A worker left stopped by a failed assertion would never see its link close.
    if (stopped === undefined || !alive(stopped)) return;
    try {
      if (readFileSync(`/proc/${stopped}/cmdline`, 'utf8').includes('worker')) process.kill(stopped, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  });
  const id = (await call(service, 'POST', '/v1/jobs', slowJob(200))).body.id as string;
  const events = openEvents(service, `/v1/jobs/${id}/events`);
  await events.next((event) => event.type === 'epoch');
  const pid = await workerOf(service, id);
  stopped = pid;
  process.kill(pid, 'SIGSTOP');

  const failed = await finished(service, id);
  t.equal(failed.status, 'failed');
  t.equal(failed.error.code, 'WORKER_STALLED');
  t.match(failed.error.message, /no word from the worker process in 4000 ms/);
  t.ok(failed.epochsDone >= 1 && failed.epochsDone < 200, `it had trained ${failed.epochsDone} epochs`);
  await waitFor(async () => !alive(pid));
  t.notOk(alive(pid), 'the stalled process is killed');
  t.match(await call(service, 'GET', '/healthz'), { status: 200 });
  const next = (await call(service, 'POST', '/v1/jobs', moonsJob(2))).body.id as string;
  t.equal((await finished(service, next)).status, 'succeeded', 'the slot is free again');
});

t.test('a worker exits within a few hundred ms of its server being killed, even inside a long mini-batch', async (t) => {
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '1' } });
  t.teardown(() => service.stop('SIGKILL'));
  // One mini-batch per epoch, the whole training set through two wide layers: a second or so
  // of native work that no cancel can cut short.
  const spec = slowJob(50, {
    model: { layers: [{ units: 512, activation: 'relu' }, { units: 512, activation: 'relu' }, { units: 1, activation: 'sigmoid' }], init: 'he' },
    training: { epochs: 50, batchSize: 20000, seed: 1, optimizer: { type: 'adam', learningRate: 0.003 } },
  });
  const id = (await call(service, 'POST', '/v1/jobs', spec)).body.id as string;
  const events = openEvents(service, `/v1/jobs/${id}/events`);
  const first = await events.next((event) => event.type === 'epoch');
  if (first?.type !== 'epoch') throw new Error(`no epoch came: the socket closed with ${JSON.stringify(await events.closed)}`);
  t.comment(`an epoch (one mini-batch) takes ${first.seconds.toFixed(2)} s`);
  const pid = await workerOf(service, id);
  // Inside the next epoch's mini-batch.
  await new Promise((resolve) => setTimeout(resolve, 100));

  const killed = performance.now();
  await service.stop('SIGKILL');
  while (alive(pid) && performance.now() - killed < 10_000) await new Promise((resolve) => setTimeout(resolve, 2));
  const gone = performance.now() - killed;
  t.comment(`the worker was gone ${gone.toFixed(0)} ms after the server's SIGKILL`);
  t.notOk(alive(pid), 'the worker has exited');
  // A worker that waited for its mini-batch would take most of an epoch; on a busy machine
  // everything is slower, so the bound is half an epoch's time, and at least 300 ms.
  const bound = Math.max(300, (first.seconds * 1000) / 2);
  t.ok(gone < bound, `within ${bound.toFixed(0)} ms (${gone.toFixed(0)} ms), not at the end of its mini-batch`);
});
