import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import t, { type Test } from 'tap';
import { call, moonsJob, openEvents, startService, waitFor } from '../fixtures/service.js';

const service = await startService();
t.teardown(async () => {
  await service.stop('SIGKILL');
  rmSync(service.dataDirectory, { recursive: true, force: true });
});

/** A Prometheus text exposition as samples: `name{labels}` to value, and the declared metric types. */
function parseMetrics(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) types.set(type[1] as string, type[2] as string);
    if (line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (sample === null) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.set(sample[1] as string, Number(sample[2]));
  }
  return { samples, types };
}

async function metrics() {
  const reply = await call<string>(service, 'GET', '/metrics');
  if (reply.status !== 200) throw new Error(`/metrics answered ${reply.status}`);
  return { contentType: reply.headers.get('content-type'), ...parseMetrics(reply.body) };
}

t.test('/openapi.json is an OpenAPI 3 document with the job routes and the JobSpec schema', async (t) => {
  const reply = await call(service, 'GET', '/openapi.json');
  t.equal(reply.status, 200);
  t.match(reply.headers.get('content-type'), /application\/json/);
  const document = reply.body as {
    openapi: string;
    info: { title: string; version: string };
    paths: Record<string, Record<string, { parameters?: { name: string; in: string; required?: boolean }[]; requestBody?: any; responses: Record<string, { description?: string }> }>>;
    components: { schemas: Record<string, any> };
  };
  t.match(document.openapi, /^3\.\d+\.\d+$/, `version ${document.openapi}`);
  t.type(document.info.title, 'string');
  t.type(document.info.version, 'string');

  const operations: [string, string][] = [
    ['/v1/jobs', 'post'],
    ['/v1/jobs', 'get'],
    ['/v1/jobs/{id}', 'get'],
    ['/v1/jobs/{id}', 'patch'],
    ['/v1/jobs/{id}/cancel', 'post'],
    ['/v1/jobs/{id}/pause', 'post'],
    ['/v1/jobs/{id}/resume', 'post'],
    ['/v1/jobs/{id}/metrics', 'get'],
    ['/v1/jobs/{id}/model', 'get'],
    ['/v1/jobs/{id}/predict', 'post'],
    ['/v1/datasets', 'post'],
    ['/v1/gradcheck', 'post'],
  ];
  for (const [path, method] of operations) t.ok(document.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);

  // The rules of the format that a generator most easily breaks.
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  for (const [path, item] of Object.entries(document.paths)) {
    t.match(path, /^\//, `${path} starts with /`);
    const templated = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
    for (const [method, operation] of Object.entries(item)) {
      t.ok(methods.includes(method), `${path}: ${method} is an HTTP method`);
      const responses = Object.entries(operation.responses ?? {});
      t.ok(responses.length > 0, `${method} ${path} has responses`);
      for (const [status, response] of responses) {
        t.match(status, /^([1-5]\d\d|[1-5]XX|default)$/, `${method} ${path}: response key ${status}`);
        t.type(response.description, 'string', `${method} ${path} ${status} has a description`);
      }
      const declared = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path');
      t.same(declared.map((parameter) => parameter.name).sort(), [...templated].sort(), `${method} ${path} declares its path parameters`);
      for (const parameter of declared) t.equal(parameter.required, true, `${method} ${path}: path parameter ${parameter.name} is required`);
    }
  }
  const text = JSON.stringify(document);
  for (const [, pointer] of text.matchAll(/"\$ref":"([^"]*)"/g)) {
    const target = (pointer as string).replace(/^#\//, '').split('/').reduce<any>((node, key) => node?.[key], document);
    t.ok((pointer as string).startsWith('#/') && target !== undefined, `$ref ${pointer} resolves in the document`);
  }

  const jobSpec = document.components.schemas.JobSpec;
  t.ok(jobSpec, 'components.schemas.JobSpec');
  t.equal(jobSpec.type, 'object');
  t.same([...jobSpec.required].sort(), ['dataset', 'model', 'training']);
  for (const field of ['name', 'dataset', 'split', 'normalize', 'model', 'loss', 'training']) t.ok(jobSpec.properties[field], `JobSpec has ${field}`);
  t.equal(jobSpec.additionalProperties, false, 'unknown fields are refused, as the server does');
  t.same(jobSpec.properties.training.properties.epochs, { minimum: 1, maximum: 1e6, type: 'integer' });
  const submitted = document.paths['/v1/jobs']?.post?.requestBody?.content?.['application/json']?.schema;
  // A reference to the component, or the component itself inlined.
  if (submitted?.$ref !== undefined) t.equal(submitted.$ref, '#/components/schemas/JobSpec', 'POST /v1/jobs takes a JobSpec');
  else t.same(submitted, jobSpec, 'POST /v1/jobs takes a JobSpec');
  t.ok(document.components.schemas.Job, 'components.schemas.Job');
});

t.test('/docs serves the OpenAPI UI as HTML', async (t) => {
  for (const path of ['/docs', '/docs/']) {
    const reply = await call<string>(service, 'GET', path);
    t.equal(reply.status, 200, path);
    t.match(reply.headers.get('content-type'), /^text\/html/);
    t.match(reply.body, /<html/i);
    t.match(reply.body, /swagger/i);
  }
});

t.test('/readyz says ready with the BLAS in use; /healthz says ok', async (t) => {
  const ready = await call(service, 'GET', '/readyz');
  t.equal(ready.status, 200);
  t.equal(ready.body.status, 'ready');
  t.match(ready.body.blas, /\S/);
  t.same((await call(service, 'GET', '/healthz')).body, { status: 'ok' });
});

t.test('/metrics exposes jobs by status, queue depth, epochs trained, event-loop lag and websocket clients', async (t) => {
  const before = await metrics();
  t.match(before.contentType, /^text\/plain; version=0\.0\.4/);
  for (const [name, type] of [
    ['caviar_jobs', 'gauge'],
    ['caviar_queue_depth', 'gauge'],
    ['caviar_running_jobs', 'gauge'],
    ['caviar_epochs_trained_total', 'counter'],
    ['caviar_websocket_clients', 'gauge'],
    ['caviar_nodejs_eventloop_lag_seconds', 'gauge'],
  ] as const)
    t.equal(before.types.get(name), type, `${name} is a ${type}`);
  for (const status of ['queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled'])
    t.equal(before.samples.get(`caviar_jobs{status="${status}"}`), 0, `no ${status} jobs yet`);
  t.equal(before.samples.get('caviar_queue_depth'), 0);
  t.equal(before.samples.get('caviar_epochs_trained_total'), 0);
  t.equal(before.samples.get('caviar_websocket_clients'), 0);
  t.ok((before.samples.get('caviar_nodejs_eventloop_lag_seconds') as number) >= 0, 'event-loop lag is a number');

  const clients = async () => (await metrics()).samples.get('caviar_websocket_clients');
  const opened = () => {
    const stream = openEvents(service, '/v1/events');
    return new Promise<typeof stream>((resolve) => stream.socket.once('open', () => resolve(stream)));
  };
  const all = await opened();
  await waitFor(async () => (await clients()) === 1);
  const second = await opened();
  await waitFor(async () => (await clients()) === 2);
  t.equal(await clients(), 2, 'each open event socket is counted');
  second.socket.close();
  await second.closed;
  await waitFor(async () => (await clients()) === 1);
  t.equal(await clients(), 1, 'a closed socket is no longer counted');

  const epochs = 4;
  const { id } = (await call(service, 'POST', '/v1/jobs', moonsJob(epochs))).body as { id: string };
  const stream = openEvents(service, `/v1/jobs/${id}/events`);
  await stream.closed;
  t.match(stream.events.at(-1), { type: 'done', status: 'succeeded' });
  const after = await metrics();
  t.equal(after.samples.get('caviar_epochs_trained_total'), epochs, `epochs trained grew by the job's ${epochs}`);
  t.equal(after.samples.get('caviar_jobs{status="succeeded"}'), 1);
  t.equal(after.samples.get('caviar_queue_depth'), 0);
  t.equal(after.samples.get('caviar_running_jobs'), 0);
  await waitFor(async () => all.events.some((event) => event.type === 'done'));
  t.equal(all.events.filter((event) => event.type === 'epoch').length, epochs, '/v1/events carried every epoch too');
  all.socket.close();
  await all.closed;
  await waitFor(async () => (await clients()) === 0);
  t.equal(await clients(), 0, 'no socket left counted');
});

t.test('POST /v1/gradcheck finds backprop right for a small tanh network, layer by layer', async (t) => {
  const model = {
    layers: [
      { units: 5, activation: 'tanh' },
      { units: 4, activation: 'tanh' },
      { units: 3, activation: 'softmax' },
    ],
    init: 'xavier',
  };
  // The fields DESIGN.md names; features takes its default.
  const reply = await call(service, 'POST', '/v1/gradcheck', { model, loss: 'cross-entropy', l2: 0.01, samples: 8, seed: 3 });
  t.equal(reply.status, 200, JSON.stringify(reply.body));
  const { difference, layers, passed, parameters } = reply.body as { difference: number; layers: number[]; passed: boolean; parameters: number };
  t.equal(layers.length, 3, 'one difference per layer');
  for (const [index, layer] of layers.entries()) t.ok(layer >= 0 && layer < 1e-7, `layer ${index}: ${layer} < 1e-7`);
  t.ok(difference < 1e-7, `overall ${difference} < 1e-7`);
  t.equal(passed, true);
  // Default features (4): (4+1)*5 + (5+1)*4 + (4+1)*3 parameters.
  t.equal(parameters, 25 + 24 + 15);

  const wider = await call(service, 'POST', '/v1/gradcheck', { model, samples: 4, features: 7, seed: 3 });
  t.equal(wider.status, 200);
  t.equal(wider.body.parameters, 40 + 24 + 15, 'features sets the input width');

  const refused = await call(service, 'POST', '/v1/gradcheck', { model: { layers: [{ units: 3, activation: 'softmax' }, { units: 1, activation: 'sigmoid' }] }, samples: 4, seed: 0 });
  t.equal(refused.status, 400);
  t.match(refused.body.error, { code: 'INVALID_SPEC', path: '/model/layers/0/activation' });
});

t.test('POST /v1/jobs/:id/predict on a finished job gives probabilities that sum to 1, and classes', async (t) => {
  const spec = moonsJob(12, {
    model: {
      layers: [
        { units: 16, activation: 'tanh' },
        { units: 2, activation: 'softmax' },
      ],
      init: 'xavier',
    },
    training: { epochs: 12, optimizer: { type: 'adam', learningRate: 0.02 } },
  });
  const { id } = (await call(service, 'POST', '/v1/jobs', spec)).body as { id: string };
  const stream = openEvents(service, `/v1/jobs/${id}/events`);
  await stream.closed;
  t.match(stream.events.at(-1), { type: 'done', status: 'succeeded' });

  // The middle of the upper moon (class 0) and of the lower one (class 1).
  const inputs = [[0, 1], [1, -0.5], [-0.8, 0.6], [1.8, -0.1]];
  const reply = await call(service, 'POST', `/v1/jobs/${id}/predict`, { inputs });
  t.equal(reply.status, 200);
  const { outputs, classes } = reply.body as { outputs: number[][]; classes: number[] };
  t.equal(outputs.length, inputs.length, 'one row of outputs a row of inputs');
  for (const [row, probabilities] of outputs.entries()) {
    t.equal(probabilities.length, 2, `row ${row}: one probability a class`);
    t.ok(probabilities.every((p) => p >= 0 && p <= 1), `row ${row}: probabilities in [0, 1]`);
    const sum = probabilities.reduce((a, b) => a + b, 0);
    t.ok(Math.abs(sum - 1) < 1e-5, `row ${row}: they sum to 1 (${sum})`);
    t.equal(classes[row], probabilities.indexOf(Math.max(...probabilities)), `row ${row}: the class is the likeliest`);
  }
  t.same(classes, [0, 1, 0, 1], 'the moons are told apart');

  const wrongWidth = await call(service, 'POST', `/v1/jobs/${id}/predict`, { inputs: [[0, 1], [1, 2, 3]] });
  t.equal(wrongWidth.status, 400);
  t.match(wrongWidth.body.error, { code: 'SHAPE_MISMATCH', path: '/inputs/1' });
});

// The document checked as its users' tools read it: Redocly's linter, and a client typed
// by openapi-typescript compiled against the replies of a real session.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const runFile = promisify(execFile);

const REDOCLY_CONFIG = `extends:
  - recommended
rules:
  # Beyond the recommended set: an operation's tag is one the document declares and describes.
  operation-tag-defined: error
telemetry: off
`;
const REDOCLY_IGNORE = `# The health checks take no input and no token: no 4xx is theirs to answer.
openapi.json:
  operation-4xx-response:
    - '#/paths/~1healthz/get/responses'
    - '#/paths/~1readyz/get/responses'
`;

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
}

