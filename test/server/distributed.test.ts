// The distributed mode with real processes: API servers (`caviar serve`) and worker hosts
// (`caviar worker`) against one PostgreSQL and one Redis (.ci/servers starts private ones).
// Each test has a database of its own and its own Redis prefix, so its queue and channel
// are its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { JobEvent } from '../../src/jobs/index.js';
import { freshDatabase, noPostgres } from '../fixtures/postgres.js';
import { alive, childPids } from '../fixtures/processes.js';
import { call, moonsJob, openEvents, slowJob, startService, temporaryDirectory, waitFor, type Service } from '../fixtures/service.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
const REDIS_URL = process.env.CAVIAR_TEST_REDIS_URL;
const skip: string | false = noPostgres || (REDIS_URL === undefined || REDIS_URL === '' ? 'no Redis: set CAVIAR_TEST_REDIS_URL (.ci/run starts one)' : false);

/** The lock of the tests' worker hosts: a dead host's jobs move after about this long. */
const LOCK_MS = 3000;

interface Host {
  process: ChildProcess;
  log(): string;
  exited: Promise<number | NodeJS.Signals>;
}

/** Starts `caviar worker` and resolves once it takes jobs. */
function startWorker(env: Record<string, string>): Promise<Host> {
  const child = spawn(process.execPath, [CLI, 'worker'], {
    env: { ...process.env, CAVIAR_DATA_DIR: temporaryDirectory(), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? (code as number))));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the worker host did not start:\n${output.slice(-2000)}`)), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes('"msg":"caviar worker is ready"')) return;
      clearTimeout(timer);
      resolve({ process: child, log: () => output, exited });
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the worker host exited (${code}) before it was ready:\n${output.slice(-2000)}`));
    });
  });
}

/** A deployment of the test's own: its database, its Redis prefix, and the processes it starts, killed at the end. */
async function deployment(t: Test, { databaseUrl, redisUrl }: { databaseUrl?: string; redisUrl?: string } = {}) {
  const env = {
    CAVIAR_DATABASE_URL: databaseUrl ?? (await freshDatabase(t)),
    CAVIAR_REDIS_URL: redisUrl ?? (REDIS_URL as string),
    CAVIAR_REDIS_PREFIX: `test-${randomBytes(6).toString('hex')}`,
    CAVIAR_LOCK_MS: String(LOCK_MS),
  };
  const processes: ChildProcess[] = [];
  // A server that ends on its own with an error code (an uncaught exception) is a bug
  // whatever the test goes on to check: its log says why.
  const watched = (child: ChildProcess, log: () => string) => {
    processes.push(child);
    child.once('exit', (code) => {
      if (code !== null && code !== 0) t.fail(`${child.spawnargs.slice(2).join(' ')} (pid ${child.pid}) exited with code ${code}:\n${log().slice(-3000)}`);
    });
  };
  t.teardown(async () => {
    for (const child of processes) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const ended = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await ended;
    }
  });
  return {
    env,
    api: async (extra: Record<string, string> = {}, args: string[] = []) => {
      const service = await startService({ env: { ...env, ...extra }, args });
      watched(service.process, () => service.log());
      return service;
    },
    worker: async (extra: Record<string, string> = {}) => {
      const host = await startWorker({ CAVIAR_CONCURRENCY: '1', ...env, ...extra });
      watched(host.process, host.log);
      return host;
    },
  };
}

async function finished(service: Service, id: string, timeoutMs = 90_000) {
  return waitFor(async () => {
    const { body } = await call(service, 'GET', `/v1/jobs/${id}`);
    return ['succeeded', 'failed', 'cancelled', 'stopped'].includes(body.status) ? body : undefined;
  }, timeoutMs);
}

/** The parts of a saved model that training decides: normalization and every parameter. */
async function weights(service: Service, id: string) {
  const { status, body } = await call(service, 'GET', `/v1/jobs/${id}/model`);
  if (status !== 200) throw new Error(`no model for ${id}: ${status}`);
  return { normalization: body.normalization, layers: body.layers };
}

const epochsOf = (events: JobEvent[]) => events.flatMap((event) => (event.type === 'epoch' ? [event.epoch] : []));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

