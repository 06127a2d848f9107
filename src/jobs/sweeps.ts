// Sweeps: many trials of one base spec over a search space, each an ordinary job. The
// controller keeps at most `parallel` trials queued or running (so a later single job
// waits for one trial, never for the whole sweep), stops trials that fall behind, ranks
// them by the metric of their final epoch (the weights their models have), and carries on
// after a restart from what the store holds.
import { validate } from '../engine/index.js';
import { SpecError, admit } from './admission.js';
import { shouldStop } from './early-stopping.js';
import type { EpochEvent, JobEvent } from './events.js';
import type { EventHub, SweepEventListener } from './hub.js';
import type { Lifecycle } from './lifecycle.js';
import type { EpochJudge, Scheduler } from './scheduler.js';
import {
  Random,
  applySample,
  boxAround,
  checkSpace,
  corners,
  defaultSpace,
  fullBox,
  grid,
  sample,
  type Box,
  type Sample,
} from './search-space.js';
import { JobSpecSchema, type JobSpec } from './spec.js';
import { isFinal } from './status.js';
import type { JobRecord, JobStore, SweepRecord, TrialRecord } from './store.js';
import type {
  RankedTrial,
  ResolvedSweepSpec,
  SweepMetric,
  SweepSpec,
  SweepView,
  TrialStatus,
  UnsequencedSweepEvent,
} from './sweep-spec.js';

const DEFAULT_TRIALS = 20;
const DEFAULT_ROUNDS = 3;
/** Coarse-to-fine: the share of the trials in the first, coarse round. */
const COARSE_SHARE = 0.5;
/** Coarse-to-fine: the best share of finished trials that a later round's box surrounds. */
const BEST_SHARE = 0.2;

function isClassifier(spec: JobSpec): boolean {
  const output = spec.model.layers[spec.model.layers.length - 1]?.activation;
  return output === 'softmax' || output === 'sigmoid';
}

/** The value of the metric in an epoch event, if the event has it. */
function metricOf(event: Pick<EpochEvent, 'train' | 'dev'>, metric: SweepMetric): number | undefined {
  const [part, name] = metric.split('.') as ['dev' | 'train', 'loss' | 'accuracy' | 'f1'];
  return event[part]?.[name];
}

/** A seed of its own for each trial, so that a restart draws trial i's values again the same. */
const trialSeed = (seed: number, trial: number) => (seed * 1_000_003 + trial) % Number.MAX_SAFE_INTEGER;

