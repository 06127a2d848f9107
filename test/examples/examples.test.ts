// Every example trains from a clone and nothing else: the repository's tracked files are
// copied to a fresh folder (no course data beside it, no CAVIAR_COURSE_DATA), the build's
// outputs added as `npm ci` would make them, and each example spec run through the
// compiled command with its epochs (and a sweep's trials) cut down.
import { execFile, execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { FASHION_MNIST_DIRECTORY } from '../../src/data/fashion-mnist.js';
import type { JobEvent } from '../../src/jobs/events.js';

const repository = join(import.meta.dirname, '..', '..');
const folder = mkdtempSync(join(tmpdir(), 'caviar-examples-'));
t.teardown(() => rmSync(folder, { recursive: true, force: true }));
const clone = join(folder, 'caviar');
mkdirSync(clone);
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: repository, encoding: 'utf8' }).split('\0').filter(Boolean);
for (const file of tracked) {
  // A tracked file deleted in the working tree is not part of what a clone gets next.
  if (!existsSync(join(repository, file))) continue;
  mkdirSync(dirname(join(clone, file)), { recursive: true });
  copyFileSync(join(repository, file), join(clone, file));
}
// Compiled code is found from its own place (import.meta.url), so dist/ is copied, not linked.
cpSync(join(repository, 'dist'), join(clone, 'dist'), { recursive: true });
symlinkSync(join(repository, 'node_modules'), join(clone, 'node_modules'));
mkdirSync(join(clone, 'build', 'Release'), { recursive: true });
symlinkSync(join(repository, 'build', 'Release', 'caviar.node'), join(clone, 'build', 'Release', 'caviar.node'));

const environment = { ...process.env };
delete environment.CAVIAR_COURSE_DATA;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function caviar(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const options = { cwd: clone, env: environment, maxBuffer: 64 * 1024 * 1024 };
    execFile(process.execPath, [join(clone, 'dist', 'src', 'cli.js'), ...args], options, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

const examples = join(clone, 'examples');
const names = readdirSync(examples).filter((name) => name.endsWith('.json')).sort();
const fashionInstalled = existsSync(FASHION_MNIST_DIRECTORY);

interface Example {
  dataset?: { builtin?: string };
  training?: { epochs: number };
  base?: { training: { epochs: number } };
  trials?: number;
}

/** The example, cut down to one epoch (a sweep: three trials of one epoch), in place. */
function shorten(name: string): Example {
  const path = join(examples, name);
  const spec = JSON.parse(readFileSync(path, 'utf8')) as Example;
  if (spec.base) {
    spec.base.training.epochs = 1;
    spec.trials = 3;
  } else if (spec.training) {
    spec.training.epochs = 1;
  }
  writeFileSync(path, JSON.stringify(spec));
  return spec;
}

/** Runs `start` for each item, at most `limit` at once; each result's promise, in order. */
function pooled<Item, Result>(items: Item[], limit: number, start: (item: Item) => Promise<Result>): Promise<Result>[] {
  let next = 0;
  const results = items.map(() => {
    let settle!: (result: Result) => void;
    const promise = new Promise<Result>((resolve) => (settle = resolve));
    return { promise, settle };
  });
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      (results[index] as (typeof results)[number]).settle(await start(items[index] as Item));
    }
  };
  for (let i = 0; i < limit; i += 1) void worker();
  return results.map((result) => result.promise);
}

// Two at a time: each run is a process of its own, mostly starting up and loading data.
const specs = names.map(shorten);
const runs = pooled(names, 2, (name) => {
  const path = join('examples', name);
  return (specs[names.indexOf(name)] as Example).base
    ? caviar('sweep', path, '--json', '--concurrency', '1')
    : caviar('train', path, '--json');
});

t.test('the clone has no course data beside it', async (t) => {
  t.notOk(existsSync(join(clone, '..', 'shared')));
  t.ok(names.length >= 14, `${names.length} examples`);
});

for (const [index, name] of names.entries()) {
  t.test(`${name} trains from a clone`, async (t) => {
    const spec = specs[index] as Example;
    const { code, stdout, stderr } = await (runs[index] as Promise<Outcome>);
    if (spec.base) {
      t.equal(code, 0, stderr);
      const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; status?: string });
      t.equal(events.filter((event) => event.type === 'trial' && event.status === 'succeeded').length, 3);
      t.match(events.at(-1), { type: 'done', status: 'succeeded' });
      return;
    }
    const dataset = spec.dataset?.builtin;
    if (dataset === 'fashion-mnist' && !fashionInstalled) {
      t.equal(code, 1);
      t.match(stderr, /DATASET_NOT_FOUND: .*apt-get install dataset-fashion-mnist/, 'the error says what to install');
      return;
    }
    t.equal(code, 0, stderr);
    const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as JobEvent);
    t.same(events.filter((event) => event.type === 'epoch').map((event) => event.epoch), [1]);
    t.match(events.at(-1), { type: 'done', status: 'succeeded', result: { epochs: 1 } });
  });
}
