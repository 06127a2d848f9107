// The real server in a child process, for the benchmarks that measure the service from
// outside (service.ts, scale.ts, soak.ts, host-kills.ts, user-view.ts, concurrency.ts):
// started on an ephemeral port with a data directory of its own, its log in a file, stopped
// by signal; a worker host of the distributed mode (`caviar worker`) the same way; and a job
// submitted and followed to its end as a client does it.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { JobEvent } from '../src/jobs/index.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
/** `caviar serve`, as users start it. */
export const cli = join(root, 'dist/src/cli.js');

/** Where a run's figures go: bench/results/[KIND-]TIME[-smoke].json. */
export const resultsFile = (kind: string | undefined, smoke: boolean) =>
  join(root, 'bench/results', `${kind === undefined ? '' : `${kind}-`}${new Date().toISOString().replaceAll(':', '-')}${smoke ? '-smoke' : ''}.json`);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Resolves with 'timeout' after `ms`, without keeping the process alive until then. */
export const deadline = (ms: number) => new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref());

/** A process of the service: an API server or a worker host. */
export interface ServiceProcess {
  dataDirectory: string;
  child: ChildProcess;
  exited: Promise<number | NodeJS.Signals>;
  /** Its log so far (pino JSON lines). */
  log(): string;
}

export interface ServerProcess extends ServiceProcess {
  url: string;
}

export interface StartOptions {
  /** An existing data directory (a store written beforehand); a new one by default. */
  dataDirectory?: string;
  /** Node's own options, before the script. */
  nodeArgs?: string[];
}

/**
 * Starts `node script ...args` and resolves once its log has a line that matches `ready`,
 * with that match. Its log goes to a file rather than a pipe: at info level a server writes
 * two lines a request, which this process would otherwise have to read while it measures.
 */
async function startProcess(
  what: string,
  ready: RegExp,
  script: string,
  args: string[],
  env: Record<string, string>,
  options: StartOptions,
): Promise<{ service: ServiceProcess; match: RegExpExecArray }> {
  const dataDirectory = options.dataDirectory ?? mkdtempSync(join(tmpdir(), 'caviar-bench-service-'));
  const logPath = join(dataDirectory, 'server.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
    // Embedded unless `env` names the distributed mode's servers: the variables this process
    // was given (to find them for the distributed benchmarks) must not turn every server into one.
    env: {
      ...process.env,
      CAVIAR_PORT: '0',
      CAVIAR_HOST: '127.0.0.1',
      CAVIAR_DATA_DIR: dataDirectory,
      LOG_LEVEL: 'info',
      CAVIAR_DATABASE_URL: '',
      CAVIAR_REDIS_URL: '',
      ...env,
    },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? (code as number))));
  let ended: number | NodeJS.Signals | undefined;
  void exited.then((code) => (ended = code));
  const log = () => readFileSync(logPath, 'utf8');
  const started = Date.now();
  for (;;) {
    const match = ready.exec(log());
    if (match !== null) return { service: { dataDirectory, child, exited, log }, match };
    if (ended !== undefined || Date.now() - started > 60_000) {
      child.kill('SIGKILL');
      throw new Error(`the ${what} ${ended === undefined ? 'did not start' : `exited (${ended})`}:\n${log().slice(-2000)}`);
    }
    await sleep(20);
  }
}

/** Starts `node script ...args` as a server on an ephemeral port of 127.0.0.1, and resolves with its URL from the "caviar is ready" line. */
export async function startServerProcess(script: string, args: string[], env: Record<string, string>, options: StartOptions = {}): Promise<ServerProcess> {
  const { service, match } = await startProcess('server', /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"caviar is ready"/, script, args, env, options);
  return { ...service, url: match[1] as string };
}

/** Starts `node script worker` (`caviar worker` by default; the distributed mode's settings in `env`) and resolves once it takes jobs. */
export async function startWorkerProcess(env: Record<string, string>, script = cli, options: StartOptions = {}): Promise<ServiceProcess> {
  return (await startProcess('worker host', /"msg":"caviar worker is ready"/, script, ['worker'], env, options)).service;
}

export async function stopServer(server: ServiceProcess, signal: NodeJS.Signals): Promise<number | NodeJS.Signals> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal);
  const code = await Promise.race([server.exited, deadline(15_000)]);
  if (code === 'timeout') {
    server.child.kill('SIGKILL');
    return server.exited;
  }
  return code;
}

export async function call(server: ServerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(server.url + path, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: text };
  }
}

/** A job as a client saw it: every event with its receipt, on performance.now()'s clock (ms). */
export interface FollowedJob {
  id: string;
  /** Just before the POST was sent. */
  postedAt: number;
  events: { at: number; event: JobEvent }[];
  done: Extract<JobEvent, { type: 'done' }>;
  /** The done event's receipt. */
  doneAt: number;
}

/**
 * POSTs a job and follows its websocket (its history from the start, then live events) to
 * its done event; throws unless the job succeeded. The socket opens once the POST's reply
 * names the job, so a job done by then is read from its history, with that late.
 */
export async function runJob(server: ServerProcess, spec: unknown, timeoutMs = 30 * 60_000): Promise<FollowedJob> {
  const postedAt = performance.now();
  const reply = await call(server, 'POST', '/v1/jobs', spec);
  if (reply.status !== 202) throw new Error(`the job was refused: ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
  const id = reply.body.id as string;
  const events: FollowedJob['events'] = [];
  const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1/jobs/${id}/events?since=0`);
  const followed = new Promise<FollowedJob>((resolve, reject) => {
    socket.on('message', (data) => {
      const at = performance.now();
      const event = JSON.parse(data.toString()) as JobEvent;
      events.push({ at, event });
      if (event.type !== 'done') return;
      if (event.status === 'succeeded') resolve({ id, postedAt, events, done: event, doneAt: at });
      else reject(new Error(`job ${id} ended ${event.status}: ${event.error?.code ?? ''} ${event.error?.message ?? ''}`));
    });
    socket.on('close', (code) => reject(new Error(`the events of job ${id} closed (${code}) before its done event`)));
    // 'close' follows an error.
    socket.on('error', () => {});
  });
  // A rejection after the deadline (the socket closed below) is no one's to handle.
  followed.catch(() => {});
  try {
    const outcome = await Promise.race([followed, deadline(timeoutMs)]);
    if (outcome === 'timeout') throw new Error(`job ${id} was not done in ${timeoutMs} ms (last event: ${JSON.stringify(events.at(-1)?.event ?? null).slice(0, 200)})`);
    return outcome;
  } finally {
    socket.close();
  }
}

export const percentile = (sorted: ArrayLike<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number);
export const ascending = (numbers: number[]) => Float64Array.from(numbers).sort();
