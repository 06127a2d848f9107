// Tabular data through the service: a CSV with text columns and gaps, uploaded as a user
// would, typed, trained on, and predicted from raw records and CSV.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { chromium } from 'playwright-core';
import { loadConfig } from '../../src/server/config.js';
import { call, openEvents, startService } from '../fixtures/service.js';
import { penguinsCsv } from '../fixtures/tabular.js';

const service = await startService();
t.teardown(async () => {
  await service.stop('SIGKILL');
  rmSync(service.dataDirectory, { recursive: true, force: true });
});

const csvHeaders = { 'content-type': 'text/csv' };
const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

function penguinJob(dataset: string, extra: Record<string, unknown> = {}) {
  return {
    name: 'penguins',
    dataset,
    split: { dev: 0.2, test: 0.1, seed: 0 },
    model: { layers: [{ units: 16, activation: 'relu' }, { units: 3, activation: 'softmax' }] },
    training: { epochs: 25, batchSize: 16, seed: 5, optimizer: { type: 'adam', learningRate: 0.02 } },
    ...extra,
  };
}

/** Submits a job and waits for its done event. */
async function trained(spec: unknown) {
  const submitted = await call(service, 'POST', '/v1/jobs', spec);
  if (submitted.status !== 202) throw new Error(JSON.stringify(submitted.body));
  const stream = openEvents(service, `/v1/jobs/${submitted.body.id}/events`);
  await stream.closed;
  return { id: submitted.body.id as string, done: stream.events.at(-1) as { status: string; result?: any; error?: any } };
}

const uploaded = await call(service, 'POST', '/v1/datasets?name=penguins&label=species', penguinsCsv(240), csvHeaders);
const penguins = uploaded.body.id as string;

t.test('an upload answers the columns it found: their types, gaps, categories and why', async (t) => {
  t.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
  t.match(uploaded.body, { rows: 240, features: 7, classes: 3, classNames: ['Adelie', 'Chinstrap', 'Gentoo'], label: { name: 'species', inferred: false } });
  const columns = uploaded.body.columns as { name: string; type: string; missing: number; categories?: { value: string; count: number }[]; reason: string }[];
  t.same(
    columns.map(({ name, type }) => [name, type]),
    [
      ['id', 'ignore'],
      ['island', 'category'],
      ['bill_length_mm', 'number'],
      ['flipper_length_mm', 'number'],
      ['sex', 'category'],
      ['tagged', 'boolean'],
      ['notes', 'category'],
    ],
  );
  const island = columns[1] as (typeof columns)[number];
  t.same(island.categories?.map((category) => category.value).sort(), ['Biscoe', 'Dream', 'Torgersen']);
  t.equal(island.categories?.reduce((sum, category) => sum + category.count, 0), 240);
  t.match(columns[0], { reason: /named like an id/ });
  t.ok((columns[2] as (typeof columns)[number]).missing > 0, 'the empty cells and NAs are counted');
  t.same(columns[6]?.categories?.map((category) => category.value).sort(), ['said "hi"', 'seen twice, then lost', 'tagged', 'two\nlines'], 'quoted fields keep their commas, quotes and line breaks');
  const read = await call(service, 'GET', `/v1/datasets/${penguins}`);
  t.same(read.body.columns, columns, 'GET /v1/datasets/:id gives them again');
});

t.test("a job spec's columns override types, and one that cannot hold is a 400 naming its column", async (t) => {
  const cases = [
    { columns: { island: { type: 'number' } }, path: '/columns/island', message: /'\w+' \(row \d+\) is not a number/ },
    { columns: { species: { type: 'category' } }, path: '/columns/species', message: /is the label column/ },
    { columns: { beak: { type: 'ignore' } }, path: '/columns/beak', message: /no column named 'beak'/ },
    { columns: { sex: { type: 'boolean' } }, path: '/columns/sex', message: /'\w+' is not a boolean/ },
    { columns: { island: { type: 'text' } }, path: '/columns/island/type', message: /must be one of "number", "category", "boolean", "ignore"/ },
  ];
  for (const { columns, path, message } of cases) {
    const reply = await call(service, 'POST', '/v1/jobs', penguinJob(penguins, { columns }));
    t.match(reply, { status: 400, body: { error: { code: 'INVALID_SPEC', path, message } } }, path);
  }
  const builtin = await call(service, 'POST', '/v1/jobs', { ...penguinJob(penguins), dataset: { builtin: 'moons' }, columns: { x1: { type: 'ignore' } } });
  t.match(builtin, { status: 400, body: { error: { code: 'INVALID_SPEC', path: '/columns', message: /columns of a CSV dataset/ } } });
});

