// A sweep run on this machine without the service (`caviar sweep`): the same store,
// scheduler, worker processes and sweep controller, on a store in a temporary folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { EventHub } from './hub.js';
import { Lifecycle } from './lifecycle.js';
import { Scheduler } from './scheduler.js';
import { SqliteStore } from './sqlite-store.js';
import type { SweepEvent, SweepSpec, SweepView } from './sweep-spec.js';
import { Sweeps, resolveSweep } from './sweeps.js';

export interface LocalSweepOptions {
  /** Trials trained at once; each worker gets cores / concurrency BLAS threads. */
  concurrency: number;
  cores: number;
  memoryLimitBytes: number;
  onEvent(event: SweepEvent): void;
}

/** Starts a sweep; `done` resolves with its ranked trials once every trial has ended. */
export async function runLocalSweep(spec: SweepSpec, options: LocalSweepOptions): Promise<{ done: Promise<SweepView>; cancel(): void }> {
  const directory = mkdtempSync(join(tmpdir(), 'caviar-sweep-'));
  const store = new SqliteStore(directory);
  const hub = new EventHub();
  const lifecycle = new Lifecycle(store, hub);
  const log = { info: () => {}, error: (object: object, message: string) => console.error(message, object) };
  const scheduler = new Scheduler(lifecycle, {
    concurrency: options.concurrency,
    threads: Math.max(1, Math.floor(options.cores / options.concurrency)),
    heartbeatMs: 1000,
    stallMs: 60_000,
    log,
  });
  // The workers boot (about a third of a CPU-second each) while the sweep is resolved.
  scheduler.warmUp();
  const sweeps = new Sweeps(lifecycle, scheduler, hub, log);
  const cleanUp = async () => {
    await scheduler.shutdown(1000);
    await store.close();
    rmSync(directory, { recursive: true, force: true });
  };
  try {
    const resolved = await resolveSweep(spec, store, options.concurrency, options.memoryLimitBytes);
    const id = `sweep_${randomBytes(6).toString('base64url')}`;
    const done = new Promise<SweepView>((resolve, reject) => {
      sweeps.subscribe(id, (event) => {
        options.onEvent(event);
        if (event.type !== 'done') return;
        sweeps
          .view(id)
          .then(async (view) => {
            await cleanUp();
            resolve(view as SweepView);
          })
          .catch(reject);
      });
    });
    await sweeps.start(id, resolved);
    return { done, cancel: () => void sweeps.cancel(id) };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
