// The service's benchmarks (`npm run bench:service`): how many jobs a server accepts per
// second, and how fast a job's events reach its websocket subscribers. Each figure is
// printed beside its target, and all are written as JSON to bench/results/.
//   npm run bench:service                          the full run (about 40 s)
//   npm run bench:service -- --smoke               tiny sizes: checks that every part runs
//   npm run bench:service -- --subscribers 1000 --connections 128 --seconds 20 --epochs 400
//
// 1. Submit throughput. The real server (`caviar serve`, a child process) with one training
//    slot, so that training takes one job's share of the machine and not all of it; clients
//    (autocannon, in this process) POST /v1/jobs with a small valid spec on --connections
//    connections for --seconds. A 202 means the job row was committed (synchronous=FULL)
//    before the reply; submissions of one event-loop turn share a commit. Only 202s count;
//    every other status, socket error and timeout is counted and printed as an error. Then
//    the server is SIGKILLed and its database opened: every 202 must have its row.
// 2. Event fan-out. One moons job whose epochs come at a steady pace, --subscribers
//    websockets on its events, and the time from the store's append of each event to each
//    subscriber's receipt. The server does not stamp its events, so it runs as
//    bench/fanout-server.ts: the real server with the event hub's publish wrapped to note
//    when each event was published, which Lifecycle does right after the store's commit.
//    Stamps and receipts are read on CLOCK_MONOTONIC (process.hrtime), one clock for all
//    the processes of a machine, and matched by (job, seq). The subscribers are clients in
//    this process, not the server's, so they do not share its event loop. To have them all
//    listening before the first event: the job is submitted and paused, they connect with
//    since= its last seq, and then it is resumed; every event from the resume's status event
//    to the done event is live. Every subscriber must get every one, in order, and be closed
//    with 1000.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { describeLoad, describeMachine, machine, withLoad, type LoadSpan } from './machine.js';
import { ascending, call, cli, deadline, percentile, root, sleep, startServerProcess, stopServer, type ServerProcess } from './server-process.js';

const fanoutServer = join(root, 'dist/bench/fanout-server.js');

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean' },
    out: { type: 'string' },
    subscribers: { type: 'string' },
    connections: { type: 'string' },
    seconds: { type: 'string' },
    epochs: { type: 'string' },
  },
});
const smoke = values.smoke === true;
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

/** Milliseconds on CLOCK_MONOTONIC: the clock bench/fanout-server.ts stamps with. */
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
  /** 202s of the whole run (the check, the warm-up and the measured part), and the rows the database kept after a SIGKILL. */
  durability: { accepted: number; storedAfterKill: number; holds: boolean };
}