let trainedJob = '';

t.test('trains on the raw table, preprocessed on its train part, and saves that in the model', async (t) => {
  const { id, done } = await trained(penguinJob(penguins, { columns: { notes: { type: 'ignore' }, tagged: { type: 'category' } } }));
  trainedJob = id;
  t.equal(done.status, 'succeeded', JSON.stringify(done.error));
  t.ok(done.result.test.accuracy >= 0.8, `learns the species (test accuracy ${done.result.test.accuracy})`);
  const model = (await call(service, 'GET', `/v1/jobs/${id}/model`)).body;
  t.match(model.preprocessing, {
    version: 1,
    columns: [
      { name: 'id', type: 'ignore' },
      { name: 'island', type: 'category' },
      { name: 'bill_length_mm', type: 'number', indicator: true },
      { name: 'flipper_length_mm', type: 'number' },
      { name: 'sex', type: 'category', missing: true },
      { name: 'tagged', type: 'category', categories: ['Yes', 'no', 'yes'], missing: true },
      { name: 'notes', type: 'ignore' },
    ],
  });
  t.equal(model.features.length, model.network.inputs, 'one name per input');
  t.equal(model.label, 'species');
  const rows = { train: 168, dev: 48, test: 24 };
  for (const part of ['train', 'dev', 'test'] as const) {
    const metrics = done.result[part];
    t.same(metrics.perClass.map((row: { class: string }) => row.class), ['Adelie', 'Chinstrap', 'Gentoo'], `${part}: a row per class, by name`);
    t.equal(metrics.perClass.reduce((sum: number, row: { support: number }) => sum + row.support, 0), rows[part], `${part}: every row counted once`);
    t.equal((metrics.confusion as number[][]).flat().reduce((sum, count) => sum + count, 0), rows[part]);
    t.ok(metrics.macroF1 > 0.5 && metrics.macroF1 <= 1 && metrics.weightedF1 > 0.5, `${part}: F1 ${metrics.macroF1}, ${metrics.weightedF1}`);
    const correct = (metrics.confusion as number[][]).reduce((sum, row, index) => sum + (row[index] as number), 0);
    t.ok(Math.abs(correct / rows[part] - metrics.accuracy) < 1e-9, `${part}: the confusion matrix's diagonal is the accuracy`);
    t.equal(metrics.auc, undefined, 'no ROC AUC for three classes');
  }
});

t.test('dev.f1 ranks a sweep and stops a job early: each epoch carries it', async (t) => {
  const base = penguinJob(penguins, { training: { epochs: 4, batchSize: 16, seed: 5, optimizer: { type: 'adam', learningRate: 0.02 } } });
  const sweep = await call(service, 'POST', '/v1/sweeps', { base, trials: 2, seed: 1, metric: 'dev.f1', space: { '/training/optimizer/learningRate': { logUniform: [1e-3, 1e-1] } } });
  t.equal(sweep.status, 202, JSON.stringify(sweep.body));
  const events = openEvents(service, `/v1/sweeps/${sweep.body.id}/events`);
  await events.closed;
  const view = (await call(service, 'GET', `/v1/sweeps/${sweep.body.id}`)).body;
  t.match(view.spec, { metric: 'dev.f1', mode: 'max' });
  const metrics = view.trials.map((trial: { metric: number }) => trial.metric);
  t.equal(metrics.length, 2);
  t.ok(metrics.every((metric: number) => metric > 0 && metric <= 1) && metrics[0] >= metrics[1], `ranked by dev F1, highest first: ${metrics}`);
  const epochs = (events.events as unknown as { type: string; dev?: { f1?: number } }[]).filter((event) => event.type === 'epoch');
  t.ok(epochs.length === 8 && epochs.every((event) => typeof event.dev?.f1 === 'number'), 'every trial epoch carries dev.f1');

  const stopping = { metric: 'dev.f1', patience: 2, restoreBest: true };
  const { id, done } = await trained({ ...base, training: { ...base.training, epochs: 40, earlyStopping: stopping } });
  t.equal(done.status, 'succeeded', JSON.stringify(done.error));
  const history = (await call(service, 'GET', `/v1/jobs/${id}/metrics`)).body.epochs as { epoch: number; dev: { f1: number } }[];
  t.ok(history.length < 40, `stopped after ${history.length} epochs`);
  const best = Math.max(...history.map((epoch) => epoch.dev.f1));
  t.equal(history.find((epoch) => epoch.dev.f1 === best)?.epoch, done.result.earlyStopping.bestEpoch, 'the best epoch is the one with the highest dev F1');
  const regression = await call(service, 'POST', '/v1/jobs', { ...base, model: { layers: [{ units: 1, activation: 'linear' }] }, training: { ...base.training, earlyStopping: stopping } });
  t.match(regression, { status: 400, body: { error: { path: '/training/earlyStopping/metric', message: /needs a classifier/ } } });
});

