// The service's benchmarks (`npm run bench:service`): how many jobs a server accepts per
// second, and how fast a job's events reach its websocket subscribers; with --distributed,
// the same through the distributed mode (PostgreSQL and Redis, API servers and worker hosts)
// beside the embedded figures of the same run, and a sweep's trials per minute with one and
// two worker hosts. Each figure is printed beside its target, and all are written as JSON
// to bench/results/.
//   npm run bench:service                          the full run (about 40 s)
//   npm run bench:service -- --smoke               tiny sizes: checks that every part runs
//   npm run bench:service -- --subscribers 1000 --connections 128 --seconds 20 --epochs 400
//   .ci/servers npm run bench:service -- --distributed   also the distributed mode (about 2 minutes)
//
// 1. Submit throughput. The real server (`caviar serve`, a child process) with one training
//    slot, so that training takes one job's share of the machine and not all of it; clients
//    (autocannon, in this process) POST /v1/jobs with a small valid spec on --connections
//    connections for --seconds. A 202 means the job row was committed (synchronous=FULL)
//    before the reply; submissions of one event-loop turn share a commit. Only 202s count;
//    every other status, socket error and timeout is counted and printed as an error. Then
//    the server is SIGKILLed and its database opened: the job of every 202's id must be in it.
// 2. Event fan-out. One moons job whose epochs come at a steady pace, --subscribers
//    websockets on its events, and the time from the store's append of each event to each
//    subscriber's receipt. The server does not stamp its events, so it runs as
//    bench/stamp-events.ts: the real command line with the event hub's publish wrapped to
//    note when each event was published, which Lifecycle does right after the store's
//    commit. Stamps and receipts are read on CLOCK_MONOTONIC (process.hrtime), one clock for
//    all the processes of a machine, and matched by (job, seq). The subscribers are clients in
//    this process, not the server's, so they do not share its event loop. To have them all
//    listening before the first event: the job is submitted and paused, they connect with
//    since= its last seq, and then it is resumed; every event from the resume's status event
//    to the done event is live. Every subscriber must get every one, in order, and be closed
//    with 1000.
// With --distributed (PostgreSQL and Redis from CAVIAR_DATABASE_URL and CAVIAR_REDIS_URL, or
// the tests' CAVIAR_TEST_* ones; each part has a database and a Redis prefix of its own):
// 1. The same submits to one API server, with one worker host of one slot training: a 202
//    means committed in PostgreSQL (the queue is told after). After the API server's
//    SIGKILL, every 202's id is looked up in PostgreSQL.
// 2. The same fan-out with the job on a worker host and the subscribers spread over two API
//    servers. The worker host commits the epochs, so it is the process stamped: the time runs
//    from its commit, through PostgreSQL's notice and the API server's read of the event, to
//    each receipt. The resume's status event is the API server's commit, not timed.
// 3. A sweep (bench/sweep-workload.ts, bench:sweep's) submitted to an API server, from its
//    POST to its done event, with one and with two worker hosts of --host-slots slots, and
//    through an embedded server with as many slots as the two hosts have, the peer.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { threadsPerJob } from '../src/server/config.js';
import { clusterServers, deployment, describeServers, onDatabase, type ClusterServers, type Deployment } from './cluster.js';
import { describeLoad, describeMachine, machine, withLoad, type LoadSpan } from './machine.js';
import {
  ascending,
  call,
  cli,
  deadline,
  percentile,
  resultsFile,
  root,
  sleep,
  startServerProcess,
  stopServer,
  type ServerProcess,
  type ServiceProcess,
} from './server-process.js';
import { sweepSpec } from './sweep-workload.js';

/** `caviar serve` or `caviar worker` with its events stamped (bench/stamp-events.ts). */
const stampEvents = join(root, 'dist/bench/stamp-events.js');

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean' },
    out: { type: 'string' },
    subscribers: { type: 'string' },
    connections: { type: 'string' },
    seconds: { type: 'string' },
    epochs: { type: 'string' },
    distributed: { type: 'boolean' },
    'sweep-trials': { type: 'string' },
    'sweep-epochs': { type: 'string' },
    'host-slots': { type: 'string' },
  },
});
const smoke = values.smoke === true;
let servers: ClusterServers | undefined;
if (values.distributed === true) {
  try {
    servers = clusterServers();
  } catch (error) {
    process.stderr.write(`bench:service --distributed: ${(error as Error).message}\n`);
    process.exit(2);
  }
}
const positive = (name: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value > 0)) throw new Error(`--${name} must be a positive number, not '${text}'`);
  return value;
};
const sizes = {
  connections: Math.round(positive('connections', values.connections, 64)),
  seconds: positive('seconds', values.seconds, smoke ? 2 : 10),
  warmupSeconds: smoke ? 0.5 : 2,
  subscribers: Math.round(positive('subscribers', values.subscribers, smoke ? 20 : 500)),
  epochs: Math.round(positive('epochs', values.epochs, smoke ? 8 : 200)),
  sweepTrials: Math.round(positive('sweep-trials', values['sweep-trials'], smoke ? 4 : 24)),
  sweepEpochs: Math.round(positive('sweep-epochs', values['sweep-epochs'], smoke ? 2 : 50)),
  sweepSamples: smoke ? 200 : 2000,
  hostSlots: Math.round(positive('host-slots', values['host-slots'], 1)),
};

