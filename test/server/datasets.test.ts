import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { call, openEvents, startService } from '../fixtures/service.js';

// A 1 MiB upload cap (the smallest CAVIAR_MAX_UPLOAD_MB) keeps the oversized upload small.
const service = await startService({ env: { CAVIAR_MAX_UPLOAD_MB: '1' } });
t.teardown(async () => {
  await service.stop('SIGKILL');
  rmSync(service.dataDirectory, { recursive: true, force: true });
});

const csvHeaders = { 'content-type': 'text/csv' };
const filesIn = (folder: string) => (existsSync(join(service.dataDirectory, folder)) ? readdirSync(join(service.dataDirectory, folder)) : []);

/** Three well-separated blobs in two features, the label (a class name) in the middle column. */
function blobsCsv(rows: number): string {
  const centres: Record<string, [number, number]> = { north: [0, 4], east: [4, 0], south: [0, -4] };
  const names = Object.keys(centres);
  const lines = ['x1,kind,x2'];
  for (let row = 0; row < rows; row += 1) {
    const name = names[row % names.length] as string;
    const [cx, cy] = centres[name] as [number, number];
    // A deterministic wobble around each centre.
    const dx = Math.sin(row * 12.9898) * 0.8;
    const dy = Math.cos(row * 78.233) * 0.8;
    lines.push(`${(cx + dx).toFixed(4)},${name},${(cy + dy).toFixed(4)}`);
  }
  return lines.join('\n') + '\n';
}

t.test('an uploaded CSV is listed, read, trained on and deleted', async (t) => {
  const uploaded = await call(service, 'POST', '/v1/datasets?name=blobs&label=kind', blobsCsv(300), csvHeaders);
  t.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
  const id = uploaded.body.id as string;
  t.match(uploaded.body, {
    id: /^ds_/,
    name: 'blobs',
    rows: 300,
    features: 2,
    classes: 3,
    classNames: ['east', 'north', 'south'],
    featureNames: ['x1', 'x2'],
    testRows: 0,
    label: { name: 'kind', inferred: false },
  });
  t.equal(uploaded.headers.get('location'), `/v1/datasets/${id}`);
  t.same(filesIn('uploads'), [], 'the raw upload is not kept');

  const listed = await call(service, 'GET', '/v1/datasets');
  t.equal(listed.status, 200);
  t.same(listed.body.datasets.map((dataset: { id: string }) => dataset.id), [id]);
  const read = await call(service, 'GET', `/v1/datasets/${id}`);
  t.equal(read.status, 200);
  const { label: _label, ...described } = uploaded.body;
  t.same(read.body, described, 'GET gives what the upload answered but the note on its label');

  const submitted = await call(service, 'POST', '/v1/jobs', {
    dataset: id,
    split: { dev: 0.2, seed: 0 },
    model: { layers: [{ units: 8, activation: 'tanh' }, { units: 3, activation: 'softmax' }] },
    training: { epochs: 15, batchSize: 16, seed: 1, optimizer: { type: 'adam', learningRate: 0.02 } },
  });
  t.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const stream = openEvents(service, `/v1/jobs/${submitted.body.id}/events`);
  await stream.closed;
  const done = stream.events.at(-1) as { type: string; status: string; result: { train: { accuracy: number }; dev: { accuracy: number } } };
  t.match(done, { type: 'done', status: 'succeeded' });
  t.ok(done.result.dev.accuracy > 0.9, `learns the blobs (dev accuracy ${done.result.dev.accuracy})`);
  const predicted = await call(service, 'POST', `/v1/jobs/${submitted.body.id}/predict`, { inputs: [[0, 4], [4, 0], [0, -4]] });
  t.equal(predicted.status, 200);
  t.same(predicted.body.classNames, ['north', 'east', 'south'], 'predicts by the class names of the CSV');

  const wrongOutput = await call(service, 'POST', '/v1/jobs', {
    dataset: id,
    model: { layers: [{ units: 2, activation: 'softmax' }] },
    training: { epochs: 1 },
  });
  t.equal(wrongOutput.status, 400);
  t.match(wrongOutput.body.error, { code: 'INVALID_SPEC', path: '/model/layers/0/units', message: /3 classes/ });

  t.ok(filesIn('datasets').includes(id), 'its arrays are on disk');
  const deleted = await call(service, 'DELETE', `/v1/datasets/${id}`);
  t.equal(deleted.status, 204);
  t.notOk(filesIn('datasets').includes(id), 'its files are gone');
  t.match(await call(service, 'GET', `/v1/datasets/${id}`), { status: 404, body: { error: { code: 'NOT_FOUND' } } });
  t.match(await call(service, 'DELETE', `/v1/datasets/${id}`), { status: 404, body: { error: { code: 'NOT_FOUND' } } });
  t.same((await call(service, 'GET', '/v1/datasets')).body.datasets, []);
  const orphan = await call(service, 'POST', '/v1/jobs', { dataset: id, model: { layers: [{ units: 3, activation: 'softmax' }] }, training: { epochs: 1 } });
  t.match(orphan, { status: 400, body: { error: { code: 'DATASET_NOT_FOUND', path: '/dataset' } } }, 'a job cannot use it any more');
});