t.test('a numeric label with a linear output is a regression: trained with MSE, reported as RMSE, MAE and R^2', async (t) => {
  const lines = ['size,district,rooms,price'];
  for (let row = 0; row < 120; row += 1) {
    const district = ['north', 'south', 'east'][row % 3] as string;
    const size = 40 + ((row * 37) % 100);
    const rooms = row % 7 === 0 ? '' : String(1 + (row % 4));
    lines.push(`${size},${district},${rooms},${(2 * size + (district === 'north' ? 50 : 0) + ((row * 13) % 7) + 0.25).toFixed(2)}`);
  }
  const upload = await call(service, 'POST', '/v1/datasets?label=price', `${lines.join('\n')}\n`, csvHeaders);
  t.match(upload, { status: 201, body: { outputs: 1 } });
  const { id, done } = await trained({
    dataset: upload.body.id,
    split: { dev: 0.2, seed: 0 },
    model: { layers: [{ units: 16, activation: 'relu' }, { units: 1, activation: 'linear' }] },
    training: { epochs: 60, batchSize: 16, seed: 2, optimizer: { type: 'adam', learningRate: 0.05 } },
  });
  t.equal(done.status, 'succeeded', JSON.stringify(done.error));
  for (const part of ['train', 'dev'] as const) {
    const metrics = done.result[part];
    t.match(metrics, { loss: Number, rmse: Number, mae: Number, r2: Number }, part);
    t.equal(metrics.perClass, undefined);
    t.ok(metrics.r2 > 0.8, `${part}: R^2 ${metrics.r2}`);
    t.ok(metrics.mae <= metrics.rmse, `${part}: MAE ${metrics.mae} <= RMSE ${metrics.rmse}`);
  }
  const predicted = await call(service, 'POST', `/v1/jobs/${id}/predict`, { records: [{ size: 100, district: 'north' }] });
  t.equal(predicted.status, 200, JSON.stringify(predicted.body));
  t.equal(predicted.body.classes, undefined);
  t.ok(Math.abs((predicted.body.outputs[0][0] as number) - 253) < 40, `about 2 x 100 + 50: ${predicted.body.outputs[0][0]}`);
});

const RECORDS = [
  { island: 'Biscoe', bill_length_mm: 47.1, flipper_length_mm: 218, sex: 'female', tagged: 'yes', species: 'Gentoo' },
  { island: 'Dream', bill_length_mm: null, flipper_length_mm: '195', sex: 'male' },
  { island: 'Atlantis', bill_length_mm: 38.5, flipper_length_mm: 189, sex: 'NA', id: 9 },
  {},
];
const ROWS_CSV = 'island,bill_length_mm,flipper_length_mm,sex,tagged,species\nBiscoe,47.1,218,female,yes,Gentoo\nDream,,195,male,,\nAtlantis,38.5,189,NA,,\n,,,,,\n';

