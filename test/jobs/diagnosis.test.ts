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
