import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Model } from '../src/engine/index.js';
import type { JobEvent } from '../src/jobs/events.js';
import { penguinsCsv } from './fixtures/tabular.js';

// The compiled command, as users run it (npm test builds it first): starting the
// TypeScript through a loader would cost seconds per run.
const cli = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'caviar-cli-'));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function caviar(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], (error, stdout, stderr) => {
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

function writeSpec(name: string, epochs: number, extra: Record<string, unknown> = {}): string {
  const path = join(directory, name);
  writeFileSync(
    path,
    JSON.stringify({
      dataset: { builtin: 'moons', samples: 200, noise: 0.1, seed: 2 },
      model: { layers: [{ units: 8, activation: 'tanh' }, { units: 2, activation: 'softmax' }] },
      training: { epochs, batchSize: 16, seed: 5, optimizer: { type: 'adam', learningRate: 0.02 } },
      ...extra,
    }),
  );
  return path;
}

t.test('train --json prints the job events and nothing else', async (t) => {
  const { code, stdout } = await caviar('train', writeSpec('json.json', 5), '--json');
  t.equal(code, 0);
  const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as JobEvent);
  t.same(events.map((event) => event.seq), [1, 2, 3, 4, 5, 6, 7]);
  t.match(events[0], { type: 'status', status: 'running' });
  const epochs = events.filter((event) => event.type === 'epoch');
  t.same(epochs.map((event) => event.epoch), [1, 2, 3, 4, 5]);
  t.match(epochs[0], { lr: 0.02, train: { loss: Number, accuracy: Number }, dev: { loss: Number } });
  const done = events[6];
  t.match(done, { type: 'done', status: 'succeeded', result: { epochs: 5, diagnosis: { verdict: String } } });
  t.ok(new Set(events.map((event) => event.jobId)).size === 1, 'one job id throughout');
});