t.test('predicts raw records: class names and probabilities; gaps, unseen categories and the label field taken as in training', async (t) => {
  const reply = await call(service, 'POST', `/v1/jobs/${trainedJob}/predict`, { records: RECORDS });
  t.equal(reply.status, 200, JSON.stringify(reply.body));
  t.same(reply.body.classes.slice(0, 3), ['Gentoo', 'Chinstrap', 'Adelie']);
  t.equal(reply.body.probabilities.length, 4);
  for (const row of reply.body.probabilities as number[][]) {
    t.equal(row.length, 3);
    t.ok(Math.abs(row.reduce((sum, p) => sum + p, 0) - 1) < 1e-5, 'sums to 1');
  }
  const refused = [
    { body: { records: [{ island: 'Dream' }, { islnad: 'Dream' }] }, code: 'INVALID_DATA', path: '/records/1/islnad', message: /no column named 'islnad'/ },
    { body: { records: [{ bill_length_mm: 'long' }] }, code: 'INVALID_DATA', path: '/records/0/bill_length_mm', message: /'long' is not a number/ },
    { body: { records: [{ island: ['Dream'] }] }, code: 'INVALID_REQUEST', path: '/records/0/island', message: /./ },
    { body: { inputs: [[0]], records: [{}] }, code: 'INVALID_REQUEST', path: '/', message: /either inputs .* or records/ },
    { body: {}, code: 'INVALID_REQUEST', path: '/', message: /either inputs/ },
  ];
  for (const { body, code, path, message } of refused) {
    const answer = await call(service, 'POST', `/v1/jobs/${trainedJob}/predict`, body);
    t.match(answer, { status: 400, body: { error: { code, path, message } } }, JSON.stringify(body));
  }
});

t.test('text/csv in, text/csv out: the rows with the prediction and each probability appended', async (t) => {
  const reply = await call(service, 'POST', `/v1/jobs/${trainedJob}/predict`, ROWS_CSV, csvHeaders);
  t.equal(reply.status, 200, String(reply.body));
  t.match(reply.headers.get('content-type'), /^text\/csv/);
  const lines = (reply.body as string).trim().split('\n');
  t.equal(lines[0], 'island,bill_length_mm,flipper_length_mm,sex,tagged,species,predicted_species,p_Adelie,p_Chinstrap,p_Gentoo');
  t.same(lines.slice(1, 4).map((line) => line.split(',')[6]), ['Gentoo', 'Chinstrap', 'Adelie']);
  const records = await call(service, 'POST', `/v1/jobs/${trainedJob}/predict`, { records: RECORDS });
  t.same(
    lines.slice(1).map((line) => line.split(',').slice(7).map(Number)),
    (records.body.probabilities as number[][]).map((row) => row.map((p) => Number(String(p)))),
    'the same probabilities as for the records',
  );
  const formula = await call(service, 'POST', `/v1/jobs/${trainedJob}/predict`, 'island,sex\n"=cmd|\' /C calc\'!A0",@x\n', csvHeaders);
  t.match(String(formula.body).split('\n')[1], /^'=cmd\|' \/C calc'!A0,'@x,/, 'formula cells are neutralized');
  const latin1 = await fetch(`${service.url}/v1/jobs/${trainedJob}/predict`, { method: 'POST', headers: csvHeaders, body: Buffer.from('island\nZ\xfcrich\n', 'latin1') });
  t.match({ status: latin1.status, body: await latin1.json() }, { status: 400, body: { error: { code: 'INVALID_DATA', message: /row 2, column 'island': byte 0xfc is not UTF-8/ } } });
  const unknown = await call(service, 'POST', `/v1/jobs/${trainedJob}/predict`, 'islnad\nDream\n', csvHeaders);
  t.match(unknown, { status: 400, body: { error: { code: 'INVALID_DATA', message: /column 'islnad' is not one of them/ } } });
});

t.test('the downloaded model predicts the same in a new process (caviar predict) as the server does', async (t) => {
  const directory = t.testdir({ 'rows.csv': ROWS_CSV });
  const model = await call(service, 'GET', `/v1/jobs/${trainedJob}/model`);
  writeFileSync(join(directory, 'model.json'), JSON.stringify(model.body));
  const cli = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [CLI, 'predict', join(directory, 'model.json'), join(directory, 'rows.csv')], (error, stdout, stderr) =>
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    ),
  );
  t.equal(cli.code, 0, cli.stderr);
  const server = await call(service, 'POST', `/v1/jobs/${trainedJob}/predict`, ROWS_CSV, csvHeaders);
  t.equal(cli.stdout, server.body, 'byte for byte');
});

