// src/jobs: what a job is (spec, events), where it is kept (store), and how it runs (the
// lifecycle, the scheduler's slots, one worker process per running job).
export { EventHub, type EventListener } from './hub.js';
export { Lifecycle } from './lifecycle.js';
export * from './status.js';
export { Scheduler, type ControlResult, type SchedulerOptions } from './scheduler.js';
export { SqliteStore, StoreDamagedError } from './sqlite-store.js';
export { Sweeps, resolveSweep } from './sweeps.js';
export * from './sweep-spec.js';
export type { DatasetRecord, JobRecord, JobStore, SweepRecord } from './store.js';
export type { Outcome } from './runner.js';
export * from './events.js';
export * from './spec.js';