/** Runs the CLI to its end: its exit code and what it printed on stderr. */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, CAVIAR_DATABASE_URL: '', CAVIAR_REDIS_URL: '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

t.test('the distributed mode needs both of its servers named; caviar worker needs the mode', async (t) => {
  const halfway = await runCli(['serve'], { CAVIAR_REDIS_URL: 'redis://127.0.0.1:1', CAVIAR_PORT: '0' });
  t.equal(halfway.code, 2);
  t.match(halfway.stderr, /^caviar: the distributed mode needs both CAVIAR_DATABASE_URL \(postgres:\/\/\.\.\.\) and CAVIAR_REDIS_URL \(redis:\/\/\.\.\.\), but only CAVIAR_REDIS_URL is set/);
  const wrong = await runCli(['serve'], { CAVIAR_DATABASE_URL: 'mysql://db/caviar', CAVIAR_REDIS_URL: 'redis://127.0.0.1:1', CAVIAR_PORT: '0' });
  t.same([wrong.code, wrong.stderr.trim()], [2, 'caviar: CAVIAR_DATABASE_URL must be a postgres:// or postgresql:// URL'], 'a URL of another scheme is refused, not echoed');
  const embedded = await runCli(['worker'], {});
  t.equal(embedded.code, 2);
  t.match(embedded.stderr, /caviar worker takes jobs from the distributed mode's queue: set CAVIAR_DATABASE_URL and CAVIAR_REDIS_URL/);
  const workers = await runCli(['serve', '--workers', '2'], { CAVIAR_PORT: '0' });
  t.equal(workers.code, 2);
  t.match(workers.stderr, /--workers is for the distributed mode/);
});

t.test('a job submitted to an API server that trains nothing trains on a worker host; its result and model come back over HTTP', { skip }, async (t) => {
  const cluster = await deployment(t);
  const api = await cluster.api();
  const submitted = await call(api, 'POST', '/v1/jobs', slowJob(3, { dataset: { builtin: 'moons', samples: 2000, noise: 0.2, seed: 3 } }));
  t.equal(submitted.status, 202);
  const id = submitted.body.id as string;
  const waiting = await waitFor(async () => {
    const ready = await call(api, 'GET', '/readyz');
    return ready.body.queue?.waiting === 1 ? ready : undefined;
  });
  t.match(waiting, { status: 200, body: { status: 'ready', mode: 'distributed', queue: { waiting: 1, active: 0 }, workerHosts: 0 } }, '/readyz: one job waits, no host yet');
  const host = await cluster.worker();
  const job = await finished(api, id);
  t.equal(job.status, 'succeeded');
  t.equal(job.result.epochs, 3);
  t.match(host.log(), new RegExp(`"jobId":"${id}","attempt":1,"pid":\\d+,"msg":"job started"`), 'the worker host trained it');
  t.notMatch(api.log(), /"msg":"job started"/, 'the API server trained nothing');
  const metrics = await call(api, 'GET', `/v1/jobs/${id}/metrics`);
  t.same(metrics.body.epochs.map((epoch: { epoch: number }) => epoch.epoch), [1, 2, 3], 'every epoch once');
  const model = await call(api, 'GET', `/v1/jobs/${id}/model`);
  t.equal(model.status, 200);
  const prediction = await call(api, 'POST', `/v1/jobs/${id}/predict`, { inputs: [[0, 0.5], [1.5, -0.4]] });
  t.equal(prediction.status, 200);
  t.equal(prediction.body.outputs.length, 2, 'the API server predicts from the model the host trained');
  t.match(await call(api, 'GET', '/readyz'), { status: 200, body: { queue: { waiting: 0, active: 0 }, workerHosts: 1 } }, '/readyz: the queue is empty, one host is connected');
  const exposition = (await call(api, 'GET', '/metrics')).body as string;
  t.match(exposition, /^caviar_queue_depth 0$/m, '/metrics: the queue depth, from BullMQ');
  t.match(exposition, /^caviar_worker_hosts 1$/m, '/metrics: the worker hosts seen');
});

t.test("two API servers: a websocket client on each gets every event of a job the other took, in order and once", { skip }, async (t) => {
  const cluster = await deployment(t);
  const [taking, other] = await Promise.all([cluster.api(), cluster.api()]);
  await cluster.worker();
  const everyJob = openEvents(other, '/v1/events');
  await new Promise((resolve) => everyJob.socket.once('open', resolve));
  const id = (await call(taking, 'POST', '/v1/jobs', slowJob(4, { dataset: { builtin: 'moons', samples: 2000, noise: 0.2, seed: 3 } }))).body.id as string;
  const streams = [openEvents(taking, `/v1/jobs/${id}/events`), openEvents(other, `/v1/jobs/${id}/events`)];
  const closed = await Promise.all(streams.map((stream) => stream.closed));
  t.same(closed.map((close) => close.code), [1000, 1000], 'both sockets close normally after the last event');
  const stored = openEvents(other, `/v1/jobs/${id}/events?since=0`);
  await stored.closed;
  const seqs = stored.events.map((event) => event.seq);
  t.same(seqs, range(1, seqs.length), 'the stored history has every seq once');
  t.same(epochsOf(stored.events), [1, 2, 3, 4]);
  t.match(stored.events.at(-1), { type: 'done', status: 'succeeded' });
  for (const [index, stream] of streams.entries()) t.same(stream.events, stored.events, `the client of server ${index + 1} got the whole history, in order, once`);
  const since = openEvents(other, `/v1/jobs/${id}/events?since=3`);
  await since.closed;
  t.same(since.events, stored.events.slice(3), '?since= replays what came after, on either server');
  await waitFor(async () => everyJob.events.some((event) => event.jobId === id && event.type === 'done'));
  const live = everyJob.events.filter((event) => event.jobId === id);
  t.same(
    live.map((event) => event.seq),
    stored.events.map((event) => event.seq),
    "the other server's stream of every job's events carried this one's, each once",
  );
  everyJob.socket.close();
});

t.test('cancel, pause, resume and a new learning rate reach a job running on a worker host, from any API server', { skip }, async (t) => {
  const cluster = await deployment(t);
  const [first, second] = await Promise.all([cluster.api(), cluster.api()]);
  await cluster.worker();
  const id = (await call(first, 'POST', '/v1/jobs', slowJob(200))).body.id as string;
  const events = openEvents(second, `/v1/jobs/${id}/events`);
  await events.next((event) => event.type === 'epoch' && event.epoch === 1);

  const patched = await call(second, 'PATCH', `/v1/jobs/${id}`, { learningRate: 0.0005 });
  t.equal(patched.status, 200, 'PATCH answers on the server that does not run the job');
  const changed = await events.next((event) => event.type === 'epoch' && event.lr === 0.0005);
  t.ok(changed, 'a later epoch trains at the new rate');

  const pausing = await call(second, 'POST', `/v1/jobs/${id}/pause`);
  t.same([pausing.status, pausing.body], [202, { id, status: 'pausing' }]);
  await events.next((event) => event.type === 'status' && event.status === 'paused');
  const paused = (await call(first, 'GET', `/v1/jobs/${id}`)).body;
  t.equal(paused.status, 'paused', 'the host stopped it at its checkpoint');

  const resumed = await call(first, 'POST', `/v1/jobs/${id}/resume`);
  t.same([resumed.status, resumed.body], [200, { id, status: 'queued' }]);
  await events.next((event) => event.type === 'epoch' && event.epoch === paused.epochsDone + 1);
  const cancelling = await call(first, 'POST', `/v1/jobs/${id}/cancel`);
  t.same([cancelling.status, cancelling.body], [202, { id, status: 'cancelling' }]);
  const done = await events.next((event) => event.type === 'done');
  t.match(done, { status: 'cancelled' });
  const epochs = epochsOf(events.events);
  t.same(epochs, range(1, epochs.length), 'every epoch once, across the pause');
  t.ok(epochs.length < 200, 'it stopped long before its last epoch');
  t.equal(events.events.filter((event) => event.type === 'epoch' && event.epoch > paused.epochsDone && event.lr !== 0.0005).length, 0, 'the new rate holds after the resume');
});

/** The host whose log says it started the job's attempt. */
function runnerOf(hosts: Host[], id: string, attempt: number): Host {
  const runner = hosts.find((host) => host.log().includes(`"jobId":"${id}","attempt":${attempt},`));
  if (runner === undefined) throw new Error(`no host started attempt ${attempt} of ${id}`);
  return runner;
}

/** A job's whole history, replayed from seq 1 until the stream closes after its last event. */
async function history(service: Service, id: string): Promise<JobEvent[]> {
  const stream = openEvents(service, `/v1/jobs/${id}/events?since=0`);
  const closed = await stream.closed;
  if (closed.code !== 1000) throw new Error(`the event stream of ${id} closed with ${closed.code}`);
  return stream.events;
}

/** Runs `spec` once more, uninterrupted, and resolves with its weights. */
async function uninterrupted(api: Service, spec: ReturnType<typeof slowJob>) {
  const id = (await call(api, 'POST', '/v1/jobs', spec)).body.id as string;
  await finished(api, id);
  return weights(api, id);
}

t.test('a worker host SIGKILLed mid-job: the job resumes on another host from its last checkpoint, every epoch once, ending as an uninterrupted run', { skip }, async (t) => {
  const cluster = await deployment(t);
  const api = await cluster.api();
  const hosts = await Promise.all([cluster.worker(), cluster.worker()]);
  const spec = slowJob(10);
  const id = (await call(api, 'POST', '/v1/jobs', spec)).body.id as string;
  const events = openEvents(api, `/v1/jobs/${id}/events`);
  const third = await events.next((event) => event.type === 'epoch' && event.epoch === 3);
  const victim = runnerOf(hosts, id, 1);
  const killedAt = Date.now();
  victim.process.kill('SIGKILL');
  t.equal(await victim.exited, 'SIGKILL');
  const restarted = await events.next((event) => event.type === 'status' && event.status === 'running' && event.seq > (third?.seq ?? 0));
  const movedAfter = (Date.now() - killedAt) / 1000;
  const next = await events.next((event) => event.type === 'epoch' && event.seq > (restarted?.seq ?? 0));
  const trainingAfter = (Date.now() - killedAt) / 1000;
  t.comment(
    `SIGKILL of the host at epoch ${third?.type === 'epoch' ? third.epoch : '?'}: started on the other host ${movedAfter.toFixed(1)} s later, its next epoch (${next?.type === 'epoch' ? next.epoch : '?'}) recorded ${trainingAfter.toFixed(1)} s later (lock ${LOCK_MS / 1000} s)`,
  );
  t.ok(movedAfter < LOCK_MS / 1000 + 5, 'it moved within the lock and 5 s');
  t.not(runnerOf(hosts, id, 2), victim, 'the second attempt ran on the other host');
  const job = await finished(api, id);
  t.equal(job.status, 'succeeded');
  const stored = await history(api, id);
  t.same(epochsOf(stored), range(1, 10), 'every epoch once');
  t.same(await weights(api, id), await uninterrupted(api, spec), 'the model equals an uninterrupted run, bit for bit');
});

t.test('a worker host frozen (SIGSTOP) until its job moved: woken, its writes are refused and it stops its training process', { skip }, async (t) => {
  const cluster = await deployment(t);
  const api = await cluster.api();
  const hosts = await Promise.all([cluster.worker(), cluster.worker()]);
  const spec = slowJob(30);
  const id = (await call(api, 'POST', '/v1/jobs', spec)).body.id as string;
  const events = openEvents(api, `/v1/jobs/${id}/events`);
  const second = await events.next((event) => event.type === 'epoch' && event.epoch === 2);
  const frozen = runnerOf(hosts, id, 1);
  const [child] = childPids(frozen.process.pid as number);
  t.ok(child !== undefined && alive(child), 'its training process runs');
  frozen.process.kill('SIGSTOP');
  const restarted = await events.next((event) => event.type === 'status' && event.status === 'running' && event.seq > (second?.seq ?? 0));
  await events.next((event) => event.type === 'epoch' && event.seq > (restarted?.seq ?? 0));
  t.not(runnerOf(hosts, id, 2), frozen, 'the job moved to the other host');
  frozen.process.kill('SIGCONT');
  await waitFor(async () => !alive(child as number), 20_000).catch(() => undefined);
  t.notOk(alive(child as number), 'woken, the frozen host stopped its training process');
  t.match(frozen.log(), new RegExp(`"jobId":"${id}","attempt":1,[^\\n]*"msg":"the job moved to another host`), 'because its epoch was refused');
  const job = await finished(api, id);
  t.equal(job.status, 'succeeded');
  t.same(epochsOf(await history(api, id)), range(1, 30), 'every epoch once: none of the frozen host\'s writes was kept');
  t.same(await weights(api, id), await uninterrupted(api, spec), 'the model equals an uninterrupted run, bit for bit');
  t.ok(alive(frozen.process.pid as number), 'the woken host lives on');
});

/** A TCP proxy to `target` that a test cuts (every connection dropped, new ones refused) and restores, on the same port. */
async function cuttableProxy(t: Test, target: URL) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      const next = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      server = next;
      next.listen(port, '127.0.0.1', () => {
        port = (next.address() as { port: number }).port;
        resolve();
      });
    });
  const cut = async () => {
    const closed = new Promise((resolve) => server?.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await listen();
  t.teardown(cut);
  const url = new URL(target);
  url.port = String(port);
  return { url: url.toString(), cut, restore: listen };
}

/** A Redis of the test's own (the shared one must not restart under other tests), on a fixed port across restarts. */
async function ownRedis(t: Test) {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  let server: ChildProcess | undefined;
  const answers = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
      socket.on('data', (data) => {
        resolve(data.toString().startsWith('+PONG'));
        socket.destroy();
      });
      socket.on('error', () => resolve(false));
    });
  const start = async () => {
    server = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--dir', temporaryDirectory(), '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await waitFor(async () => (await answers()) || undefined, 10_000);
  };
  const stop = async () => {
    const child = server;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const ended = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await ended;
  };
  await start();
  t.teardown(stop);
  return {
    url: `redis://127.0.0.1:${port}`,
    /** Kills it and starts it again, empty (no persistence), as a Redis restarted without its data. */
    restart: async () => {
      await stop();
      await start();
    },
  };
}