t.test('a model trained on numbers alone predicts records by its feature names, and needs every one', async (t) => {
  const moons = { builtin: 'moons', samples: 200, seed: 1 };
  const { id } = await trained({ dataset: moons, model: { layers: [{ units: 2, activation: 'softmax' }] }, training: { epochs: 10, optimizer: { type: 'adam', learningRate: 0.05 } } });
  const reply = await call(service, 'POST', `/v1/jobs/${id}/predict`, { records: [{ x1: 0, x2: 0.5 }] });
  const inputs = await call(service, 'POST', `/v1/jobs/${id}/predict`, { inputs: [[0, 0.5]] });
  t.equal(reply.status, 200, JSON.stringify(reply.body));
  t.same(reply.body.outputs, inputs.body.outputs);
  t.same(reply.body.classes, inputs.body.classes, 'classes by index: moons has no class names');
  const job = (await call(service, 'GET', `/v1/jobs/${id}`)).body;
  t.ok(job.result.train.auc > 0.8 && job.result.train.auc <= 1, `two classes: ROC AUC ${job.result.train.auc} (accuracy ${job.result.train.accuracy})`);
  t.same(job.result.train.perClass.map((row: { class: number }) => row.class), [0, 1], 'classes by index');
  t.match(await call(service, 'POST', `/v1/jobs/${id}/predict`, { records: [{ x1: 0 }] }), { status: 400, body: { error: { code: 'INVALID_DATA', path: '/records/0/x2', message: /no value for x2/ } } });
});

t.test('a dataset stored before column types existed still trains, as numbers', async (t) => {
  const numeric = await call(service, 'POST', '/v1/datasets?label=kind', 'a,b,kind\n0,1,x\n1,0,y\n0,1.5,x\n1.2,0,y\n0,2,x\n2,0,y\n', csvHeaders);
  t.equal(numeric.status, 201);
  rmSync(join(service.dataDirectory, 'datasets', numeric.body.id, 'columns.json'));
  const spec = { dataset: numeric.body.id, split: { dev: 0 }, model: { layers: [{ units: 2, activation: 'softmax' }] }, training: { epochs: 2 } };
  const { done } = await trained(spec);
  t.equal(done.status, 'succeeded', JSON.stringify(done.error));
  const typed = await call(service, 'POST', '/v1/jobs', { ...spec, columns: { a: { type: 'category' } } });
  t.match(typed, { status: 400, body: { error: { code: 'INVALID_SPEC', path: '/columns', message: /upload it again/ } } });
  t.notOk('columns' in (await call(service, 'GET', `/v1/datasets/${numeric.body.id}`)).body);
});

t.test('the service refuses to start with a category cap that is no whole number of at least 2', async (t) => {
  t.throws(() => loadConfig({ CAVIAR_MAX_CATEGORIES: '1' }), { name: 'Error', message: /CAVIAR_MAX_CATEGORIES must be an integer of at least 2, not '1'/ });
});

