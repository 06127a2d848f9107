// The soak (`npm run bench:soak`): an hour's worth of small jobs compressed into one real
// server, and websocket subscribers that come and go, with the server's memory and open
// handles printed before, during and after. A leak shows as RSS, heap or handles that
// climb wave after wave and stay up once the work is over.
//   npm run bench:soak                         2,000 jobs in waves of 100, 2,000 socket connects
//   npm run bench:soak -- --smoke              tiny sizes: checks that every part runs
//   npm run bench:soak -- --jobs 500 --wave 50 --churn 500 --max-seconds 300
//
// 1. Jobs: --jobs jobs (1 or 2 epochs each on 100 moons points), submitted --wave at a time;
//    the next wave goes once every job of the last has ended. While a wave trains,
//    --subscribers websockets follow its jobs' events: a quarter close as soon as they
//    open, a quarter after their first event, the rest stay until the server closes them
//    (1000, after done). One /v1/events socket sees every job end.
// 2. Sockets: --churn connects, 50 at a time, alternating /v1/events (closed by the
//    client once open) and a finished job's /v1/jobs/:id/events (its history, then the
//    server's close).
// Samples, after the start, after each wave, after the jobs, during and after the
// sockets, and after an idle pause, each taken after a full garbage collection of the
// server (through its inspector, which SIGUSR1 opens on a free port of 127.0.0.1): the
// server's RSS (VmRSS) and peak (VmHWM), its open file descriptors (/proc/PID/fd: sockets,
// the pipes to its workers, files), its worker processes and their RSS, and from /metrics
// its V8 heap in use (after the collection: what it still holds), the memory its objects
// hold outside the heap, its libuv handles and its open websockets.
// The clients' HTTP connections are kept alive (fetch's pool, up to 20 at once), so they
// count among the server's descriptors.
// The run stops by itself: at --max-seconds it prints what it measured, says so, stops
// the server and exits 2.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { childrenOf, describeLoad, describeMachine, load, machine, memoryOf, openHandlesOf, type Load } from './machine.js';
import { count } from './options.js';
import { call, cli, deadline, resultsFile, sleep, startServerProcess, stopServer, type ServerProcess } from './server-process.js';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean' },
    out: { type: 'string' },
    jobs: { type: 'string' },
    wave: { type: 'string' },
    subscribers: { type: 'string' },
    churn: { type: 'string' },
    'max-seconds': { type: 'string' },
  },
});
const smoke = values.smoke === true;
const sizes = {
  jobs: count('jobs', values.jobs, smoke ? 40 : 2000),
  wave: count('wave', values.wave, smoke ? 10 : 100),
  subscribers: count('subscribers', values.subscribers, smoke ? 8 : 40, 0),
  churn: count('churn', values.churn, smoke ? 60 : 2000, 0),
  maxSeconds: count('max-seconds', values['max-seconds'], smoke ? 120 : 1500),
};
/** A wave that has not ended by then is reported and the soak stops. */
const WAVE_TIMEOUT_MS = 300_000;

const jobSpec = (index: number) => ({
  name: `soak-${index}`,
  dataset: { builtin: 'moons', samples: 100, noise: 0.2, seed: index % 7 },
  model: { layers: [{ units: 8, activation: 'relu' }, { units: 1, activation: 'sigmoid' }] },
  training: { epochs: 1 + (index % 2), batchSize: 32, seed: 1 },
});

const log = (message: string) => process.stderr.write(`${message}\n`);

// ---- Samples ----

interface Sample {
  at: string;
  seconds: number;
  rssMiB: number;
  peakMiB: number;
  openHandles: number;
  workers: number;
  workersRssMiB: number;
  /** V8's heap in use after a full collection. */
  heapUsedMiB?: number;
  /** Memory of JavaScript objects held outside the heap (Buffers, the addon's). */
  externalMiB?: number;
  /** libuv handles Node keeps open (sockets, servers, timers, child processes). */
  activeHandles?: number;
  websocketClients?: number;
  jobsEnded: number;
  load: Load;
}

/** The values of /metrics whose names end with these, summed over their labels. */
async function metrics(server: ServerProcess): Promise<Pick<Sample, 'heapUsedMiB' | 'externalMiB' | 'activeHandles' | 'websocketClients'>> {
  try {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const sum = (suffix: string) => {
      let total: number | undefined;
      for (const line of text.split('\n')) {
        const match = /^(\w+)(?:\{[^}]*\})? (\S+)$/.exec(line);
        if (match !== null && (match[1] as string).endsWith(suffix)) total = (total ?? 0) + Number(match[2]);
      }
      return total;
    };
    const heap = sum('nodejs_heap_size_used_bytes');
    const external = sum('nodejs_external_memory_bytes');
    const handles = sum('nodejs_active_handles');
    const sockets = sum('websocket_clients');
    return {
      ...(heap === undefined ? {} : { heapUsedMiB: heap / 2 ** 20 }),
      ...(external === undefined ? {} : { externalMiB: external / 2 ** 20 }),
      ...(handles === undefined ? {} : { activeHandles: handles }),
      ...(sockets === undefined ? {} : { websocketClients: sockets }),
    };
  } catch {
    return {};
  }
}

