// The host-kills benchmark (`npm run bench:host-kills`): one job of many epochs trains in
// the distributed mode on two worker hosts, and the host that runs it is SIGKILLed --kills
// times in a row, a new host started in its place after each kill. For each kill it prints
// the time from the kill to the job's next epoch (on whichever host took it over) against
// CAVIAR_LOCK_MS + 5 s; at the end the job's epochs as the store has them (1..N, each
// exactly once: none lost, none doubled), and whether its model equals that of the same
// spec trained without a kill (the engine is deterministic by seed: bit for bit). Printed,
// and written as JSON to bench/results/.
//   .ci/servers npm run bench:host-kills                    20 kills, CAVIAR_LOCK_MS=3000 (about 3 minutes)
//   .ci/servers npm run bench:host-kills -- --smoke         2 kills: checks that it runs
//   npm run bench:host-kills -- --kills 50 --lock-ms 5000 --epochs 200
// PostgreSQL and Redis as for `bench:service -- --distributed` (bench/cluster.ts).
//
// A kill lands at a random point of an epoch: once an epoch of the current attempt is
// received (the first after the host in the killed one's place is up), a random part of
// that epoch's length later. The times are receipts here of the
// job's events through the API server's websocket (the kill, then the status event that
// says it runs again, then its next epoch), on CLOCK_MONOTONIC: a few milliseconds later
// than the commits. Which host trained each attempt is read from the hosts' logs ("job
// started" with the job's id and attempt).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { JobEvent, JobSpec } from '../src/jobs/index.js';
import { clusterServers, deployment, describeServers, onDatabase, type ClusterServers, type Deployment } from './cluster.js';
import { describeLoad, describeMachine, machine, withLoad, type LoadSpan } from './machine.js';
import { count } from './options.js';
import { ascending, call, deadline, percentile, resultsFile, sleep, type ServerProcess, type ServiceProcess } from './server-process.js';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean' },
    out: { type: 'string' },
    kills: { type: 'string' },
    'lock-ms': { type: 'string' },
    epochs: { type: 'string' },
  },
});
const smoke = values.smoke === true;
const kills = count('kills', values.kills, smoke ? 2 : 20, 1);
const lockMs = count('lock-ms', values['lock-ms'], 3000, 500);
// Each kill costs the job a few epochs: those trained while the host in the killed one's
// place starts, the one the kill waits for, and the one it lands in.
const epochs = count('epochs', values.epochs, 4 * kills + 10, 2);
/** The target: a killed host's job trains again within the lock and this much. */
const MARGIN_MS = 5000;

let servers: ClusterServers;
try {
  servers = clusterServers();
} catch (error) {
  process.stderr.write(`bench:host-kills: ${(error as Error).message}\n`);
  process.exit(2);
}

/** Epochs of a few hundred ms on 2 cores: a kill can land inside one. */
const spec: JobSpec = {
  name: 'bench-host-kills',
  dataset: { builtin: 'moons', samples: 10_000, noise: 0.2, seed: 3 },
  split: { dev: 0.2, seed: 0 },
  model: {
    layers: [
      { units: 256, activation: 'relu' },
      { units: 256, activation: 'relu' },
      { units: 1, activation: 'sigmoid' },
    ],
    init: 'he',
  },
  training: { epochs, batchSize: 32, seed: 1, optimizer: { type: 'adam', learningRate: 0.003 } },
};

const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const log = (message: string) => process.stderr.write(`${message}\n`);

/** A job's events from seq 1, each with its receipt time, and a way to wait for one. */
interface Stream {
  events: { at: number; event: JobEvent }[];
  /** The first event after `after` (a seq) that matches, once it has come. */
  next(after: number, match: (event: JobEvent) => boolean, timeoutMs: number): Promise<{ at: number; event: JobEvent }>;
  close(): void;
}