const noRedisServer = (() => {
  try {
    return spawn('redis-server', ['--version'], { stdio: 'ignore' }).pid === undefined ? 'no redis-server on PATH' : false;
  } catch {
    return 'no redis-server on PATH';
  }
})();

t.test('Redis restarted empty: the jobs it held are delivered again, and every job ends with every epoch once', { skip: skip || noRedisServer }, async (t) => {
  const redis = await ownRedis(t);
  const cluster = await deployment(t, { redisUrl: redis.url });
  const api = await cluster.api();
  await cluster.worker();
  const running = (await call(api, 'POST', '/v1/jobs', slowJob(8))).body.id as string;
  const events = openEvents(api, `/v1/jobs/${running}/events`);
  await events.next((event) => event.type === 'epoch' && event.epoch === 2);
  const waiting = [
    (await call(api, 'POST', '/v1/jobs', slowJob(2))).body.id as string,
    (await call(api, 'POST', '/v1/jobs', slowJob(2, { training: { epochs: 2, seed: 2 } }))).body.id as string,
  ];
  const restartedAt = Date.now();
  await redis.restart();
  for (const id of [running, ...waiting]) t.equal((await finished(api, id)).status, 'succeeded', `${id} succeeded`);
  t.comment(`all three ended ${((Date.now() - restartedAt) / 1000).toFixed(1)} s after the restart`);
  t.same(epochsOf(await history(api, running)), range(1, 8), 'the job training through the restart has every epoch once');
  for (const id of waiting) t.same(epochsOf(await history(api, id)), [1, 2], 'a job that waited in the lost queue trained once');
});