const TARGETS = { acceptedPerSecond: 1000, fanoutSubscribers: 500, fanoutP99Ms: 50 };

/** What each submit POSTs: valid, small, quick to admit (a moons job of one epoch). */
const SUBMIT_SPEC = {
  name: 'bench-submit',
  dataset: { builtin: 'moons', samples: 200, noise: 0.2, seed: 3 },
  model: { layers: [{ units: 8, activation: 'relu' }, { units: 1, activation: 'sigmoid' }] },
  training: { epochs: 1, batchSize: 32, seed: 1 },
};

/** The fan-out job: epochs of about 20 ms on one core, so events come at a steady ~40/s. */
const fanoutSpec = (epochs: number) => ({
  name: 'bench-fanout',
  dataset: { builtin: 'moons', samples: 10_000, noise: 0.2, seed: 3 },
  split: { dev: 0.2, seed: 0 },
  model: {
    layers: [
      { units: 128, activation: 'relu' },
      { units: 128, activation: 'relu' },
      { units: 1, activation: 'sigmoid' },
    ],
    init: 'he',
  },
  training: { epochs, batchSize: 32, seed: 1, optimizer: { type: 'adam', learningRate: 0.003 } },
});

/** Training slots beside the submits: one job trains at a time while they come. */
const TRAINING_SLOTS = 1;

/** Milliseconds on CLOCK_MONOTONIC: the clock bench/stamp-events.ts stamps with. */
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
// ---- 1. Submit throughput ----

interface SubmitFigures {
  connections: number;
  seconds: number;
  concurrency: number;
  accepted: number;
  acceptedPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Everything but a 202: statuses with their counts, socket errors, timeouts. */
  errors: { statuses: Record<string, number>; socketErrors: number; timeouts: number; total: number };
  /** 202s of the whole run (the check, the warm-up and the measured part), and how many of their jobs the database kept after a SIGKILL. */
  durability: { accepted: number; storedAfterKill: number; holds: boolean };
}

