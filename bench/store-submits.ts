// Durable submits per second of the stores alone, without HTTP: --clients submitters, each
// waiting for its submission to resolve (committed) before it sends the next, for
// --seconds; the embedded SQLite store, then PostgreSQL when a server is given. Printed,
// not asserted (the target: 1,000/s on a 2-core machine).
//   node dist/bench/store-submits.js [--clients 64] [--seconds 5]
// PostgreSQL: CAVIAR_TEST_DATABASE_URL names a server (.ci/servers starts a private one);
// the bench makes a database of its own in it and drops it at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { SqliteStore, type JobSpec, type JobStore } from '../src/jobs/index.js';
import { PostgresStore } from '../src/jobs/postgres-store.js';

const { values } = parseArgs({ options: { clients: { type: 'string' }, seconds: { type: 'string' } } });
const clients = Number(values.clients ?? 64);
const seconds = Number(values.seconds ?? 5);

const spec: JobSpec = {
  name: 'bench',
  dataset: { builtin: 'moons', samples: 300, noise: 0.2, seed: 3 },
  model: { layers: [{ units: 16, activation: 'relu' }, { units: 1, activation: 'sigmoid' }] },
  training: { epochs: 5, batchSize: 32, seed: 1, optimizer: { type: 'adam', learningRate: 0.01 } },
} as JobSpec;

async function measure(name: string, store: JobStore): Promise<void> {
  let submitted = 0;
  let next = 0;
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        await store.createJobs([{ id: `job_${(next += 1)}`, spec }]);
        latencies.push(performance.now() - started);
        submitted += 1;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(1);
  console.log(`${name}: ${Math.round(submitted / seconds)} durable submits/s (${clients} clients, ${seconds} s; p50 ${at(0.5)} ms, p99 ${at(0.99)} ms)`);
}

const folder = mkdtempSync(join(tmpdir(), 'caviar-bench-store-'));
const sqlite = new SqliteStore(folder);
await measure('SQLite', sqlite);
await sqlite.close();

const server = process.env.CAVIAR_TEST_DATABASE_URL;
if (server === undefined) {
  console.log('PostgreSQL: skipped (set CAVIAR_TEST_DATABASE_URL; .ci/servers starts one)');
} else {
  const name = `caviar_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  try {
    const store = await PostgresStore.open({ url: url.toString(), datasetCache: join(folder, 'datasets-pg') });
    await measure('PostgreSQL', store);
    await store.close();
  } finally {
    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.end();
  }
}
rmSync(folder, { recursive: true, force: true });