const started = performance.now();
const samples: Sample[] = [];
const ended = new Map<string, string>();

let inspector: string | undefined;

/** The server's inspector, opened by SIGUSR1 (the server runs with --inspect-port=127.0.0.1:0). */
async function inspectorOf(server: ServerProcess): Promise<string> {
  if (inspector !== undefined) return inspector;
  server.child.kill('SIGUSR1');
  const started = Date.now();
  for (;;) {
    const url = /Debugger listening on (ws:\/\/\S+)/.exec(server.log())?.[1];
    if (url !== undefined) return (inspector = url);
    if (Date.now() - started > 10_000) throw new Error('the server did not open its inspector after SIGUSR1');
    await sleep(20);
  }
}

/** A full garbage collection in the server, so that its heap shows what it still holds. */
async function collectGarbage(server: ServerProcess): Promise<void> {
  const socket = new WebSocket(await inspectorOf(server));
  try {
    await new Promise((resolve, reject) => {
      socket.once('open', () => socket.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
      socket.once('message', resolve);
      socket.once('error', reject);
      setTimeout(() => reject(new Error('no answer from the inspector')), 10_000).unref();
    });
  } finally {
    socket.close();
  }
}

async function sample(server: ServerProcess, at: string): Promise<Sample> {
  const pid = server.child.pid as number;
  await collectGarbage(server);
  const workers = childrenOf(pid);
  const fromMetrics = await metrics(server);
  const memory = memoryOf(pid);
  const taken: Sample = {
    at,
    seconds: (performance.now() - started) / 1000,
    rssMiB: memory?.rssMiB ?? Number.NaN,
    peakMiB: memory?.peakMiB ?? Number.NaN,
    openHandles: openHandlesOf(pid) ?? Number.NaN,
    workers: workers.length,
    workersRssMiB: workers.reduce((sum, child) => sum + (memoryOf(child)?.rssMiB ?? 0), 0),
    ...fromMetrics,
    jobsEnded: ended.size,
    load: load(),
  };
  samples.push(taken);
  return taken;
}

// ---- Sockets ----

type Leave = 'on-open' | 'after-first' | 'on-close';

interface Closed {
  code: number;
  messages: number;
  /** Whether this side closed it. */
  byClient: boolean;
}

/** A subscriber; resolves once its socket is closed, by either side. */
function subscriber(url: string, leave: Leave): Promise<Closed> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    let messages = 0;
    let byClient = false;
    const leaveNow = () => {
      byClient = true;
      socket.close(1000);
    };
    socket.on('open', () => {
      if (leave === 'on-open') leaveNow();
    });
    socket.on('message', () => {
      messages += 1;
      if (leave === 'after-first' && messages === 1) leaveNow();
    });
    socket.on('error', () => {});
    socket.on('close', (code) => resolve({ code, messages, byClient }));
  });
}

