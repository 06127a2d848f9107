// The real command line, `caviar serve` or `caviar worker`, with one addition for the
// fan-out benchmark (bench/service.ts): the time each event is published on the process's
// event hub, kept per (jobId, seq) and written to CAVIAR_BENCH_STAMPS as the process exits
// (SIGTERM and SIGINT stop it with an exit).
//   CAVIAR_BENCH_STAMPS=stamps.json node dist/bench/stamp-events.js serve    (or worker; CAVIAR_* as for them)
//
// Where the clock starts: Lifecycle publishes an event on its hub right after the store's
// transaction that appended it has committed (src/jobs/lifecycle.ts). So
// EventHub.prototype.publish is wrapped, before the command builds anything, to stamp each
// event first and then go on as before: the stamp is "appended and committed". On one
// machine the server is the process that commits, and its hub hands the event to the
// websockets. In the distributed mode a job's epochs are committed by the worker host
// that trains it, whose hub is a plain EventHub: stamped there, they are timed from that
// commit through PostgreSQL's notice to the API servers' websockets. (An API server's hub
// there, PgHub, also calls this publish, once it has read another process's event: a
// receipt, not a commit, so the benchmark does not stamp API servers.) Wrapping the
// prototype and then running src/cli.ts, rather than building the services here, keeps the
// processes under test the very ones `caviar serve` and `caviar worker` start. This is the
// script, not a module preloaded with --import: the training processes a server forks take
// its execArgv (src/jobs/runner.ts), and a preloaded module would run in each of them too,
// each writing its empty stamps over the server's.
//
// The clock: process.hrtime.bigint() reads CLOCK_MONOTONIC, one clock for every process on
// a Linux machine, so the client process (bench/service.ts) reads receipts on the same time
// line; performance.timeOrigin + performance.now() would also do, to within the few
// microseconds between the two clock reads each process makes at its start.
import { writeFileSync } from 'node:fs';
import { EventHub, type JobEvent } from '../src/jobs/index.js';

/** Milliseconds on CLOCK_MONOTONIC, comparable across the processes of one machine. */
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

const stampsPath = process.env.CAVIAR_BENCH_STAMPS;
if (stampsPath === undefined || stampsPath === '') throw new Error('CAVIAR_BENCH_STAMPS must name the file for the stamps');

/** jobId -> [seq, ms] in the order published. */
const stamps = new Map<string, [number, number][]>();
const publish = EventHub.prototype.publish;
EventHub.prototype.publish = function stampedPublish(this: EventHub, event: JobEvent): void {
  const at = monotonicMs();
  let job = stamps.get(event.jobId);
  if (job === undefined) stamps.set(event.jobId, (job = []));
  job.push([event.seq, at]);
  publish.call(this, event);
};

process.once('exit', () => writeFileSync(stampsPath, JSON.stringify(Object.fromEntries(stamps))));
// The command line reads its command from process.argv, as `caviar` would.
await import('../src/cli.js');
