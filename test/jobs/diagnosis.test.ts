import t from 'tap';
import { CLASSIFICATION_THRESHOLD, diagnose } from '../../src/jobs/diagnosis.js';

t.test('the verdict follows the gaps between human-level, train and dev error', async (t) => {
  const cases = [
    { trainError: 0.15, devError: 0.16, humanLevelError: 0.01, verdict: 'high bias' },
    { trainError: 0.01, devError: 0.11, humanLevelError: 0.0, verdict: 'high variance' },
    { trainError: 0.15, devError: 0.3, humanLevelError: 0.005, verdict: 'high bias and high variance' },
    { trainError: 0.005, devError: 0.01, humanLevelError: 0.0, verdict: 'neither' },
    // Against a human-level error of 7.5%, an 8% train error leaves little to gain.
    { trainError: 0.08, devError: 0.09, humanLevelError: 0.075, verdict: 'neither' },
  ] as const;
  for (const { verdict, ...errors } of cases) {
    const diagnosis = diagnose(errors);
    t.equal(diagnosis.verdict, verdict, JSON.stringify(errors));
    t.ok(Math.abs(diagnosis.avoidableBias - (errors.trainError - errors.humanLevelError)) < 1e-12);
    t.ok(Math.abs((diagnosis.variance as number) - (errors.devError - errors.trainError)) < 1e-12);
    t.equal(diagnosis.threshold, CLASSIFICATION_THRESHOLD);
  }
});

t.test('the advice matches the verdict', async (t) => {
  t.match(diagnose({ trainError: 0.2, devError: 0.21 }).advice.join(' '), /bigger network/);
  t.match(diagnose({ trainError: 0.0, devError: 0.2 }).advice.join(' '), /regularize.*l2.*dropout/i);
  const both = diagnose({ trainError: 0.2, devError: 0.4 }).advice;
  t.equal(new Set(both).size, both.length, 'no advice twice');
  t.match(diagnose({ trainError: 0.0 }).advice.join(' '), /dev part/);
  t.notOk('variance' in diagnose({ trainError: 0.0 }));
});

t.test('regression costs are judged relative to the train cost', async (t) => {
  t.equal(diagnose({ trainError: 1.0, devError: 1.05, regression: true }).verdict, 'high bias');
  t.equal(diagnose({ trainError: 1.0, devError: 1.5, humanLevelError: 1.0, regression: true }).verdict, 'high variance');
});

t.test('without a human-level error, avoidable bias is measured against 0 and said to be an upper bound', async (t) => {
  const unknown = diagnose({ trainError: 0.03, devError: 0.031 });
  t.equal(unknown.verdict, 'high bias');
  t.equal(unknown.humanLevelError, 0);
  t.equal(unknown.avoidableBiasIsUpperBound, true);
  t.match(unknown.notes.join(' '), /measured against 0 error, so it is an upper bound/);
  t.match(unknown.advice[0], /estimate the human-level error .*training\.humanLevelError/, 'the first thing to do');

  const given = diagnose({ trainError: 0.03, devError: 0.031, humanLevelError: 0.0 });
  t.equal(given.avoidableBiasIsUpperBound, false, 'a human-level error of 0, when given, is taken at its word');
  t.same(given.notes, []);
  t.notMatch(given.advice.join(' '), /estimate the human-level error/);
  t.notMatch(diagnose({ trainError: 0.005 }).advice.join(' '), /estimate the human-level error/, 'no bias, no estimate needed');
});

t.test('a dev error below the train error is no variance, and a note says so', async (t) => {
  const close = diagnose({ trainError: 0.05, devError: 0.04, humanLevelError: 0.04 });
  t.equal(close.verdict, 'neither');
  t.ok(Math.abs((close.variance as number) + 0.01) < 1e-12, 'the field keeps dev error - train error');
  t.match(close.notes.join(' '), /dev error is below the train error \(by 0\.010\): no sign of variance; a gap within/);
  const far = diagnose({ trainError: 0.1, devError: 0.04, humanLevelError: 0.1 });
  t.match(far.notes.join(' '), /suggests the dev part is easier/);
  t.same(diagnose({ trainError: 0.05, devError: 0.06, humanLevelError: 0.05 }).notes, [], 'no note for a positive gap');
});
