// Bias and variance (COURSE-NOTES.md): compare training error, dev error and a
// human-level error, and say what to try next.

export type Verdict = 'high bias' | 'high variance' | 'high bias and high variance' | 'neither';

export interface Diagnosis {
  /** train error - human-level error */
  avoidableBias: number;
  /** dev error - train error; absent without a dev part. Below 0 it is no variance at all. */
  variance?: number;
  /** The size from which a gap counts as high. */
  threshold: number;
  verdict: Verdict;
  advice: string[];
  /** The error avoidable bias is measured from: the spec's, or 0 when it gives none. */
  humanLevelError: number;
  /** No human-level error was given: avoidable bias is measured against 0, an upper bound. */
  avoidableBiasIsUpperBound: boolean;
  /** What qualifies the figures, one sentence each (an upper bound, a dev error below the train error). */
  notes: string[];
}

/** Two points of error: below that, a gap is within what another seed could change. */
export const CLASSIFICATION_THRESHOLD = 0.02;
/** For regression costs, a gap counts when it exceeds a tenth of the train cost. */
export const REGRESSION_RELATIVE_THRESHOLD = 0.1;

// First when the bias is only an upper bound: it may vanish once measured from the right place.
const ESTIMATE_HUMAN_LEVEL_ADVICE =
  'estimate the human-level error (a person\'s, or the best known model\'s) and set training.humanLevelError: ' +
  'against 0 error, this bias may be the noise of the data';
const BIAS_ADVICE = [
  'train a bigger network (more units or layers)',
  'train longer, or with a better optimizer (Adam) and a tuned learning rate',
  'try another architecture',
];
const VARIANCE_ADVICE = [
  'get more training data',
  'regularize: L2 (training.l2) or dropout (model.layers[i].dropout)',
  'try another architecture',
];

/**
 * `trainError` and `devError` are 1 - accuracy for a classifier and the costs for a
 * regression (`regression: true`), each from one pass in inference mode.
 */
export function diagnose(parts: {
  trainError: number;
  devError?: number;
  humanLevelError?: number;
  regression?: boolean;
}): Diagnosis {
  const avoidableBiasIsUpperBound = parts.humanLevelError === undefined;
  const humanLevelError = parts.humanLevelError ?? 0;
  const avoidableBias = parts.trainError - humanLevelError;
  const variance = parts.devError === undefined ? undefined : parts.devError - parts.trainError;
  const threshold = parts.regression
    ? REGRESSION_RELATIVE_THRESHOLD * Math.max(parts.trainError, Number.EPSILON)
    : CLASSIFICATION_THRESHOLD;
  const highBias = avoidableBias > threshold;
  const highVariance = variance !== undefined && variance > threshold;
  const verdict: Verdict =
    highBias && highVariance ? 'high bias and high variance' : highBias ? 'high bias' : highVariance ? 'high variance' : 'neither';
  const advice = [
    ...(highBias && avoidableBiasIsUpperBound ? [ESTIMATE_HUMAN_LEVEL_ADVICE] : []),
    ...(highBias ? BIAS_ADVICE : []),
    ...(highVariance ? VARIANCE_ADVICE.filter((line) => !(highBias && BIAS_ADVICE.includes(line))) : []),
  ];
  if (verdict === 'neither')
    advice.push(
      variance === undefined
        ? 'hold out a dev part (split.dev) to measure variance'
        : 'train and dev errors are close to human level: check the test part before deploying',
    );
  const notes: string[] = [];
  if (avoidableBiasIsUpperBound)
    notes.push(
      'no human-level error given (training.humanLevelError): avoidable bias is measured against 0 error, ' +
        'so it is an upper bound; on noisy data even the best classifier errs, and the bias may be smaller',
    );
  if (variance !== undefined && variance < 0)
    notes.push(
      `the dev error is below the train error (by ${(-variance).toPrecision(2)}): no sign of variance; ` +
        (-variance > threshold
          ? 'a gap that large suggests the dev part is easier than the training part'
          : 'a gap within what another split could change'),
    );
  return {
    avoidableBias,
    ...(variance === undefined ? {} : { variance }),
    threshold,
    verdict,
    advice,
    humanLevelError,
    avoidableBiasIsUpperBound,
    notes,
  };
}
