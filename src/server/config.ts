// The service's settings, from the environment (DESIGN.md, Configuration), checked once at start.
import { availableCores, availableMemory } from '../engine/machine.js';
import { resolve } from 'node:path';
import { dataLimits, integerSetting } from '../data/limits.js';

export interface ServerConfig {
  port: number;
  host: string;
  dataDirectory: string;
  /** Jobs trained at once. */
  concurrency: number;
  /** OpenBLAS threads of each training process: the cores shared among the slots. */
  threadsPerJob: number;
  /** When set, every route but the health checks needs it as a bearer token. */
  token?: string;
  logLevel: string;
  /** What one job may need (estimated before it is accepted), in bytes. */
  jobMemoryBytes: number;
  /** The largest dataset upload, in bytes. */
  maxUploadBytes: number;
  /** Below this much free space on the data folder's disk, /readyz answers 503: the store may soon fail to write. */
  minFreeBytes: number;
  heartbeatMs: number;
  /** A worker silent this long is failed as stalled. */
  stallMs: number;
  /** Websocket pings; a client that misses one is dropped. */
  pingMs: number;
  /** Set in the distributed mode: CAVIAR_DATABASE_URL and CAVIAR_REDIS_URL both name a server. */
  distributed?: DistributedConfig;
  /** Origins whose pages may open a websocket besides the server's own (CAVIAR_ALLOWED_ORIGINS). */
  allowedOrigins: string[];
  /** Gradient checks run at once, each in a worker process outside the job slots. */
  gradCheckConcurrency: number;
  /** Gradient checks that may wait for a place; one more is refused at once. */
  gradCheckQueue: number;
  /** The longest a gradient check may wait for a place, and then the longest it may run. */
  gradCheckTimeoutMs: number;
}

/** The distributed mode's settings (DESIGN.md, Growing past one machine). */
export interface DistributedConfig {
  /** postgres://...: the store of record of every API server and worker host. */
  databaseUrl: string;
  /** redis://...: the queue that delivers jobs to worker hosts, and the control channel. */
  redisUrl: string;
  /** How long a silent worker host keeps its jobs before they move to another (CAVIAR_LOCK_MS). */
  lockMs: number;
  /** The prefix of this deployment's Redis keys and channels (CAVIAR_REDIS_PREFIX), so that several can share one Redis. */
  redisPrefix: string;
}

/** A setting that cannot work, said in one line (it names no secret: URLs are not echoed). */
export class ConfigError extends Error {}

function distributed(env: NodeJS.ProcessEnv): DistributedConfig | undefined {
  const databaseUrl = env.CAVIAR_DATABASE_URL || undefined;
  const redisUrl = env.CAVIAR_REDIS_URL || undefined;
  if (databaseUrl === undefined && redisUrl === undefined) return undefined;
  if (databaseUrl === undefined || redisUrl === undefined)
    throw new ConfigError(
      `the distributed mode needs both CAVIAR_DATABASE_URL (postgres://...) and CAVIAR_REDIS_URL (redis://...), but only ${databaseUrl === undefined ? 'CAVIAR_REDIS_URL' : 'CAVIAR_DATABASE_URL'} is set; set neither for the embedded mode`,
    );
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError('CAVIAR_DATABASE_URL must be a postgres:// or postgresql:// URL');
  if (!/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('CAVIAR_REDIS_URL must be a redis:// or rediss:// URL');
  const redisPrefix = env.CAVIAR_REDIS_PREFIX || 'caviar';
  if (!/^[\w.-]{1,64}$/.test(redisPrefix)) throw new ConfigError(`CAVIAR_REDIS_PREFIX is letters, digits and -._ (at most 64), not '${redisPrefix}'`);
  return { databaseUrl, redisUrl, lockMs: integerSetting(env, 'CAVIAR_LOCK_MS', 30_000, 500), redisPrefix };
}

/** Each job's OpenBLAS threads when `slots` jobs train at once: the cores shared among them. */
export function threadsPerJob(slots: number, cores = availableCores()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, slots)));
}

/** Whether only this machine can reach `host`: localhost, 127.0.0.0/8 or ::1. */
export function isLoopback(host: string): boolean {
  return /^(localhost|127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3})$/i.test(host);
}

/** A comma-separated list of origins (scheme://host[:port]), each as a browser's Origin header writes it. */
function origins(env: NodeJS.ProcessEnv, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((text) => text.trim())
    .filter((text) => text !== '')
    .map((text) => {
      let url: URL | undefined;
      try {
        url = new URL(text);
      } catch {
        url = undefined;
      }
      // Anything beyond scheme, host and port (a path, a query, credentials) shows in the href.
      if (url === undefined || !/^https?:$/.test(url.protocol) || url.href !== `${url.origin}/`)
        throw new Error(`${name} is a comma-separated list of origins like https://dash.example.com (scheme, host and port, no path), not '${text}'`);
      return url.origin;
    });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  // Read where tables are read (src/data/limits.ts); a bad value stops the start here.
  try {
    dataLimits({}, env);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const cores = availableCores();
  const concurrency = integerSetting(env, 'CAVIAR_CONCURRENCY', cores, 1);
  const token = env.CAVIAR_TOKEN;
  const mode = distributed(env);
  return {
    port: integerSetting(env, 'CAVIAR_PORT', 8080, 0),
    // Loopback unless told otherwise, as Jupyter and Redis do: with no token, whoever reaches
    // the port can train and read everything. The container image listens on every interface.
    host: env.CAVIAR_HOST || '127.0.0.1',
    dataDirectory: resolve(env.CAVIAR_DATA_DIR || './data'),
    concurrency,
    threadsPerJob: threadsPerJob(concurrency, cores),
    ...(token ? { token } : {}),
    logLevel: env.LOG_LEVEL || 'info',
    // Four fifths of the memory shared among the slots leaves room for the server itself.
    jobMemoryBytes:
      integerSetting(env, 'CAVIAR_JOB_MEMORY_MB', Math.floor((0.8 * availableMemory()) / concurrency / 2 ** 20), 1) * 2 ** 20,
    maxUploadBytes: integerSetting(env, 'CAVIAR_MAX_UPLOAD_MB', 256, 1) * 1024 * 1024,
    minFreeBytes: integerSetting(env, 'CAVIAR_MIN_FREE_MB', 64, 0) * 1024 * 1024,
    heartbeatMs: integerSetting(env, 'CAVIAR_HEARTBEAT_MS', 1000, 10),
    stallMs: integerSetting(env, 'CAVIAR_STALL_MS', 30_000, 100),
    pingMs: integerSetting(env, 'CAVIAR_PING_MS', 30_000, 10),
    ...(mode === undefined ? {} : { distributed: mode }),
    allowedOrigins: origins(env, 'CAVIAR_ALLOWED_ORIGINS'),
    gradCheckConcurrency: integerSetting(env, 'CAVIAR_GRADCHECK_CONCURRENCY', 1, 1),
    gradCheckQueue: integerSetting(env, 'CAVIAR_GRADCHECK_QUEUE', 8, 0),
    gradCheckTimeoutMs: integerSetting(env, 'CAVIAR_GRADCHECK_TIMEOUT_MS', 30_000, 100),
  };
}