/** Fills a sweep spec's defaults, and refuses one whose trials could not run. */
export async function resolveSweep(spec: SweepSpec, store: JobStore, concurrency: number, memoryLimitBytes: number): Promise<ResolvedSweepSpec> {
  const base: JobSpec = { ...spec.base, training: { ...spec.base.training, optimizer: spec.base.training.optimizer ?? { type: 'adam' } } };
  const space = spec.space ?? defaultSpace(base);
  if (Object.keys(space).length === 0) throw new SpecError('INVALID_SPEC', 'the space has no dimension', '/space');
  const problem = checkSpace(space);
  if (problem !== undefined) throw new SpecError('INVALID_SPEC', problem.message, problem.path);
  const strategy = spec.strategy ?? 'random';
  let trials = spec.trials ?? DEFAULT_TRIALS;
  if (strategy === 'grid') {
    let points: Sample[];
    try {
      points = grid(space);
    } catch (error) {
      throw new SpecError('INVALID_SPEC', (error as Error).message, '/space');
    }
    if (spec.trials !== undefined && spec.trials !== points.length)
      throw new SpecError('INVALID_SPEC', `a grid of this space has ${points.length} points, not ${spec.trials}: leave trials out`, '/trials');
    trials = points.length;
  }
  const devShare = base.split?.dev ?? 0.2;
  const metric = spec.metric ?? `${devShare > 0 ? 'dev' : 'train'}.${isClassifier(base) ? 'accuracy' : 'loss'}` as SweepMetric;
  if ((metric.endsWith('accuracy') || metric.endsWith('f1')) && !isClassifier(base))
    throw new SpecError('INVALID_SPEC', `${metric} needs a classifier (a softmax or sigmoid output): use a loss`, '/metric');
  if (metric.startsWith('dev') && devShare === 0) throw new SpecError('INVALID_SPEC', `${metric} needs a dev part: set base.split.dev above 0`, '/metric');
  const resolved: ResolvedSweepSpec = {
    ...(spec.name === undefined ? {} : { name: spec.name }),
    base,
    space,
    trials,
    parallel: spec.parallel ?? concurrency,
    strategy,
    rounds: spec.rounds ?? DEFAULT_ROUNDS,
    metric,
    mode: spec.mode ?? (metric.endsWith('loss') ? 'min' : 'max'),
    seed: spec.seed ?? 0,
    ...(spec.stopping === undefined ? {} : { stopping: spec.stopping }),
  };
  // The ends of the space (and every listed value) must make valid jobs.
  for (const corner of corners(space)) {
    let trialSpec: JobSpec;
    try {
      trialSpec = validate(JobSpecSchema, applySample(base, corner), '/base');
    } catch (error) {
      const path = (error as SpecError).path ?? '/space';
      throw new SpecError('INVALID_SPEC', `a trial at ${JSON.stringify(corner)} would be invalid: ${(error as Error).message}`, path);
    }
    await admit(trialSpec, store, memoryLimitBytes);
  }
  return resolved;
}

interface Trial extends TrialRecord {
  status: TrialStatus;
  /** The epochs its spec trains. */
  epochs: number;
  /** The metric after each epoch, oriented so that higher is better. */
  history: number[];
  /** The epoch whose weights its model has, once it has succeeded (early stopping may restore an earlier one). */
  modelEpoch?: number;
}

/** A trial's score for ranking: the metric of the epoch its model comes from, oriented (higher is better). */
const finalScore = (trial: Trial): number | undefined => trial.history[(trial.modelEpoch ?? trial.history.length) - 1];

interface ActiveSweep {
  record: SweepRecord;
  trials: Map<string, Trial>;
  /** The first-ranked succeeded trial, by its final score. */
  best?: Trial;
  /** Events and advances of one sweep run one after another. */
  queue: Promise<void>;
}

const OPEN: ReadonlySet<TrialStatus> = new Set(['queued', 'running', 'paused']);

/**
 * Where several API servers share the store: each sweep is controlled by the one server
 * that holds its lease, and another takes it over (recover) once that one is gone.
 */
export interface SweepOwnership {
  /** Takes the sweep's lease for this server; false when another server holds it. */
  acquire(sweepId: string): Promise<boolean>;
  /** Gives the lease up: the sweep has ended. */
  release(sweepId: string): Promise<void>;
}

export class Sweeps implements EpochJudge {
  private readonly active = new Map<string, ActiveSweep>();
  private readonly sweepOfJob = new Map<string, string>();

  constructor(
    private readonly lifecycle: Lifecycle,
    private readonly scheduler: Scheduler,
    private readonly hub: EventHub,
    private readonly log: { error(object: object, message: string): void },
    private readonly ownership?: SweepOwnership,
  ) {
    scheduler.setJudge(this);
    hub.subscribe('*', (event) => {
      const sweepId = this.sweepOfJob.get(event.jobId);
      const sweep = sweepId === undefined ? undefined : this.active.get(sweepId);
      if (sweep === undefined) return;
      this.enqueue(sweep, () => this.onJobEvent(sweep, event));
    });
  }

  /** Trials of sweeps with a stopping rule wait for its verdict after each epoch. */
  judges(job: JobRecord): boolean {
    if (job.sweepId === undefined) return false;
    return this.active.get(job.sweepId)?.record.spec.stopping !== undefined;
  }

