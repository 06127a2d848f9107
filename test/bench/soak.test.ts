import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

// The soak itself is `npm run bench:soak`; this smoke run (40 jobs, 60 socket connects)
// keeps it from rotting. Memory and handle figures are printed, not asserted: only that
// every job and socket ran its course, each sample was taken, and the run ended by itself.
const runner = fileURLToPath(new URL('../../dist/bench/soak.js', import.meta.url));

// Several processes at once on a shared machine: past the suite's 90 s per file when it is busy.
t.setTimeout(180_000);

t.test('the soak runs jobs in waves and sockets through one server and prints its memory and handles', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'caviar-bench-soak-')), 'smoke.json');
  const { stdout } = await promisify(execFile)(process.execPath, [runner, '--smoke', '--out', out], { maxBuffer: 16 << 20, timeout: 170_000 });
  t.match(stdout, 'Machine: ');
  t.match(stdout, /start -> end: RSS -?[\d.]+ MiB, heap -?[\d.]+ MiB, external -?[\d.]+ MiB, fds -?\d+, handles -?\d+/);
  t.match(stdout, /\n {2}completed\n/);
  const { smoke, outcome, samples, sizes } = JSON.parse(readFileSync(out, 'utf8'));
  t.equal(smoke, true);
  t.equal(outcome.completed, true, outcome.reason ?? 'completed');
  t.equal(outcome.submitted, sizes.jobs);
  t.same(outcome.statuses, { succeeded: sizes.jobs });
  t.equal(outcome.subscribers.opened, (sizes.jobs / sizes.wave) * sizes.subscribers);
  t.equal(outcome.subscribers.otherCloses, 0, 'every job subscriber left or was closed 1000 after done');
  t.same(outcome.churn, { connects: sizes.churn, closed: sizes.churn });
  t.equal(outcome.shutdown.code, 0, 'SIGTERM stops the server cleanly');
  const at = samples.map((sample: { at: string }) => sample.at);
  t.same(at.slice(0, 2), ['start', 'wave 1']);
  t.ok(at.includes('after the jobs') && at.includes('after the sockets') && at.at(-1) === 'idle, 3 s later');
  for (const sample of samples) {
    t.ok(sample.rssMiB > 0 && sample.openHandles > 0, `${sample.at}: RSS and handles`);
    t.type(sample.load.one, 'number');
  }
  t.equal(samples.at(-1).websocketClients, 0, 'no websocket left open');
});