function scratch(t: Test): string {
  const folder = mkdtempSync(join(tmpdir(), 'caviar-openapi-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

async function lint(t: Test, document: unknown): Promise<LintReport> {
  const folder = scratch(t);
  writeFileSync(join(folder, 'openapi.json'), JSON.stringify(document));
  writeFileSync(join(folder, 'redocly.yaml'), REDOCLY_CONFIG);
  writeFileSync(join(folder, '.redocly.lint-ignore.yaml'), REDOCLY_IGNORE);
  const cli = join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');
  // It exits 1 on errors; the report says which either way.
  const { stdout } = await runFile(process.execPath, [cli, 'lint', 'openapi.json', '--config', 'redocly.yaml', '--format', 'json'], {
    cwd: folder,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
  return JSON.parse(stdout) as LintReport;
}

/** The errors tsc (strict) finds in `files` beside the types openapi-typescript makes of the document, by file and line. */
async function typeCheck(t: Test, document: unknown, files: Record<string, string>): Promise<string[]> {
  const folder = scratch(t);
  writeFileSync(join(folder, 'api.ts'), astToString(await openapiTS(document as Parameters<typeof openapiTS>[0], { silent: true })));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(folder, name), text);
  const compilerOptions = { strict: true, noEmit: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', types: [], skipLibCheck: true };
  writeFileSync(join(folder, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['api.ts', ...Object.keys(files)] }));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const { stdout } = await runFile(process.execPath, [tsc, '-p', folder, '--pretty', 'false'], { cwd: folder }).catch((error: { stdout?: string }) => ({
    stdout: error.stdout ?? '',
  }));
  return stdout.split('\n').filter((line) => /error TS\d+/.test(line));
}

const WEBSOCKETS = ['/v1/jobs/{id}/events', '/v1/events', '/v1/sweeps/{id}/events'];

t.test("the document passes Redocly's recommended rules with no error and no warning", async (t) => {
  const report = await lint(t, (await call(service, 'GET', '/openapi.json')).body);
  t.same(
    report.problems.map((problem) => `${problem.severity} ${problem.ruleId} at ${problem.location[0]?.pointer}: ${problem.message}`),
    [],
    'no problems',
  );
  t.same(report.totals, { errors: 0, warnings: 0, ignored: 2 }, 'only the two ignored on purpose');
});

t.test('every operation the token can protect names the bearer scheme; the websockets are documented with their messages', async (t) => {
  const document = (await call(service, 'GET', '/openapi.json')).body;
  t.equal(document.openapi, '3.1.0');
  t.match(document.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' }, 'the scheme is documented though this server has no token');
  const publicPaths = ['/healthz', '/readyz'];
  for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, { security: unknown; responses: Record<string, unknown> }>>))
    for (const [method, operation] of Object.entries(item)) {
      if (publicPaths.includes(path)) t.same(operation.security, [], `${method} ${path} is public`);
      else {
        t.same(operation.security, [{ bearer: [] }], `${method} ${path} takes the token`);
        t.ok(operation.responses['401'], `${method} ${path} documents its 401`);
      }
    }
  for (const path of WEBSOCKETS) {
    const operation = document.paths[path]?.get;
    t.ok(operation, `GET ${path} is documented`);
    t.match(operation.description, /Upgrade: websocket/, `${path}: how to upgrade`);
    t.match(operation.description, /`caviar`.*`bearer\.<token>`/s, `${path}: the subprotocols`);
    t.match(operation.responses['426'], { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
    const messages = JSON.stringify(operation.responses['101']?.content?.['application/json']?.schema);
    t.match(messages, path.startsWith('/v1/sweeps') ? /#\/components\/schemas\/SweepEvent/ : /^\{"\$ref":"#\/components\/schemas\/JobEvent"\}$/, `${path}: its messages`);
  }
  t.ok(document.paths['/v1/jobs/{id}/model'].get.responses['200'], 'the model download documents its 200');
  t.notOk(
    document.paths['/v1/jobs/{id}/events'].get.parameters.find((parameter: { name: string }) => parameter.name === 'since').required,
    'a query parameter with a default is not required',
  );
});

t.test('a client typed from the document compiles against a real session, and not against replies that differ from it', async (t) => {
  const saved: [string, string, unknown][] = [];
  /** Calls the service, checks the status, and keeps the body to compile as that operation's reply. */
  const keep = async (method: string, path: string, documented: string, status: number, body?: unknown, headers?: Record<string, string>) => {
    const reply = await call(service, method, path, body, headers);
    t.equal(reply.status, status, `${method} ${path}: ${status}`);
    saved.push([`'${documented}', '${method.toLowerCase()}', ${status}`, `${method} ${path}`, reply.body]);
    return reply.body;
  };

  const { id } = await keep('POST', '/v1/jobs', '/v1/jobs', 202, moonsJob(3));
  const events = openEvents(service, `/v1/jobs/${id}/events`);
  await events.closed;
  saved.push([`'/v1/jobs/{id}/events', 'get', 101`, 'the messages of a job socket', events.events]);
  await keep('GET', `/v1/jobs/${id}`, '/v1/jobs/{id}', 200);
  await keep('GET', '/v1/jobs', '/v1/jobs', 200);
  await keep('GET', `/v1/jobs/${id}/metrics`, '/v1/jobs/{id}/metrics', 200);
  await keep('GET', `/v1/jobs/${id}/model`, '/v1/jobs/{id}/model', 200);
  await keep('POST', `/v1/jobs/${id}/predict`, '/v1/jobs/{id}/predict', 200, { inputs: [[0, 1], [1, -0.5]] });
  await keep('POST', `/v1/jobs/${id}/cancel`, '/v1/jobs/{id}/cancel', 409);
  await keep('GET', '/v1/jobs/job_none', '/v1/jobs/{id}', 404);
  await keep('POST', '/v1/jobs', '/v1/jobs', 400, { ...moonsJob(3), training: { epochs: 0 } });
  await keep('GET', '/v1/events', '/v1/events', 426);
  const dataset = await keep('POST', '/v1/datasets?name=tiny', '/v1/datasets', 201, 'a,b,label\n0,1,x\n1,0,y\n0.5,0.5,x\n', { 'content-type': 'text/csv' });
  await keep('GET', `/v1/datasets/${dataset.id}`, '/v1/datasets/{id}', 200);
  await keep('GET', '/v1/datasets', '/v1/datasets', 200);
  const model = { layers: [{ units: 3, activation: 'tanh' }, { units: 2, activation: 'softmax' }], init: 'xavier' };
  await keep('POST', '/v1/gradcheck', '/v1/gradcheck', 200, { model, samples: 4, seed: 1 });
  const base = moonsJob(2, { dataset: { builtin: 'moons', samples: 200, noise: 0.2, seed: 3 } });
  const sweep = await keep('POST', '/v1/sweeps', '/v1/sweeps', 202, { base, trials: 2, seed: 1, space: { '/training/optimizer/learningRate': { logUniform: [1e-3, 1e-1] } } });
  const sweepEvents = openEvents(service, `/v1/sweeps/${sweep.id}/events`);
  await sweepEvents.closed;
  saved.push([`'/v1/sweeps/{id}/events', 'get', 101`, 'the messages of a sweep socket', sweepEvents.events]);
  await keep('GET', `/v1/sweeps/${sweep.id}`, '/v1/sweeps/{id}', 200);
  await keep('GET', '/v1/sweeps', '/v1/sweeps', 200);
  await keep('GET', '/healthz', '/healthz', 200);
  await keep('GET', '/readyz', '/readyz', 200);

  const replyType = `import type { paths } from './api';
/** The JSON the document gives for an operation's reply with a status (never when it gives none). */
export type Reply<Path extends keyof paths, Method extends string, Status extends number> =
  paths[Path] extends { [M in Method]: { responses: { [S in Status]: { content: { 'application/json': infer Body } } } } } ? Body : never;
`;
  const check = ([operation, what, body]: [string, string, unknown], index: number) => {
    const type = `Reply<${operation}>`;
    return `// ${what}\nexport const reply${index} = ${JSON.stringify(body)} satisfies ${Array.isArray(body) && operation.endsWith('101') ? `${type}[]` : type};\n`;
  };
  const session = `import type { Reply } from './reply';\n${saved.map(check).join('')}`;
  const job = saved[1]?.[2] as Record<string, unknown>;
  // Each on its own line: a value the document does not allow, a field it does not have, a required field left out.
  const wrong = [
    "import type { Reply } from './reply';",
    `export const badStatus = ${JSON.stringify({ ...job, status: 'exploded' })} satisfies Reply<'/v1/jobs/{id}', 'get', 200>;`,
    `export const extraField = ${JSON.stringify({ ...job, owner: 'someone' })} satisfies Reply<'/v1/jobs/{id}', 'get', 200>;`,
    `export const noCode = ${JSON.stringify({ error: { message: "no job 'x'" } })} satisfies Reply<'/v1/jobs/{id}', 'get', 404>;`,
  ].join('\n');

  const errors = await typeCheck(t, (await call(service, 'GET', '/openapi.json')).body, { 'reply.ts': replyType, 'session.ts': session, 'wrong.ts': wrong });
  t.same(errors.filter((line) => !line.startsWith('wrong.ts')), [], 'the real replies have the types the document gives them');
  t.same([...new Set(errors.map((line) => /^wrong\.ts\((\d+),/.exec(line)?.[1]))], ['2', '3', '4'], 'each wrong reply is refused');
});