/** One socket on /v1/events that notes every job's end. */
function watch(server: ServerProcess): WebSocket {
  const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1/events`);
  socket.on('message', (data) => {
    const event = JSON.parse(data.toString()) as { type: string; jobId: string; status?: string };
    if (event.type === 'done') ended.set(event.jobId, event.status ?? '');
  });
  socket.on('error', () => {});
  return socket;
}

// ---- The run ----

interface Outcome {
  completed: boolean;
  reason?: string;
  submitted: number;
  statuses: Record<string, number>;
  subscribers: { opened: number; closedByClient: number; closedByServerAfterDone: number; otherCloses: number };
  churn: { connects: number; closed: number };
  shutdown?: { code: number | string; seconds: number };
}

async function soak(server: ServerProcess, outcome: Outcome): Promise<void> {
  const wsBase = server.url.replace(/^http/, 'ws');
  let watcher = watch(server);
  await new Promise((resolve) => watcher.once('open', resolve));
  await sleep(1000);
  await sample(server, 'start');

  const ids: string[] = [];
  const subscriptions: Promise<Closed>[] = [];
  const waves = Math.ceil(sizes.jobs / sizes.wave);
  for (let wave = 0; wave < waves; wave += 1) {
    const first = wave * sizes.wave;
    const size = Math.min(sizes.wave, sizes.jobs - first);
    const waveIds: string[] = [];
    for (let offset = 0; offset < size; offset += 20) {
      const replies = await Promise.all(
        Array.from({ length: Math.min(20, size - offset) }, (_, index) => call(server, 'POST', '/v1/jobs', jobSpec(first + offset + index))),
      );
      for (const reply of replies) {
        if (reply.status !== 202) throw new Error(`a submit answered ${reply.status}: ${JSON.stringify(reply.body).slice(0, 300)}`);
        waveIds.push(reply.body.id as string);
      }
    }
    ids.push(...waveIds);
    outcome.submitted = ids.length;
    for (let index = 0; index < sizes.subscribers; index += 1) {
      const leave: Leave = index % 4 === 0 ? 'on-open' : index % 4 === 1 ? 'after-first' : 'on-close';
      const id = waveIds[index % waveIds.length] as string;
      subscriptions.push(subscriber(`${wsBase}/v1/jobs/${id}/events`, leave));
      outcome.subscribers.opened += 1;
    }
    const waveStarted = Date.now();
    while (!waveIds.every((id) => ended.has(id))) {
      if (Date.now() - waveStarted > WAVE_TIMEOUT_MS) throw new Error(`wave ${wave + 1}: ${waveIds.filter((id) => !ended.has(id)).length} jobs had not ended after ${WAVE_TIMEOUT_MS / 1000} s`);
      if (watcher.readyState === WebSocket.CLOSED) {
        // Dropped (too far behind, say): the jobs' own statuses say which ended meanwhile.
        watcher = watch(server);
        for (const id of waveIds.filter((candidate) => !ended.has(candidate))) {
          const job = await call(server, 'GET', `/v1/jobs/${id}`);
          if (['succeeded', 'failed', 'cancelled', 'stopped'].includes(job.body.status as string)) ended.set(id, job.body.status as string);
        }
      }
      await sleep(50);
    }
    const taken = await sample(server, `wave ${wave + 1}`);
    log(`wave ${wave + 1}/${waves}: ${ended.size} jobs ended, RSS ${taken.rssMiB.toFixed(0)} MiB, ${taken.openHandles} fds, ${describeLoad(taken.load)}`);
  }
  const closes = await Promise.race([Promise.all(subscriptions), deadline(60_000)]);
  if (closes === 'timeout') throw new Error('the job subscribers were not all closed 60 s after their jobs ended');
  outcome.subscribers.closedByClient = closes.filter((close) => close.byClient).length;
  outcome.subscribers.closedByServerAfterDone = closes.filter((close) => !close.byClient && close.code === 1000).length;
  outcome.subscribers.otherCloses = closes.length - outcome.subscribers.closedByClient - outcome.subscribers.closedByServerAfterDone;
  await sleep(2000);
  await sample(server, 'after the jobs');

  for (let connect = 0; connect < sizes.churn; connect += 50) {
    const batch = Array.from({ length: Math.min(50, sizes.churn - connect) }, (_, index) =>
      (connect + index) % 2 === 0
        ? subscriber(`${wsBase}/v1/events`, 'on-open')
        : subscriber(`${wsBase}/v1/jobs/${ids[(connect + index) % ids.length] as string}/events`, 'on-close'),
    );
    const closed = await Promise.race([Promise.all(batch), deadline(60_000)]);
    if (closed === 'timeout') throw new Error(`socket churn: a batch of connects was not closed within 60 s`);
    outcome.churn.connects += batch.length;
    outcome.churn.closed += closed.length;
    if (connect === Math.floor(sizes.churn / 100) * 50) await sample(server, 'sockets, halfway');
  }
  await sample(server, 'after the sockets');
  watcher.close(1000);
  await sleep(3000);
  await sample(server, 'idle, 3 s later');
  outcome.completed = true;
}

const host = machine();
const outcome: Outcome = { completed: false, submitted: 0, statuses: {}, subscribers: { opened: 0, closedByClient: 0, closedByServerAfterDone: 0, otherCloses: 0 }, churn: { connects: 0, closed: 0 } };
let server: ServerProcess | undefined;
let printed = false;

function report(): void {
  if (printed) return;
  printed = true;
  for (const status of ended.values()) outcome.statuses[status] = (outcome.statuses[status] ?? 0) + 1;
  const format = (number: number | undefined, digits = 0) =>
    number === undefined || Number.isNaN(number) ? '-' : number.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const lines = [
    `Machine: ${describeMachine(host)}; node ${host.node}; server with its default CAVIAR_CONCURRENCY`,
    `Soak: ${format(sizes.jobs)} jobs in waves of ${sizes.wave} (1-2 epochs on 100 moons points), ${sizes.subscribers} job subscribers a wave, ${format(sizes.churn)} socket connects after; each sample after a full garbage collection of the server`,
    `  ${'when'.padEnd(20)}${'s'.padStart(7)}${'RSS MiB'.padStart(9)}${'peak'.padStart(7)}${'fds'.padStart(6)}${'workers'.padStart(9)}${'their RSS'.padStart(11)}${'heap MiB'.padStart(10)}${'external'.padStart(10)}${'handles'.padStart(9)}${'sockets'.padStart(9)}${'jobs'.padStart(7)}  load`,
  ];
  for (const s of samples)
    lines.push(
      `  ${s.at.padEnd(20)}${format(s.seconds, 1).padStart(7)}${format(s.rssMiB, 1).padStart(9)}${format(s.peakMiB).padStart(7)}${format(s.openHandles).padStart(6)}` +
        `${format(s.workers).padStart(9)}${format(s.workersRssMiB).padStart(11)}${format(s.heapUsedMiB, 1).padStart(10)}${format(s.externalMiB, 1).padStart(10)}${format(s.activeHandles).padStart(9)}${format(s.websocketClients).padStart(9)}${format(s.jobsEnded).padStart(7)}  ${describeLoad(s.load, host.cores)}`,
    );
  const first = samples[0];
  const last = samples.at(-1);
  const afterJobs = samples.find((s) => s.at === 'after the jobs');
  if (first !== undefined && last !== undefined) {
    lines.push(
      `  start -> end: RSS ${format(last.rssMiB - first.rssMiB, 1)} MiB, heap ${format((last.heapUsedMiB ?? Number.NaN) - (first.heapUsedMiB ?? Number.NaN), 1)} MiB, ` +
        `external ${format((last.externalMiB ?? Number.NaN) - (first.externalMiB ?? Number.NaN), 1)} MiB, fds ${format(last.openHandles - first.openHandles)}, ` +
        `handles ${format((last.activeHandles ?? Number.NaN) - (first.activeHandles ?? Number.NaN))}, open websockets ${format(last.websocketClients)}`,
    );
    if (afterJobs !== undefined)
      lines.push(`  RSS a job (start -> after the jobs): ${format(((afterJobs.rssMiB - first.rssMiB) * 1024) / Math.max(1, afterJobs.jobsEnded), 2)} KiB`);
  }
  lines.push(
    `  jobs: ${format(outcome.submitted)} submitted, ended ${Object.entries(outcome.statuses).map(([status, n]) => `${format(n)} ${status}`).join(', ') || 'none'}; ` +
      `job subscribers ${format(outcome.subscribers.opened)} (${format(outcome.subscribers.closedByClient)} left, ${format(outcome.subscribers.closedByServerAfterDone)} closed 1000 by the server after done, ${format(outcome.subscribers.otherCloses)} otherwise); socket connects ${format(outcome.churn.connects)}, ${format(outcome.churn.closed)} closed`,
  );
  if (outcome.shutdown !== undefined) lines.push(`  SIGTERM: exit ${outcome.shutdown.code} after ${format(outcome.shutdown.seconds, 2)} s`);
  lines.push(outcome.completed ? '  completed' : `  STOPPED EARLY: ${outcome.reason ?? 'unknown'}`);
  process.stdout.write(`${smoke ? '(smoke run: tiny sizes, figures not meaningful)\n' : ''}${lines.join('\n')}\n`);
  const out = values.out ?? resultsFile('soak', smoke);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), smoke, machine: host, sizes, outcome, samples }, null, 2));
  log(`\nwritten to ${out}\nrerun: npm run bench:soak${smoke ? ' -- --smoke' : ''}`);
}

// The bound on the whole run: whatever is still going then, the figures so far are printed.
const limit = setTimeout(() => {
  outcome.reason = `the soak passed --max-seconds ${sizes.maxSeconds}`;
  report();
  server?.child.kill('SIGKILL');
  if (server !== undefined) rmSync(server.dataDirectory, { recursive: true, force: true });
  process.exit(2);
}, sizes.maxSeconds * 1000);
limit.unref();

try {
  // --inspect-port only says where SIGUSR1 opens the inspector; the workers inherit it unused.
  server = await startServerProcess(cli, ['serve'], {}, { nodeArgs: ['--inspect-port=127.0.0.1:0'] });
  log(`soak: ${sizes.jobs} jobs in waves of ${sizes.wave}...`);
  await soak(server, outcome);
} catch (error) {
  outcome.reason = error instanceof Error ? error.message : String(error);
} finally {
  if (server !== undefined) {
    const stopping = performance.now();
    const code = await stopServer(server, 'SIGTERM');
    outcome.shutdown = { code, seconds: (performance.now() - stopping) / 1000 };
    rmSync(server.dataDirectory, { recursive: true, force: true });
  }
  clearTimeout(limit);
  report();
  if (!outcome.completed) process.exitCode = 1;
}
