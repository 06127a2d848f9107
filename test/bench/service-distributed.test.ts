import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

// The benchmark itself is `npm run bench:service -- --distributed`; this smoke run keeps its
// distributed parts from rotting. Its figures depend on the machine, so nothing here asserts
// on their size. It runs against the tests' PostgreSQL and Redis (.ci/servers).
const service = fileURLToPath(new URL('../../dist/bench/service.js', import.meta.url));
const run = promisify(execFile);
const servers = { CAVIAR_DATABASE_URL: process.env.CAVIAR_TEST_DATABASE_URL ?? '', CAVIAR_REDIS_URL: process.env.CAVIAR_TEST_REDIS_URL ?? '' };
const skip = servers.CAVIAR_DATABASE_URL === '' || servers.CAVIAR_REDIS_URL === '' ? 'no PostgreSQL and Redis: set CAVIAR_TEST_DATABASE_URL and CAVIAR_TEST_REDIS_URL (.ci/servers starts them)' : false;

t.test('--distributed without a PostgreSQL and a Redis named is refused in one line', async (t) => {
  const none = { CAVIAR_DATABASE_URL: '', CAVIAR_REDIS_URL: '', CAVIAR_TEST_DATABASE_URL: '', CAVIAR_TEST_REDIS_URL: '' };
  const failed = await run(process.execPath, [service, '--distributed', '--smoke'], { env: { ...process.env, ...none } }).then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  );
  t.equal(failed?.code, 2);
  t.match(failed?.stderr, /^bench:service --distributed: the distributed benchmarks need a PostgreSQL and a Redis: set CAVIAR_DATABASE_URL/);
});

t.test('the distributed service benchmark measures submits, fan-out over two API servers and a sweep on one and two hosts', { skip }, async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'caviar-bench-')), 'service-distributed-smoke.json');
  const { stdout } = await run(process.execPath, [service, '--distributed', '--smoke', '--out', out], { env: { ...process.env, ...servers }, timeout: 240_000 });
  for (const heading of ['Submit throughput', 'Event fan-out', 'Distributed mode: PostgreSQL ', 'Durable submits, distributed', 'Event fan-out, distributed', 'Sweep through the API', 'Targets:'])
    t.match(stdout, heading);
  t.match(stdout, /accepted jobs\/s +[\d,]+ +target >= 1,000; embedded [\d,.]+ in this run: \d+\.\d\dx/, "the distributed figure beside the embedded one's");
  const written = JSON.parse(readFileSync(out, 'utf8'));
  t.equal(written.smoke, true);
  for (const part of ['distributed submit throughput', 'distributed event fan-out', 'sweep, embedded server', 'sweep, 1 worker host', 'sweep, 2 worker hosts'])
    t.type(written.loads[part].before.one, 'number', `${part}: the load beside it`);

  const { submit, fanout, sweep } = written.distributed;
  t.notOk('error' in submit, submit.error ?? 'the distributed submits ran');
  t.ok(submit.accepted > 0);
  t.ok(submit.durability.holds, 'every 202 is in PostgreSQL');
  t.equal(submit.durability.storedAfterKill, submit.durability.accepted);

  t.notOk('error' in fanout, fanout.error ?? 'the distributed fan-out ran');
  t.equal(fanout.servers, 2);
  t.equal(fanout.everySubscriberGotEveryEvent, true, fanout.incomplete?.join('; '));
  t.ok(fanout.timed > 0 && fanout.timed < fanout.events, "the worker host's events are timed, the API server's resume is not");
  t.ok(Number.isFinite(fanout.latencyMs.p99));

  const trials = written.sizes.sweepTrials as number;
  for (const name of ['embedded', 'oneHost', 'twoHosts']) {
    const figures = sweep[name];
    t.notOk('error' in figures, figures.error ?? `${name}: the sweep ran`);
    t.equal(figures.succeeded, trials, `${name}: every trial succeeded`);
    t.ok(figures.trialsPerMinute > 0);
  }
  t.same(sweep.oneHost.metrics, sweep.embedded.metrics, 'one host finds the metrics of the embedded server, trial for trial');
  t.same(sweep.twoHosts.metrics, sweep.embedded.metrics, 'and so do two');
});
