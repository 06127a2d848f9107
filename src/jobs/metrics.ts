// The metrics a finished job reports per part beyond its loss and accuracy, from one
// inference pass: for classifiers per-class precision, recall, F1 and support, macro and
// weighted F1, the confusion matrix and (two classes) ROC AUC; for regression RMSE, MAE and
// R^2. Definitions follow scikit-learn (classification_report, roc_auc_score, r2_score).
import { Type, type Static } from '@sinclair/typebox';

export const ClassMetricsSchema = Type.Object({
  class: Type.Union([Type.String(), Type.Integer()], { description: 'its name when the data has names, else its index' }),
  precision: Type.Number({ description: 'of the rows predicted as this class, the share that are (0 when none is)' }),
  recall: Type.Number({ description: 'of the rows of this class, the share predicted as it' }),
  f1: Type.Number({ description: 'the harmonic mean of precision and recall (0 when both are)' }),
  support: Type.Integer({ description: 'rows of this class' }),
});
export type ClassMetrics = Static<typeof ClassMetricsSchema>;

export const ClassificationMetricsSchema = Type.Object({
  perClass: Type.Array(ClassMetricsSchema),
  macroF1: Type.Number({ description: "the mean of the classes' F1, over the classes in the part's labels or predictions" }),
  weightedF1: Type.Number({ description: "the classes' F1 weighted by their support" }),
  confusion: Type.Array(Type.Array(Type.Integer()), { description: 'rows: the true class; columns: the predicted class' }),
  auc: Type.Optional(Type.Number({ description: 'two classes: the area under the ROC curve of the second class\'s probability' })),
});
export type ClassificationMetrics = Static<typeof ClassificationMetricsSchema>;

export const RegressionMetricsSchema = Type.Object({
  rmse: Type.Number({ description: 'root mean squared error, over every output' }),
  mae: Type.Number({ description: 'mean absolute error, over every output' }),
  r2: Type.Number({ description: "coefficient of determination, averaged over the outputs (1 when a constant target is fitted exactly, else 0 for one)" }),
});
export type RegressionMetrics = Static<typeof RegressionMetricsSchema>;

/** The confusion matrix of `classes` classes: counts[true][predicted]. */
function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number[][] {
  const counts = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let row = 0; row < truth.length; row += 1) {
    const actual = counts[truth[row] as number];
    const guess = predicted[row] as number;
    if (actual !== undefined && guess >= 0 && guess < classes) actual[guess] = (actual[guess] as number) + 1;
  }
  return counts;
}

const ratio = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);

/** Macro F1 of predicted classes against the truth (the sweeps' and early stopping's dev.f1). */
export function macroF1(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number {
  return classification(truth, predicted, classes).macroF1;
}

/**
 * Per-class metrics, macro and weighted F1 and the confusion matrix of a classifier's
 * predictions; with `scores` (each row's probability of class 1, two classes only) its ROC AUC.
 */
export function classification(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
  options: { names?: string[] | undefined; scores?: ArrayLike<number> } = {},
): ClassificationMetrics {
  const confusion = confusionMatrix(truth, predicted, classes);
  const perClass = confusion.map((row, index): ClassMetrics => {
    const support = row.reduce((sum, count) => sum + count, 0);
    const hits = row[index] as number;
    const predictedAs = confusion.reduce((sum, other) => sum + (other[index] as number), 0);
    const precision = ratio(hits, predictedAs);
    const recall = ratio(hits, support);
    const f1 = ratio(2 * precision * recall, precision + recall);
    return { class: options.names?.[index] ?? index, precision, recall, f1, support };
  });
  // As scikit-learn: the classes in the labels or the predictions, not every class the model has.
  const present = perClass.filter((metrics, index) => metrics.support > 0 || confusion.some((row) => (row[index] as number) > 0));
  const macro = ratio(
    present.reduce((sum, metrics) => sum + metrics.f1, 0),
    present.length,
  );
  const rows = perClass.reduce((sum, metrics) => sum + metrics.support, 0);
  const weighted = ratio(
    perClass.reduce((sum, metrics) => sum + metrics.f1 * metrics.support, 0),
    rows,
  );
  const auc = classes === 2 && options.scores !== undefined ? rocAuc(truth, options.scores) : undefined;
  return { perClass, macroF1: macro, weightedF1: weighted, confusion, ...(auc === undefined ? {} : { auc }) };
}

/**
 * The area under the ROC curve: the chance that a row of class 1 scores above a row of class
 * 0, ties counting half (the Mann-Whitney U over the two classes' counts). Undefined when the
 * part has rows of one class only.
 */
export function rocAuc(truth: ArrayLike<number>, scores: ArrayLike<number>): number | undefined {
  // The ranks from native numeric sorts of every score and of class 1's, merged in one walk:
  // a comparator sort of row indices cost a sweep's tiny trials a millisecond each.
  const all = Float64Array.from(scores);
  const ones = all.filter((_, row) => truth[row] === 1).sort();
  all.sort();
  const negatives = truth.length - ones.length;
  if (ones.length === 0 || negatives === 0) return undefined;
  let rankSum = 0;
  for (let start = 0, below = 0; start < ones.length; ) {
    const score = ones[start] as number;
    let end = start;
    while (end < ones.length && ones[end] === score) end += 1;
    while (below < all.length && (all[below] as number) < score) below += 1;
    let tied = below;
    while (tied < all.length && all[tied] === score) tied += 1;
    // Tied scores share the mean of their ranks (1-based).
    rankSum += ((end - start) * (below + 1 + tied)) / 2;
    start = end;
    below = tied;
  }
  return (rankSum - (ones.length * (ones.length + 1)) / 2) / (ones.length * negatives);
}

/** RMSE, MAE and R^2 of `width` outputs per row against their targets. */
export function regression(truth: ArrayLike<number>, outputs: ArrayLike<number>, width: number): RegressionMetrics {
  const rows = width === 0 ? 0 : truth.length / width;
  let squares = 0;
  let absolute = 0;
  let r2 = 0;
  for (let output = 0; output < width; output += 1) {
    let mean = 0;
    for (let row = 0; row < rows; row += 1) mean += truth[row * width + output] as number;
    mean /= rows;
    let residual = 0;
    let total = 0;
    for (let row = 0; row < rows; row += 1) {
      const target = truth[row * width + output] as number;
      const error = target - (outputs[row * width + output] as number);
      residual += error * error;
      absolute += Math.abs(error);
      total += (target - mean) * (target - mean);
    }
    squares += residual;
    r2 += total === 0 ? (residual === 0 ? 1 : 0) : 1 - residual / total;
  }
  const values = rows * width;
  return { rmse: Math.sqrt(ratio(squares, values)), mae: ratio(absolute, values), r2: ratio(r2, width) };
}
