import t, { type Test } from 'tap';
import { Random } from '../../src/data/index.js';
import { classification, macroF1, regression, rocAuc } from '../../src/jobs/metrics.js';

// Expected values as scikit-learn computes them (classification_report, roc_auc_score, r2_score).
const close = (t: Test, actual: number | undefined, expected: number, what: string) =>
  t.ok(actual !== undefined && Math.abs(actual - expected) < 1e-12, `${what}: ${actual} = ${expected}`);

t.test('per-class precision, recall, F1 and support, macro and weighted F1 and the confusion matrix', async (t) => {
  const metrics = classification([0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 1, 2, 0, 2], 3, { names: ['cat', 'dog', 'eel'] });
  t.same(metrics.confusion, [
    [1, 1, 0],
    [0, 2, 0],
    [1, 0, 2],
  ], 'rows are the true class, columns the predicted one');
  t.same(metrics.perClass.map((row) => [row.class, row.support]), [['cat', 2], ['dog', 2], ['eel', 3]]);
  const [cat, dog, eel] = metrics.perClass;
  close(t, cat?.precision, 0.5, 'cat precision');
  close(t, dog?.precision, 2 / 3, 'dog precision');
  close(t, dog?.recall, 1, 'dog recall');
  close(t, dog?.f1, 0.8, 'dog f1');
  close(t, eel?.recall, 2 / 3, 'eel recall');
  close(t, metrics.macroF1, 0.7, 'macro F1');
  close(t, metrics.weightedF1, 5 / 7, 'weighted F1');
  t.equal(metrics.auc, undefined, 'no AUC for three classes');
  t.equal(macroF1([0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 1, 2, 0, 2], 3), metrics.macroF1);
});

t.test('a class never predicted has precision 0; one absent from a part does not count in its macro F1', async (t) => {
  const never = classification([0, 1, 1], [0, 0, 0], 2);
  t.same(never.perClass[1], { class: 1, precision: 0, recall: 0, f1: 0, support: 2 });
  const absent = classification([0, 1], [0, 1], 3);
  t.equal(absent.perClass[2]?.support, 0);
  t.equal(absent.macroF1, 1, 'as scikit-learn: the classes of the labels and the predictions');
});

t.test('ROC AUC of two classes: the chance a positive outranks a negative, ties counting half', async (t) => {
  close(t, rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75, 'the scikit-learn example');
  close(t, rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]), 0.875, 'a tie');
  t.equal(rocAuc([1, 1], [0.2, 0.3]), undefined, 'one class only: undefined');
  close(t, classification([0, 0, 1, 1], [0, 1, 0, 1], 2, { scores: [0.1, 0.4, 0.35, 0.8] }).auc, 0.75, 'in the classification metrics');
  // Against its definition, pair by pair, on rows with many ties (scores of one decimal).
  const random = new Random(5);
  const truth = Array.from({ length: 300 }, () => (random.uniform() < 0.4 ? 1 : 0));
  const scores = truth.map((label) => Math.round(10 * Math.min(1, random.uniform() * 0.8 + 0.3 * label)) / 10);
  let wins = 0;
  let pairs = 0;
  for (let positive = 0; positive < truth.length; positive += 1)
    for (let negative = 0; negative < truth.length; negative += 1)
      if (truth[positive] === 1 && truth[negative] === 0) {
        pairs += 1;
        const [p, n] = [scores[positive] as number, scores[negative] as number];
        wins += p > n ? 1 : p === n ? 0.5 : 0;
      }
  close(t, rocAuc(truth, Float32Array.from(scores)), wins / pairs, 'every pair of a positive and a negative, float32 scores');
});

t.test('RMSE, MAE and R^2 of a regression, averaged over its outputs', async (t) => {
  const one = regression([3, -0.5, 2, 7], [2.5, 0, 2, 8], 1);
  close(t, one.rmse, Math.sqrt(0.375), 'rmse');
  close(t, one.mae, 0.5, 'mae');
  close(t, one.r2, 0.9486081370449679, 'r2');
  const two = regression([0.5, 1, -1, 1, 7, -6], [0, 2, -1, 2, 8, -5], 2);
  close(t, two.r2, 0.9368005266622779, 'r2 of two outputs, uniform average');
  t.equal(regression([2, 2], [2, 2], 1).r2, 1, 'a constant target fitted exactly');
  t.equal(regression([2, 2], [1, 3], 1).r2, 0, 'a constant target missed');
});
