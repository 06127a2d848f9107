import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { parse } from 'yaml';
import { freshDatabase } from '../fixtures/postgres.js';
import { call, moonsJob, temporaryDirectory, waitFor } from '../fixtures/service.js';

// No Docker engine runs here: docker-compose.yml is checked by reading it against what it
// names (the Dockerfile, the settings src/server/config.ts reads, the commands of the CLI),
// and, with PostgreSQL and Redis at hand (.ci/servers), by running its API and worker
// commands with its environment, as the containers would.
const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface Healthcheck {
  test?: string[] | string;
  disable?: boolean;
}

interface ComposeService {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition?: string }> | string[];
  stop_grace_period?: string;
  restart?: string;
}

interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

// Compose reads `<<` merge keys, as YAML 1.1 did; the workers share theirs through one.
const compose = parse(read('docker-compose.yml'), { merge: true }) as Compose;
const services = Object.entries(compose.services);

/** Compose's interpolation: ${NAME}, ${NAME:-default}, and ${NAME:?message}, which refuses to start. */
function interpolate(text: string, variables: Record<string, string>): string {
  return text.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_match, name: string, operator: string | undefined, word: string | undefined) => {
    const value = variables[name];
    if (value !== undefined && value !== '') return value;
    if (operator === '?') throw new Error(`${name}: ${word ?? ''}`);
    return operator === '-' ? (word ?? '') : '';
  });
}

const interpolated = (environment: Record<string, string> = {}, variables: Record<string, string> = {}) =>
  Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, interpolate(String(value), variables)]));

// The runtime stage of the Dockerfile: its environment and its command.
const runtimeStage = read('Dockerfile').replace(/\\\n/g, ' ').split(/^FROM\s/m).at(-1) as string;
const instructions = (keyword: string) => [...runtimeStage.matchAll(new RegExp(`^${keyword}\\s+(.+)$`, 'gm'))].map((match) => match[1] as string);
const imageEnvironment: Record<string, string> = Object.fromEntries(
  instructions('ENV').flatMap((argument) => argument.trim().split(/\s+/).map((pair) => pair.split('=') as [string, string])),
);
const imageCommand = JSON.parse(instructions('CMD')[0] ?? '[]') as string[];

/** The settings the service reads: every CAVIAR_ name in config.ts, and what it takes from env. directly. */
const configSource = read('src/server/config.ts');
const settings = new Set([...configSource.matchAll(/\bCAVIAR_[A-Z_]+\b|(?<=\benv\.)[A-Z_]+\b/g)].map((match) => match[0]));

/** The services that run Caviar: those with a command of its CLI. */
const caviar = services.filter(([, service]) => service.command?.[1] === imageCommand[1]);
const builder = services.filter(([, service]) => service.build !== undefined);
const subcommand = (service: ComposeService) => service.command?.slice(2).join(' ');
const api = caviar.find(([, service]) => subcommand(service) === 'serve');
const workers = caviar.filter(([, service]) => subcommand(service) === 'worker');

/** A compose duration (1m30s, 15s, 500ms) in milliseconds. */
function milliseconds(duration: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)];
  if (parts.map((part) => part[0]).join('') !== duration) throw new Error(`not a duration: ${duration}`);
  return parts.reduce((sum, part) => sum + Number(part[1]) * (units[part[2] as string] as number), 0);
}

/** depends_on's services and conditions, in its short form (a list: no condition) or its long one. */
const dependencies = (service: ComposeService): [string, { condition?: string }][] =>
  Array.isArray(service.depends_on) ? service.depends_on.map((name) => [name, {}]) : Object.entries(service.depends_on ?? {});

