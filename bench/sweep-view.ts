// The sweep view's cost (`npm run bench:sweep-view`): GET /v1/sweeps/:id ranks every trial,
// and the dashboard asks for it after each sweep event, so its time at a large sweep is the
// sweep page's latency. A finished sweep of --trials trials of --epochs epochs each is
// written into a fresh SQLite store through the store's own interface (the events a real
// sweep writes, with checkpoints of the real size of a small network), then the view is
// timed --repeats times; the median and the slowest are printed, with the CPU model.
//   npm run bench:sweep-view                         200 trials of 50 epochs
//   npm run bench:sweep-view -- --trials 500 --epochs 20
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventHub, Lifecycle, Scheduler, SqliteStore, Sweeps, type JobSpec } from '../src/jobs/index.js';

const { values: options } = parseArgs({
  options: {
    trials: { type: 'string', default: '200' },
    epochs: { type: 'string', default: '50' },
    repeats: { type: 'string', default: '20' },
  },
});
const trials = Number(options.trials);
const epochs = Number(options.epochs);
const repeats = Number(options.repeats);

const base: JobSpec = {
  dataset: { builtin: 'moons', samples: 300, noise: 0.2, seed: 3 },
  model: { layers: [{ units: 16, activation: 'relu' }, { units: 1, activation: 'sigmoid' }], init: 'he' },
  training: { epochs, batchSize: 32, seed: 1, optimizer: { type: 'adam', learningRate: 0.01 } },
};
const space = { '/training/optimizer/learningRate': { logUniform: [1e-4, 1e-1] as [number, number] } };
// A 2-16-1 network's weights and Adam moments: about 1.6 KB.
const checkpoint = new Uint8Array(1600);

const directory = mkdtempSync(join(tmpdir(), 'caviar-sweep-view-'));
const store = new SqliteStore(directory);
const hub = new EventHub();
const lifecycle = new Lifecycle(store, hub);
const log = { info: () => {}, error: (object: object, message: string) => console.error(message, object) };
const scheduler = new Scheduler(lifecycle, { concurrency: 1, threads: 1, heartbeatMs: 1000, stallMs: 60_000, log });
const sweeps = new Sweeps(lifecycle, scheduler, hub, log);

const sweepId = 'sweep_bench';
await store.createSweep({
  id: sweepId,
  spec: { base, space, trials, parallel: 2, strategy: 'random', rounds: 3, metric: 'dev.accuracy', mode: 'max', seed: 0 },
  status: 'running',
  createdAt: new Date().toISOString(),
});
const filled = performance.now();
for (let index = 0; index < trials; index += 1) {
  const jobId = `${sweepId}_t${index}`;
  const rate = 1e-4 * 1000 ** (index / trials);
  await store.createJobs([{ id: jobId, spec: base, trial: { sweepId, index, round: 0, values: { '/training/optimizer/learningRate': rate } } }]);
  const claimed = await store.claimNext();
  if (claimed === undefined) throw new Error('the trial was not claimed');
  for (let epoch = 1; epoch <= epochs; epoch += 1) {
    const accuracy = 0.5 + 0.45 * (1 - Math.exp(-epoch * rate * 10));
    await store.appendEpochs({
      jobId,
      attempt: claimed.job.attempt,
      checkpoint,
      events: [{
        type: 'epoch',
        jobId,
        epoch,
        lr: rate,
        seconds: 0.001,
        train: { loss: 1 - accuracy, accuracy },
        dev: { loss: 1 - accuracy, accuracy: accuracy - 0.01 },
        layers: [
          { weightNorm: 4.1, gradNorm: 0.3 },
          { weightNorm: 2.2, gradNorm: 0.1 },
        ],
      }],
    });
  }
  await store.transition(jobId, {
    from: ['running'],
    to: 'succeeded',
    attempt: claimed.job.attempt,
    event: { type: 'done', jobId, status: 'succeeded' },
  });
}
await store.finishSweep(sweepId, 'succeeded', { type: 'done', sweepId, status: 'succeeded' });
const fillSeconds = (performance.now() - filled) / 1000;

const times: number[] = [];
for (let repeat = 0; repeat < repeats; repeat += 1) {
  const started = performance.now();
  const view = await sweeps.view(sweepId);
  times.push(performance.now() - started);
  if (view?.trials.length !== trials) throw new Error(`the view has ${view?.trials.length} trials, not ${trials}`);
}
times.sort((a, b) => a - b);
const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
console.log(`sweep view, ${trials} trials x ${epochs} epochs (store filled in ${fillSeconds.toFixed(1)} s), ${cpu}`);
console.log(`  median ${(times[Math.floor(repeats / 2)] as number).toFixed(1)} ms, slowest ${(times[repeats - 1] as number).toFixed(1)} ms over ${repeats} views`);
store.close();
rmSync(directory, { recursive: true, force: true });
