import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { WorkerPool } from '../../src/jobs/runner.js';
import type { WorkerTask } from '../../src/jobs/protocol.js';

const gradCheck: WorkerTask = {
  kind: 'gradcheck',
  spec: { model: { layers: [{ units: 3, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }] } },
  samples: 8,
  features: 2,
  seed: 1,
};
const options = { heartbeatMs: 1000, stallMs: 30_000 };

const exited = (pid: number) =>
  new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      try {
        process.kill(pid, 0);
      } catch {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  });

t.test('a worker process runs one task after another, and one that died is not reused', async (t) => {
  const pool = new WorkerPool({ threads: 1, keepIdle: 1 });
  t.teardown(() => pool.close());

  const first = pool.run(gradCheck, options);
  t.equal((await first.outcome).type, 'gradcheck');
  const second = pool.run(gradCheck, options);
  t.equal(second.pid, first.pid, 'the idle process took the next task');
  const outcome = await second.outcome;
  t.equal(outcome.type, 'gradcheck');
  if (outcome.type === 'gradcheck') t.ok(outcome.result.difference < 1e-7, 'and computed it as a new one would');

  const killed = pool.run(gradCheck, options);
  killed.kill();
  const crash = await killed.outcome;
  t.equal(crash.type, 'failed');
  if (crash.type === 'failed') t.equal(crash.error.code, 'WORKER_CRASHED');
  const after = pool.run(gradCheck, options);
  t.not(after.pid, first.pid, 'a new process replaced the killed one');
  t.equal((await after.outcome).type, 'gradcheck');
  killed.kill();
  t.equal((await pool.run(gradCheck, options).outcome).type, 'gradcheck', 'a late kill of an ended task touches nothing');
});

t.test('the pool keeps only keepIdle processes, and close ends them', async (t) => {
  const pool = new WorkerPool({ threads: 1, keepIdle: 1 });
  const runs = [pool.run(gradCheck, options), pool.run(gradCheck, options)];
  const pids = runs.map((run) => run.pid as number);
  t.not(pids[0], pids[1], 'two tasks at once, two processes');
  await Promise.all(runs.map((run) => run.outcome));
  await Promise.race(pids.map(exited));
  const alive = pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  t.equal(alive.length, 1, 'one went, one stays idle');
  pool.close();
  await exited(alive[0] as number);
  t.throws(() => process.kill(alive[0] as number, 0), 'closing the pool ended the idle process');
});

t.test('warm starts idle processes up to keepIdle, and the next tasks run in them', async (t) => {
  const pool = new WorkerPool({ threads: 1, keepIdle: 2 });
  t.teardown(() => pool.close());
  const children = () =>
    readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(process.pid);
        } catch {
          return false;
        }
      })
      .map(Number);
  const before = new Set(children());
  pool.warm(3);
  const warmed = children().filter((pid) => !before.has(pid));
  t.equal(warmed.length, 2, 'two processes started before any task, not three');
  pool.warm(2);
  t.equal(children().filter((pid) => !before.has(pid)).length, 2, 'warming again starts none');
  const runs = [pool.run(gradCheck, options), pool.run(gradCheck, options)];
  t.same(runs.map((run) => run.pid).sort(), [...warmed].sort(), 'the tasks ran in the warmed processes');
  for (const run of runs) t.equal((await run.outcome).type, 'gradcheck');
});