function follow(server: ServerProcess, id: string): Stream {
  const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1/jobs/${id}/events?since=0`);
  const events: { at: number; event: JobEvent }[] = [];
  let wake: () => void = () => {};
  let closed = false;
  socket.on('message', (data) => {
    events.push({ at: monotonicMs(), event: JSON.parse(data.toString()) as JobEvent });
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  socket.on('error', () => {
    // 'close' follows.
  });
  return {
    events,
    async next(after, match, timeoutMs) {
      const until = monotonicMs() + timeoutMs;
      for (;;) {
        const found = events.find(({ event }) => event.seq > after && match(event));
        if (found !== undefined) return found;
        if (closed) throw new Error(`the event stream of ${id} closed before the event awaited`);
        const left = until - monotonicMs();
        if (left <= 0) throw new Error(`no awaited event of ${id} in ${timeoutMs} ms (last: ${JSON.stringify(events.at(-1)?.event ?? null).slice(0, 200)})`);
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), deadline(left)]);
      }
    },
    close: () => socket.terminate(),
  };
}

/** The attempts of `id` each host's log says it started. */
const attemptsOf = (host: ServiceProcess, id: string): number[] =>
  [...host.log().matchAll(new RegExp(`"jobId":"${id}","attempt":(\\d+),[^\\n]*"msg":"job started"`, 'g'))].map((match) => Number(match[1]));

/** The host that started `attempt` of `id`, once its log says so. */
async function hostOf(hosts: ServiceProcess[], id: string, attempt: number): Promise<ServiceProcess> {
  const until = Date.now() + 10_000;
  for (;;) {
    const host = hosts.find((candidate) => attemptsOf(candidate, id).includes(attempt));
    if (host !== undefined) return host;
    if (Date.now() > until) throw new Error(`no host's log says it started attempt ${attempt} of ${id}`);
    await sleep(20);
  }
}

/** The job's attempt as the store has it: each host that takes the job over adds one. */
const attemptOf = (cluster: Deployment, id: string) =>
  onDatabase(cluster.databaseUrl, async (client) => (await client.query<{ attempt: number }>('SELECT attempt FROM jobs WHERE id = $1', [id])).rows[0]?.attempt ?? 0);

const epochOf = (event: JobEvent) => (event.type === 'epoch' ? event.epoch : undefined);
const isRunning = (event: JobEvent) => event.type === 'status' && event.status === 'running';

/** Epochs 1..N: which are missing and which came more than once. */
function tally(seen: number[], total: number): { count: number; lost: number[]; doubled: number[] } {
  const times = new Map<number, number>();
  for (const epoch of seen) times.set(epoch, (times.get(epoch) ?? 0) + 1);
  const lost = Array.from({ length: total }, (_, index) => index + 1).filter((epoch) => !times.has(epoch));
  const doubled = [...times].filter(([, n]) => n > 1).map(([epoch]) => epoch);
  return { count: seen.length, lost, doubled };
}

interface Kill {
  kill: number;
  /** The host killed: the index of its place (0 or 1), and the job's attempt it ran. */
  place: number;
  attempt: number;
  /** The last epoch received before the kill, and the kill's delay after the receipt of the epoch before it. */
  afterEpoch: number | undefined;
  intoEpochMs: number;
  /** From the kill to the status event of the next attempt, and to its first epoch. */
  runningAfterMs: number;
  nextEpochAfterMs: number;
  nextEpoch: number | undefined;
  /** Which host trained the next attempt: the one that lived on, or the one started in the killed one's place. */
  takenBy: 'survivor' | 'replacement';
  withinLimit: boolean;
}

/** The model's parts that training decides: normalization and every parameter. */
async function weights(server: ServerProcess, id: string): Promise<unknown> {
  const { status, body } = await call(server, 'GET', `/v1/jobs/${id}/model`);
  if (status !== 200) throw new Error(`no model for ${id}: ${status}`);
  return { normalization: body.normalization, layers: body.layers };
}

/** Submits `spec` and follows it; resolves with its id and its stream. */
async function submit(server: ServerProcess): Promise<{ id: string; stream: Stream }> {
  const submitted = await call(server, 'POST', '/v1/jobs', spec);
  if (submitted.status !== 202) throw new Error(`the job was refused: ${submitted.status} ${JSON.stringify(submitted.body)}`);
  const id = submitted.body.id as string;
  return { id, stream: follow(server, id) };
}

const epochTimeoutMs = 120_000;
const limitMs = lockMs + MARGIN_MS;

