// Bias and variance (COURSE-NOTES.md): compare training error, dev error and a
// human-level error, and say what to try next.

export type Verdict = 'high bias' | 'high variance' | 'high bias and high variance' | 'neither';

export interface Diagnosis {
  /** train error - human-level error */
  avoidableBias: number;
  /** dev error - train error; absent without a dev part */
  variance?: number;
  /** The size from which a gap counts as high. */
  threshold: number;
  verdict: Verdict;
  advice: string[];
}

/** Two points of error: below that, a gap is within what another seed could change. */
export const CLASSIFICATION_THRESHOLD = 0.02;
/** For regression costs, a gap counts when it exceeds a tenth of the train cost. */
export const REGRESSION_RELATIVE_THRESHOLD = 0.1;

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
  const avoidableBias = parts.trainError - (parts.humanLevelError ?? 0);
  const variance = parts.devError === undefined ? undefined : parts.devError - parts.trainError;
  const threshold = parts.regression
    ? REGRESSION_RELATIVE_THRESHOLD * Math.max(parts.trainError, Number.EPSILON)
    : CLASSIFICATION_THRESHOLD;
  const highBias = avoidableBias > threshold;
  const highVariance = variance !== undefined && variance > threshold;
  const verdict: Verdict =
    highBias && highVariance ? 'high bias and high variance' : highBias ? 'high bias' : highVariance ? 'high variance' : 'neither';
  const advice = [
    ...(highBias ? BIAS_ADVICE : []),
    ...(highVariance ? VARIANCE_ADVICE.filter((line) => !(highBias && BIAS_ADVICE.includes(line))) : []),
  ];
  if (verdict === 'neither')
    advice.push(
      variance === undefined
        ? 'hold out a dev part (split.dev) to measure variance'
        : 'train and dev errors are close to human level: check the test part before deploying',
    );
  return { avoidableBias, ...(variance === undefined ? {} : { variance }), threshold, verdict, advice };
}