function cannon(url: string, seconds: number, connections: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}/v1/jobs`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(SUBMIT_SPEC),
        connections,
        duration: seconds,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

async function submitThroughput(): Promise<SubmitFigures> {
  const concurrency = 1;
  const server = await startServerProcess(cli, ['serve'], { CAVIAR_CONCURRENCY: String(concurrency) });
  try {
    const first = await call(server, 'POST', '/v1/jobs', SUBMIT_SPEC);
    if (first.status !== 202) throw new Error(`the submit spec was refused: ${first.status} ${JSON.stringify(first.body)}`);
    const warmup = await cannon(server.url, sizes.warmupSeconds, sizes.connections);
    const run = await cannon(server.url, sizes.seconds, sizes.connections);
    const accepted = run.statusCodeStats['202']?.count ?? 0;
    const statuses = Object.fromEntries(
      Object.entries(run.statusCodeStats)
        .filter(([code]) => code !== '202')
        .map(([code, { count }]) => [code, count]),
    );
    const nonAccepted = Object.values(statuses).reduce((sum, count) => sum + count, 0);
    // A 202 is durable before its reply: a SIGKILL now must find every one of them stored.
    await stopServer(server, 'SIGKILL');
    const database = new Database(join(server.dataDirectory, 'caviar.db'));
    const { stored } = database.prepare('SELECT count(*) AS stored FROM jobs').get() as { stored: number };
    database.close();
    const acceptedInAll = 1 + (warmup.statusCodeStats['202']?.count ?? 0) + accepted;
    return {
      connections: sizes.connections,
      seconds: run.duration,
      concurrency,
      accepted,
      acceptedPerSecond: accepted / run.duration,
      latencyMs: { p50: run.latency.p50, p99: run.latency.p99, max: run.latency.max },
      errors: { statuses, socketErrors: run.errors, timeouts: run.timeouts, total: nonAccepted + run.errors + run.timeouts },
      durability: { accepted: acceptedInAll, storedAfterKill: stored, holds: stored >= acceptedInAll },
    };
  } finally {
    await stopServer(server, 'SIGKILL');
    rmSync(server.dataDirectory, { recursive: true, force: true });
  }
}

// ---- 2. Event fan-out ----

interface FanoutFigures {
  subscribers: number;
  epochs: number;
  /** Live events of the job after its resume: status queued, status running, the epochs, done. */
  events: number;
  eventsPerSecond: number;
  seconds: number;
  received: { min: number; max: number };
  everySubscriberGotEveryEvent: boolean;
  incomplete: string[];
  /** From publish (right after the store's commit) to a subscriber's receipt, over every (subscriber, event). */
  latencyMs: { p50: number; p99: number; max: number };
  /** Per event, until its last subscriber had it. */
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

async function fanOut(): Promise<FanoutFigures> {
  const stampsDirectory = mkdtempSync(join(tmpdir(), 'caviar-bench-stamps-'));
  const stampsPath = join(stampsDirectory, 'stamps.json');
  const server = await startServerProcess(fanoutServer, [], { CAVIAR_BENCH_STAMPS: stampsPath });
  const subscribers: Subscriber[] = [];
  try {
    const submitted = await call(server, 'POST', '/v1/jobs', fanoutSpec(sizes.epochs));
    if (submitted.status !== 202) throw new Error(`the fan-out job was refused: ${submitted.status} ${JSON.stringify(submitted.body)}`);
    const id = submitted.body.id as string;
    // Held until every subscriber listens: paused while queued, or at its first checkpoint
    // if a free slot took it first (200 paused, or 202 pausing until then).
    const paused = await call(server, 'POST', `/v1/jobs/${id}/pause`);
    if (paused.status !== 200 && paused.status !== 202) throw new Error(`could not pause the fan-out job: ${paused.status} ${JSON.stringify(paused.body)}`);
    const { lastSeq } = await waitForStatus(server, id, 'paused');
    const eventsUrl = `${server.url.replace(/^http/, 'ws')}/v1/jobs/${id}/events?since=${lastSeq}`;
    for (let opened = 0; opened < sizes.subscribers; opened += 50) {
      const batch = Math.min(50, sizes.subscribers - opened);
      subscribers.push(...(await Promise.all(Array.from({ length: batch }, () => subscribe(eventsUrl)))));
    }
    const resumed = await call(server, 'POST', `/v1/jobs/${id}/resume`);
    if (resumed.status !== 200) throw new Error(`could not resume the fan-out job: ${resumed.status} ${JSON.stringify(resumed.body)}`);
    const allClosed = Promise.all(subscribers.map((subscriber) => subscriber.closed));
    if ((await Promise.race([allClosed, deadline(120_000 + sizes.epochs * 1000)])) === 'timeout') throw new Error('the subscribers were not all closed in time');
    const closes = await allClosed;
    if ((await stopServer(server, 'SIGTERM')) !== 0) throw new Error(`the fan-out server did not stop cleanly:\n${server.log().slice(-2000)}`);

    const stamps = (JSON.parse(readFileSync(stampsPath, 'utf8')) as Record<string, [number, number][]>)[id] ?? [];
    const expected = stamps.filter(([seq]) => seq > lastSeq);
    const stampOf = new Map(expected);
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
      const inOrder = seqs.length === expected.length && seqs.every((seq, at) => seq === expected[at]?.[0]);
      const code = closes[index]?.code;
      if (!inOrder || code !== 1000)
        incomplete.push(`subscriber ${index}: ${seqs.length} of ${expected.length} events${inOrder ? '' : ' (not all, or not in order)'}, closed ${code}`);
    });
    const sorted = ascending(latencies);
    const spread = ascending([...lastReceipt].map(([seq, at]) => at - (stampOf.get(seq) as number)));
    const first = expected[0]?.[1] ?? 0;
    const last = expected.at(-1)?.[1] ?? 0;
    const seconds = (last - first) / 1000;
    const summary = (numbers: Float64Array) => ({
      p50: percentile(numbers, 50),
      p99: percentile(numbers, 99),
      max: numbers.length === 0 ? Number.NaN : (numbers[numbers.length - 1] as number),
    });
    return {
      subscribers: sizes.subscribers,
      epochs: sizes.epochs,
      events: expected.length,
      eventsPerSecond: seconds > 0 ? (expected.length - 1) / seconds : 0,
      seconds,
      received: { min: Math.min(...counts), max: Math.max(...counts) },
      everySubscriberGotEveryEvent: expected.length > 0 && incomplete.length === 0,
      incomplete: incomplete.slice(0, 20),
      latencyMs: summary(sorted),
      lastSubscriberMs: summary(spread),
    };
  } finally {
    for (const { socket } of subscribers) socket.terminate();
    await stopServer(server, 'SIGKILL');
    rmSync(server.dataDirectory, { recursive: true, force: true });
    rmSync(stampsDirectory, { recursive: true, force: true });
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
const submit = await attempt('submit throughput', submitThroughput);
const fanout = await attempt('event fan-out', fanOut);

const format = (number: number | undefined, digits = 0) =>
  number === undefined || Number.isNaN(number)
    ? '-'
    : number.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (number: number) => `${format(number, 1)} ms`;
const row = (label: string, text: string) => `  ${label.padEnd(28)} ${text}`;
const lines: string[] = [];
const targets: { part: string; target: string; holds: boolean | undefined }[] = [];

lines.push(
  `Machine: ${describeMachine(host)}; each job's worker gets the cores / CAVIAR_CONCURRENCY OpenBLAS threads`,
  `\nSubmit throughput: POST /v1/jobs, ${sizes.connections} connections, ${format(sizes.seconds, 1)} s, CAVIAR_CONCURRENCY=1, ${availableParallelism()} cores, ${describeLoad(loads['submit throughput'] as LoadSpan)}`,
);
if ('error' in submit) lines.push(`  failed: ${submit.error}`);
else {
  lines.push(row('accepted (202)', `${format(submit.accepted)} jobs in ${format(submit.seconds, 2)} s`));
  lines.push(row('accepted jobs/s', `${format(submit.acceptedPerSecond)}   target >= ${format(TARGETS.acceptedPerSecond)}`));
  lines.push(row('request latency', `p50 ${ms(submit.latencyMs.p50)}  p99 ${ms(submit.latencyMs.p99)}  max ${ms(submit.latencyMs.max)}`));
  const { statuses, socketErrors, timeouts, total } = submit.errors;
  const listed = [
    ...Object.entries(statuses).map(([code, count]) => `${format(count)} x ${code}`),
    socketErrors > 0 ? `${format(socketErrors)} socket errors` : '',
    timeouts > 0 ? `${format(timeouts)} timeouts` : '',
  ].filter(Boolean);
  lines.push(row('errors (anything but 202)', total === 0 ? 'none' : listed.join(', ')));
  lines.push(
    row(
      'stored after SIGKILL',
      `${format(submit.durability.storedAfterKill)} jobs for ${format(submit.durability.accepted)} 202s in the whole run: ${submit.durability.holds ? 'every 202 kept' : 'ROWS MISSING'}`,
    ),
  );
}
targets.push({
  part: 'submit',
  target: `>= ${format(TARGETS.acceptedPerSecond)} accepted jobs/s`,
  holds: 'error' in submit ? undefined : submit.acceptedPerSecond >= TARGETS.acceptedPerSecond,
});
targets.push({ part: 'submit', target: 'every 202 stored (SIGKILL after the run)', holds: 'error' in submit ? undefined : submit.durability.holds });