  rankMetric(job: JobRecord): string | undefined {
    return job.sweepId === undefined ? undefined : this.active.get(job.sweepId)?.record.spec.metric;
  }

  async judged(jobId: string): Promise<void> {
    const sweepId = this.sweepOfJob.get(jobId);
    const sweep = sweepId === undefined ? undefined : this.active.get(sweepId);
    await sweep?.queue;
  }

  private get store(): JobStore {
    return this.lifecycle.store;
  }

  /** Listens to a sweep's events (its trials' epochs among them); returns the unsubscribe. */
  subscribe(sweepId: string, listener: SweepEventListener): () => void {
    return this.hub.subscribeSweep(sweepId, listener);
  }

  private enqueue(sweep: ActiveSweep, step: () => Promise<void>): void {
    sweep.queue = sweep.queue.then(step).catch((error: unknown) => this.log.error({ err: error, sweepId: sweep.record.id }, 'sweep step failed'));
  }

  private async emit(sweep: ActiveSweep, event: UnsequencedSweepEvent): Promise<void> {
    this.hub.publishSweep(await this.store.appendSweepEvent(sweep.record.id, event));
  }

  async start(id: string, spec: ResolvedSweepSpec): Promise<void> {
    const record: SweepRecord = { id, spec, status: 'running', createdAt: new Date().toISOString() };
    // Held before the sweep exists, so that no other server takes it over as ownerless.
    if (this.ownership !== undefined && !(await this.ownership.acquire(id))) throw new Error(`the lease of new sweep ${id} is held elsewhere`);
    await this.store.createSweep(record);
    const sweep: ActiveSweep = { record, trials: new Map(), queue: Promise.resolve() };
    this.active.set(id, sweep);
    this.enqueue(sweep, () => this.advance(sweep));
    await sweep.queue;
  }

  /**
   * Picks up the sweeps a previous server left running, with their trials' histories; with
   * an ownership, only those whose lease it takes (their server is gone), and it is called
   * again to take over more.
   */
  async recover(): Promise<void> {
    for (const record of await this.store.listSweeps('running')) {
      if (this.active.has(record.id)) continue;
      if (this.ownership !== undefined && !(await this.ownership.acquire(record.id))) continue;
      const sweep: ActiveSweep = { record, trials: new Map(), queue: Promise.resolve() };
      this.active.set(record.id, sweep);
      const unfinishedVerdicts: string[] = [];
      for (const stored of await this.store.trials(record.id)) {
        const job = (await this.store.getJob(stored.jobId)) as JobRecord;
        const epochs = applySample(record.spec.base, stored.values).training.epochs;
        const trial: Trial = { ...stored, status: job.status, epochs, history: [], ...(job.result === undefined ? {} : { modelEpoch: job.result.epochs }) };
        this.track(sweep, trial);
        for (const event of await this.store.epochs(stored.jobId)) this.recordEpoch(sweep, trial, event);
        this.rank(sweep, trial);
        // The rule stopped it, but the server went down before its job ended.
        if (stored.stopped && !isFinal(job.status)) unfinishedVerdicts.push(trial.jobId);
      }
      this.enqueue(sweep, async () => {
        for (const jobId of unfinishedVerdicts) await this.scheduler.stop(jobId);
        await this.advance(sweep);
      });
    }
  }

  private track(sweep: ActiveSweep, trial: Trial): void {
    sweep.trials.set(trial.jobId, trial);
    this.sweepOfJob.set(trial.jobId, sweep.record.id);
  }

  /** Adds an epoch's metric to a trial's history. */
  private recordEpoch(sweep: ActiveSweep, trial: Trial, event: EpochEvent): void {
    const value = metricOf(event, sweep.record.spec.metric);
    if (value === undefined) return;
    trial.history.length = event.epoch - 1;
    trial.history.push(sweep.record.spec.mode === 'max' ? value : -value);
  }