async function killHosts(cluster: Deployment, api: ServerProcess, hosts: ServiceProcess[]) {
  const { id, stream } = await submit(api);
  const done: Kill[] = [];
  try {
    let attemptStart = (await stream.next(0, isRunning, epochTimeoutMs)).event.seq;
    let attempt = await attemptOf(cluster, id);
    for (let kill = 1; kill <= kills; kill += 1) {
      const victim = await hostOf(hosts, id, attempt);
      const place = hosts.indexOf(victim);
      // An epoch received from now on, so that the delay after it falls inside the next one.
      const fresh = Math.max(attemptStart, stream.events.at(-1)?.event.seq ?? 0);
      const epoch = await stream.next(fresh, (event) => event.type === 'epoch' || event.type === 'done', epochTimeoutMs);
      if (epoch.event.type === 'done') throw new Error(`the job ended after ${kill - 1} kills: give it more --epochs than ${epochs}`);
      const epochMs = epoch.event.type === 'epoch' ? epoch.event.seconds * 1000 : 0;
      const intoEpochMs = Math.random() * epochMs;
      await sleep(Math.max(0, epoch.at + intoEpochMs - monotonicMs()));
      const killedAt = monotonicMs();
      victim.child.kill('SIGKILL');
      await victim.exited;
      const lastSeq = stream.events.at(-1)?.event.seq ?? 0;
      const afterEpoch = stream.events.flatMap(({ event }) => epochOf(event) ?? []).at(-1);
      const replacement = cluster.worker({ CAVIAR_CONCURRENCY: '1' });
      const running = await stream.next(lastSeq, (event) => isRunning(event) || event.type === 'done', lockMs + epochTimeoutMs);
      if (running.event.type === 'done') throw new Error(`the job ended (${running.event.status}) after a kill instead of running again`);
      const next = await stream.next(running.event.seq, (event) => event.type === 'epoch' || event.type === 'done', epochTimeoutMs);
      hosts[place] = await replacement;
      const taken = await attemptOf(cluster, id);
      const taker = await hostOf(hosts, id, taken);
      const record: Kill = {
        kill,
        place,
        attempt,
        afterEpoch,
        intoEpochMs,
        runningAfterMs: running.at - killedAt,
        nextEpochAfterMs: next.at - killedAt,
        nextEpoch: epochOf(next.event),
        takenBy: taker === hosts[place] ? 'replacement' : 'survivor',
        withinLimit: next.event.type === 'epoch' && next.at - killedAt <= limitMs,
      };
      done.push(record);
      attempt = taken;
      attemptStart = running.event.seq;
      log(
        `  kill ${kill}/${kills}: running again after ${(record.runningAfterMs / 1000).toFixed(2)} s, epoch ${record.nextEpoch ?? '-'} after ${(record.nextEpochAfterMs / 1000).toFixed(2)} s (${record.takenBy})`,
      );
    }
    const end = await stream.next(0, (event) => event.type === 'done', epochs * 10_000);
    const status = end.event.type === 'done' ? end.event.status : undefined;
    const storedEpochs = await onDatabase(cluster.databaseUrl, async (client) =>
      (await client.query<{ epoch: number }>('SELECT epoch FROM events WHERE job_id = $1 AND epoch IS NOT NULL ORDER BY seq', [id])).rows.map((row) => row.epoch),
    );
    return {
      id,
      status,
      kills: done,
      attempts: await attemptOf(cluster, id),
      store: tally(storedEpochs, epochs),
      stream: tally(stream.events.flatMap(({ event }) => epochOf(event) ?? []), epochs),
      model: status === 'succeeded' ? await weights(api, id) : undefined,
    };
  } finally {
    stream.close();
  }
}

/** The same spec without a kill, on the same deployment: its model, and its training seconds. */
async function uninterrupted(api: ServerProcess) {
  const { id, stream } = await submit(api);
  try {
    const end = await stream.next(0, (event) => event.type === 'done', epochs * 10_000);
    if (end.event.type !== 'done' || end.event.status !== 'succeeded') throw new Error(`the uninterrupted run ended ${end.event.type === 'done' ? end.event.status : '?'}`);
    return { id, model: await weights(api, id) };
  } finally {
    stream.close();
  }
}

// ---- Run ----

const host = machine();
const serversDescription = await describeServers(servers);
const cluster = await deployment(servers, lockMs);
const loads: Record<string, LoadSpan> = {};
let result: Awaited<ReturnType<typeof killHosts>> | { error: string };
let reference: Awaited<ReturnType<typeof uninterrupted>> | { error: string };
try {
  const [api, ...hosts] = await Promise.all([cluster.api(), cluster.worker({ CAVIAR_CONCURRENCY: '1' }), cluster.worker({ CAVIAR_CONCURRENCY: '1' })]);
  log(`host kills: ${kills} kills of the host running a job of ${epochs} epochs, CAVIAR_LOCK_MS=${lockMs}...`);
  const killed = await withLoad(() => killHosts(cluster, api, hosts).catch((error: unknown) => ({ error: (error as Error).message })));
  loads.kills = killed.load;
  result = killed.value;
  log('the same job, uninterrupted...');
  const again = await withLoad(() => uninterrupted(api).catch((error: unknown) => ({ error: (error as Error).message })));
  loads.uninterrupted = again.load;
  reference = again.value;
} finally {
  await cluster.close();
}

