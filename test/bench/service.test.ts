import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

// The benchmark itself is `npm run bench:service`; this smoke run keeps it from rotting.
// Its figures depend on the machine, so nothing here asserts on their size.
const service = fileURLToPath(new URL('../../dist/bench/service.js', import.meta.url));

t.test('the service benchmark measures submits and event fan-out and prints the table', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'caviar-bench-')), 'service-smoke.json');
  const { stdout } = await promisify(execFile)(process.execPath, [service, '--smoke', '--out', out], { timeout: 80_000 });
  for (const heading of ['Machine: ', 'Submit throughput', 'Event fan-out', 'Targets:']) t.match(stdout, heading);
  t.match(stdout, /Submit throughput: .*, load \d+\.\d\d->\d+\.\d\d/);
  const written = JSON.parse(readFileSync(out, 'utf8'));
  t.equal(written.smoke, true);
  t.type(written.machine.blas, 'string');
  for (const part of ['submit throughput', 'event fan-out']) t.type(written.loads[part].before.one, 'number', `${part}: the load beside it`);

  const { submit, fanout } = written;
  t.notOk('error' in submit, submit.error ?? 'submit ran');
  t.ok(submit.accepted > 0);
  t.ok(submit.acceptedPerSecond > 0);
  t.ok(submit.durability.holds, 'every 202 was stored');

  t.notOk('error' in fanout, fanout.error ?? 'fan-out ran');
  t.equal(fanout.subscribers, 20);
  t.ok(fanout.events > 2, 'status events, epochs and done');
  t.equal(fanout.everySubscriberGotEveryEvent, true, fanout.incomplete?.join('; '));
  t.equal(fanout.received.min, fanout.events);
  t.equal(fanout.timed, fanout.events, 'every event has its commit stamp: the server committed them all');
  for (const figures of [fanout.latencyMs, fanout.lastSubscriberMs])
    for (const key of ['p50', 'p99', 'max']) t.type(figures[key], 'number');
  t.ok(Number.isFinite(fanout.latencyMs.p99));
});