  /** Makes a succeeded trial the sweep's best when its final score beats the best's; true when it did. */
  private rank(sweep: ActiveSweep, trial: Trial): boolean {
    const score = finalScore(trial);
    if (trial.status !== 'succeeded' || score === undefined) return false;
    const best = sweep.best === undefined ? undefined : finalScore(sweep.best);
    if (best !== undefined && score <= best) return false;
    sweep.best = trial;
    return true;
  }

  /** The metric in the sweep's own sense (not oriented). */
  private metricValue(sweep: ActiveSweep, score: number): number {
    return sweep.record.spec.mode === 'max' ? score : -score;
  }

  private async onJobEvent(sweep: ActiveSweep, event: JobEvent): Promise<void> {
    const trial = sweep.trials.get(event.jobId);
    if (trial === undefined) return;
    const { id: sweepId, spec } = sweep.record;
    const trialEvent = (status: TrialStatus): UnsequencedSweepEvent => {
      const score = finalScore(trial);
      return {
        type: 'trial',
        sweepId,
        trial: trial.index,
        jobId: trial.jobId,
        status,
        values: trial.values,
        ...(score === undefined ? {} : { metric: this.metricValue(sweep, score) }),
      };
    };
    if (event.type === 'status') {
      trial.status = event.status;
      if (event.status === 'running') await this.emit(sweep, trialEvent('running'));
      return;
    }
    if (event.type === 'epoch') {
      this.recordEpoch(sweep, trial, event);
      const others = [...sweep.trials.values()].filter((other) => other !== trial).map((other) => other.history);
      if (spec.stopping !== undefined && trial.status === 'running' && !trial.stopped && shouldStop(spec.stopping, trial.history, others, trial.epochs)) {
        // The verdict is kept first, so a restart before the job ends still carries it out.
        trial.stopped = true;
        await this.store.markTrialStopped(trial.jobId);
        await this.scheduler.stop(trial.jobId);
      }
      return;
    }
    trial.status = event.status;
    if (event.result !== undefined) trial.modelEpoch = event.result.epochs;
    const ended = finalScore(trial);
    await this.emit(sweep, trialEvent(trial.status));
    if (this.rank(sweep, trial) && ended !== undefined)
      await this.emit(sweep, {
        type: 'best',
        sweepId,
        trial: trial.index,
        jobId: trial.jobId,
        metric: this.metricValue(sweep, ended),
        epoch: trial.modelEpoch ?? trial.history.length,
        values: trial.values,
      });
    await this.advance(sweep);
  }

  /** Submits trials while there is room; finishes the sweep when every trial has ended. */
  private async advance(sweep: ActiveSweep): Promise<void> {
    const { record } = sweep;
    if (record.status !== 'running') return;
    const trials = [...sweep.trials.values()];
    const open = trials.filter((trial) => OPEN.has(trial.status)).length;
    const created = trials.length;
    if (created >= record.spec.trials) {
      if (open === 0) await this.finish(sweep, 'succeeded');
      return;
    }
    const room = Math.min(record.spec.parallel - open, record.spec.trials - created);
    if (room <= 0) return;
    const points = this.nextPoints(sweep, created, room);
    if (points.length === 0) return;
    if (await this.endedElsewhere(sweep)) return this.stopControlling(sweep);
    const jobs = points.map(({ values, round }, offset) => {
      const index = created + offset;
      const jobId = `${record.id}_t${index}`;
      const spec = applySample(record.spec.base, values);
      const trial: Trial = { sweepId: record.id, index, jobId, round, values, stopped: false, status: 'queued', epochs: spec.training.epochs, history: [] };
      this.track(sweep, trial);
      return { id: jobId, spec: { ...spec, name: `${record.spec.name ?? record.id} #${index}` }, trial: { sweepId: record.id, index, round, values } };
    });
    await this.lifecycle.submit(jobs);
    this.scheduler.kick();
    // Cancelled elsewhere between the look above and the commit: the server that cancelled
    // it may have listed its trials before these, so they are cancelled here.
    if (await this.endedElsewhere(sweep)) {
      for (const job of jobs) await this.scheduler.cancel(job.id);
      await this.stopControlling(sweep);
    }
  }

