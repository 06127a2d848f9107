import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

// No Docker engine runs here: the Dockerfile is checked by reading it (the rules a linter
// such as hadolint applies, and ours), and, with CAVIAR_DOCKERFILE_BUILD=1 (as CI runs it),
// by running its build stage's commands in a clean folder and starting the service from
// exactly what its runtime stage copies.
const root = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

interface Instruction {
  keyword: string;
  argument: string;
  stage: number;
}

/** The Dockerfile's instructions, continuation lines joined, comments left out. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  let stage = -1;
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      if (keyword.toUpperCase() === 'FROM') stage += 1;
      return { keyword: keyword.toUpperCase(), argument: rest.join(' '), stage };
    });
}

const steps = instructions(dockerfile);
const finalStage = Math.max(...steps.map((step) => step.stage));
const inStage = (stage: number, keyword: string) => steps.filter((step) => step.stage === stage && step.keyword === keyword);

/** COPY's sources and destination, for copies from the build context or another stage. */
function copies(stage: number, from: 'context' | 'build') {
  return inStage(stage, 'COPY')
    .filter((step) => step.argument.startsWith('--from=') === (from === 'build'))
    .map((step) => {
      const parts = step.argument.replace(/^--from=\S+\s+/, '').split(/\s+/);
      return { sources: parts.slice(0, -1), destination: parts.at(-1) as string };
    });
}

t.test('the Dockerfile follows the rules of a small, safe image', async (t) => {
  t.equal(finalStage, 1, 'two stages: build and runtime');
  for (const from of inStage(0, 'FROM').concat(inStage(1, 'FROM'))) t.match(from.argument, /^node:20[\w.-]*-slim/, 'a pinned, slim base');
  for (const run of steps.filter((step) => step.keyword === 'RUN' && step.argument.includes('apt-get install'))) {
    t.match(run.argument, /--no-install-recommends/, 'apt-get without recommends');
    t.match(run.argument, /rm -rf \/var\/lib\/apt\/lists/, 'apt lists removed in the same layer');
    t.match(run.argument, /apt-get update &&/, 'update and install in one layer');
  }
  t.notOk(steps.some((step) => step.keyword === 'ADD'), 'COPY, not ADD');
  const runtimeApt = inStage(finalStage, 'RUN').map((step) => step.argument).join(' ');
  t.notMatch(runtimeApt, /\b(g\+\+|cmake|libopenblas-dev)\b/, 'no compilers in the runtime stage');
  t.match(runtimeApt, /libopenblas0/, 'the OpenBLAS runtime is there');
  t.match(inStage(finalStage, 'USER')[0]?.argument ?? '', /^(?!root)\w+/, 'runs as a non-root user');
  t.ok(inStage(finalStage, 'HEALTHCHECK')[0]?.argument.includes('/healthz'), 'a health check against /healthz');
  t.match(inStage(finalStage, 'ENTRYPOINT')[0]?.argument ?? '', /tini/, 'tini passes SIGTERM on to node');
  t.match(inStage(finalStage, 'VOLUME')[0]?.argument ?? '', '/data');
  const runtimeEnvironment = inStage(finalStage, 'ENV').map((step) => step.argument).join(' ');
  t.match(runtimeEnvironment, /CAVIAR_DATA_DIR=\/data/);
  t.match(runtimeEnvironment, /(^|\s)CAVIAR_HOST=0\.0\.0\.0(\s|$)/, 'listens on every interface of the container');
  for (const { sources } of [...copies(0, 'context'), ...copies(finalStage, 'context')])
    for (const source of sources) t.ok(existsSync(join(root, source)), `${source} exists in the build context`);
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
  for (const entry of ['node_modules', 'build', 'dist', 'data', '.git']) t.ok(ignored.includes(entry), `.dockerignore leaves out ${entry}`);
});

const build = process.env.CAVIAR_DOCKERFILE_BUILD === '1';
const skip = build ? {} : { skip: 'set CAVIAR_DOCKERFILE_BUILD=1 to run the build stage (minutes; CI does)' };

t.test("the build stage's commands build in a clean folder, and the runtime stage's files serve", { ...skip, timeout: 900_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'caviar-docker-'));
  const buildDirectory = join(work, 'build-stage');
  const runtimeDirectory = join(work, 'runtime-stage');
  mkdirSync(buildDirectory);
  mkdirSync(runtimeDirectory);
  for (const { sources, destination } of copies(0, 'context'))
    for (const source of sources) cpSync(join(root, source), destination.endsWith('/') ? join(buildDirectory, destination, source) : join(buildDirectory, destination), { recursive: true });
  const environment = Object.fromEntries(
    inStage(0, 'ENV').flatMap((step) => step.argument.split(/\s+/).map((pair) => pair.split('=') as [string, string])),
  );
  // The system packages are this machine's (CI installs the same ones); the rest runs as written.
  for (const step of inStage(0, 'RUN').filter((step) => !step.argument.includes('apt-get'))) {
    await promisify(execFile)('sh', ['-c', step.argument], { cwd: buildDirectory, env: { ...process.env, ...environment }, maxBuffer: 64 * 1024 * 1024 });
  }
  for (const { sources, destination } of copies(finalStage, 'build')) {
    const source = sources[0] as string;
    const target = destination.endsWith('/') ? join(runtimeDirectory, destination, basename(source)) : join(runtimeDirectory, destination);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(join(buildDirectory, source.replace(/^\/app\//, '')), target, { recursive: true });
  }
  for (const { sources, destination } of copies(finalStage, 'context'))
    cpSync(join(root, sources[0] as string), join(runtimeDirectory, destination), { recursive: true });
  t.notOk(existsSync(join(runtimeDirectory, 'node_modules', 'typescript')), 'no development dependencies at run time');

  const data = join(work, 'data');
  const server = spawn(process.execPath, ['dist/src/cli.js', 'serve'], {
    cwd: runtimeDirectory,
    env: { ...process.env, CAVIAR_DATA_DIR: data, CAVIAR_PORT: '0', CAVIAR_HOST: '127.0.0.1', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => server.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    server.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /"url":"(http:\/\/[^"]+)"/.exec(output);
      if (ready !== null) resolve(ready[1] as string);
    });
    server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.on('exit', (code) => reject(new Error(`the runtime stage's server exited with ${code}: ${output}`)));
  });
  t.equal((await fetch(`${url}/readyz`)).status, 200, 'the runtime files load the addon and open the store');
  const submitted = await fetch(`${url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: readFileSync(join(root, 'examples', 'moons-quickstart.json')),
  });
  t.equal(submitted.status, 202);
  const { id } = (await submitted.json()) as { id: string };
  for (let tries = 0; tries < 200; tries += 1) {
    const job = (await (await fetch(`${url}/v1/jobs/${id}`)).json()) as { status: string };
    if (job.status === 'succeeded') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.equal(((await (await fetch(`${url}/v1/jobs/${id}`)).json()) as { status: string }).status, 'succeeded', 'a job trains');
  const stopped = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
  server.kill('SIGTERM');
  t.equal(await stopped, 0, 'SIGTERM ends it cleanly');
});
