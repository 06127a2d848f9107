import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

// The benchmark itself is `npm run bench:scale`; this smoke run (tiny sizes) keeps its four
// parts from rotting. No timings are asserted: only that each figure was measured and
// printed, with the load beside it.
const runner = fileURLToPath(new URL('../../dist/bench/scale.js', import.meta.url));

// Several processes at once on a shared machine: past the suite's 90 s per file when it is busy.
t.setTimeout(180_000);

t.test('the scale benchmark measures each part at two sizes and prints how it grows', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'caviar-bench-scale-')), 'smoke.json');
  const { stdout } = await promisify(execFile)(process.execPath, [runner, '--smoke', '--out', out], { maxBuffer: 16 << 20, timeout: 170_000 });
  for (const heading of ['Machine: ', 'W1 with more rows', 'CSV upload through a real server', 'Finished jobs in the store', 'A sweep through a real server', 'Faster than linear: '])
    t.match(stdout, heading);
  const { smoke, results, machine } = JSON.parse(readFileSync(out, 'utf8'));
  t.equal(smoke, true);
  t.type(machine.cpu, 'string');
  for (const part of ['rows', 'upload', 'jobs', 'sweep']) {
    t.notOk(results[part].error, `${part}: ${results[part].error ?? 'ran'}`);
    t.equal(results[part].runs.length, 2, `${part}: two sizes`);
    for (const run of results[part].runs) t.type(run.load.before.one, 'number', `${part}: the load beside it`);
  }
  const [small, large] = results.rows.runs;
  t.equal(large.rows, 2 * small.rows, 'the generated set has the scale times the rows');
  t.ok(large.samples_per_second > 0);
  for (const run of results.upload.runs) {
    t.equal(run.status, 201);
    t.ok(run.after_upload_seconds > 0);
    t.ok(run.server.rss_max_mib > 0);
    t.ok(run.import_worker.peak_mib > 0, 'the import worker was seen');
  }
  t.same(results.jobs.runs.map((run: { jobs: number }) => run.jobs), [30, 300]);
  for (const run of results.jobs.runs) {
    for (const latency of [run.list_first_page, run.get_by_id, run.list_limit_1000, run.list_name_filter, run.last_page]) t.ok(latency.p50_ms > 0);
    t.equal(run.walk.pages, Math.ceil(run.jobs / 100), 'every page through the cursor');
  }
  for (const run of results.sweep.runs) {
    t.equal(run.status, 'succeeded');
    t.ok(run.server_cpu_seconds_per_trial > 0);
    t.ok(run.worker_cpu_seconds_per_trial > 0);
  }
  t.match(stdout, /parse [\d.]+ s after the last byte .* import worker peak \d+ MiB; load \d/);
  t.match(stdout, /server CPU [\d.]+ ms a trial, workers [\d.]+ ms/);
});