t.test('files users bring by mistake are 4xx with the row and column, and the server goes on', async (t) => {
  const cases = [
    { name: 'one class', csv: 'a,label\n1,x\n2,x\n', message: /column 'label': every label is 'x': one class/ },
    { name: 'a short row', csv: 'a,b,label\n1,2,x\n3,y\n', message: /row 3, column 'label': 2 cells, but the header has 3/ },
    { name: 'Latin-1', csv: Buffer.from('town,label\nParis,x\nZ\xfcrich,y\n', 'latin1'), message: /row 3, column 'town': byte 0xfc is not UTF-8/ },
    { name: 'a missing label', csv: 'a,label\n1,x\n2,NA\n', message: /row 3, column 'label': missing label \('NA'\)/ },
  ];
  for (const { name, csv, message } of cases) {
    // Bytes as they are, not as JSON: a Latin-1 file is no UTF-8 string.
    const response = await fetch(`${service.url}/v1/datasets`, { method: 'POST', headers: csvHeaders, body: csv });
    t.match({ status: response.status, body: await response.json() }, { status: 400, body: { error: { code: 'INVALID_DATA', message } } }, name);
  }
  // A column of more values than the cap (1000) is ignored, and a job may not make it a category.
  const cities = Array.from({ length: 1200 }, (_, row) => `city${row % 1100},${row % 2}`);
  const wide = await call(service, 'POST', '/v1/datasets', `city,label\n${cities.join('\n')}\n`, csvHeaders);
  t.match(wide, { status: 201, body: { columns: [{ name: 'city', type: 'ignore', reason: /more than 1000 distinct values \(the cap, CAVIAR_MAX_CATEGORIES\)/ }] } });
  const forced = await call(service, 'POST', '/v1/jobs', { ...penguinJob(wide.body.id), columns: { city: { type: 'category' } }, model: { layers: [{ units: 2, activation: 'softmax' }] } });
  t.match(forced, { status: 400, body: { error: { code: 'INVALID_SPEC', path: '/columns/city', message: /more than 1000 distinct values/ } } });
  const bom = await call(service, 'POST', '/v1/datasets', '\ufeffa,label\n1,x\n2,y\n', csvHeaders);
  t.match(bom, { status: 201, body: { featureNames: ['a'] } }, 'a byte order mark is skipped');
  t.equal((await call(service, 'GET', '/healthz')).status, 200);
});

const CHROMIUM = '/usr/bin/chromium';

t.test("the dashboard shows an upload's columns and a finished classifier's classes", { skip: existsSync(CHROMIUM) ? false : `needs Chromium at ${CHROMIUM} (apt-get install -y chromium)` }, async (t) => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));

  await page.goto(`${service.url}/#/`);
  await page.setInputFiles('#dataset-file', { name: 'penguins.csv', mimeType: 'text/csv', buffer: Buffer.from(penguinsCsv(60, 2)) });
  await page.fill('#dataset-label', 'species');
  await page.click('#upload-dataset');
  await page.locator('#upload-result[data-dataset-id]').waitFor();
  const types = (selector: string) =>
    page.locator(`${selector} tr[data-column]`).evaluateAll((rows) => rows.map((row) => [(row as HTMLElement).dataset.column, (row as HTMLElement).dataset.type]));
  t.same((await types('#upload-columns'))[1], ['island', 'category'], 'the upload shows the columns it found');
  t.match(await page.locator('#upload-columns tr[data-column="bill_length_mm"]').textContent(), /number\d+every value is a number/, 'with missing counts and the reason');

  await page.click(`[id="columns-${penguins}"]`);
  const listed = `tr[data-columns-of="${penguins}"]`;
  await page.locator(`${listed} tr[data-column]`).first().waitFor();
  t.same((await types(listed)).map(([, type]) => type), ['ignore', 'category', 'number', 'number', 'category', 'boolean', 'category'], "a listed dataset shows its columns' types");

  await page.goto(`${service.url}/#/jobs/${trainedJob}`);
  await page.locator('#confusion').waitFor();
  t.equal(await page.locator('#by-class').getAttribute('data-part'), 'test', 'the held-out part first');
  const job = (await call(service, 'GET', `/v1/jobs/${trainedJob}`)).body;
  const counts = await page.locator('#confusion tbody tr').evaluateAll((rows) => rows.map((row) => [...row.querySelectorAll('td')].map((cell) => Number(cell.textContent))));
  t.same(counts, job.result.test.confusion, 'the confusion matrix of the test part');
  t.same(await page.locator('#per-class tbody td:first-child').allTextContents(), ['Adelie', 'Chinstrap', 'Gentoo']);
  mkdirSync('test-output', { recursive: true });
  await page.screenshot({ path: 'test-output/dashboard-classes.png', fullPage: true });
  await page.click('#by-class button[data-part="train"]');
  t.equal(await page.locator('#by-class').getAttribute('data-part'), 'train');
  t.match(await page.locator('#result-table thead').textContent(), /macro F1.*weighted F1/);
  t.same(errors, [], 'no script errors');
});
