// The server's side of one worker process: starts it with its task, passes on control
// messages, and turns every way it can end (a result, a crash, silence) into one outcome.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EpochMetrics } from '../engine/index.js';
import type { FromWorker, ToWorker, WorkerError, WorkerTask } from './protocol.js';

/** The last message of a worker, or the failure its death or silence stands for. */
export type Outcome = Exclude<FromWorker, { type: 'heartbeat' } | { type: 'epoch' }>;

export interface WorkerOptions {
  /** OpenBLAS threads of the process. */
  threads: number;
  heartbeatMs: number;
  /** A worker silent this long is killed and its task failed as stalled. */
  stallMs: number;
  onEpoch?(metrics: EpochMetrics, checkpoint: Uint8Array, best: boolean): Promise<void> | void;
  /** An onEpoch that failed: a bug of the caller's, reported rather than lost. */
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

export class WorkerProcess {
  /** Settles once the process has exited, with how the task ended. */
  readonly outcome: Promise<Outcome>;
  private readonly child: ChildProcess;
  private stallTimer: NodeJS.Timeout | undefined;
  private stalled = false;

  constructor(task: WorkerTask, private readonly options: WorkerOptions) {
    this.child = fork(WORKER_PATH, [], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(options.threads) },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
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

  setLearningRate(learningRate: number): void {
    this.post({ type: 'learningRate', learningRate });
  }

  /** Kills the process now; its outcome becomes a crash unless it had already reported. */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  private post(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
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
      let reported: Outcome | undefined;
      // Messages are handled one after another: an epoch is kept before the next arrives.
      let handled = Promise.resolve();
      this.armStallTimer();
      this.child.on('message', (message: FromWorker) => {
        this.armStallTimer();
        if (message.type === 'heartbeat') return;
        if (message.type === 'epoch') {
          handled = handled
            .then(() => this.options.onEpoch?.(message.metrics, message.checkpoint, message.best))
            .catch((error: unknown) => this.options.onError?.(error));
          return;
        }
        reported = message;
      });
      this.child.on('error', () => {
        // A failed spawn also emits 'exit' (or never started): the outcome comes from there.
      });
      this.child.on('exit', (code, signal) => {
        clearTimeout(this.stallTimer);
        const outcome: Outcome =
          reported ??
          (this.stalled
            ? { type: 'failed', error: { code: 'WORKER_STALLED', message: `no word from the worker process in ${this.options.stallMs} ms` } }
            : { type: 'failed', error: crashError(code, signal) });
        void handled.then(() => resolve(outcome));
      });
    });
  }
}