t.test('train prints a line per epoch and the diagnosis, and --save writes a usable model', async (t) => {
  const modelPath = join(directory, 'model.json');
  const { code, stdout } = await caviar('train', writeSpec('save.json', 3), '--save', modelPath);
  t.equal(code, 0);
  t.match(stdout, /epoch 1\/3 .*loss .*dev acc/);
  t.match(stdout, /diagnosis: (high bias|high variance|neither)/);
  const model = Model.load(readFileSync(modelPath, 'utf8'));
  t.equal(model.inputs, 2);

  const csvPath = join(directory, 'points.csv');
  writeFileSync(csvPath, 'x1,x2\n0,0.5\n1,-0.5\n-1,0.2\n');
  const predicted = await caviar('predict', modelPath, csvPath);
  t.equal(predicted.code, 0, predicted.stderr);
  const lines = predicted.stdout.trim().split('\n');
  t.equal(lines[0], 'x1,x2,predicted,p_0,p_1', "the rows come back with each one's class and probabilities");
  t.equal(lines.length, 4);
  t.match(lines[1], /^0,0\.5,[01],[\d.e-]+,[\d.e-]+$/);
  t.same(model.featureNames, ['x1', 'x2'], 'the model records its feature columns');

  // The columns by name in another order, and a label column: left out.
  const labelled = join(directory, 'labelled.csv');
  writeFileSync(labelled, 'label,x2,x1\n1,0.5,0\n0,-0.5,1\n1,0.2,-1\n');
  const withLabel = await caviar('predict', modelPath, labelled);
  t.equal(withLabel.code, 0, withLabel.stderr);
  const appended = (stdout: string) => stdout.trim().split('\n').slice(1).map((line) => line.split(',').slice(-3));
  t.same(appended(withLabel.stdout), appended(predicted.stdout), 'the same predictions');

  const headerless = join(directory, 'headerless.csv');
  writeFileSync(headerless, '0,0.5\n1,-0.5\n');
  const refused = await caviar('predict', modelPath, headerless);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /INVALID_DATA: .*headerless\.csv: row 1: no header row: .*all numbers; add a header naming the columns \(the model's features: x1,x2\)/);
  t.equal(refused.stdout, '');
});

t.test('train whose reader closes the output early ends quietly, with exit 0', async (t) => {
  for (const json of [false, true]) {
    const child = spawn(process.execPath, [cli, 'train', writeSpec('closed.json', 400), ...(json ? ['--json'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // As `| head -1` does: the first bytes read, then the pipe closed.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    t.equal(code, 0, `${json ? '--json' : 'lines'}: exit 0`);
    t.equal(stderr, '', `${json ? '--json' : 'lines'}: nothing on stderr`);
  }
});

t.test('predict names the label column of a file dataset, and quotes class names as RFC 4180 says', async (t) => {
  const rows = Array.from({ length: 40 }, (_, row) => {
    const x = (row % 10) / 10;
    return `${x},${1 - x},${row % 2 === 0 ? '"lower, left"' : '"the ""upper"" one"'}`;
  });
  writeFileSync(join(directory, 'named.csv'), `a,b,kind\n${rows.join('\n')}\n`);
  const modelPath = join(directory, 'named-model.json');
  const trained = await caviar('train', writeSpec('named.json', 2, { dataset: { path: 'named.csv', label: 'kind' } }), '--save', modelPath);
  t.equal(trained.code, 0, trained.stderr);
  const model = Model.load(readFileSync(modelPath, 'utf8'));
  t.same([model.featureNames, model.labelName], [['a', 'b'], 'kind']);

  const input = join(directory, 'named-input.csv');
  writeFileSync(input, 'kind,a,b\n"lower, left",0.1,0.9\n');
  const { code, stdout, stderr } = await caviar('predict', modelPath, input);
  t.equal(code, 0, stderr);
  const [header, row] = stdout.trim().split('\n');
  t.equal(header, 'kind,a,b,predicted_kind,"p_lower, left","p_the ""upper"" one"');
  t.match(row, /^"lower, left",0\.1,0\.9,("lower, left"|"the ""upper"" one"),[\d.e-]+,[\d.e-]+$/);
});

t.test("the quick start's diagnosis calls its bias an upper bound and prints no negative variance", async (t) => {
  const quickstart = fileURLToPath(new URL('../examples/moons-quickstart.json', import.meta.url));
  const { code, stdout, stderr } = await caviar('train', quickstart);
  t.equal(code, 0, stderr);
  t.match(stdout, /^diagnosis: .*\(avoidable bias at most 0\.\d+, measured against 0 error; (no variance|variance 0\.\d+)\)$/m);
  t.match(stdout, /^ {2}note: no human-level error given .* upper bound/m);
  t.notMatch(stdout, /variance -/);
  // Its dev error comes out below its train error (0.9700 against 0.9686 here): said in
  // words, not as a negative variance.
  const accuracy = (part: string) => Number(new RegExp(`^${part} +loss [\\d.]+ +accuracy ([\\d.]+)$`, 'm').exec(stdout)?.[1]);
  if (accuracy('dev') > accuracy('train')) {
    t.match(stdout, /no variance\)$/m);
    t.match(stdout, /^ {2}note: the dev error is below the train error/m);
  } else {
    t.match(stdout, /; variance 0\.\d+\)$/m);
  }
});

t.test('--checkpoint then --resume ends where one uninterrupted run ends', async (t) => {
  const straightModel = join(directory, 'straight.json');
  await caviar('train', writeSpec('straight.json', 8), '--save', straightModel);
  const checkpoint = join(directory, 'run.checkpoint');
  const first = await caviar('train', writeSpec('first.json', 4), '--checkpoint', checkpoint);
  t.equal(first.code, 0, first.stderr);
  const resumedModel = join(directory, 'resumed.json');
  const resumed = await caviar('train', writeSpec('second.json', 8), '--resume', checkpoint, '--json', '--save', resumedModel);
  t.equal(resumed.code, 0, resumed.stderr);
  const epochs = resumed.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as JobEvent)
    .filter((event) => event.type === 'epoch')
    .map((event) => event.epoch);
  t.same(epochs, [5, 6, 7, 8], 'only the remaining epochs run');
  t.same(JSON.parse(readFileSync(resumedModel, 'utf8')).layers, JSON.parse(readFileSync(straightModel, 'utf8')).layers);
});

t.test('predict refuses a saved model damaged after it was written, with its code and a non-zero exit', async (t) => {
  const modelPath = join(directory, 'damaged-model.json');
  const trained = await caviar('train', writeSpec('damaged.json', 2), '--save', modelPath);
  t.equal(trained.code, 0, trained.stderr);
  const document = JSON.parse(readFileSync(modelPath, 'utf8')) as { checksum: string; layers: { weight: string }[] };
  t.match(document.checksum, /^sha256:[0-9a-f]{64}$/, '--save writes the checksum');
  const layer = document.layers[0] as { weight: string };
  layer.weight = `${layer.weight.slice(0, 10)}${layer.weight[10] === 'A' ? 'B' : 'A'}${layer.weight.slice(11)}`;
  writeFileSync(modelPath, JSON.stringify(document));
  const csvPath = join(directory, 'damaged-points.csv');
  writeFileSync(csvPath, 'x1,x2\n0,0.5\n');
  const predicted = await caviar('predict', modelPath, csvPath);
  t.equal(predicted.code, 1, 'a non-zero exit');
  t.match(predicted.stderr, /^caviar: MODEL_CORRUPT: the model's content does not match its checksum: it was damaged after it was written/);
  t.equal(predicted.stdout, '', 'no predictions');
});

t.test('--resume refuses a checkpoint damaged after it was written, with its code and a non-zero exit', async (t) => {
  const checkpoint = join(directory, 'damaged.checkpoint');
  const first = await caviar('train', writeSpec('damaged-first.json', 2), '--checkpoint', checkpoint);
  t.equal(first.code, 0, first.stderr);
  const bytes = readFileSync(checkpoint);
  bytes[500] = (bytes[500] as number) ^ 0x01;
  writeFileSync(checkpoint, bytes);
  const resumed = await caviar('train', writeSpec('damaged-resumed.json', 4), '--resume', checkpoint);
  t.equal(resumed.code, 1, 'a non-zero exit');
  t.match(resumed.stderr, /^caviar: CHECKPOINT_CORRUPT: the checkpoint's bytes do not match their checksum/);
});

t.test('sweep runs every trial and prints them ranked; --json prints the events', async (t) => {
  const base = JSON.parse(readFileSync(writeSpec('base.json', 4), 'utf8'));
  const path = join(directory, 'sweep.json');
  const space = { '/training/optimizer/learningRate': { logUniform: [0.001, 0.1] }, '/model/layers/0/units': { choice: [4, 8] } };
  writeFileSync(path, JSON.stringify({ base, space, trials: 4, seed: 2, metric: 'dev.accuracy' }));
  const { code, stdout } = await caviar('sweep', path, '--concurrency', '2');
  t.equal(code, 0);
  const lines = stdout.trim().split('\n');
  t.equal(lines.filter((line) => /^trial \d succeeded dev\.accuracy/.test(line)).length, 4, 'a line as each trial ends');
  const rows = lines.slice(lines.findIndex((line) => line.startsWith('#')));
  t.match(rows[0], /#\s+trial\s+status\s+dev\.accuracy\s+learningRate\s+units/);
  t.equal(rows.filter((row) => /succeeded/.test(row)).length, 4);
  const accuracies = rows.slice(1, 5).map((row) => Number(row.split(/\s+/)[3]));
  t.same(accuracies, [...accuracies].sort((a, b) => b - a), 'ranked best first');
  t.match(rows.at(-1), /^best: trial \d+, dev\.accuracy/);

  const json = await caviar('sweep', path, '--json');
  t.equal(json.code, 0);
  const events = json.stdout.trim().split('\n').map((line) => JSON.parse(line));
  t.equal(events.filter((event) => event.type === 'trial' && event.status === 'succeeded').length, 4);
  t.equal(events.filter((event) => event.type === 'epoch').length, 16, 'the trials\' epoch events too');
  t.match(events.at(-1), { type: 'done', status: 'succeeded' });
});

t.test('gradcheck prints its verdict, the threshold and the differences, and its progress on stderr', async (t) => {
  const spec = writeSpec('check.json', 1);
  const { code, stdout, stderr } = await caviar('gradcheck', spec, '--samples', '8');
  t.equal(code, 0);
  t.match(stdout, /^PASSED: difference \d\.\d+e-\d+ <= 1e-7 \(42 of 42 coordinates, 8 rows, [\d.]+ s\)$/m);
  t.match(stdout, /layer 1: /);
  t.match(stderr, /^gradcheck: up to 200 coordinates of each tensor, 8 rows, 2 layers/m);
  // 2 x 8 and 8 weights, 8 x 2 and 2: three of each tensor, both of the last.
  const sampled = await caviar('gradcheck', spec, '--coordinates', '3');
  t.equal(sampled.code, 0, sampled.stderr);
  t.match(sampled.stdout, /^PASSED: .*\(11 of 42 coordinates, 16 rows/m);
  const all = await caviar('gradcheck', spec, '--coordinates', 'all');
  t.match(all.stdout, /\(42 of 42 coordinates/);
  t.match(all.stderr, /every coordinate/);
  const wrong = await caviar('gradcheck', spec, '--coordinates', '0');
  t.equal(wrong.code, 2);
  t.match(wrong.stderr, /--coordinates takes a positive integer or "all"/);
});

t.test('trains on a CSV of text columns and gaps, and predicts raw rows from it', async (t) => {
  writeFileSync(join(directory, 'penguins.csv'), penguinsCsv(240));
  const spec = writeSpec('penguins.json', 25, {
    dataset: { path: 'penguins.csv', label: 'species' },
    split: { dev: 0.2, test: 0.1, seed: 0 },
    model: { layers: [{ units: 16, activation: 'relu' }, { units: 3, activation: 'softmax' }] },
  });
  const modelPath = join(directory, 'penguins-model.json');
  const trained = await caviar('train', spec, '--save', modelPath);
  t.equal(trained.code, 0, trained.stderr);
  t.match(trained.stdout, /^test +loss [\d.]+ +accuracy (0\.[89]|1\.0)/m, 'learns the species');
  const model = JSON.parse(readFileSync(modelPath, 'utf8'));
  t.match(model.preprocessing, {
    version: 1,
    columns: [
      { name: 'id', type: 'ignore' },
      { name: 'island', type: 'category', categories: ['Biscoe', 'Dream', 'Torgersen'], missing: false },
      { name: 'bill_length_mm', type: 'number', indicator: true },
      { name: 'flipper_length_mm', type: 'number', indicator: true },
      { name: 'sex', type: 'category', categories: ['female', 'male'], missing: true },
      { name: 'tagged', type: 'boolean', indicator: true },
      { name: 'notes', type: 'category', missing: true },
    ],
  });

  // Columns in another order, gaps, an island never seen in training, a column left out.
  const rows = join(directory, 'penguin-rows.csv');
  writeFileSync(rows, 'island,flipper_length_mm,bill_length_mm,sex\nBiscoe,218,47.1,female\nDream,195,,male\nAtlantis,189,38.5,NA\n');
  const predicted = await caviar('predict', modelPath, rows);
  t.equal(predicted.code, 0, predicted.stderr);
  const lines = predicted.stdout.trim().split('\n');
  t.equal(lines[0], 'island,flipper_length_mm,bill_length_mm,sex,predicted_species,p_Adelie,p_Chinstrap,p_Gentoo');
  t.same(lines.slice(1).map((line) => line.split(',').slice(0, 5)), [
    ['Biscoe', '218', '47.1', 'female', 'Gentoo'],
    ['Dream', '195', '', 'male', 'Chinstrap'],
    ['Atlantis', '189', '38.5', 'NA', 'Adelie'],
  ]);

  const misspelled = join(directory, 'misspelled.csv');
  writeFileSync(misspelled, 'islnad,bill_length_mm\nDream,40\n');
  const refused = await caviar('predict', modelPath, misspelled);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /INVALID_DATA: .*misspelled\.csv: row 1: the model's columns are 'id', 'island', .*column 'islnad' is not one of them/);

  const retyped = writeSpec('penguins-retyped.json', 1, {
    dataset: { path: 'penguins.csv', label: 'species' },
    columns: { island: { type: 'number' } },
    model: { layers: [{ units: 3, activation: 'softmax' }] },
  });
  const wrongType = await caviar('train', retyped);
  t.equal(wrongType.code, 1);
  t.match(wrongType.stderr, /INVALID_SPEC: \/columns\/island: '\w+' \(row \d+\) is not a number/);

  // Under a cap of 2 categories the three islands are too many: ignored, and refused as a
  // category. Two species only, as the cap holds for class names too.
  // Records (a quoted note may span lines) start with their id and island.
  const records = penguinsCsv(240).trimEnd().split(/\n(?=\d+,(?:Biscoe|Dream|Torgersen),)/);
  writeFileSync(join(directory, 'penguins-two.csv'), `${records.filter((record) => !record.endsWith(',Gentoo')).join('\n')}\n`);
  const capped = writeSpec('penguins-capped.json', 1, {
    dataset: { path: 'penguins-two.csv', label: 'species' },
    columns: { island: { type: 'category' } },
    model: { layers: [{ units: 2, activation: 'softmax' }] },
  });
  const overCap = await new Promise<Outcome>((resolve) =>
    execFile(process.execPath, [cli, 'train', capped], { env: { ...process.env, CAVIAR_MAX_CATEGORIES: '2' } }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    ),
  );
  t.equal(overCap.code, 1);
  t.match(overCap.stderr, /INVALID_SPEC: \/columns\/island: more than 2 distinct values \(the cap, CAVIAR_MAX_CATEGORIES/);
});

t.test('mistakes get a clear message and an exit code', async (t) => {
  const badSpec = writeSpec('bad.json', -1);
  const bad = await caviar('train', badSpec);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /INVALID_SPEC.*\/training\/epochs/);
  const unknown = await caviar('fly');
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command 'fly'/);
  const help = await caviar('train', '--help');
  t.equal(help.code, 0);
  t.match(help.stdout, /--checkpoint FILE/);
  const serverId = await caviar('train', writeSpec('id.json', 1, { dataset: 'ds_1' }));
  t.equal(serverId.code, 2);
  t.match(serverId.stderr, /server dataset id/);
});