t.test('PostgreSQL cut off: requests answer 503 STORE_UNAVAILABLE at once (no 202 that is not kept), and once it is back every job ends with every epoch once', { skip }, async (t) => {
  const proxy = await cuttableProxy(t, new URL(await freshDatabase(t)));
  const cluster = await deployment(t, { databaseUrl: proxy.url });
  const api = await cluster.api();
  const host = await cluster.worker();
  const running = (await call(api, 'POST', '/v1/jobs', slowJob(8))).body.id as string;
  const waiting = (await call(api, 'POST', '/v1/jobs', slowJob(2))).body.id as string;
  const events = openEvents(api, `/v1/jobs/${running}/events`);
  await events.next((event) => event.type === 'epoch' && event.epoch === 2);
  await proxy.cut();
  const started = Date.now();
  const refused = await call(api, 'POST', '/v1/jobs', slowJob(2));
  t.same([refused.status, refused.body.error?.code], [503, 'STORE_UNAVAILABLE'], 'a submission is refused with the code');
  t.ok(refused.headers.get('retry-after'), 'with a Retry-After');
  const ready = await call(api, 'GET', '/readyz');
  t.same([ready.status, ready.body.error?.code], [503, 'STORE_UNAVAILABLE'], '/readyz says the store is unreachable');
  t.equal((await call(api, 'GET', `/v1/jobs/${running}`)).status, 503, 'a read too');
  t.ok(Date.now() - started < 5000, `answered at once (${Date.now() - started} ms for three requests), not a hang`);
  // The host's next epoch fails to be kept meanwhile: the job goes back to the queue.
  await new Promise((resolve) => setTimeout(resolve, 4000));
  await proxy.restore();
  const back = await waitFor(async () => ((await call(api, 'GET', '/readyz')).status === 200 ? Date.now() : undefined), 30_000);
  t.comment(`ready again ${((back - started) / 1000).toFixed(1)} s after the cut (restored after 4 s and the requests)`);
  for (const id of [running, waiting]) t.equal((await finished(api, id)).status, 'succeeded', `${id} succeeded`);
  t.same(epochsOf(await history(api, running)), range(1, 8), 'every epoch once across the outage');
  const unkept = host.log().match(/could not record an epoch: the job goes back to the queue/g)?.length ?? 0;
  const retried = host.log().match(/the store cannot be reached: the delivery is tried again shortly/g)?.length ?? 0;
  t.comment(`the host: ${unkept} epoch(s) it could not keep (the job went back to the queue), ${retried} delivery(ies) tried again later`);
  const { body } = await call(api, 'GET', '/v1/jobs');
  t.same(body.jobs.map((job: { id: string }) => job.id).sort(), [running, waiting].sort(), 'the refused submission was not kept');
});

