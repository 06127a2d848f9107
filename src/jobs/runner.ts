// The server's side of the worker processes: a pool that keeps them for the next task, and
// one task's run in one of them, which passes on control messages and turns every way the
// task can end (a result, a crash, silence) into one outcome.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { unpackEpochs, type EpochMetrics } from '../engine/index.js';
import type { FromWorker, ToWorker, WorkerError, WorkerTask } from './protocol.js';

/** The last message of a worker, or the failure its death or silence stands for. */
export type Outcome = Exclude<FromWorker, { type: 'heartbeat' } | { type: 'epochs' }>;

export interface WorkerOptions {
  heartbeatMs: number;
  /** A worker silent this long is killed and its task failed as stalled. */
  stallMs: number;
  /** Epochs in order, handed over together, and the checkpoint after the last of them. */
  onEpochs?(epochs: EpochMetrics[], checkpoint: Uint8Array, best: boolean): Promise<void> | void;
  /** An onEpochs that failed: a bug of the caller's, reported rather than lost. */
  onError?(error: unknown): void;
}

// Next to this module: worker.js when compiled, worker.ts under a TypeScript loader (which
// fork passes on through execArgv).
const WORKER_PATH = fileURLToPath(new URL(`./worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

function crashError(code: number | null, signal: NodeJS.Signals | null): WorkerError {
  if (signal === 'SIGKILL')
    return { code: 'WORKER_CRASHED', message: 'the worker process was killed (SIGKILL): out of memory, or killed from outside' };
  if (signal !== null) return { code: 'WORKER_CRASHED', message: `the worker process died of ${signal}` };
  return { code: 'WORKER_CRASHED', message: `the worker process exited with code ${code} before reporting` };
}

/**
 * Worker processes kept between tasks. A process's start (node, then the engine's and the
 * data's modules) costs about a third of a CPU-second: paid once per process, not once per
 * job, which is most of a small sweep trial's cost. Each process runs one task at a time, so
 * a crash still fails one job alone; one that crashed, stalled or was killed is not reused.
 * Idle processes do not keep the parent alive: they exit when its IPC channel closes.
 */
export class WorkerPool {
  private readonly idle = new Set<ChildProcess>();

  constructor(private readonly options: { threads: number; keepIdle: number }) {}

  /** Runs a task in an idle process, or in a new one. */
  run(task: WorkerTask, options: WorkerOptions): WorkerProcess {
    return new WorkerProcess(this.take(), task, options, (child) => this.release(child));
  }

  /** Ends the idle processes. */
  close(): void {
    for (const child of this.idle) child.disconnect();
    this.idle.clear();
  }

  /** Starts processes until `count` wait idle (at most keepIdle), so that the first tasks find one booted. */
  warm(count: number): void {
    while (this.idle.size < Math.min(count, this.options.keepIdle)) this.release(this.spawn());
  }

  private take(): ChildProcess {
    for (const child of this.idle) {
      this.idle.delete(child);
      if (!child.connected) continue;
      child.ref();
      child.channel?.ref();
      return child;
    }
    return this.spawn();
  }

  private spawn(): ChildProcess {
    const child = fork(WORKER_PATH, [], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(this.options.threads) },
      // A worker collects between tasks, so a finished trainer's native memory goes with it.
      execArgv: [...process.execArgv, '--expose-gc'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('exit', () => this.idle.delete(child));
    // A failed spawn or send also ends in 'exit' (or the channel's close): the task's outcome
    // comes from there, and an unheard 'error' would bring the server down.
    child.on('error', () => {});
    return child;
  }

  private release(child: ChildProcess): void {
    if (!child.connected || this.idle.size >= this.options.keepIdle) {
      if (child.connected) child.disconnect();
      return;
    }
    child.unref();
    child.channel?.unref();
    this.idle.add(child);
  }
}

/** One task in one worker process. */
export class WorkerProcess {
  /** Settles once the task has ended, with how it ended. */
  readonly outcome: Promise<Outcome>;
  private stallTimer: NodeJS.Timeout | undefined;
  private stalled = false;
  /** Set once the task has reported: the process may be running another task by then. */
  private ended = false;

  constructor(
    private readonly child: ChildProcess,
    task: WorkerTask,
    private readonly options: WorkerOptions,
    private readonly release: (child: ChildProcess) => void,
  ) {
    this.outcome = this.watch();
    this.post({ type: 'task', task, heartbeatMs: options.heartbeatMs });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  cancel(): void {
    this.post({ type: 'cancel' });
  }

  /** Lets a stepwise task start its next epoch. */
  epochDone(): void {
    this.post({ type: 'epochDone' });
  }

  /** The rate from the next epoch on; `change` is the store's number for it. */
  setLearningRate(learningRate: number, change: number): void {
    this.post({ type: 'learningRate', learningRate, change });
  }

  /** Kills the process now; its outcome becomes a crash unless it had already reported. */
  kill(): void {
    if (!this.ended) this.child.kill('SIGKILL');
  }

  private post(message: ToWorker): void {
    if (!this.ended && this.child.connected) this.child.send(message);
  }

  private armStallTimer(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      this.stalled = true;
      this.child.kill('SIGKILL');
    }, this.options.stallMs);
  }

  private watch(): Promise<Outcome> {
    return new Promise((resolve) => {
      // Messages are handled one after another: epochs are kept before the next arrive.
      let handled = Promise.resolve();
      const end = (outcome: Outcome, reusable: boolean) => {
        this.ended = true;
        clearTimeout(this.stallTimer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        if (reusable) this.release(this.child);
        void handled.then(() => resolve(outcome));
      };
      const onMessage = (message: FromWorker) => {
        this.armStallTimer();
        if (message.type === 'heartbeat') return;
        if (message.type === 'epochs') {
          handled = handled
            .then(() => this.options.onEpochs?.(unpackEpochs(message.epochs), message.checkpoint, message.best))
            .catch((error: unknown) => this.options.onError?.(error));
          return;
        }
        end(message, true);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        end(
          this.stalled
            ? { type: 'failed', error: { code: 'WORKER_STALLED', message: `no word from the worker process in ${this.options.stallMs} ms` } }
            : { type: 'failed', error: crashError(code, signal) },
          false,
        );
      this.armStallTimer();
      this.child.on('message', onMessage);
      this.child.on('exit', onExit);
    });
  }
}