t.test('the compose file runs one API server and two worker hosts from the image the Dockerfile builds', async (t) => {
  t.ok(api, 'a service runs caviar serve');
  t.equal(workers.length, 2, 'two services run caviar worker');
  t.same(builder.map(([name]) => name), [api?.[0]], 'the API service builds the image, once');
  const build = builder[0]?.[1].build;
  const context = typeof build === 'string' ? build : build?.context;
  const dockerfile = typeof build === 'object' ? (build.dockerfile ?? 'Dockerfile') : 'Dockerfile';
  t.equal(join(root, context ?? '', dockerfile), join(root, 'Dockerfile'), 'from the Dockerfile at the root');
  const image = builder[0]?.[1].image;
  t.ok(image, 'the image it builds is named, for the others to use');
  for (const [name, service] of caviar) t.equal(service.image, image, `${name} runs the image the Dockerfile builds`);
  const ofImage = services.filter(([, service]) => service.image === image).map(([name]) => name);
  t.same(ofImage, caviar.map(([name]) => name), "every service of that image runs the image's CLI");
  const others = services.filter(([, service]) => service.image !== image).map(([name, service]) => [name, service.image]);
  t.same(others, [['postgres', 'postgres:15'], ['redis', 'redis:7']], 'besides them, PostgreSQL 15 and Redis 7');
});

t.test("each service runs a command of the CLI, the way the image's CMD does", async (t) => {
  t.same(api?.[1].command, imageCommand, "the API server runs the image's CMD");
  const packageJson = JSON.parse(read('package.json')) as { bin: Record<string, string> };
  t.equal(imageCommand[1], packageJson.bin.caviar, "the CMD runs the package's caviar command");
  t.ok(existsSync(join(root, imageCommand[1] as string)), 'which is built here (npm run build:ts)');
  for (const [name, service] of caviar) {
    t.same(service.command?.slice(0, 2), imageCommand.slice(0, 2), `${name} runs the CLI as the CMD does`);
    const command = subcommand(service) as string;
    const help = await promisify(execFile)(process.execPath, [imageCommand[1] as string, ...command.split(' '), '--help'], { cwd: root }).catch(
      (error: { stdout: string; stderr: string }) => ({ stdout: `${error.stdout}${error.stderr}` }),
    );
    t.match(help.stdout, new RegExp(`^caviar ${command}\\b`), `${name}: caviar ${command} is a command of the CLI`);
  }
});

t.test('every variable set is a setting the service reads, and the URLs name the compose services', async (t) => {
  t.ok(settings.has('CAVIAR_DATABASE_URL') && settings.has('LOG_LEVEL'), 'the settings are read from config.ts');
  for (const [name, service] of caviar)
    for (const variable of Object.keys(service.environment ?? {})) t.ok(settings.has(variable), `${name}: ${variable} is read by config.ts`);
  const postgres = compose.services.postgres;
  const redis = compose.services.redis;
  const database = interpolated(postgres?.environment);
  const portFlag = redis?.command?.indexOf('--port') ?? -1;
  const redisPort = portFlag >= 0 ? redis?.command?.[portFlag + 1] : '6379';
  t.notOk(postgres?.command, "PostgreSQL listens on its image's port, 5432");
  for (const [name, service] of caviar) {
    const environment = interpolated(service.environment, { CAVIAR_TOKEN: 'token' });
    const databaseUrl = new URL(environment.CAVIAR_DATABASE_URL ?? '');
    t.match(
      { protocol: databaseUrl.protocol, host: databaseUrl.host, user: databaseUrl.username, password: databaseUrl.password, database: databaseUrl.pathname },
      { protocol: 'postgres:', host: 'postgres:5432', user: database.POSTGRES_USER, password: database.POSTGRES_PASSWORD, database: `/${database.POSTGRES_DB}` },
      `${name}: CAVIAR_DATABASE_URL is the postgres service's database, with its user and password`,
    );
    const redisUrl = new URL(environment.CAVIAR_REDIS_URL ?? '');
    t.same([redisUrl.protocol, redisUrl.host], ['redis:', `redis:${redisPort}`], `${name}: CAVIAR_REDIS_URL is the redis service`);
    t.same(service.environment?.CAVIAR_DATA_DIR, undefined, `${name}: data in the image's ${imageEnvironment.CAVIAR_DATA_DIR}`);
  }
});