t.test('without label= the reply says the last column was taken as the label', async (t) => {
  const uploaded = await call(service, 'POST', '/v1/datasets', 'x1,x2,species\n1,2,a\n3,4,b\n', csvHeaders);
  t.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
  t.match(uploaded.body, { featureNames: ['x1', 'x2'], classNames: ['a', 'b'], label: { name: 'species', inferred: true } });
  t.equal((await call(service, 'DELETE', `/v1/datasets/${uploaded.body.id}`)).status, 204);
});

t.test("a file sent the way curl's other flags send it answers 415 saying how to send it", async (t) => {
  const csv = 'x1,x2,label\n1,2,a\n3,4,b\n';
  const form = () => {
    const body = new FormData();
    body.append('file', new Blob([csv], { type: 'text/csv' }), 'data.csv');
    return body;
  };
  const send = async (init: RequestInit) => {
    const response = await fetch(`${service.url}/v1/datasets`, { method: 'POST', ...init });
    return { status: response.status, body: (await response.json()) as { error: { code: string; message: string } } };
  };
  const cases = [
    { name: 'curl --data-binary without a content type (a urlencoded form)', init: { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: csv }, why: /application\/x-www-form-urlencoded/ },
    { name: 'curl -F (multipart/form-data)', init: { body: form() }, why: /curl -F/ },
    { name: 'curl -F under a text/csv content type', init: { headers: { 'content-type': 'text/csv; boundary=------------------------ef4800c36367a9af' }, body: csv }, why: /curl -F/ },
    { name: 'no content type at all', init: { body: new TextEncoder().encode(csv) }, why: /no content type/ },
    { name: 'text/plain', init: { headers: { 'content-type': 'text/plain' }, body: csv }, why: /not text\/plain/ },
  ];
  for (const { name, init, why } of cases) {
    const reply = await send(init);
    t.test(name, async (t) => {
      t.equal(reply.status, 415);
      t.equal(reply.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
      t.match(reply.body.error.message, why);
      t.match(reply.body.error.message, "-H 'content-type: text/csv' --data-binary @file.csv", 'says what to send');
    });
  }
  t.same((await call(service, 'GET', '/v1/datasets')).body.datasets, [], 'none was kept');
  t.same(filesIn('uploads'), [], 'no upload left on disk');
});

t.test('a CSV with its line breaks dropped (curl -d) answers 400 saying so', async (t) => {
  // What curl -d @file.csv sends: the lines run together.
  const reply = await call(service, 'POST', '/v1/datasets', 'x1,x2,label1,2,a3,4,b', csvHeaders);
  t.equal(reply.status, 400);
  t.equal(reply.body.error.code, 'INVALID_DATA');
  t.match(reply.body.error.message, /no line breaks: curl -d drops them, --data-binary keeps them/);
  const kept = await call(service, 'POST', '/v1/datasets', 'x1,x2,label\n1,2,a\n3,1e39,b\n', csvHeaders);
  t.notMatch(kept.body.error.message, /line breaks/, 'a file with its line breaks gets no such hint');
});

t.test('a JSON upload {name, x, y} works the same way', async (t) => {
  const uploaded = await call(service, 'POST', '/v1/datasets', { name: 'xor', x: [[0, 0], [0, 1], [1, 0], [1, 1]], y: [0, 1, 1, 0] });
  t.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
  t.match(uploaded.body, { name: 'xor', rows: 4, features: 2, classes: 2 }, "named by the body's name");
  t.notOk('label' in uploaded.body, 'no label column to report');
  const renamed = await call(service, 'POST', '/v1/datasets?name=renamed', { name: 'xor', x: [[0, 0], [1, 1]], y: ['no', 'yes'] });
  t.match(renamed.body, { name: 'renamed', rows: 2, classes: 2, classNames: ['no', 'yes'] }, 'the query names it over the body');
  const bad = await call(service, 'POST', '/v1/datasets', { name: 'xor', x: [[0, 0], [0]], y: [0, 1] });
  t.equal(bad.status, 400);
  t.equal(bad.body.error.code, 'INVALID_DATA');
  for (const id of [uploaded.body.id, renamed.body.id]) t.equal((await call(service, 'DELETE', `/v1/datasets/${id}`)).status, 204);
});

t.test('an upload over the size cap answers 413 and leaves nothing behind', async (t) => {
  const before = filesIn('datasets');
  const csv = blobsCsv(60_000);
  t.ok(csv.length > 1024 * 1024, `the CSV is over 1 MiB (${csv.length} bytes)`);
  const reply = await call(service, 'POST', '/v1/datasets?name=big&label=kind', csv, csvHeaders);
  t.equal(reply.status, 413);
  t.match(reply.body, { error: { code: 'BODY_TOO_LARGE', message: /over 1048576 bytes/ } });
  t.same((await call(service, 'GET', '/v1/datasets')).body.datasets, [], 'no dataset listed');
  t.same(filesIn('uploads'), [], 'no partial upload on disk');
  t.same(filesIn('datasets'), before, 'no dataset folder');
  // The server and the client's connections are fine afterwards: the next upload does not
  // land on a connection left with the unread rest of the big one.
  const small = await call(service, 'POST', '/v1/datasets?label=kind', blobsCsv(30), csvHeaders);
  t.equal(small.status, 201);
  t.equal((await call(service, 'DELETE', `/v1/datasets/${small.body.id}`)).status, 204);
});

t.test('a malformed CSV answers 400 with the row and column at fault', async (t) => {
  const cases = [
    { name: 'a number a float32 cannot hold', csv: 'x1,x2,label\n1,2,a\n3,1e39,b\n', message: /row 3, column 'x2': 1e\+39 is out of the float32 range/ },
    { name: 'a row of the wrong length', csv: 'x1,x2,label\n1,2,a\n3,4\n5,6,b\n', message: /row 3, column 'label': 2 cells, but the header has 3/ },
    { name: 'a label column that does not exist', csv: 'x1,x2,label\n1,2,a\n', query: '?label=kind', message: /no column named 'kind'/ },
  ];
  for (const { name, csv, query, message } of cases) {
    const reply = await call(service, 'POST', `/v1/datasets${query ?? ''}`, csv, csvHeaders);
    t.test(name, async (t) => {
      t.equal(reply.status, 400);
      t.equal(reply.body.error.code, 'INVALID_DATA');
      t.match(reply.body.error.message, message);
    });
  }
  t.same((await call(service, 'GET', '/v1/datasets')).body.datasets, [], 'none was kept');
  t.same(filesIn('uploads'), [], 'no upload left on disk');
  t.same(filesIn('datasets'), [], 'no dataset folder left');
});

t.test('an upload past a cap on columns or cells answers 400 naming the cap, and the server goes on', async (t) => {
  const wideHeader = Array.from({ length: 100_000 }, (_, index) => `c${index}`).join(',');
  const cases = [
    {
      name: 'a header of 100000 columns',
      body: `${wideHeader}\n${'0,'.repeat(99_999)}0\n`,
      headers: csvHeaders,
      message: /^upload.csv: row 1: the header has more than 65536 columns, the cap \(CAVIAR_MAX_COLUMNS\)$/,
    },
    {
      name: 'a quoted label of 100 KiB',
      body: `x1,x2,label\n1,2,a\n3,4,"${'b'.repeat(100 * 1024)}"\n`,
      headers: csvHeaders,
      message: /^upload.csv: row 3, column 'label': a cell of 102400 bytes, over the cap of 4096 \(CAVIAR_MAX_CELL_BYTES\)$/,
    },
    {
      name: 'a JSON x of 100000 features',
      body: JSON.stringify({ x: [Array(100_000).fill(0), Array(100_000).fill(1)], y: [0, 1] }),
      headers: { 'content-type': 'application/json' },
      message: /^upload.json: row 1: 100000 values, more than the cap of 65536 features \(CAVIAR_MAX_COLUMNS\)$/,
    },
  ];
  for (const { name, body, headers, message } of cases) {
    t.ok(body.length < 1024 * 1024, `${name}: under the upload cap (${body.length} bytes)`);
    const reply = await call(service, 'POST', '/v1/datasets', body, headers);
    const health = await call(service, 'GET', '/healthz');
    t.test(name, async (t) => {
      t.equal(reply.status, 400);
      t.equal(reply.body.error.code, 'INVALID_DATA');
      t.match(reply.body.error.message, message);
      t.match(health, { status: 200, body: { status: 'ok' } }, 'the server answers right after');
    });
  }
  t.same((await call(service, 'GET', '/v1/datasets')).body.datasets, [], 'none was kept');
  t.same(filesIn('uploads'), [], 'no upload left on disk');
  const next = await call(service, 'POST', '/v1/datasets', 'x1,x2,label\n1,2,a\n3,4,b\n', csvHeaders);
  t.equal(next.status, 201, 'the next upload is read');
  t.equal((await call(service, 'DELETE', `/v1/datasets/${next.body.id}`)).status, 204);
});
