// Training never runs on the server's event loop: /healthz answers while two jobs train.
// The latencies are printed, not asserted (the machines are shared and noisy). /metrics
// passes Prometheus's own linter and counts requests by route.
import { spawn, spawnSync } from 'node:child_process';
import t from 'tap';
import { call, moonsJob, slowJob, startService, waitFor } from '../fixtures/service.js';

const REQUESTS = 300;

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] as number;
}

/** Sends `count` sequential GET /healthz: the latencies (ms, sorted) and how many got each status. */
async function probe(url: string, count: number) {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  for (let index = 0; index < count; index += 1) {
    const started = performance.now();
    const response = await fetch(`${url}/healthz`);
    await response.text();
    latencies.push(performance.now() - started);
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  }
  return { latencies: latencies.sort((a, b) => a - b), statuses };
}

const summary = ({ latencies }: { latencies: number[] }) =>
  `p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms, ` +
  `max ${(latencies.at(-1) as number).toFixed(2)} ms over ${latencies.length} requests`;

t.test('/healthz answers every request while two jobs train', async (t) => {
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '2' } });
  t.teardown(() => service.stop('SIGKILL'));
  // The same probe with nothing training, for comparison.
  const idle = await probe(service.url, REQUESTS);
  t.same([...idle.statuses], [[200, REQUESTS]], 'all answered 200 with nothing training');

  // Far more epochs than the measurement lasts; both are cancelled at the end.
  const jobs = [
    (await call(service, 'POST', '/v1/jobs', slowJob(500))).body.id as string,
    (await call(service, 'POST', '/v1/jobs', slowJob(500, { training: { epochs: 500, seed: 2 } }))).body.id as string,
  ];
  const progress = async () => Promise.all(jobs.map(async (id) => (await call(service, 'GET', `/v1/jobs/${id}`)).body));
  // Both running and both past their first epoch: training, not starting up.
  const before = await waitFor(async () => {
    const views = await progress();
    return views.every((view) => view.status === 'running' && view.epochsDone >= 1) ? views : undefined;
  });

  const busy = await probe(service.url, REQUESTS);

  const after = await progress();
  t.same([...busy.statuses], [[200, REQUESTS]], `all ${REQUESTS} requests answered 200 while they trained`);
  // A job's status never goes back to running once it leaves it: running before and after
  // means running throughout.
  t.same(after.map((view) => view.status), ['running', 'running'], 'both jobs were still running after the last request');
  t.ok(
    after.every((view, index) => view.epochsDone >= (before[index]?.epochsDone as number)),
    `epochs done: ${before.map((view) => view.epochsDone).join(', ')} before, ${after.map((view) => view.epochsDone).join(', ')} after`,
  );
  t.comment(`healthz with nothing training: ${summary(idle)}`);
  t.comment(`healthz while two jobs train: ${summary(busy)}`);
  // A running job stops at its next mini-batch: 202, cancelling.
  for (const id of jobs) t.match(await call(service, 'POST', `/v1/jobs/${id}/cancel`), { status: 202, body: { status: 'cancelling' } });
});

/** Runs `promtool check metrics` on the text: its exit code and what it printed. */
function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

/** The value of one sample line, e.g. caviar_sweeps{status="running"}; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const promtool = spawnSync('promtool', ['--version']).error === undefined;
const noPromtool = promtool ? {} : { skip: "promtool is not installed (Debian's prometheus package has it)" };

t.test('/metrics passes promtool check metrics and counts requests by route pattern, and sweeps and trials by status', noPromtool, async (t) => {
  const service = await startService({ env: { CAVIAR_CONCURRENCY: '1' } });
  t.teardown(() => service.stop('SIGKILL'));
  for (let index = 0; index < 3; index += 1) t.equal((await call(service, 'GET', '/healthz')).status, 200);
  for (const id of ['job_one', 'job_two']) t.equal((await call(service, 'GET', `/v1/jobs/${id}`)).status, 404);
  t.equal((await call(service, 'GET', '/no/such/route')).status, 404);
  // A sweep that outlasts the test, one trial at a time: running, with a trial running or queued.
  const sweep = await call(service, 'POST', '/v1/sweeps', { base: moonsJob(2000), trials: 3, parallel: 1, space: { '/training/seed': { grid: [1, 2, 3] } }, strategy: 'grid' });
  t.equal(sweep.status, 202, JSON.stringify(sweep.body));
  await waitFor(async () => (await call(service, 'GET', `/v1/sweeps/${sweep.body.id}`)).body.trials.length > 0);

  const response = await fetch(`${service.url}/metrics`);
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type'), /^text\/plain/);
  const text = await response.text();
  const checked = await promtoolCheck(text);
  t.equal(checked.code, 0, `promtool check metrics: ${checked.output.trim() || 'no complaints'}`);

  const count = (method: string, route: string, status: number) =>
    sample(text, `caviar_http_request_duration_seconds_count{method="${method}",route="${route}",status_code="${status}"}`);
  t.equal(count('GET', '/healthz', 200), 3);
  t.equal(count('GET', '/v1/jobs/:id', 404), 2, "two ids, one series: the route's pattern, not its URL");
  t.equal(count('GET', '/no/such/route', 404), undefined, 'no series for a URL that matched no route');
  t.equal(count('GET', 'unmatched', 404), 1, 'it counts as unmatched');
  t.equal(count('POST', '/v1/sweeps', 202), 1);
  t.equal(sample(text, 'caviar_sweeps{status="running"}'), 1);
  t.equal(sample(text, 'caviar_sweeps{status="succeeded"}'), 0, 'every status has its series, 0 included');
  const open = ['queued', 'running'].map((status) => sample(text, `caviar_sweep_trials{status="${status}"}`) ?? 0);
  t.equal(open[0]! + open[1]!, 1, `its one trial at a time is queued or running (${open.join(', ')})`);
  t.equal((await call(service, 'POST', `/v1/sweeps/${sweep.body.id}/cancel`)).status, 200);
});