/** POSTs SUBMIT_SPEC for `seconds` on `connections` connections; the id of every 202 goes to `accepted`. */
function cannon(url: string, seconds: number, connections: number, accepted: string[]): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}/v1/jobs`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(SUBMIT_SPEC),
        connections,
        duration: seconds,
        requests: [{ onResponse: (status, body) => void (status === 202 && accepted.push((JSON.parse(body) as { id: string }).id)) }],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

/** Where the submits go: the API server, and what its store kept once it is SIGKILLed. */
interface SubmitSetup {
  server: ServerProcess;
  /** How many of `ids` the store has. */
  stored(ids: string[]): Promise<number>;
  close(): Promise<void>;
}

/** The embedded server, and its SQLite database. */
async function embeddedSubmits(): Promise<SubmitSetup> {
  const server = await startServerProcess(cli, ['serve'], { CAVIAR_CONCURRENCY: String(TRAINING_SLOTS) });
  return {
    server,
    async stored(ids) {
      const database = new Database(join(server.dataDirectory, 'caviar.db'));
      try {
        const kept = new Set(database.prepare('SELECT id FROM jobs').pluck().all() as string[]);
        return ids.filter((id) => kept.has(id)).length;
      } finally {
        database.close();
      }
    },
    async close() {
      await stopServer(server, 'SIGKILL');
      rmSync(server.dataDirectory, { recursive: true, force: true });
    },
  };
}

/** A deployment of its own, `start` its processes; closed if they do not start. */
async function onDeployment<T>(cluster: ClusterServers, start: (deployed: Deployment) => Promise<T>): Promise<{ deployed: Deployment; started: T }> {
  const deployed = await deployment(cluster);
  try {
    return { deployed, started: await start(deployed) };
  } catch (error) {
    await deployed.close();
    throw error;
  }
}

/** One API server and a worker host of as many slots as the embedded server has, and PostgreSQL. */
async function distributedSubmits(cluster: ClusterServers): Promise<SubmitSetup> {
  const { deployed, started: server } = await onDeployment(cluster, async (deployed) => {
    const [api] = await Promise.all([deployed.api(), deployed.worker({ CAVIAR_CONCURRENCY: String(TRAINING_SLOTS) })]);
    return api;
  });
  return {
    server,
    stored: (ids) =>
      onDatabase(deployed.databaseUrl, async (client) => {
        const { rows } = await client.query<{ stored: string }>('SELECT count(*) AS stored FROM jobs WHERE id = ANY($1::text[])', [ids]);
        return Number(rows[0]?.stored ?? 0);
      }),
    close: () => deployed.close(),
  };
}

async function submitThroughput(setUp: () => Promise<SubmitSetup>): Promise<SubmitFigures> {
  const { server, stored, close } = await setUp();
  try {
    const first = await call(server, 'POST', '/v1/jobs', SUBMIT_SPEC);
    if (first.status !== 202) throw new Error(`the submit spec was refused: ${first.status} ${JSON.stringify(first.body)}`);
    const accepted: string[] = [first.body.id as string];
    await cannon(server.url, sizes.warmupSeconds, sizes.connections, accepted);
    const before = accepted.length;
    const run = await cannon(server.url, sizes.seconds, sizes.connections, accepted);
    const measured = accepted.length - before;
    const statuses = Object.fromEntries(
      Object.entries(run.statusCodeStats)
        .filter(([code]) => code !== '202')
        .map(([code, { count }]) => [code, count]),
    );
    const nonAccepted = Object.values(statuses).reduce((sum, count) => sum + count, 0);
    // A 202 is durable before its reply: a SIGKILL now must find every one of them stored.
    await stopServer(server, 'SIGKILL');
    const kept = await stored(accepted);
    return {
      connections: sizes.connections,
      seconds: run.duration,
      concurrency: TRAINING_SLOTS,
      accepted: measured,
      acceptedPerSecond: measured / run.duration,
      latencyMs: { p50: run.latency.p50, p99: run.latency.p99, max: run.latency.max },
      errors: { statuses, socketErrors: run.errors, timeouts: run.timeouts, total: nonAccepted + run.errors + run.timeouts },
      durability: { accepted: accepted.length, storedAfterKill: kept, holds: kept === accepted.length },
    };
  } finally {
    await close();
  }
}

// ---- 2. Event fan-out ----

interface FanoutFigures {
  subscribers: number;
  /** The API servers the subscribers were spread over. */
  servers: number;
  epochs: number;
  /** Live events of the job after its resume: status queued, status running, the epochs, done. */
  events: number;
  /** Those with a commit stamp: all on one machine; in the distributed mode, those the worker host committed. */
  timed: number;
  eventsPerSecond: number;
  seconds: number;
  received: { min: number; max: number };
  everySubscriberGotEveryEvent: boolean;
  incomplete: string[];
  /** From publish (right after the store's commit) to a subscriber's receipt, over every (subscriber, timed event). */
  latencyMs: { p50: number; p99: number; max: number };
  /** Per timed event, until its last subscriber had it. */
  lastSubscriberMs: { p50: number; p99: number; max: number };
}

interface Subscriber {
  socket: WebSocket;
  /** [monotonic ms at receipt, the message]. */
  messages: [number, Buffer][];
  closed: Promise<{ code: number; reason: string }>;
}

function subscribe(url: string): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const messages: [number, Buffer][] = [];
    // The receipt time is read first; parsing waits until the end.
    socket.on('message', (data) => void messages.push([monotonicMs(), data as Buffer]));
    const closed = new Promise<{ code: number; reason: string }>((done) =>
      socket.on('close', (code, reason) => done({ code, reason: reason.toString() })),
    );
    socket.once('open', () => resolve({ socket, messages, closed }));
    socket.once('error', reject);
  });
}

async function waitForStatus(server: ServerProcess, id: string, status: string): Promise<{ lastSeq: number }> {
  const started = Date.now();
  for (;;) {
    const job = await call(server, 'GET', `/v1/jobs/${id}`);
    if (job.body.status === status) return job.body;
    if (Date.now() - started > 30_000) throw new Error(`job ${id} is still ${job.body.status}, not ${status}`);
    await sleep(20);
  }
}

type Stamps = Record<string, [number, number][]>;

/** Where the fan-out runs: the API servers, and the process that commits the job's events, stamped. */
interface FanoutSetup {
  /** The subscribers are spread over them in turn; the job is submitted to the first. */
  servers: ServerProcess[];
  /** Stops the stamped process and reads its stamps. */
  stamps(): Promise<Stamps>;
  close(): Promise<void>;
}

/** A stamped process writes its stamps as it exits: SIGTERM, and it must exit 0. */
async function stampsOf(stamped: ServiceProcess, path: string, what: string): Promise<Stamps> {
  if ((await stopServer(stamped, 'SIGTERM')) !== 0) throw new Error(`the ${what} did not stop cleanly:\n${stamped.log().slice(-2000)}`);
  return JSON.parse(readFileSync(path, 'utf8')) as Stamps;
}

/** One embedded server, stamped. */
async function embeddedFanout(stampsPath: string): Promise<FanoutSetup> {
  const server = await startServerProcess(stampEvents, ['serve'], { CAVIAR_BENCH_STAMPS: stampsPath });
  return {
    servers: [server],
    stamps: () => stampsOf(server, stampsPath, 'fan-out server'),
    async close() {
      await stopServer(server, 'SIGKILL');
      rmSync(server.dataDirectory, { recursive: true, force: true });
    },
  };
}

/** Two API servers and a worker host, stamped: the process that commits a job's epochs. */
async function distributedFanout(cluster: ClusterServers, stampsPath: string): Promise<FanoutSetup> {
  const { deployed, started } = await onDeployment(cluster, (deployed) =>
    Promise.all([deployed.api(), deployed.api(), deployed.worker({ CAVIAR_BENCH_STAMPS: stampsPath }, stampEvents)]),
  );
  const [first, second, host] = started;
  return { servers: [first, second], stamps: () => stampsOf(host, stampsPath, 'fan-out worker host'), close: () => deployed.close() };
}

async function fanOut(setUp: (stampsPath: string) => Promise<FanoutSetup>): Promise<FanoutFigures> {
  const stampsDirectory = mkdtempSync(join(tmpdir(), 'caviar-bench-stamps-'));
  const subscribers: Subscriber[] = [];
  let setup: FanoutSetup | undefined;
  try {
    setup = await setUp(join(stampsDirectory, 'stamps.json'));
    const { servers } = setup;
    const server = servers[0] as ServerProcess;
    const submitted = await call(server, 'POST', '/v1/jobs', fanoutSpec(sizes.epochs));
    if (submitted.status !== 202) throw new Error(`the fan-out job was refused: ${submitted.status} ${JSON.stringify(submitted.body)}`);
    const id = submitted.body.id as string;
    // Held until every subscriber listens: paused while queued, or at its first checkpoint
    // if a free slot took it first (200 paused, or 202 pausing until then).
    const paused = await call(server, 'POST', `/v1/jobs/${id}/pause`);
    if (paused.status !== 200 && paused.status !== 202) throw new Error(`could not pause the fan-out job: ${paused.status} ${JSON.stringify(paused.body)}`);
    const { lastSeq } = await waitForStatus(server, id, 'paused');
    const eventsUrl = (on: ServerProcess) => `${on.url.replace(/^http/, 'ws')}/v1/jobs/${id}/events?since=${lastSeq}`;
    for (let opened = 0; opened < sizes.subscribers; opened += 50) {
      const batch = Math.min(50, sizes.subscribers - opened);
      subscribers.push(...(await Promise.all(Array.from({ length: batch }, (_, index) => subscribe(eventsUrl(servers[(opened + index) % servers.length] as ServerProcess))))));
    }
    const resumed = await call(server, 'POST', `/v1/jobs/${id}/resume`);
    if (resumed.status !== 200) throw new Error(`could not resume the fan-out job: ${resumed.status} ${JSON.stringify(resumed.body)}`);
    const allClosed = Promise.all(subscribers.map((subscriber) => subscriber.closed));
    if ((await Promise.race([allClosed, deadline(120_000 + sizes.epochs * 1000)])) === 'timeout') throw new Error('the subscribers were not all closed in time');
    const closes = await allClosed;
    // What every subscriber should have had: the store's events after lastSeq, replayed.
    const replay = await subscribe(eventsUrl(server));
    if ((await replay.closed).code !== 1000) throw new Error("the replay of the fan-out job's events did not end normally");
    const expected = replay.messages.map(([, data]) => (JSON.parse(data.toString()) as { seq: number }).seq);
    const stampOf = new Map(((await setup.stamps())[id] ?? []).filter(([seq]) => seq > lastSeq));
    const timed = expected.filter((seq) => stampOf.has(seq));

    const latencies: number[] = [];
    const lastReceipt = new Map<number, number>();
    const incomplete: string[] = [];
    const counts: number[] = [];
    subscribers.forEach((subscriber, index) => {
      const seqs: number[] = [];
      for (const [at, data] of subscriber.messages) {
        const { seq } = JSON.parse(data.toString()) as { seq: number };
        seqs.push(seq);
        const stamp = stampOf.get(seq);
        if (stamp === undefined) continue;
        latencies.push(at - stamp);
        lastReceipt.set(seq, Math.max(lastReceipt.get(seq) ?? -Infinity, at));
      }
      counts.push(seqs.length);
      const inOrder = seqs.length === expected.length && seqs.every((seq, at) => seq === expected[at]);
      const code = closes[index]?.code;
      if (!inOrder || code !== 1000)
        incomplete.push(`subscriber ${index}: ${seqs.length} of ${expected.length} events${inOrder ? '' : ' (not all, or not in order)'}, closed ${code}`);
    });
    const sorted = ascending(latencies);
    const spread = ascending([...lastReceipt].map(([seq, at]) => at - (stampOf.get(seq) as number)));
    const first = stampOf.get(timed[0] as number) ?? 0;
    const last = stampOf.get(timed.at(-1) as number) ?? 0;
    const seconds = (last - first) / 1000;
    const summary = (numbers: Float64Array) => ({
      p50: percentile(numbers, 50),
      p99: percentile(numbers, 99),
      max: numbers.length === 0 ? Number.NaN : (numbers[numbers.length - 1] as number),
    });
    return {
      subscribers: sizes.subscribers,
      servers: servers.length,
      epochs: sizes.epochs,
      events: expected.length,
      timed: timed.length,
      eventsPerSecond: seconds > 0 ? (timed.length - 1) / seconds : 0,
      seconds,
      received: { min: Math.min(...counts), max: Math.max(...counts) },
      everySubscriberGotEveryEvent: expected.length > 0 && incomplete.length === 0,
      incomplete: incomplete.slice(0, 20),
      latencyMs: summary(sorted),
      lastSubscriberMs: summary(spread),
    };
  } finally {
    for (const { socket } of subscribers) socket.terminate();
    await setup?.close();
    rmSync(stampsDirectory, { recursive: true, force: true });
  }
}

// ---- 3. A sweep's trials per minute (--distributed) ----

interface SweepFigures {
  /** Training slots in all, and each job's OpenBLAS threads. */
  slots: number;
  threadsPerJob: number;
  trials: number;
  succeeded: number;
  /** From the POST to the receipt of the sweep's done event. */
  seconds: number;
  trialsPerMinute: number;
  /** A trial from its running event to its end, on average; and the share of the slots' time the trials ran: the rest is between trials (the controller, the queue, a host taking a job). */
  meanTrialSeconds: number;
  slotsBusy: number;
  bestMetric: number | undefined;
  /** Each trial's metric, by trial: the training is deterministic, so every setup should find the same. */
  metrics: (number | null)[];
}

/** A sweep's parallel: the trials queued or running at once, as many as the two hosts' slots. */
const sweepParallel = () => 2 * sizes.hostSlots;

/** Where a sweep runs: the API server it is submitted to, and the slots that train its trials. */
interface SweepSetup {
  server: ServerProcess;
  slots: number;
  threadsPerJob: number;
  close(): Promise<void>;
}

/** The peer: one embedded server with the slots of the two hosts together. */
async function embeddedSweeps(): Promise<SweepSetup> {
  const slots = 2 * sizes.hostSlots;
  const server = await startServerProcess(cli, ['serve'], { CAVIAR_CONCURRENCY: String(slots) });
  return {
    server,
    slots,
    threadsPerJob: threadsPerJob(slots),
    async close() {
      await stopServer(server, 'SIGKILL');
      rmSync(server.dataDirectory, { recursive: true, force: true });
    },
  };
}

/** An API server and `hosts` worker hosts of --host-slots slots. */
async function distributedSweeps(cluster: ClusterServers, hosts: number): Promise<SweepSetup> {
  const worker = { CAVIAR_CONCURRENCY: String(sizes.hostSlots) };
  const { deployed, started } = await onDeployment(cluster, (deployed) =>
    Promise.all([deployed.api(), ...Array.from({ length: hosts }, () => deployed.worker(worker))]),
  );
  return { server: started[0] as ServerProcess, slots: hosts * sizes.hostSlots, threadsPerJob: threadsPerJob(sizes.hostSlots), close: () => deployed.close() };
}

async function sweepThroughput(setUp: () => Promise<SweepSetup>): Promise<SweepFigures> {
  const { server, slots, threadsPerJob: threads, close } = await setUp();
  try {
    const started = monotonicMs();
    const submitted = await call(server, 'POST', '/v1/sweeps', { ...sweepSpec(sizes.sweepTrials, sizes.sweepEpochs, sizes.sweepSamples), parallel: sweepParallel() });
    if (submitted.status !== 202) throw new Error(`the sweep was refused: ${submitted.status} ${JSON.stringify(submitted.body)}`);
    const id = submitted.body.id as string;
    const events = await subscribe(`${server.url.replace(/^http/, 'ws')}/v1/sweeps/${id}/events?since=0`);
    const done = new Promise<number>((resolve) =>
      events.socket.on('message', (data) => void ((JSON.parse(data.toString()) as { type: string }).type === 'done' && resolve(monotonicMs()))),
    );
    const ended = await Promise.race([done, deadline(600_000)]);
    events.socket.terminate();
    if (ended === 'timeout') throw new Error(`the sweep ${id} did not end in 10 minutes`);
    const seconds = (ended - started) / 1000;
    const running = new Map<number, number>();
    const spans: number[] = [];
    for (const [at, data] of events.messages) {
      const event = JSON.parse(data.toString()) as { type: string; trial: number; status: string };
      if (event.type !== 'trial') continue;
      if (event.status === 'running') running.set(event.trial, at);
      else if (running.has(event.trial)) spans.push((at - (running.get(event.trial) as number)) / 1000);
    }
    const trialSeconds = spans.reduce((sum, span) => sum + span, 0);
    const view = (await call(server, 'GET', `/v1/sweeps/${id}`)).body as { trials: { trial: number; status: string; metric?: number }[] };
    const metrics: (number | null)[] = Array.from({ length: sizes.sweepTrials }, () => null);
    for (const trial of view.trials) metrics[trial.trial] = trial.metric ?? null;
    const found = metrics.filter((metric): metric is number => metric !== null);
    return {
      slots,
      threadsPerJob: threads,
      trials: view.trials.length,
      succeeded: view.trials.filter((trial) => trial.status === 'succeeded').length,
      seconds,
      trialsPerMinute: (60 * view.trials.length) / seconds,
      meanTrialSeconds: spans.length === 0 ? Number.NaN : trialSeconds / spans.length,
      slotsBusy: trialSeconds / (slots * seconds),
      bestMetric: found.length === 0 ? undefined : Math.max(...found),
      metrics,
    };
  } finally {
    await close();
  }
}

// ---- Run, print, write ----

type Failed = { error: string };
/** The load before and after each part, printed beside its figures. */
const loads: Record<string, LoadSpan> = {};
const attempt = async <T>(label: string, part: () => Promise<T>): Promise<T | Failed> => {
  process.stderr.write(`${label}...\n`);
  const { value, load } = await withLoad(async () => {
    try {
      return await part();
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  });
  loads[label] = load;
  return value;
};
const host = machine();
const clusterDescription = servers === undefined ? undefined : await describeServers(servers).catch((error: unknown) => `servers not described: ${(error as Error).message}`);
// Each distributed part runs right after its embedded peer, so that both see the same load.
const submit = await attempt('submit throughput', () => submitThroughput(embeddedSubmits));
const distributedSubmit = servers === undefined ? undefined : await attempt('distributed submit throughput', () => submitThroughput(() => distributedSubmits(servers)));
const fanout = await attempt('event fan-out', () => fanOut(embeddedFanout));
const distributedFanoutFigures =
  servers === undefined ? undefined : await attempt('distributed event fan-out', () => fanOut((stampsPath) => distributedFanout(servers, stampsPath)));
const sweeps =
  servers === undefined
    ? undefined
    : {
        embedded: await attempt('sweep, embedded server', () => sweepThroughput(embeddedSweeps)),
        oneHost: await attempt('sweep, 1 worker host', () => sweepThroughput(() => distributedSweeps(servers, 1))),
        twoHosts: await attempt('sweep, 2 worker hosts', () => sweepThroughput(() => distributedSweeps(servers, 2))),
      };

const format = (number: number | undefined, digits = 0) =>
  number === undefined || Number.isNaN(number)
    ? '-'
    : number.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (number: number) => `${format(number, 1)} ms`;
const row = (label: string, text: string) => `  ${label.padEnd(28)} ${text}`;
/** A figure over its peer's, measured in the same run: "; embedded 2,345 in this run: 0.53x". */
const ratio = (mine: number, peer: number | undefined, text: string) =>
  peer === undefined || !(peer > 0) ? '' : `; ${text} ${format(peer, peer < 100 ? 1 : 0)} in this run: ${format(mine / peer, 2)}x`;
const isFailed = (value: object | undefined): value is Failed => value !== undefined && 'error' in value;
const lines: string[] = [];
const targets: { part: string; target: string; holds: boolean | undefined }[] = [];

function submitLines(figures: SubmitFigures | Failed, store: string, peer?: SubmitFigures | Failed) {
  if (isFailed(figures)) return void lines.push(`  failed: ${figures.error}`);
  const peerFigures = peer === undefined || isFailed(peer) ? undefined : peer;
  lines.push(row('accepted (202)', `${format(figures.accepted)} jobs in ${format(figures.seconds, 2)} s`));
  lines.push(
    row(
      'accepted jobs/s',
      `${format(figures.acceptedPerSecond)}   target >= ${format(TARGETS.acceptedPerSecond)}${ratio(figures.acceptedPerSecond, peerFigures?.acceptedPerSecond, 'embedded')}`,
    ),
  );
  lines.push(
    row(
      'request latency',
      `p50 ${ms(figures.latencyMs.p50)}  p99 ${ms(figures.latencyMs.p99)}  max ${ms(figures.latencyMs.max)}${peerFigures === undefined ? '' : ` (embedded p50 ${ms(peerFigures.latencyMs.p50)}, p99 ${ms(peerFigures.latencyMs.p99)})`}`,
    ),
  );
  const { statuses, socketErrors, timeouts, total } = figures.errors;
  const listed = [
    ...Object.entries(statuses).map(([code, count]) => `${format(count)} x ${code}`),
    socketErrors > 0 ? `${format(socketErrors)} socket errors` : '',
    timeouts > 0 ? `${format(timeouts)} timeouts` : '',
  ].filter(Boolean);
  lines.push(row('errors (anything but 202)', total === 0 ? 'none' : listed.join(', ')));
  lines.push(
    row(
      store,
      `${format(figures.durability.storedAfterKill)} jobs for ${format(figures.durability.accepted)} 202s in the whole run: ${figures.durability.holds ? 'every 202 kept' : 'ROWS MISSING'}`,
    ),
  );
}

function fanoutLines(figures: FanoutFigures | Failed, peer?: FanoutFigures | Failed) {
  if (isFailed(figures)) return void lines.push(`  failed: ${figures.error}`);
  const peerFigures = peer === undefined || isFailed(peer) ? undefined : peer;
  const beside = (mine: { p50: number; p99: number }, theirs: { p50: number; p99: number } | undefined) =>
    theirs === undefined ? '' : `; embedded p50 ${ms(theirs.p50)}, p99 ${ms(theirs.p99)} in this run: p99 ${format(mine.p99 / theirs.p99, 2)}x`;
  lines.push(row('events per subscriber', `${format(figures.events)} sent; received min ${format(figures.received.min)}, max ${format(figures.received.max)}`));
  lines.push(row('every subscriber, every event', figures.everySubscriberGotEveryEvent ? 'yes, in order, closed 1000' : 'NO'));
  for (const problem of figures.incomplete) lines.push(`    ${problem}`);
  if (figures.timed !== figures.events) lines.push(row('events timed', `${format(figures.timed)} of ${format(figures.events)}: those the worker host committed`));
  lines.push(row('event rate', `${format(figures.eventsPerSecond, 1)} events/s over ${format(figures.seconds, 1)} s`));
  lines.push(
    row('append -> receipt', `p50 ${ms(figures.latencyMs.p50)}  p99 ${ms(figures.latencyMs.p99)}  max ${ms(figures.latencyMs.max)}${beside(figures.latencyMs, peerFigures?.latencyMs)}`),
  );
  lines.push(
    row(
      'append -> last subscriber',
      `p50 ${ms(figures.lastSubscriberMs.p50)}  p99 ${ms(figures.lastSubscriberMs.p99)}  max ${ms(figures.lastSubscriberMs.max)}${beside(figures.lastSubscriberMs, peerFigures?.lastSubscriberMs)}`,
    ),
  );
}

lines.push(
  `Machine: ${describeMachine(host)}; each job's worker gets the cores / CAVIAR_CONCURRENCY OpenBLAS threads`,
  `\nSubmit throughput: POST /v1/jobs, ${sizes.connections} connections, ${format(sizes.seconds, 1)} s, CAVIAR_CONCURRENCY=${TRAINING_SLOTS}, ${availableParallelism()} cores, ${describeLoad(loads['submit throughput'] as LoadSpan)}`,
);
submitLines(submit, 'stored after SIGKILL');
targets.push({
  part: 'submit',
  target: `>= ${format(TARGETS.acceptedPerSecond)} accepted jobs/s`,
  holds: isFailed(submit) ? undefined : submit.acceptedPerSecond >= TARGETS.acceptedPerSecond,
});
targets.push({ part: 'submit', target: 'every 202 stored (SIGKILL after the run)', holds: isFailed(submit) ? undefined : submit.durability.holds });