t.test("a sweep whose API server is SIGKILLed is taken over by another: it goes on to its last trial, none twice", { skip }, async (t) => {
  const cluster = await deployment(t);
  const [owner, other] = await Promise.all([cluster.api(), cluster.api()]);
  await Promise.all([cluster.worker(), cluster.worker()]);
  const base = slowJob(4, { dataset: { builtin: 'moons', samples: 4000, noise: 0.2, seed: 3 } });
  const space = { '/training/optimizer/learningRate': { logUniform: [0.0005, 0.01] } };
  const submitted = await call(owner, 'POST', '/v1/sweeps', { name: 'takeover', base, space, trials: 5, parallel: 2, seed: 3 });
  t.equal(submitted.status, 202);
  const id = submitted.body.id as string;
  const watched = openEvents(other, `/v1/sweeps/${id}/events`);
  const firstEpoch = await watched.next((event) => (event.type as string) === 'epoch');
  t.match(firstEpoch, { type: 'epoch', sweepId: id }, "the other server streams the sweep's trial epochs");
  const killedAt = Date.now();
  owner.process.kill('SIGKILL');
  await owner.exited;
  const sweep = await waitFor(async () => {
    const { body } = await call(other, 'GET', `/v1/sweeps/${id}`);
    return body.status === 'succeeded' ? body : undefined;
  }, 180_000);
  t.comment(`the sweep ended under the other server ${((Date.now() - killedAt) / 1000).toFixed(1)} s after its first server was killed`);
  t.same(sweep.trials.map((trial: { trial: number }) => trial.trial).sort(), [0, 1, 2, 3, 4], 'five trials, each once');
  t.ok(sweep.trials.every((trial: { status: string }) => trial.status === 'succeeded'), 'every trial succeeded');
  for (const trial of sweep.trials as { jobId: string }[]) t.same(epochsOf(await history(other, trial.jobId)), [1, 2, 3, 4], `${trial.jobId}: every epoch once`);
  const replay = openEvents(other, `/v1/sweeps/${id}/events?since=0`);
  await replay.closed;
  const sweepEvents = replay.events as unknown as { seq: number; type: string }[];
  t.same(sweepEvents.map((event) => event.seq), range(1, sweepEvents.length), "the sweep's events have every seq once");
  t.equal(sweepEvents.filter((event) => event.type === 'done').length, 1, 'one done event');
});

