import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

// The suite itself is `npm run bench`; this smoke run keeps its programs from rotting.
// Caviar's side only: the peers take minutes even at tiny sizes.
const runner = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));

t.test('the benchmark runner measures every workload and prints the table', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'caviar-bench-')), 'smoke.json');
  const { stdout } = await promisify(execFile)(process.execPath, [runner, '--smoke', '--peers', 'caviar', '--out', out]);
  for (const heading of ['W1 fashion-mlp', 'W2 tiny-moons', 'W3 wide-mlp', 'W4 bn-dropout', 'Targets:']) t.match(stdout, heading);
  const written = JSON.parse(readFileSync(out, 'utf8'));
  t.equal(written.smoke, true);
  for (const workload of ['W1', 'W2', 'W3', 'W4']) {
    const caviar = written.results[workload].caviar;
    t.notOk('error' in caviar, `${workload}: ${caviar.error ?? 'ran'}`);
    t.equal(caviar.config, 'default');
    t.equal(written.results[workload]['caviar 1 thread'].config, 'single');
  }
  t.ok(written.results.W1.caviar.samples_per_second > 0);
  t.ok(written.results.W2.caviar.updates_per_second > 0);
  t.ok(written.results.W3.caviar.gflops > 0);
});
