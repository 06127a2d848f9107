// Stopping sweep trials that are clearly behind, to give their slots to others: the median
// stopping rule (Golovin et al., "Google Vizier", 2017) and asynchronous successive halving
// (Li et al., "ASHA", 2020). Pure functions of the metric histories.
import { Type, type Static } from '@sinclair/typebox';
import { oneOf } from './spec.js';

export const StoppingSchema = Type.Object(
  {
    rule: oneOf('median', 'asha'),
    graceEpochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e6, description: 'median: no trial stops before this epoch (default 2)' })),
    minTrials: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e6, description: 'median: other trials needed at an epoch to compare (default 3)' })),
    minEpochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e6, description: 'asha: the first rung (default 1)' })),
    reductionFactor: Type.Optional(Type.Integer({ minimum: 2, maximum: 100, description: 'asha: 1 in this many go on at each rung (default 3)' })),
  },
  { additionalProperties: false },
);
export type Stopping = Static<typeof StoppingSchema>;

/** Per trial, its metric after each epoch (index 0 is epoch 1), oriented so that higher is better. */
export type History = readonly number[];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * Median rule: after `epoch`, a trial stops when its best value so far is below the median
 * of the other trials' running averages up to the same epoch.
 */
function medianStops(stopping: Stopping, trial: History, others: History[]): boolean {
  const epoch = trial.length;
  if (epoch < (stopping.graceEpochs ?? 2)) return false;
  const peers = others.filter((history) => history.length >= epoch);
  if (peers.length < (stopping.minTrials ?? 3)) return false;
  const averages = peers.map((history) => history.slice(0, epoch).reduce((sum, value) => sum + value, 0) / epoch);
  return Math.max(...trial) < median(averages);
}

/** The rungs of successive halving below `epochs`: minEpochs, minEpochs x factor, ... */
export function rungs(stopping: Stopping, epochs: number): number[] {
  const first = stopping.minEpochs ?? 1;
  const factor = stopping.reductionFactor ?? 3;
  const found: number[] = [];
  for (let rung = first; rung < epochs; rung *= factor) found.push(rung);
  return found;
}

/**
 * ASHA as a stopping rule: at each rung, a trial goes on only if it is among the best
 * 1/reductionFactor of the trials that have reached that rung so far. Until as many trials
 * as the factor have reached it, everyone goes on (nothing to compare yet).
 */
function ashaStops(stopping: Stopping, trial: History, others: History[], epochs: number): boolean {
  const epoch = trial.length;
  if (!rungs(stopping, epochs).includes(epoch)) return false;
  const factor = stopping.reductionFactor ?? 3;
  const reached = [trial, ...others.filter((history) => history.length >= epoch)].map((history) => history[epoch - 1] as number);
  if (reached.length < factor) return false;
  const keep = Math.floor(reached.length / factor);
  const better = reached.filter((value) => value > (trial[epoch - 1] as number)).length;
  return better >= keep;
}

/** Whether a trial with this history should stop now, given every other trial's history. */
export function shouldStop(stopping: Stopping, trial: History, others: History[], epochs: number): boolean {
  if (trial.length === 0 || trial.length >= epochs) return false;
  return stopping.rule === 'median' ? medianStops(stopping, trial, others) : ashaStops(stopping, trial, others, epochs);
}