lines.push(
  `\nEvent fan-out: 1 job of ${sizes.epochs} epochs, ${sizes.subscribers} websocket subscribers, default CAVIAR_CONCURRENCY, ${describeLoad(loads['event fan-out'] as LoadSpan)}`,
);
fanoutLines(fanout);
const fanoutAtTarget = sizes.subscribers >= TARGETS.fanoutSubscribers;
targets.push({
  part: 'fan-out',
  target: `${TARGETS.fanoutSubscribers} subscribers at p99 < ${TARGETS.fanoutP99Ms} ms${fanoutAtTarget ? '' : ` (ran ${sizes.subscribers})`}`,
  holds: isFailed(fanout) || !fanoutAtTarget ? undefined : fanout.latencyMs.p99 < TARGETS.fanoutP99Ms,
});
targets.push({ part: 'fan-out', target: 'every subscriber gets every event', holds: isFailed(fanout) ? undefined : fanout.everySubscriberGotEveryEvent });

if (servers !== undefined && distributedSubmit !== undefined && distributedFanoutFigures !== undefined && sweeps !== undefined) {
  lines.push(
    `\nDistributed mode: ${clusterDescription} on this machine (${servers.source}); each part a database and a Redis prefix of its own, CAVIAR_LOCK_MS at its default`,
    `\nDurable submits, distributed: POST /v1/jobs to 1 API server, 1 worker host of CAVIAR_CONCURRENCY=${TRAINING_SLOTS}, ${sizes.connections} connections, ${format(sizes.seconds, 1)} s, ${describeLoad(loads['distributed submit throughput'] as LoadSpan)}`,
  );
  submitLines(distributedSubmit, 'in PostgreSQL after SIGKILL', submit);
  targets.push({
    part: 'distributed submit',
    target: `>= ${format(TARGETS.acceptedPerSecond)} durable submits/s (1 API server)`,
    holds: isFailed(distributedSubmit) ? undefined : distributedSubmit.acceptedPerSecond >= TARGETS.acceptedPerSecond,
  });
  targets.push({
    part: 'distributed submit',
    target: 'every 202 in PostgreSQL (the API server SIGKILLed after the run)',
    holds: isFailed(distributedSubmit) ? undefined : distributedSubmit.durability.holds,
  });

  lines.push(
    `\nEvent fan-out, distributed: 1 job of ${sizes.epochs} epochs on a worker host (default CAVIAR_CONCURRENCY), ${sizes.subscribers} websocket subscribers spread over 2 API servers, timed from the worker host's commit, ${describeLoad(loads['distributed event fan-out'] as LoadSpan)}`,
  );
  fanoutLines(distributedFanoutFigures, fanout);
  targets.push({
    part: 'distributed fan-out',
    target: 'every subscriber gets every event (2 API servers)',
    holds: isFailed(distributedFanoutFigures) ? undefined : distributedFanoutFigures.everySubscriberGotEveryEvent,
  });

  const spec = sweepSpec(sizes.sweepTrials, sizes.sweepEpochs, sizes.sweepSamples);
  lines.push(
    `\nSweep through the API: ${sizes.sweepTrials} random trials of ${sizes.sweepEpochs} epochs on moons ${sizes.sweepSamples} (bench:sweep's network), parallel ${sweepParallel()}, from the POST to the done event`,
  );
  const sweepRows: [string, string, SweepFigures | Failed][] = [
    ['embedded server', 'sweep, embedded server', sweeps.embedded],
    ['1 worker host', 'sweep, 1 worker host', sweeps.oneHost],
    ['2 worker hosts', 'sweep, 2 worker hosts', sweeps.twoHosts],
  ];
  for (const [label, part, figures] of sweepRows) {
    if (isFailed(figures)) {
      lines.push(row(label, `failed: ${figures.error}`));
      continue;
    }
    lines.push(
      row(
        label,
        `${format(figures.trialsPerMinute, 1)} trials/min (${format(figures.seconds, 2)} s, ${figures.succeeded}/${figures.trials} succeeded); ` +
          `${figures.slots} slot${figures.slots === 1 ? '' : 's'}, ${figures.threadsPerJob} OpenBLAS thread${figures.threadsPerJob === 1 ? '' : 's'} a job; ${describeLoad(loads[part] as LoadSpan)}`,
      ),
      row('', `a trial ${format(figures.meanTrialSeconds, 3)} s from its running event to its end; the slots busy ${format(100 * figures.slotsBusy)}% of the time`),
    );
  }
  const measured = sweepRows.flatMap(([, , figures]) => (isFailed(figures) ? [] : [figures]));
  const [embedded, oneHost, twoHosts] = [sweeps.embedded, sweeps.oneHost, sweeps.twoHosts].map((figures) => (isFailed(figures) ? undefined : figures));
  if (oneHost !== undefined && twoHosts !== undefined)
    lines.push(
      row(
        '2 hosts over 1',
        `${format(twoHosts.trialsPerMinute / oneHost.trialsPerMinute, 2)}x trials/min${embedded === undefined ? '' : `; 2 hosts over the embedded server: ${format(twoHosts.trialsPerMinute / embedded.trialsPerMinute, 2)}x`}`,
      ),
    );
  if (measured.length > 1)
    lines.push(row('the same trials', measured.every((figures) => isDeepStrictEqual(figures.metrics, measured[0]?.metrics)) ? `yes: every trial's ${spec.metric} is the same in each` : 'NO: the trials\' metrics differ'));
  targets.push({
    part: 'distributed sweep',
    target: 'every trial succeeded with 1 and 2 worker hosts',
    holds: oneHost === undefined || twoHosts === undefined ? undefined : [oneHost, twoHosts].every((figures) => figures.succeeded === sizes.sweepTrials),
  });
}