  /** The values of the next trials: fewer than asked (none) while a coarse-to-fine round must wait. */
  private nextPoints(sweep: ActiveSweep, created: number, count: number): { values: Sample; round: number }[] {
    const { spec } = sweep.record;
    const space = spec.space;
    const indices = Array.from({ length: count }, (_, offset) => created + offset);
    if (spec.strategy === 'grid') {
      const points = grid(space);
      return indices.map((index) => ({ values: points[index] as Sample, round: 0 }));
    }
    const draw = (index: number, box: Box) => sample(space, box, new Random(trialSeed(spec.seed, index)));
    if (spec.strategy === 'random') return indices.map((index) => ({ values: draw(index, fullBox(space)), round: 0 }));
    // Coarse-to-fine: round 0 over the whole space, then rounds of equal size, each drawn
    // in the box around the best trials of all rounds before it, once they have all ended.
    const coarse = Math.max(1, Math.ceil(spec.trials * COARSE_SHARE));
    const fine = Math.ceil((spec.trials - coarse) / (spec.rounds - 1));
    const roundOf = (index: number) => (index < coarse ? 0 : 1 + Math.floor((index - coarse) / Math.max(1, fine)));
    const round = roundOf(created);
    const sameRound = indices.filter((index) => roundOf(index) === round);
    if (round === 0) return sameRound.map((index) => ({ values: draw(index, fullBox(space)), round }));
    const earlier = [...sweep.trials.values()].filter((trial) => trial.round < round);
    if (earlier.some((trial) => OPEN.has(trial.status))) return [];
    const scored = earlier.filter((trial) => trial.history.length > 0).sort((a, b) => (finalScore(b) as number) - (finalScore(a) as number));
    const best = scored.slice(0, Math.max(2, Math.ceil(scored.length * BEST_SHARE)));
    const box = best.length === 0 ? fullBox(space) : boxAround(space, best.map((trial) => trial.values));
    return sameRound.map((index) => ({ values: draw(index, box), round }));
  }

  private async finish(sweep: ActiveSweep, status: 'succeeded' | 'cancelled'): Promise<void> {
    sweep.record = { ...sweep.record, status };
    const done = await this.store.finishSweep(sweep.record.id, status, { type: 'done', sweepId: sweep.record.id, status });
    // Undefined: another server cancelled it first, and sent its done event.
    if (done !== undefined) this.hub.publishSweep(done);
    await this.stopControlling(sweep);
  }

  private async stopControlling(sweep: ActiveSweep): Promise<void> {
    this.forget(sweep);
    await this.ownership?.release(sweep.record.id);
  }

  /** Whether a server that does not control the sweep has ended it (only where servers share the store). */
  private async endedElsewhere(sweep: ActiveSweep): Promise<boolean> {
    if (this.ownership === undefined) return false;
    return (await this.store.getSweep(sweep.record.id))?.status !== 'running';
  }

  private forget(sweep: ActiveSweep): void {
    this.active.delete(sweep.record.id);
    for (const jobId of sweep.trials.keys()) this.sweepOfJob.delete(jobId);
  }

  /** Stops controlling a sweep here, without ending it: its lease was lost, and the server that takes it next carries it on. */
  drop(id: string): void {
    const sweep = this.active.get(id);
    if (sweep !== undefined) this.forget(sweep);
  }