t.test('a sweep cancelled through an API server that does not control it ends cancelled; its controller adds no trial after', { skip }, async (t) => {
  const cluster = await deployment(t);
  const [owner, other] = await Promise.all([cluster.api(), cluster.api()]);
  await cluster.worker();
  const base = slowJob(30, { dataset: { builtin: 'moons', samples: 4000, noise: 0.2, seed: 3 } });
  const space = { '/training/optimizer/learningRate': { logUniform: [0.0005, 0.01] } };
  const submitted = await call(owner, 'POST', '/v1/sweeps', { base, space, trials: 6, parallel: 1, seed: 3 });
  const id = submitted.body.id as string;
  const watched = openEvents(other, `/v1/sweeps/${id}/events`);
  await watched.next((event) => (event.type as string) === 'epoch');
  const cancelled = await call(other, 'POST', `/v1/sweeps/${id}/cancel`);
  t.same([cancelled.status, cancelled.body.status], [200, 'cancelled'], 'the other server cancels it');
  t.match(await watched.next((event) => event.type === 'done'), { type: 'done', status: 'cancelled' });
  const ended = await waitFor(async () => {
    const { body } = await call(owner, 'GET', `/v1/sweeps/${id}`);
    return body.trials.every((trial: { status: string }) => ['cancelled', 'succeeded'].includes(trial.status)) ? body : undefined;
  });
  t.equal(ended.status, 'cancelled', 'its controller reads it cancelled');
  t.equal(ended.trials.length, 1, 'the one trial that ran, cancelled');
  // The controller hears the trial's end and would add the next trial then: it must not.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  t.equal((await call(owner, 'GET', `/v1/sweeps/${id}`)).body.trials.length, 1, 'no trial added after the cancel');
  t.equal((await call(owner, 'POST', `/v1/sweeps/${id}/cancel`)).status, 409, 'a second cancel, on its controller, answers 409');
  const replay = openEvents(other, `/v1/sweeps/${id}/events?since=0`);
  await replay.closed;
  t.equal(replay.events.filter((event) => event.type === 'done').length, 1, 'one done event');
});