lines.push(
  `\nEvent fan-out: 1 job of ${sizes.epochs} epochs, ${sizes.subscribers} websocket subscribers, default CAVIAR_CONCURRENCY, ${describeLoad(loads['event fan-out'] as LoadSpan)}`,
);
if ('error' in fanout) lines.push(`  failed: ${fanout.error}`);
else {
  lines.push(row('events per subscriber', `${format(fanout.events)} sent; received min ${format(fanout.received.min)}, max ${format(fanout.received.max)}`));
  lines.push(row('every subscriber, every event', fanout.everySubscriberGotEveryEvent ? 'yes, in order, closed 1000' : 'NO'));
  for (const problem of fanout.incomplete) lines.push(`    ${problem}`);
  lines.push(row('event rate', `${format(fanout.eventsPerSecond, 1)} events/s over ${format(fanout.seconds, 1)} s`));
  lines.push(row('append -> receipt', `p50 ${ms(fanout.latencyMs.p50)}  p99 ${ms(fanout.latencyMs.p99)}  max ${ms(fanout.latencyMs.max)}`));
  lines.push(
    row('append -> last subscriber', `p50 ${ms(fanout.lastSubscriberMs.p50)}  p99 ${ms(fanout.lastSubscriberMs.p99)}  max ${ms(fanout.lastSubscriberMs.max)}`),
  );
}
const fanoutAtTarget = sizes.subscribers >= TARGETS.fanoutSubscribers;
targets.push({
  part: 'fan-out',
  target: `${TARGETS.fanoutSubscribers} subscribers at p99 < ${TARGETS.fanoutP99Ms} ms${fanoutAtTarget ? '' : ` (ran ${sizes.subscribers})`}`,
  holds: 'error' in fanout || !fanoutAtTarget ? undefined : fanout.latencyMs.p99 < TARGETS.fanoutP99Ms,
});
targets.push({ part: 'fan-out', target: 'every subscriber gets every event', holds: 'error' in fanout ? undefined : fanout.everySubscriberGotEveryEvent });

lines.push('\nTargets:');
for (const target of targets) {
  const verdict = target.holds === undefined ? 'not measured' : target.holds ? 'holds' : 'MISSED';
  lines.push(`  ${target.part} ${target.target}: ${verdict}`);
}
process.stdout.write(`${smoke ? '(smoke run: tiny sizes, figures not meaningful)\n' : ''}${lines.join('\n')}\n`);

const out = values.out ?? `${root}bench/results/service-${new Date().toISOString().replaceAll(':', '-')}${smoke ? '-smoke' : ''}.json`;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), smoke, machine: host, loads, sizes, submit, fanout, targets }, null, 2));
process.stderr.write(`\nwritten to ${out}\nrerun: npm run bench:service${smoke ? ' -- --smoke' : ''}\n`);
if ('error' in submit || 'error' in fanout) process.exitCode = 1;
