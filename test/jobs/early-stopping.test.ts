import t from 'tap';
import { rungs, shouldStop } from '../../src/jobs/early-stopping.js';

t.test('median rule: a trial whose best is below the median of the others stops', async (t) => {
  const rule = { rule: 'median' as const, graceEpochs: 2, minTrials: 3 };
  const others = [
    [0.6, 0.7, 0.8],
    [0.5, 0.7, 0.75],
    [0.55, 0.65, 0.7],
  ];
  t.ok(shouldStop(rule, [0.3, 0.4], others, 10), 'far behind after the grace epochs');
  t.notOk(shouldStop(rule, [0.3], others, 10), 'not within the grace epochs');
  t.notOk(shouldStop(rule, [0.6, 0.7], others, 10), 'ahead of the median');
  t.notOk(shouldStop(rule, [0.3, 0.4], others.slice(0, 2), 10), 'too few others to compare');
  t.notOk(shouldStop(rule, [0.3, 0.4], [[0.9], [0.9], [0.9]], 10), 'others that have not reached the epoch do not count');
});

t.test('ASHA: rungs grow by the reduction factor; at a rung only the top 1/factor go on', async (t) => {
  const rule = { rule: 'asha' as const, minEpochs: 1, reductionFactor: 3 };
  t.same(rungs(rule, 30), [1, 3, 9, 27]);
  t.same(rungs({ rule: 'asha', minEpochs: 2, reductionFactor: 2 }, 20), [2, 4, 8, 16]);
  const others = [[0.9], [0.8], [0.7], [0.6], [0.5]];
  t.ok(shouldStop(rule, [0.65], others, 30), '4th of 6 at rung 1: only the top 2 go on');
  t.notOk(shouldStop(rule, [0.85], others, 30), '2nd of 6 goes on');
  t.notOk(shouldStop(rule, [0.1], [[0.9]], 30), 'fewer trials than the factor at the rung: nothing to compare');
  t.notOk(shouldStop(rule, [0.1, 0.1], others.map((h) => [...h, ...h]), 30), 'epoch 2 is not a rung');
});

t.test('a finished trial never stops', async (t) => {
  t.notOk(shouldStop({ rule: 'median' }, [0.1, 0.1, 0.1], [[0.9, 0.9, 0.9], [0.9, 0.9, 0.9], [0.9, 0.9, 0.9]], 3));
});
