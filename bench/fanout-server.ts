// The real server, with one addition for the fan-out benchmark (bench/service.ts): the time
// each event is published, kept per (jobId, seq) and written to CAVIAR_BENCH_STAMPS when the
// server stops on SIGTERM or SIGINT.
//   CAVIAR_BENCH_STAMPS=stamps.json node dist/bench/fanout-server.js   (CAVIAR_* as for serve)
//
// Where the clock starts: Lifecycle publishes an event on the hub right after the store's
// transaction that appended it has committed (src/jobs/lifecycle.ts), and the hub is what
// hands it to the websockets. So EventHub.prototype.publish is wrapped, before the server is
// built, to stamp each event first and then fan it out as before: the stamp is "appended and
// committed", taken before any subscriber's send. Wrapping the prototype, rather than
// building the services here as src/server/index.ts does, keeps the server under test the
// very one `caviar serve` starts.
//
// The clock: process.hrtime.bigint() reads CLOCK_MONOTONIC, one clock for every process on
// a Linux machine, so the client process (bench/service.ts) reads receipts on the same time
// line; performance.timeOrigin + performance.now() would also do, to within the few
// microseconds between the two clock reads each process makes at its start.
import { writeFileSync } from 'node:fs';
import { EventHub, type JobEvent } from '../src/jobs/index.js';
import { loadConfig } from '../src/server/config.js';
import { startServer } from '../src/server/index.js';

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

const server = await startServer(loadConfig());
let stopping = false;
const onSignal = () => {
  if (stopping) return;
  stopping = true;
  const write = () => writeFileSync(stampsPath, JSON.stringify(Object.fromEntries(stamps)));
  server.stop().then(
    () => {
      write();
      process.exit(0);
    },
    (error: unknown) => {
      write();
      server.app.log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.once('SIGTERM', onSignal);
process.once('SIGINT', onSignal);
