import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

// The benchmark itself is `npm run bench:host-kills`; this smoke run (2 kills) keeps it from
// rotting. The times it prints are not asserted (they depend on the machine and its load);
// what a kill must never do is: lose or double an epoch, or change the model.
const hostKills = fileURLToPath(new URL('../../dist/bench/host-kills.js', import.meta.url));
const servers = { CAVIAR_DATABASE_URL: process.env.CAVIAR_TEST_DATABASE_URL ?? '', CAVIAR_REDIS_URL: process.env.CAVIAR_TEST_REDIS_URL ?? '' };
const skip = servers.CAVIAR_DATABASE_URL === '' || servers.CAVIAR_REDIS_URL === '' ? 'no PostgreSQL and Redis: set CAVIAR_TEST_DATABASE_URL and CAVIAR_TEST_REDIS_URL (.ci/servers starts them)' : false;

t.test('the host-kills benchmark kills the host running a job, twice, and checks its epochs and model', { skip }, async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'caviar-bench-')), 'host-kills-smoke.json');
  const { stdout } = await promisify(execFile)(process.execPath, [hostKills, '--smoke', '--out', out], { env: { ...process.env, ...servers }, timeout: 240_000 });
  for (const heading of ['Machine: ', 'Host kills: ', 'CAVIAR_LOCK_MS=3000', 'kill -> next epoch', 'Targets:']) t.match(stdout, heading);
  const written = JSON.parse(readFileSync(out, 'utf8'));
  t.equal(written.smoke, true);
  t.type(written.loads.kills.before.one, 'number', 'the load beside it');
  const { result, settings } = written;
  t.notOk('error' in result, result.error ?? 'the kills ran');
  t.equal(result.kills.length, settings.kills);
  for (const kill of result.kills) {
    t.ok(kill.nextEpochAfterMs > 0 && kill.runningAfterMs <= kill.nextEpochAfterMs, `kill ${kill.kill}: timed`);
    t.ok(['survivor', 'replacement'].includes(kill.takenBy));
  }
  t.equal(result.status, 'succeeded');
  t.equal(result.attempts, settings.kills + 1, 'one attempt more for each kill');
  t.same([result.store.count, result.store.lost, result.store.doubled], [settings.epochs, [], []], 'every epoch once in the store');
  t.same([result.stream.lost, result.stream.doubled], [[], []], 'and in the stream');
  t.equal(written.sameModel, true, "the model is the uninterrupted run's");
});
