// The distributed mode for the benchmarks (service.ts --distributed, host-kills.ts): the
// PostgreSQL and Redis they run against, and deployments on them made of real processes
// (`caviar serve` API servers, `caviar worker` hosts). Each deployment has a database of
// its own on that PostgreSQL and a Redis prefix of its own, so that its figures and checks
// see its jobs alone, and it leaves neither behind.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { cli, startServerProcess, startWorkerProcess, stopServer, type ServerProcess, type ServiceProcess } from './server-process.js';

export interface ClusterServers {
  /** A PostgreSQL on which the benchmark may create databases (postgres://...). */
  databaseUrl: string;
  redisUrl: string;
  /** Which variables named them. */
  source: string;
}

/**
 * The servers of the distributed mode: CAVIAR_DATABASE_URL and CAVIAR_REDIS_URL, else the
 * tests' CAVIAR_TEST_DATABASE_URL and CAVIAR_TEST_REDIS_URL (`.ci/servers` starts private ones).
 */
export function clusterServers(env: NodeJS.ProcessEnv = process.env): ClusterServers {
  for (const prefix of ['CAVIAR_', 'CAVIAR_TEST_']) {
    const databaseUrl = env[`${prefix}DATABASE_URL`];
    const redisUrl = env[`${prefix}REDIS_URL`];
    if (databaseUrl && redisUrl) return { databaseUrl, redisUrl, source: `${prefix}DATABASE_URL and ${prefix}REDIS_URL` };
  }
  throw new Error(
    'the distributed benchmarks need a PostgreSQL and a Redis: set CAVIAR_DATABASE_URL (postgres://..., a user that may create databases) and CAVIAR_REDIS_URL (redis://...), ' +
      'or CAVIAR_TEST_DATABASE_URL and CAVIAR_TEST_REDIS_URL, or run under .ci/servers (it starts private ones)',
  );
}

/** Runs `work` with a client of the database at `url`. */
export async function onDatabase<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The servers' versions, printed beside the figures they took part in. */
export async function describeServers(servers: ClusterServers): Promise<string> {
  const postgres = await onDatabase(servers.databaseUrl, async (client) => (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version);
  const redis = new Redis(servers.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const version = /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1];
    return `PostgreSQL ${postgres ?? '?'}, Redis ${version ?? '?'}`;
  } finally {
    redis.disconnect();
  }
}

export interface Deployment {
  /** Its database, for the checks that read the store directly. */
  databaseUrl: string;
  /** Starts an API server (`caviar serve`). */
  api(): Promise<ServerProcess>;
  /** Starts a worker host (`caviar worker`, or `script worker`). */
  worker(extra?: Record<string, string>, script?: string): Promise<ServiceProcess>;
  /** SIGKILLs every process it started that still runs, and drops its database and Redis keys. */
  close(): Promise<void>;
}

/** A deployment of its own on `servers`; the lock (CAVIAR_LOCK_MS) is the service's default unless given. */
export async function deployment(servers: ClusterServers, lockMs?: number): Promise<Deployment> {
  const id = randomBytes(6).toString('hex');
  const database = `caviar_bench_${id}`;
  const prefix = `caviar-bench-${id}`;
  try {
    await onDatabase(servers.databaseUrl, (client) => client.query(`CREATE DATABASE ${database}`));
  } catch (error) {
    throw new Error(`could not create a database for the benchmark (its user must be allowed to create databases): ${(error as Error).message}`);
  }
  const url = new URL(servers.databaseUrl);
  url.pathname = `/${database}`;
  const env: Record<string, string> = {
    CAVIAR_DATABASE_URL: url.toString(),
    CAVIAR_REDIS_URL: servers.redisUrl,
    CAVIAR_REDIS_PREFIX: prefix,
    ...(lockMs === undefined ? {} : { CAVIAR_LOCK_MS: String(lockMs) }),
  };
  const processes: ServiceProcess[] = [];
  const kept = <P extends ServiceProcess>(started: P) => {
    processes.push(started);
    return started;
  };
  return {
    databaseUrl: url.toString(),
    api: async () => kept(await startServerProcess(cli, ['serve'], env)),
    worker: async (extra = {}, script = cli) => kept(await startWorkerProcess({ ...env, ...extra }, script)),
    async close() {
      for (const started of processes) {
        await stopServer(started, 'SIGKILL');
        rmSync(started.dataDirectory, { recursive: true, force: true });
      }
      await onDatabase(servers.databaseUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
      const redis = new Redis(servers.redisUrl, { maxRetriesPerRequest: 1 });
      try {
        for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 }) as AsyncIterable<string[]>) if (keys.length > 0) await redis.unlink(...keys);
      } finally {
        redis.disconnect();
      }
    },
  };
}
