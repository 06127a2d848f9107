// W2 as a user sees it, a part of `npm run bench` (run.ts): the workload's job spec trained
// by a whole `caviar train` process and by a real server, each timed from outside, less the
// same with 1 epoch, so that what is left is the cost of the epochs past the first as the
// user waits for them: the engine's epochs with everything each epoch brings around them.
//   caviar train   the process's wall time, from its spawn to its exit: node's start, the
//                  modules, the data, the CLI's lines (one an epoch, every k-th past 100
//                  epochs: about 100) and the final score;
//   the service    from just before the POST /v1/jobs to the receipt of the done event on the
//                  job's websocket: the admission, the worker's data, an event, a checkpoint
//                  and a store commit each epoch, the score, the websocket.
// updates/s = (epochs - 1) x updates per epoch / (wall(epochs) - wall(1)), each wall the
// fastest of --repeat rounds (interference only slows a run down), the runs alternating.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { childrenOf, startedThreadSettings, threadSettings, withLoad, type LoadSpan } from './machine.js';
import { cli, runJob, startServerProcess, stopServer } from './server-process.js';
import { jobSpecOf, workload } from './workloads.js';

/** One way of running the job: its walls with the epochs and with 1, and what they give. */
export interface UserViewWay {
  /** Absent when the full run took no longer than the 1-epoch run: `unmeasured` says so. */
  updates_per_second?: number;
  unmeasured?: string;
  /** The fastest wall of the full run, and of the 1-epoch run. */
  seconds: number;
  one_epoch_seconds: number;
  /** Every wall measured, in order. */
  attempts: { epochs: number; seconds: number; load: LoadSpan }[];
  /** The thread settings the training process was started with. */
  thread_settings: Record<string, string>;
  train_accuracy?: number;
}

export interface UserViewFigures {
  epochs: number;
  updates_per_epoch: number;
  repeat: number;
  cli: UserViewWay;
  service: UserViewWay;
}

const runFile = promisify(execFile);

/** `caviar train SPEC.json`'s wall seconds, spawn to exit. */
async function trainWall(specPath: string): Promise<number> {
  const started = performance.now();
  await runFile(process.execPath, [cli, 'train', specPath], { maxBuffer: 16 << 20 });
  return (performance.now() - started) / 1000;
}

/** Collects walls per epochs count and keeps the fastest of each. */
class Walls {
  readonly attempts: UserViewWay['attempts'] = [];
  accuracy: number | undefined;

  async time(epochs: number, run: () => Promise<number>): Promise<void> {
    const { value: seconds, load } = await withLoad(run);
    this.attempts.push({ epochs, seconds, load });
  }

  way(epochs: number, updatesPerEpoch: number, threads: Record<string, string>): UserViewWay {
    const fastest = (count: number) => Math.min(...this.attempts.filter((attempt) => attempt.epochs === count).map((attempt) => attempt.seconds));
    const seconds = fastest(epochs);
    const one = fastest(1);
    return {
      ...(seconds > one
        ? { updates_per_second: ((epochs - 1) * updatesPerEpoch) / (seconds - one) }
        : { unmeasured: `${epochs} epochs took no longer than 1: the noise of the runs outweighed their difference` }),
      seconds,
      one_epoch_seconds: one,
      attempts: this.attempts,
      thread_settings: threads,
      ...(this.accuracy === undefined ? {} : { train_accuracy: this.accuracy }),
    };
  }
}

export async function measureUserView(epochs: number, repeat: number, log: (message: string) => void): Promise<UserViewFigures> {
  if (!Number.isInteger(epochs) || epochs < 2) throw new Error(`needs at least 2 epochs to take 1 away, not ${epochs}`);
  const spec = workload('W2');
  const { samples } = spec.dataset as { samples: number };
  const updatesPerEpoch = Math.ceil(samples / spec.training.batchSize);
  const jobSpec = (count: number) => jobSpecOf('W2', spec.dataset as { builtin: string }, count);
  const directory = mkdtempSync(join(tmpdir(), 'caviar-bench-user-view-'));
  const specPath = (count: number) => join(directory, `w2-${count}.json`);
  for (const count of [1, epochs]) writeFileSync(specPath(count), JSON.stringify(jobSpec(count), null, 2));
  const server = await startServerProcess(cli, ['serve'], {});
  try {
    // A user's first job also waits for a worker process to start; the pool keeps it for the next.
    await runJob(server, jobSpec(1));
    const train = new Walls();
    const service = new Walls();
    for (let round = 1; round <= repeat; round += 1) {
      for (const count of [1, epochs]) {
        log(`W2 as a user sees it: caviar train, ${count} epoch${count === 1 ? '' : 's'}${repeat > 1 ? ` (round ${round} of ${repeat})` : ''}...`);
        await train.time(count, () => trainWall(specPath(count)));
        log(`W2 as a user sees it: through the service, ${count} epoch${count === 1 ? '' : 's'}...`);
        await service.time(count, async () => {
          const job = await runJob(server, jobSpec(count));
          if (job.done.result?.epochs !== count) throw new Error(`job ${job.id} trained ${job.done.result?.epochs} epochs, not ${count}`);
          if (count === epochs) service.accuracy = job.done.result.train.accuracy;
          return (job.doneAt - job.postedAt) / 1000;
        });
      }
    }
    const [worker] = childrenOf(server.child.pid as number);
    return {
      epochs,
      updates_per_epoch: updatesPerEpoch,
      repeat,
      cli: train.way(epochs, updatesPerEpoch, threadSettings()),
      service: service.way(epochs, updatesPerEpoch, worker === undefined ? {} : startedThreadSettings(worker)),
    };
  } finally {
    await stopServer(server, 'SIGTERM');
    rmSync(server.dataDirectory, { recursive: true, force: true });
    rmSync(directory, { recursive: true, force: true });
  }
}