  /**
   * Cancels a running sweep: no more trials; the open ones are cancelled. From a server
   * that does not control it, the store's commit ends it and its controller sees that
   * before it adds trials.
   */
  async cancel(id: string): Promise<'done' | 'not-found' | 'conflict'> {
    const sweep = this.active.get(id);
    if (sweep === undefined) return this.cancelElsewhere(id);
    const result = new Promise<void>((resolve) =>
      this.enqueue(sweep, async () => {
        const open = [...sweep.trials.values()].filter((trial) => OPEN.has(trial.status));
        await this.finish(sweep, 'cancelled');
        for (const trial of open) await this.scheduler.cancel(trial.jobId);
        resolve();
      }),
    );
    await result;
    return 'done';
  }

  private async cancelElsewhere(id: string): Promise<'done' | 'not-found' | 'conflict'> {
    if ((await this.store.getSweep(id)) === undefined) return 'not-found';
    const done = await this.store.finishSweep(id, 'cancelled', { type: 'done', sweepId: id, status: 'cancelled' });
    if (done === undefined) return 'conflict';
    this.hub.publishSweep(done);
    for (const trial of await this.store.trials(id)) await this.scheduler.cancel(trial.jobId);
    return 'done';
  }

  /**
   * A sweep with its trials ranked, from the store: where servers share it, another server
   * may have ended a sweep this one still controls.
   */
  async view(id: string): Promise<SweepView | undefined> {
    const record = await this.store.getSweep(id);
    if (record === undefined) return undefined;
    const { spec } = record;
    const sign = spec.mode === 'max' ? 1 : -1;
    const stored = await this.store.trials(id);
    const { jobs } = await this.store.listJobs({ sweep: id, limit: stored.length + 1 });
    const jobOf = new Map(jobs.map((job) => [job.id, job]));
    // Every trial's curve from one read of the sweep's own log, where each epoch is kept
    // with a trial's epoch, rather than one read of each trial's whole history.
    const curves = new Map<string, { metric?: number; best?: { metric: number; epoch: number }; epochs: number }>();
    for (const event of await this.store.sweepEventsAfter(id, 0, Number.MAX_SAFE_INTEGER)) {
      if (event.type !== 'epoch') continue;
      const job = jobOf.get(event.jobId);
      const curve = curves.get(event.jobId) ?? { epochs: 0 };
      curves.set(event.jobId, curve);
      curve.epochs = Math.max(curve.epochs, event.epoch);
      const value = metricOf(event, spec.metric);
      // The model's epoch, once there is a model; until then the latest.
      if (job?.result === undefined || event.epoch <= job.result.epochs) curve.metric = value;
      if (value !== undefined && (curve.best === undefined || sign * value > sign * curve.best.metric)) curve.best = { metric: value, epoch: event.epoch };
    }
    const ranked: RankedTrial[] = stored.map((trial) => {
      const { metric, best, epochs } = curves.get(trial.jobId) ?? { epochs: 0 };
      return {
        trial: trial.index,
        jobId: trial.jobId,
        round: trial.round,
        status: (jobOf.get(trial.jobId) as JobRecord).status,
        values: trial.values,
        ...(metric === undefined ? {} : { metric }),
        ...(best === undefined ? {} : { bestMetric: best.metric, bestEpoch: best.epoch }),
        epochs,
      };
    });
    ranked.sort((a, b) => {
      if (a.metric === undefined || b.metric === undefined) return (a.metric === undefined ? 1 : 0) - (b.metric === undefined ? 1 : 0) || a.trial - b.trial;
      return sign * (b.metric - a.metric) || a.trial - b.trial;
    });
    const best = ranked.find((trial) => trial.status === 'succeeded' && trial.metric !== undefined);
    return {
      id,
      ...(spec.name === undefined ? {} : { name: spec.name }),
      status: record.status,
      spec,
      createdAt: record.createdAt,
      ...(record.finishedAt === undefined ? {} : { finishedAt: record.finishedAt }),
      trials: ranked,
      ...(best === undefined ? {} : { best: { ...best, model: `/v1/jobs/${best.jobId}/model` } }),
    };
  }
}

