// Training never runs on the server's event loop: /healthz answers while two jobs train.
// The latencies are printed, not asserted (the machines are shared and noisy).
import t from 'tap';
import { call, slowJob, startService, waitFor } from '../fixtures/service.js';

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
  for (const id of jobs) t.equal((await call(service, 'POST', `/v1/jobs/${id}/cancel`)).status, 200);
});