t.test('a worker host stopped with SIGTERM puts its job back at its checkpoint and exits 0; another host resumes it', { skip }, async (t) => {
  const cluster = await deployment(t);
  const api = await cluster.api();
  const hosts = await Promise.all([cluster.worker(), cluster.worker()]);
  const id = (await call(api, 'POST', '/v1/jobs', slowJob(8))).body.id as string;
  const events = openEvents(api, `/v1/jobs/${id}/events`);
  await events.next((event) => event.type === 'epoch' && event.epoch === 2);
  const stopping = runnerOf(hosts, id, 1);
  const stoppedAt = Date.now();
  stopping.process.kill('SIGTERM');
  t.equal(await stopping.exited, 0, 'the host exits 0');
  t.ok(Date.now() - stoppedAt < 8000, 'within 8 s');
  await events.next((event) => event.type === 'status' && event.status === 'queued');
  t.equal((await finished(api, id)).status, 'succeeded');
  t.not(runnerOf(hosts, id, 2), stopping, 'the other host took it at once, without waiting for a lock to expire');
  t.same(epochsOf(await history(api, id)), range(1, 8), 'every epoch once');
});

t.test('an API server SIGKILLed amid submissions: every job it answered 202 is kept and queued for a host', { skip }, async (t) => {
  const cluster = await deployment(t);
  const [victim, survivor] = await Promise.all([cluster.api(), cluster.api()]);
  const accepted: string[] = [];
  let refused = 0;
  const started = Date.now();
  let measured = 0;
  const submitter = async () => {
    for (;;) {
      try {
        const reply = await call(victim, 'POST', '/v1/jobs', moonsJob(1));
        if (reply.status !== 202) {
          refused += 1;
          continue;
        }
        accepted.push(reply.body.id as string);
        if (Date.now() - started < 3000) measured = accepted.length;
      } catch {
        return;
      }
    }
  };
  const submitters = Array.from({ length: 32 }, submitter);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  t.comment(`${(measured / 3).toFixed(0)} durable submits/s through one API server in the distributed mode (32 clients, 3 s, this machine's load)`);
  victim.process.kill('SIGKILL');
  await victim.exited;
  await Promise.all(submitters);
  t.equal(refused, 0, 'no submission was refused before the kill');
  t.ok(accepted.length > 0, `${accepted.length} jobs accepted`);
  const missing: string[] = [];
  for (const id of accepted) if ((await call(survivor, 'GET', `/v1/jobs/${id}`)).body.status !== 'queued') missing.push(id);
  t.same(missing, [], 'every 202 is in the store, queued');
  // A job committed as the server died may have had no reply: it is kept and queued too.
  let kept = 0;
  for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
    const { body } = await call(survivor, 'GET', `/v1/jobs?status=queued&limit=1000${cursor === undefined ? '' : `&cursor=${cursor}`}`);
    kept += body.jobs.length as number;
    cursor = body.nextCursor;
  }
  t.ok(kept >= accepted.length && kept <= accepted.length + 32, `${kept} queued in the store: the ${accepted.length} answered, and at most one a client`);
  const ready = await waitFor(async () => {
    const { body } = await call(survivor, 'GET', '/readyz');
    return body.queue?.waiting === kept ? body : undefined;
  }, 60_000);
  t.equal(ready.queue.waiting, kept, "and all in the queue: what the dead server had not added, the other's reconciler did");
});