t.test("the API's port is published, it listens beyond loopback only with a token, and its health check asks /readyz", async (t) => {
  const service = api?.[1] as ComposeService;
  const environment = { ...imageEnvironment, ...interpolated(service.environment, { CAVIAR_TOKEN: 'token' }) };
  const port = environment.CAVIAR_PORT ?? '8080';
  const published = (service.ports ?? []).map((mapping) => String(mapping).split(':').at(-1));
  t.same(published, [port], `the container port it publishes is the one it listens on (${port})`);
  const check = service.healthcheck?.test;
  t.ok(Array.isArray(check) && check[0] === 'CMD' && check[1] === 'node', 'the check runs node, which the image has (no curl there)');
  t.match(Array.isArray(check) ? check.join(' ') : '', `http://127.0.0.1:${port}/readyz`, 'on the port it listens on');
  t.notOk(['127.0.0.1', 'localhost', '::1'].includes(environment.CAVIAR_HOST ?? '127.0.0.1'), 'it listens on every interface of its container');
  t.throws(() => interpolated(service.environment), { message: /^CAVIAR_TOKEN: \S/ }, 'so it does not start without CAVIAR_TOKEN, and says why');
  t.same(environment.CAVIAR_TOKEN, 'token', 'the token is the one given');
});

t.test('health checks and dependencies: every dependency is healthy before its dependents start', async (t) => {
  for (const [name, service] of services) {
    const check = service.healthcheck;
    if (workers.some(([worker]) => worker === name)) {
      // The image's HEALTHCHECK asks /healthz on a port a worker host does not open.
      t.equal(check?.disable, true, `${name}: a worker host's readiness is its dependencies'; the image's HTTP check is off`);
      t.same(dependencies(service).map(([dependency]) => dependency).sort(), ['postgres', 'redis'], `${name} waits for PostgreSQL and Redis`);
    } else {
      t.ok(check?.disable !== true && (check?.test?.length ?? 0) > 0, `${name} has a health check`);
    }
    t.ok(service.restart, `${name} has a restart policy`);
    for (const [dependency, { condition }] of dependencies(service)) {
      t.equal(condition, 'service_healthy', `${name} waits until ${dependency} is healthy`);
      const target = compose.services[dependency]?.healthcheck;
      t.ok(target?.test !== undefined && target.disable !== true, `${dependency}, which ${name} needs, has a health check`);
    }
  }
  t.same(dependencies(api?.[1] as ComposeService).map(([dependency]) => dependency).sort(), ['postgres', 'redis'], 'the API waits for PostgreSQL and Redis');
});

t.test("the Caviar services get longer than the service's own shutdown limit to stop on SIGTERM", async (t) => {
  const limit = /const SHUTDOWN_LIMIT_MS = ([\d_]+);/.exec(read('src/server/index.ts'))?.[1];
  t.ok(limit, 'src/server/index.ts says how long a shutdown may take');
  for (const [name, service] of caviar)
    t.ok(milliseconds(service.stop_grace_period ?? '10s') > Number(limit?.replace(/_/g, '')), `${name}: stop_grace_period ${service.stop_grace_period}`);
});

t.test('volumes: each one used is declared, each one declared is used, and each Caviar host has its own data', async (t) => {
  const named = services.flatMap(([name, service]) =>
    (service.volumes ?? [])
      .map((mount) => String(mount).split(':'))
      .filter(([source]) => source !== undefined && !/^[./~]/.test(source))
      .map(([source, target]) => ({ service: name, source: source as string, target })),
  );
  t.same([...new Set(named.map((mount) => mount.source))].sort(), Object.keys(compose.volumes ?? {}).sort(), 'the volumes used are the ones declared');
  for (const [name] of caviar) {
    const mounts = named.filter((mount) => mount.service === name && mount.target === imageEnvironment.CAVIAR_DATA_DIR);
    t.equal(mounts.length, 1, `${name} keeps its data directory in a named volume`);
    t.equal(named.filter((mount) => mount.source === mounts[0]?.source).length, 1, `${name}'s volume is its own`);
  }
  t.ok(named.some((mount) => mount.service === 'postgres' && mount.target === '/var/lib/postgresql/data'), "PostgreSQL's data is in a volume");
  t.ok(named.some((mount) => mount.service === 'redis' && mount.target === '/data'), "Redis's data is in a volume");
  t.ok(compose.services.redis?.command?.join(' ').includes('--appendonly yes'), 'and Redis writes its append-only file there');
});

