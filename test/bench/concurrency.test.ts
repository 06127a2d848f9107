import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

// `npm run bench` runs this part too (test/bench/run.test.ts reads its figures); this smoke
// run keeps `npm run bench:concurrency` itself from rotting. No figure's size is asserted.
const concurrency = fileURLToPath(new URL('../../dist/bench/concurrency.js', import.meta.url));

t.setTimeout(300_000);

t.test('bench:concurrency runs one job alone, two at once and one beside a loaded server on its own', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'caviar-bench-')), 'concurrency-smoke.json');
  const { stdout } = await promisify(execFile)(process.execPath, [concurrency, '--smoke', '--rows', '256', '--out', out]);
  for (const heading of ['Machine: ', 'W1 jobs at once through a real server: 256 rows x 2 epochs', 'one job alone', 'two jobs at once', 'one job, server under load']) t.match(stdout, heading);
  const written = JSON.parse(readFileSync(out, 'utf8'));
  t.equal(written.smoke, true);
  t.type(written.machine.blas, 'string');
  for (const figure of [written.concurrency.alone.samples_per_second, written.concurrency.pair.over_alone, written.concurrency.loaded.over_alone])
    t.ok(Number.isFinite(figure) && figure > 0, `${figure} is a positive number`);
});