t.test('a dataset uploaded to one API server trains on a worker host, which fetches it from the store', { skip }, async (t) => {
  const cluster = await deployment(t);
  const api = await cluster.api();
  const host = await cluster.worker();
  const csv = readFileSync(new URL('../../examples/moons.csv', import.meta.url), 'utf8');
  const uploaded = await call(api, 'POST', '/v1/datasets?name=moons&label=moon', csv, { 'content-type': 'text/csv' });
  t.equal(uploaded.status, 201, 'uploaded');
  const spec = { ...slowJob(2), dataset: uploaded.body.id as string };
  const id = (await call(api, 'POST', '/v1/jobs', spec)).body.id as string;
  const job = await finished(api, id);
  t.equal(job.status, 'succeeded', 'trained on the host');
  t.match(host.log(), new RegExp(`"jobId":"${id}","attempt":1,`), 'by the worker host');
  t.equal(job.result.epochs, 2);
});

t.test('caviar serve --workers 1 trains jobs of the queue in the API server itself, and takes their controls', { skip }, async (t) => {
  const cluster = await deployment(t);
  const api = await cluster.api({}, ['--workers', '1']);
  const id = (await call(api, 'POST', '/v1/jobs', slowJob(200))).body.id as string;
  const events = openEvents(api, `/v1/jobs/${id}/events`);
  await events.next((event) => event.type === 'epoch' && event.epoch === 1);
  t.match(api.log(), new RegExp(`"jobId":"${id}","attempt":1,"pid":\\d+,"msg":"job started"`), 'the API server trains it');
  const cancelling = await call(api, 'POST', `/v1/jobs/${id}/cancel`);
  t.same([cancelling.status, cancelling.body], [202, { id, status: 'cancelling' }]);
  t.match(await events.next((event) => event.type === 'done'), { status: 'cancelled' });
  const quick = (await call(api, 'POST', '/v1/jobs', slowJob(2, { dataset: { builtin: 'moons', samples: 2000, noise: 0.2, seed: 3 } }))).body.id as string;
  t.equal((await finished(api, quick)).status, 'succeeded', 'and the next job after it');
});
