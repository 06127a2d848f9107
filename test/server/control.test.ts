import { rmSync } from 'node:fs';
import t, { type Test } from 'tap';
import type { JobEvent, JobSpec } from '../../src/jobs/index.js';
import { call, moonsJob, openEvents, slowJob, startService, waitFor, type Reply, type Service } from '../fixtures/service.js';

// One slot, so that a second job waits behind the first.
const service: Service = await startService({ env: { CAVIAR_CONCURRENCY: '1' } });
t.teardown(async () => {
  await service.stop('SIGKILL');
  rmSync(service.dataDirectory, { recursive: true, force: true });
});

type EpochEvent = Extract<JobEvent, { type: 'epoch' }>;
const isEpoch = (event: JobEvent): event is EpochEvent => event.type === 'epoch';
const epochsOf = (events: JobEvent[]) => events.filter(isEpoch);

async function submit(spec: unknown): Promise<string> {
  const reply = await call(service, 'POST', '/v1/jobs', spec);
  if (reply.status !== 202) throw new Error(`submit answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body.id as string;
}

const statusOf = async (id: string) => (await call(service, 'GET', `/v1/jobs/${id}`)).body.status as string;
const reaches = (id: string, status: string) => waitFor(async () => (await statusOf(id)) === status, 60_000);

/** Checks the contract's error shape: {"error": {code, message, path?}} and nothing else. */
function errorShape(t: Test, reply: Reply, status: number, code: string): void {
  t.equal(reply.status, status, `answers ${status}`);
  t.same(Object.keys(reply.body), ['error'], 'only an error object');
  const { error } = reply.body as { error: Record<string, unknown> };
  t.equal(error.code, code);
  t.type(error.message, 'string');
  t.ok((error.message as string).length > 0, 'a message');
  for (const key of Object.keys(error)) t.ok(['code', 'message', 'path'].includes(key), `error has no field '${key}' beyond the contract`);
}

/** Cancels a job (if it has not ended) and waits until it has. */
async function finish(id: string): Promise<void> {
  await call(service, 'POST', `/v1/jobs/${id}/cancel`);
  await waitFor(async () => ['succeeded', 'failed', 'cancelled'].includes(await statusOf(id)), 60_000);
}

t.test('cancels a queued job at once and a running one within its epoch', async (t) => {
  const ahead = await submit(slowJob(200));
  const aheadEvents = openEvents(service, `/v1/jobs/${ahead}/events`);
  await aheadEvents.next((event) => event.type === 'status' && event.status === 'running');
  const queued = await submit(moonsJob(5));
  t.equal(await statusOf(queued), 'queued', 'waits behind the slow job');

  const cancelled = await call(service, 'POST', `/v1/jobs/${queued}/cancel`);
  t.equal(cancelled.status, 200);
  t.equal(cancelled.body.status, 'cancelled', 'a queued job is cancelled at once');
  const queuedEvents = openEvents(service, `/v1/jobs/${queued}/events`);
  t.equal((await queuedEvents.closed).code, 1000, 'its event stream closes normally');
  t.match(queuedEvents.events.map(({ type, status }: any) => ({ type, status })), [
    { type: 'status', status: 'queued' },
    { type: 'done', status: 'cancelled' },
  ]);
  t.equal(queuedEvents.events.length, 2, 'it never ran');
  t.match((await call(service, 'GET', `/v1/jobs/${queued}`)).body, { status: 'cancelled', epochsDone: 0 });

  // The running job: cancel after its first epoch.
  await aheadEvents.next((event) => isEpoch(event) && event.epoch >= 1);
  const reply = await call(service, 'POST', `/v1/jobs/${ahead}/cancel`);
  t.match(reply, { status: 202, body: { id: ahead, status: 'cancelling' } }, 'a running job answers that it is on its way to cancelled');
  const seenAtCancel = epochsOf(aheadEvents.events).length;
  t.equal((await aheadEvents.closed).code, 1000, 'the running job ends its stream');
  const last = aheadEvents.events.at(-1);
  t.match(last, { type: 'done', status: 'cancelled' }, 'the last event says cancelled');
  const job = (await call(service, 'GET', `/v1/jobs/${ahead}`)).body;
  t.equal(job.status, 'cancelled');
  t.ok(job.epochsDone <= seenAtCancel + 1, `stopped at once: ${job.epochsDone} epochs of 200, ${seenAtCancel} seen at the cancel`);
  t.equal(epochsOf(aheadEvents.events).length, job.epochsDone, 'one event per epoch recorded');
});

t.test('pause checkpoints and frees the slot; resume finishes every epoch once, with the weights of a job never paused', async (t) => {
  const epochs = 6;
  const spec = slowJob(epochs, { name: 'paused' });
  const paused = await submit(spec);
  const stream = openEvents(service, `/v1/jobs/${paused}/events`);
  await stream.next((event) => event.type === 'status' && event.status === 'running');
  const waiting = await submit(moonsJob(3));
  t.equal(await statusOf(waiting), 'queued', 'the second job waits for the slot');

  // Paused as soon as it has a checkpoint, so that it has epochs left on any machine.
  await stream.next((event) => isEpoch(event) && event.epoch === 1);
  const reply = await call(service, 'POST', `/v1/jobs/${paused}/pause`);
  t.match(reply, { status: 202, body: { id: paused, status: 'pausing' } }, 'a running job answers that it is on its way to paused');
  await stream.next((event) => event.type === 'status' && event.status === 'paused');
  const pausedJob = (await call(service, 'GET', `/v1/jobs/${paused}`)).body;
  t.equal(pausedJob.status, 'paused');
  t.ok(pausedJob.epochsDone >= 1 && pausedJob.epochsDone < epochs, `paused after ${pausedJob.epochsDone} epochs`);
  await reaches(waiting, 'succeeded');
  t.equal(await statusOf(waiting), 'succeeded', 'the queued job took the freed slot and finished');
  t.equal(await statusOf(paused), 'paused', 'still paused while another job ran');
  t.equal(stream.socket.readyState, stream.socket.OPEN, 'the paused job keeps its event stream open');

  const resumed = await call(service, 'POST', `/v1/jobs/${paused}/resume`);
  t.match(resumed, { status: 200, body: { id: paused, status: 'queued' } }, 'a paused job is queued at once');
  t.equal((await stream.closed).code, 1000);
  const { events } = stream;
  t.same(events.map((event) => event.seq), events.map((_, index) => index + 1), 'seq runs from 1 with no gap or repeat');
  t.same(epochsOf(events).map((event) => event.epoch), Array.from({ length: epochs }, (_, index) => index + 1), 'each epoch exactly once');
  t.same(
    events.filter((event) => event.type === 'status').map((event) => (event as { status: string }).status),
    ['queued', 'running', 'paused', 'queued', 'running'],
  );
  t.match(events.at(-1), { type: 'done', status: 'succeeded', result: { epochs } });
  const metrics = await call(service, 'GET', `/v1/jobs/${paused}/metrics`);
  t.same(metrics.body.epochs.map((epoch: { epoch: number }) => epoch.epoch), [1, 2, 3, 4, 5, 6], 'metrics has each epoch once');

  const straight = await submit(spec);
  const straightStream = openEvents(service, `/v1/jobs/${straight}/events`);
  await straightStream.closed;
  t.match(straightStream.events.at(-1), { type: 'done', status: 'succeeded' });
  const [pausedModel, straightModel] = await Promise.all([
    call(service, 'GET', `/v1/jobs/${paused}/model`),
    call(service, 'GET', `/v1/jobs/${straight}/model`),
  ]);
  t.equal(pausedModel.status, 200);
  t.equal(straightModel.status, 200);
  t.same(pausedModel.body.layers, straightModel.body.layers, 'the same weights, bit for bit');
  t.same(pausedModel.body.normalization, straightModel.body.normalization);
  t.same(
    epochsOf(events).map((event) => event.train.loss),
    epochsOf(straightStream.events).map((event) => event.train.loss),
    'the same learning curve',
  );
});

t.test('a new learning rate shows in a later epoch event', async (t) => {
  const before = 2 ** -8;
  const after = 2 ** -6;
  const id = await submit(slowJob(200, { training: { epochs: 200, optimizer: { type: 'adam', learningRate: before } } }));
  t.teardown(() => finish(id));
  const stream = openEvents(service, `/v1/jobs/${id}/events`);
  await stream.next((event) => isEpoch(event) && event.epoch >= 1);
  const reply = await call(service, 'PATCH', `/v1/jobs/${id}`, { learningRate: after });
  t.equal(reply.status, 200);
  t.equal(reply.body.pendingLearningRate, after, 'the job shows the rate it will take');
  const seenAtPatch = epochsOf(stream.events).at(-1)?.epoch as number;
  const changed = (await stream.next((event) => isEpoch(event) && event.lr === after)) as EpochEvent;
  t.ok(changed, 'an epoch trained with the new rate');
  t.ok(changed.epoch > seenAtPatch, `from a later epoch (${changed.epoch}) than the last one before the PATCH (${seenAtPatch})`);
  const rates = epochsOf(stream.events).map((event) => event.lr);
  for (const [index, lr] of rates.entries())
    t.equal(lr, index + 1 < changed.epoch ? before : after, `epoch ${index + 1} at ${index + 1 < changed.epoch ? 'the old' : 'the new'} rate`);

  // The rate outlives a pause: the resumed worker starts with it, not with the spec's.
  t.equal((await call(service, 'POST', `/v1/jobs/${id}/pause`)).status, 202);
  await stream.next((event) => event.type === 'status' && event.status === 'paused');
  const { epochsDone } = (await call(service, 'GET', `/v1/jobs/${id}`)).body as { epochsDone: number };
  t.equal((await call(service, 'POST', `/v1/jobs/${id}/resume`)).status, 200);
  const resumed = (await stream.next((event) => isEpoch(event) && event.epoch > epochsDone)) as EpochEvent;
  t.equal(resumed.epoch, epochsDone + 1, 'training resumes at the next epoch');
  t.equal(resumed.lr, after, 'at the new rate');
});

type Decay = NonNullable<JobSpec['training']['lrDecay']>;

// The rate of epoch `epoch` (from 0) of a schedule whose first epoch trains at `start`, as
// the engine's DecaySpec formulas give it (a rate set from outside is such a start).
function scheduled(
  decay: { type: string; rate?: number; interval?: number; floor?: number; period?: number } | undefined,
  start: number,
  epoch: number,
  epochs: number,
): number {
  const { rate = 1, interval = 1, floor = 0, period = epochs } = decay ?? {};
  const steps = Math.floor(epoch / interval);
  switch (decay?.type) {
    case 'inverse-time':
      return start / (1 + rate * epoch);
    case 'staircase':
      return start / (1 + rate * steps);
    case 'exponential':
      return start * rate ** epoch;
    case 'sqrt':
      return start / Math.sqrt(epoch + 1);
    case 'step':
      return start * rate ** steps;
    case 'cosine':
      return start - ((start - floor) * (1 - Math.cos((Math.PI * Math.min(epoch, period)) / period))) / 2;
    default:
      return start;
  }
}

t.test('a rate set on a running job restarts every decay schedule from exactly that rate, once, across a pause and a resume', async (t) => {
  const epochs = 16;
  const first = 0.01;
  const changed = 0.004;
  const schedules: (Decay | undefined)[] = [
    undefined,
    { type: 'inverse-time', rate: 0.5 },
    { type: 'staircase', rate: 1, interval: 2 },
    { type: 'exponential', rate: 0.8 },
    { type: 'sqrt', rate: 0.5 },
    { type: 'step', rate: 0.5, interval: 3 },
    { type: 'cosine', floor: 0.001 },
  ];
  for (const decay of schedules) {
    t.test(decay?.type ?? 'no decay', async (t) => {
      // Epochs of about the hand-over interval (0.1 s: one row a mini-batch), long enough to
      // act between; faster ones go a few together and the events lag the trainer, so which
      // epoch applied the rate is read from the whole run.
      const spec = moonsJob(epochs, {
        dataset: { builtin: 'moons', samples: 40000, noise: 0.2, seed: 3 },
        training: { epochs, batchSize: 1, seed: 1, optimizer: { type: 'adam', learningRate: first }, ...(decay === undefined ? {} : { lrDecay: decay }) },
      });
      const id = await submit(spec);
      t.teardown(() => finish(id));
      const stream = openEvents(service, `/v1/jobs/${id}/events`);
      await stream.next((event) => isEpoch(event) && event.epoch === 1);
      const patched = await call(service, 'PATCH', `/v1/jobs/${id}`, { learningRate: changed });
      t.equal(patched.body.pendingLearningRate, changed, 'pending until an epoch applies it');
      const seenAtPatch = epochsOf(stream.events).at(-1)?.epoch as number;
      const cleared = await waitFor(async () => {
        const { body } = await call(service, 'GET', `/v1/jobs/${id}`);
        return body.pendingLearningRate === undefined ? (body.epochsDone as number) : undefined;
      }, 30_000);
      t.ok(cleared < epochs, `gone once an epoch applied it (${cleared} of ${epochs} kept)`);

      t.equal((await call(service, 'POST', `/v1/jobs/${id}/pause`)).status, 202);
      await stream.next((event) => event.type === 'status' && event.status === 'paused');
      const paused = (await call(service, 'GET', `/v1/jobs/${id}`)).body;
      t.ok(paused.epochsDone < epochs, `paused after ${paused.epochsDone} of ${epochs} epochs`);
      t.equal((await call(service, 'POST', `/v1/jobs/${id}/resume`)).status, 200);
      t.equal((await stream.closed).code, 1000);
      t.match(stream.events.at(-1), { type: 'done', status: 'succeeded' });

      const trained = epochsOf(stream.events);
      t.same(trained.map((event) => event.epoch), Array.from({ length: epochs }, (_, index) => index + 1), 'each epoch once');
      // Before the change the spec's schedule (sqrt's first epoch trains at lr0 * rate); from
      // it on, the schedule from the new rate, as one run: the resume applied nothing again.
      const start = decay?.type === 'sqrt' ? first * (decay.rate as number) : first;
      const expected = (applied: number, epoch: number) =>
        epoch < applied ? scheduled(decay, start, epoch - 1, epochs) : scheduled(decay, changed, epoch - applied, epochs);
      const fits = (applied: number) => trained.every(({ epoch, lr }) => Math.abs(lr - expected(applied, epoch)) <= 1e-12 * expected(applied, epoch));
      const applied = trained.find(({ epoch }) => epoch > seenAtPatch && epoch <= cleared && fits(epoch))?.epoch;
      t.ok(applied !== undefined, `every epoch's rate is the schedule's, restarted at exactly ${changed} by epoch ${applied} (after epoch ${seenAtPatch}, by epoch ${cleared})`);
      if (applied === undefined)
        for (const { epoch, lr } of trained) t.comment(`epoch ${epoch}: lr ${lr}`);
      t.equal((await call(service, 'GET', `/v1/jobs/${id}`)).body.pendingLearningRate, undefined, 'nothing pending at the end');
    });
  }
});

t.test('illegal transitions answer 409 and unknown ids 404, in the error shape', async (t) => {
  const id = await submit(moonsJob(2));
  await reaches(id, 'succeeded');
  errorShape(t, await call(service, 'POST', `/v1/jobs/${id}/cancel`), 409, 'INVALID_STATE');
  errorShape(t, await call(service, 'POST', `/v1/jobs/${id}/pause`), 409, 'INVALID_STATE');
  errorShape(t, await call(service, 'POST', `/v1/jobs/${id}/resume`), 409, 'INVALID_STATE');
  errorShape(t, await call(service, 'PATCH', `/v1/jobs/${id}`, { learningRate: 0.01 }), 409, 'INVALID_STATE');
  t.equal(await statusOf(id), 'succeeded', 'nothing changed');

  // Resume of a job that runs: not paused either.
  const running = await submit(slowJob(200));
  t.teardown(() => finish(running));
  await reaches(running, 'running');
  errorShape(t, await call(service, 'POST', `/v1/jobs/${running}/resume`), 409, 'INVALID_STATE');
  await finish(running);
  errorShape(t, await call(service, 'PATCH', `/v1/jobs/${running}`, { learningRate: 0.01 }), 409, 'INVALID_STATE');
  errorShape(t, await call(service, 'POST', `/v1/jobs/${running}/resume`), 409, 'INVALID_STATE');

  const unknown = 'job_doesnotexist';
  for (const [method, path, body] of [
    ['GET', `/v1/jobs/${unknown}`],
    ['GET', `/v1/jobs/${unknown}/metrics`],
    ['GET', `/v1/jobs/${unknown}/model`],
    ['POST', `/v1/jobs/${unknown}/cancel`],
    ['POST', `/v1/jobs/${unknown}/pause`],
    ['POST', `/v1/jobs/${unknown}/resume`],
    ['PATCH', `/v1/jobs/${unknown}`, { learningRate: 0.01 }],
    ['POST', `/v1/jobs/${unknown}/predict`, { inputs: [[0, 0]] }],
  ] as const) {
    const reply = await call(service, method, path, body);
    t.test(`${method} ${path}`, async (t) => errorShape(t, reply, 404, 'NOT_FOUND'));
  }
  // A websocket upgrade for an unknown job is refused with a 404 before the upgrade.
  const refused = openEvents(service, `/v1/jobs/${unknown}/events`);
  const status = await new Promise<number | undefined>((resolve) => {
    refused.socket.on('unexpected-response', (_request, response) => resolve(response.statusCode));
    refused.socket.on('open', () => resolve(undefined));
  });
  t.equal(status, 404, 'the events socket of an unknown job');
});

t.test('a reconnect with since=N loses no event of a running job', async (t) => {
  const id = await submit(slowJob(6));
  const first = openEvents(service, `/v1/jobs/${id}/events`);
  await first.next((event) => isEpoch(event) && event.epoch === 2);
  first.socket.close();
  await first.closed;
  const lastSeen = first.events.at(-1)?.seq as number;
  t.same(first.events.map((event) => event.seq), first.events.map((_, index) => index + 1), 'the first connection from seq 1');

  const second = openEvents(service, `/v1/jobs/${id}/events?since=${lastSeen}`);
  t.equal((await second.closed).code, 1000);
  t.equal(second.events[0]?.seq, lastSeen + 1, 'the resumed stream starts right after the last seq seen');
  const union = [...first.events, ...second.events];
  t.same(union.map((event) => event.seq), union.map((_, index) => index + 1), 'together: seq 1..last, no gap, no repeat');
  t.same(epochsOf(union).map((event) => event.epoch), [1, 2, 3, 4, 5, 6]);
  t.match(union.at(-1), { type: 'done', status: 'succeeded' });
  t.equal(union.length, (await call(service, 'GET', `/v1/jobs/${id}`)).body.lastSeq, 'as many as the job has');

  // A client that lost the connection after the last event, before the close, comes back
  // to nothing more: it is closed at once, not left waiting for events that cannot come.
  const third = openEvents(service, `/v1/jobs/${id}/events?since=${union.length}`);
  t.equal((await third.closed).code, 1000, 'since=last of a finished job closes normally');
  t.same(third.events, [], 'with nothing sent');
});
