import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

// The benchmark itself is `npm run bench:sweep`; this smoke run (tiny sizes, a few
// seconds) keeps its three runners from rotting. No timed assertions: the figures of a
// smoke run mean nothing, and the tests around it share the machine.
const runner = fileURLToPath(new URL('../../dist/bench/sweep.js', import.meta.url));
const torchMissing = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0;

interface Outcome {
  trial: number;
  status: string;
  best_dev_accuracy?: number;
}
interface Figures {
  trials: number;
  finished: number;
  wall_seconds: number;
  trials_per_minute: number;
  cpu_seconds: number;
  core_utilisation: number;
  best_dev_accuracy?: number;
  outcomes: Outcome[];
  error?: string;
}

t.test('the sweep benchmark runs the Caviar sweep, one at a time and the PyTorch driver on the same trials', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'caviar-bench-sweep-')), 'smoke.json');
  const args = [runner, '--smoke', '--out', out, ...(torchMissing ? ['--peers', 'caviar'] : [])];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 16 << 20 });
  for (const heading of ['caviar sweep', 'caviar one at a time', 'sweep over one at a time', 'Targets:']) t.match(stdout, heading);
  const written = JSON.parse(readFileSync(out, 'utf8'));
  t.equal(written.smoke, true);
  const trials = written.workload.sizes.trials as number;
  t.ok(trials >= 2);
  t.equal(written.trials.length, trials, 'the trials file lists every trial, with its values');
  for (const trial of written.trials) {
    t.type(trial.values['/training/optimizer/learningRate'], 'number');
    t.ok([16, 32, 64].includes(trial.values['/model/layers/0/units']));
  }

  const runners = ['caviar sweep', 'caviar one at a time', 'pytorch sweep'];
  for (const name of runners) {
    if (name === 'pytorch sweep' && torchMissing) {
      await t.test(name, { skip: '/usr/bin/python3 cannot import torch (apt-get install python3-torch)' }, async () => {});
      continue;
    }
    const figures = written.results[name] as Figures | undefined;
    t.ok(figures, `${name}: measured`);
    if (figures === undefined) continue;
    t.notOk(figures.error, `${name}: ${figures.error ?? 'ran'}`);
    t.equal(figures.trials, trials, `${name}: every trial`);
    t.equal(figures.finished, trials, `${name}: every trial finished`);
    t.same(
      figures.outcomes.map((outcome) => outcome.status),
      Array(trials).fill('succeeded'),
      `${name}: every trial succeeded`,
    );
    t.same(
      figures.outcomes.map((outcome) => outcome.trial),
      Array.from({ length: trials }, (_, index) => index),
      `${name}: the same trials`,
    );
    for (const { trial, best_dev_accuracy: accuracy } of figures.outcomes)
      t.ok(accuracy !== undefined && accuracy > 0 && accuracy <= 1, `${name} trial ${trial}: a dev accuracy`);
    t.ok(figures.wall_seconds > 0 && figures.trials_per_minute > 0, `${name}: wall and trials/minute`);
    t.ok(figures.cpu_seconds > 0 && figures.core_utilisation > 0, `${name}: CPU and core utilisation`);
  }

  // Deterministic training: the sweep's workers and the one-at-a-time runner agree.
  t.equal(written.ratios.sweep_and_one_at_a_time_agree, true);
  t.type(written.ratios.sweep_speedup_over_one_at_a_time, 'number');
  if (!torchMissing) t.type(written.ratios.sweep_trials_per_minute_over_torch, 'number');
  t.ok(written.targets.find((target: { target: string }) => target.target.startsWith('every trial finished')).holds);
});