const servers =
  process.env.CAVIAR_TEST_DATABASE_URL && process.env.CAVIAR_TEST_REDIS_URL ? {} : { skip: 'needs PostgreSQL and Redis: run under .ci/servers' };

/** A port nothing listens on now, for a command that takes it from the environment, as compose's mapping does. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

interface Running {
  name: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<number | NodeJS.Signals>;
}

t.test("the compose file's API and worker commands, run here with its environment, train a job and stop cleanly", { ...servers, timeout: 180_000 }, async (t) => {
  const token = randomBytes(12).toString('hex');
  const port = await freePort();
  // What compose would give each container, but the URLs of the test's servers, a Redis
  // prefix of its own, loopback, a free port, and a data directory of each host's own.
  const local = {
    CAVIAR_DATABASE_URL: await freshDatabase(t),
    CAVIAR_REDIS_URL: process.env.CAVIAR_TEST_REDIS_URL as string,
    CAVIAR_REDIS_PREFIX: `compose-${randomBytes(6).toString('hex')}`,
    CAVIAR_HOST: '127.0.0.1',
    CAVIAR_PORT: String(port),
  };
  const started: Running[] = [];
  t.teardown(() => {
    for (const { child } of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const start = (name: string, service: ComposeService) => {
    const [, ...args] = service.command as string[];
    const environment = { ...imageEnvironment, ...interpolated(service.environment, { CAVIAR_TOKEN: token }), ...local, CAVIAR_DATA_DIR: temporaryDirectory() };
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...environment }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | NodeJS.Signals>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? (code as number))));
    const running = { name, child, output: () => output, exited };
    started.push(running);
    return running;
  };
  const [apiName, apiService] = api as [string, ComposeService];
  const server = start(apiName, apiService);
  const hosts = workers.map(([name, service]) => start(name, service));

  // The compose health check itself, on the port given here.
  const [, node, ...check] = apiService.healthcheck?.test as string[];
  t.equal(node, 'node', 'the health check runs node');
  const healthyAt = (at: number) =>
    new Promise<boolean>((resolve) =>
      execFile(process.execPath, check.map((argument) => argument.replace(`:${imageEnvironment.CAVIAR_PORT}/`, `:${at}/`)), (error) => resolve(error === null)),
    );
  await waitFor(async () => {
    for (const running of started) if (running.child.exitCode !== null) throw new Error(`${running.name} exited:\n${running.output().slice(-2000)}`);
    return healthyAt(port);
  }, 60_000, 200);
  t.equal(await healthyAt(port), true, "the API's health check passes");
  t.equal(await healthyAt(await freePort()), false, 'and fails where no API listens');
  const url = { url: `http://127.0.0.1:${port}` };
  const ready = await waitFor(async () => {
    const reply = await call(url, 'GET', '/readyz');
    return reply.body.workerHosts === workers.length ? reply : undefined;
  }, 60_000, 200);
  t.match(ready.body, { status: 'ready', mode: 'distributed', workerHosts: 2 }, '/readyz: the distributed mode, both worker hosts connected');

  t.equal((await call(url, 'POST', '/v1/jobs', moonsJob(3))).status, 401, 'a request without the token is refused');
  const authorization = { authorization: `Bearer ${token}` };
  const submitted = await call(url, 'POST', '/v1/jobs', moonsJob(3), authorization);
  t.equal(submitted.status, 202, 'with the token, the job is accepted');
  const id = submitted.body.id as string;
  const job = await waitFor(async () => {
    const { body } = await call(url, 'GET', `/v1/jobs/${id}`, undefined, authorization);
    return ['succeeded', 'failed', 'cancelled', 'stopped'].includes(body.status) ? body : undefined;
  }, 90_000, 100);
  t.equal(job.status, 'succeeded', 'the job trains');
  const trainedBy = hosts.filter((host) => new RegExp(`"jobId":"${id}"[^\n]*"msg":"job started"`).test(host.output()));
  t.equal(trainedBy.length, 1, 'on one of the worker hosts');

  for (const { child } of started) child.kill('SIGTERM');
  const codes = await Promise.all(started.map(({ exited }) => exited));
  t.same(codes, started.map(() => 0), 'SIGTERM stops the API server and both worker hosts, each with exit code 0');
});
