import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

// The benchmark itself is `node dist/bench/tabular.js`; this smoke run (a small table, a few
// epochs) keeps both peers from rotting. No timed assertions: a smoke run's figures mean
// nothing, and the tests around it share the machine.
const runner = fileURLToPath(new URL('../../dist/bench/tabular.js', import.meta.url));
const sklearnMissing = spawnSync('/usr/bin/python3', ['-c', 'import sklearn'], { stdio: 'ignore' }).status !== 0;

t.test('the tabular benchmark trains Caviar and scikit-learn on the same files, with inputs of the same preprocessing', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'caviar-bench-tabular-test-')), 'smoke.json');
  const args = [runner, '--rows', '1500', '--epochs', '2', '--out', out, ...(sklearnMissing ? ['--peers', 'caviar'] : [])];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 16 << 20 });
  for (const heading of ['| test accuracy |', '| training s (2 epochs) |', 'Targets:']) t.match(stdout, heading);
  const { results } = JSON.parse(readFileSync(out, 'utf8'));
  t.match(results.caviar, { test_accuracy: Number, train_seconds: Number, end_to_end_seconds: Number, inputs: Number });
  if (sklearnMissing) {
    await t.test('scikit-learn', { skip: '/usr/bin/python3 cannot import sklearn (apt-get install python3-sklearn)' }, async () => {});
    return;
  }
  t.match(results.sklearn, { test_accuracy: Number, train_seconds: Number, epochs: 2 });
  t.equal(results.sklearn.inputs, results.caviar.inputs, "one-hot, indicators and fills make as many inputs in both: the same preprocessing's design");
});