lines.push('\nTargets:');
for (const target of targets) {
  const verdict = target.holds === undefined ? 'not measured' : target.holds ? 'holds' : 'MISSED';
  lines.push(`  ${target.part} ${target.target}: ${verdict}`);
}
process.stdout.write(`${smoke ? '(smoke run: tiny sizes, figures not meaningful)\n' : ''}${lines.join('\n')}\n`);

const distributed = servers === undefined ? '' : '-distributed';
const out = values.out ?? resultsFile(`service${distributed}`, smoke);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      smoke,
      machine: host,
      loads,
      sizes,
      submit,
      fanout,
      ...(servers === undefined
        ? {}
        : {
            distributed: {
              servers: clusterDescription,
              from: servers.source,
              submit: distributedSubmit,
              fanout: distributedFanoutFigures,
              sweep: { spec: sweepSpec(sizes.sweepTrials, sizes.sweepEpochs, sizes.sweepSamples), parallel: sweepParallel(), ...sweeps },
            },
          }),
      targets,
    },
    null,
    2,
  ),
);
const rerun = [servers === undefined ? '' : '--distributed', smoke ? '--smoke' : ''].filter(Boolean).join(' ');
process.stderr.write(`\nwritten to ${out}\nrerun: npm run bench:service${rerun === '' ? '' : ` -- ${rerun}`}\n`);
const parts = [submit, fanout, distributedSubmit, distributedFanoutFigures, ...(sweeps === undefined ? [] : Object.values(sweeps))];
if (parts.some((part) => isFailed(part))) process.exitCode = 1;