// ---- Print, write ----

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const lines: string[] = [
  `Machine: ${describeMachine(host)}; ${serversDescription} on this machine (${servers.source})`,
  `\nHost kills: 1 job of ${epochs} epochs (moons 10,000, 2-256-256-1, batch 32) on 2 worker hosts of 1 slot, CAVIAR_LOCK_MS=${lockMs}: ` +
    `the host running it SIGKILLed ${kills} times in a row, a new one started in its place each time; ${loads.kills === undefined ? '' : describeLoad(loads.kills)}`,
];
const targets: { target: string; holds: boolean | undefined }[] = [];
const ok = 'error' in result ? undefined : result;
const same = ok?.model !== undefined && !('error' in reference) ? isDeepStrictEqual(ok.model, reference.model) : undefined;
if (ok === undefined) lines.push(`  failed: ${(result as { error: string }).error}`);
else {
  lines.push(
    '  each kill a random part of an epoch after an epoch of the attempt was received (delay); from the kill to the receipts of the job\'s status running and of its next epoch',
  );
  const header = ['kill', 'at epoch', 'delay', 'running again', 'next epoch', 'taken by', `<= ${seconds(limitMs)}`];
  const widths = [6, 10, 10, 15, 18, 13, 8];
  const table = (cells: string[]) => `  ${cells.map((cell, index) => cell.padEnd(widths[index] ?? 10)).join('')}`.trimEnd();
  lines.push(table(header));
  for (const kill of ok.kills)
    lines.push(
      table([
        String(kill.kill),
        String(kill.afterEpoch ?? '-'),
        `+${seconds(kill.intoEpochMs)}`,
        seconds(kill.runningAfterMs),
        `${seconds(kill.nextEpochAfterMs)} (${kill.nextEpoch ?? '-'})`,
        kill.takenBy,
        kill.withinLimit ? 'yes' : 'NO',
      ]),
    );
  const times = ascending(ok.kills.map((kill) => kill.nextEpochAfterMs));
  const within = ok.kills.filter((kill) => kill.withinLimit).length;
  lines.push(
    `  kill -> next epoch: p50 ${seconds(percentile(times, 50))}, max ${seconds(percentile(times, 100))}; ` +
      `${within} of ${ok.kills.length} within CAVIAR_LOCK_MS + ${MARGIN_MS / 1000} s = ${seconds(limitMs)}`,
  );
  const describeTally = ({ count: seen, lost, doubled }: ReturnType<typeof tally>) =>
    `${seen} epoch events for 1..${epochs}: ${lost.length} lost${lost.length === 0 ? '' : ` (${lost.slice(0, 10).join(', ')})`}, ${doubled.length} doubled${doubled.length === 0 ? '' : ` (${doubled.slice(0, 10).join(', ')})`}`;
  lines.push(`  the store:                ${describeTally(ok.store)}`);
  lines.push(`  the API server's stream:  ${describeTally(ok.stream)}`);
  lines.push(`  the job: ${ok.status ?? 'not ended'} after ${ok.attempts ?? '?'} attempts`);
  lines.push(
    `  its model and an uninterrupted run's (normalization and every parameter, exact): ${same === undefined ? `not compared${'error' in reference ? `: ${reference.error}` : ''}` : same ? 'the same' : 'DIFFERENT'}` +
      (loads.uninterrupted === undefined ? '' : `; uninterrupted run ${describeLoad(loads.uninterrupted)}`),
  );
  targets.push({ target: `a killed host's job trains again within CAVIAR_LOCK_MS + ${MARGIN_MS / 1000} s, after each of ${kills} kills`, holds: within === kills && ok.kills.length === kills });
  targets.push({
    target: `0 lost and 0 doubled epochs across ${kills} kills (the store)`,
    holds: ok.store.lost.length === 0 && ok.store.doubled.length === 0 && ok.store.count === epochs,
  });
  targets.push({ target: "the final model equals an uninterrupted run's, bit for bit", holds: same });
}
lines.push('\nTargets:');
for (const target of targets) lines.push(`  ${target.target}: ${target.holds === undefined ? 'not measured' : target.holds ? 'holds' : 'MISSED'}`);
process.stdout.write(`${smoke ? `(smoke run: ${kills} kills, figures not meaningful)\n` : ''}${lines.join('\n')}\n`);

const out = values.out ?? resultsFile('host-kills', smoke);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      smoke,
      machine: host,
      servers: serversDescription,
      loads,
      settings: { kills, lockMs, epochs, limitMs, spec },
      result: ok === undefined ? result : { ...ok, model: undefined },
      sameModel: same,
      reference: 'error' in reference ? reference : { id: reference.id },
      targets,
    },
    null,
    2,
  ),
);
log(`\nwritten to ${out}\nrerun: npm run bench:host-kills${smoke ? ' -- --smoke' : ''}`);
if (ok === undefined || 'error' in reference) process.exitCode = 1;
