// The dashboard in a real browser (Chromium via playwright-core) against a real server: the
// tests click what a user clicks and assert on the charts' data, not on pixels.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packageRoot } from '../../src/server/routes/dashboard.js';
import { call, moonsJob, slowJob, startService, waitFor, type Service } from '../fixtures/service.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-test-token';
const SCREENSHOT = 'test-output/dashboard-job.png';

/** What the page exposes for tests (app.js): its charts, each with its data arrays. */
interface DashboardChart {
  points: number;
  data: (number | null)[][];
  plot: { scales: { x: { distr?: number } } };
}
declare global {
  interface Window {
    caviarDashboard: { charts: Record<string, DashboardChart | undefined>; dropSockets(): void };
  }
}

const tinyJob = (epochs: number) =>
  moonsJob(epochs, {
    dataset: { builtin: 'moons', samples: 300, noise: 0.2, seed: 3 },
    model: { layers: [{ units: 8, activation: 'relu' }, { units: 1, activation: 'sigmoid' }], init: 'he' },
  });

/** The number of points a chart has (0 before it exists). */
const points = (page: Page, name: string) => page.evaluate((chart) => window.caviarDashboard.charts[chart]?.points ?? 0, name);

/** Waits until the chart has more than `count` points. */
const morePoints = (page: Page, name: string, count: number, timeout = 30_000) =>
  page.waitForFunction(([chart, n]) => (window.caviarDashboard.charts[chart as string]?.points ?? 0) > (n as number), [name, count] as const, { timeout });

const chartData = (page: Page, name: string) => page.evaluate((chart) => window.caviarDashboard.charts[chart]?.data ?? [], name);

const waitForStatus = (page: Page, status: string, timeout = 30_000) => page.locator(`#job-status[data-status="${status}"]`).waitFor({ timeout });

t.test('finds the dashboard assets from the sources and from the build alike', async (t) => {
  const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
  t.equal(packageRoot(fileURLToPath(new URL('../../src/server/routes/dashboard.ts', import.meta.url))), root);
  t.equal(packageRoot(fileURLToPath(new URL('../../dist/src/server/routes/dashboard.js', import.meta.url))), root);
  t.ok(existsSync(`${root}/src/server/dashboard/index.html`));
});

if (!existsSync(CHROMIUM)) {
  // The whole file is skipped, with the reason in the TAP output ("1..0 # skip ...").
  t.plan(0, `the dashboard tests need Chromium at ${CHROMIUM} (apt-get install -y chromium; CI installs it)`);
} else {
  // Two real servers, real training and a browser on 2 shared cores: about a minute alone,
  // more beside other test files; the .taprc default (90 s) leaves too little margin.
  t.setTimeout(180_000);
  let browser: Browser;
  t.before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  t.teardown(() => browser?.close());

  /** A fresh page (its own sessionStorage), and the script errors it raises (none, we hope). */
  const openPage = async (t: Test): Promise<{ page: Page; errors: string[] }> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    return { page, errors };
  };

  t.test('babysits a job from the page behind a token: submit, live curves, pause, resume, learning rate, reconnect', async (t) => {
    const service = await startService({ env: { CAVIAR_TOKEN: TOKEN, CAVIAR_CONCURRENCY: '1' } });
    t.teardown(() => service.stop('SIGKILL'));

    // The page and its assets load without the token (so that it can ask for one); the API does not.
    for (const [path, type] of [
      ['/', 'text/html'],
      ['/dashboard/app.js', 'javascript'],
      ['/dashboard/style.css', 'text/css'],
      ['/assets/uplot/uPlot.esm.js', 'javascript'],
      ['/assets/uplot/uPlot.min.css', 'text/css'],
    ] as const) {
      const reply = await fetch(service.url + path);
      t.equal(reply.status, 200, `${path} is public`);
      t.match(reply.headers.get('content-type'), type);
    }
    const examples = await call(service, 'GET', '/dashboard/examples.json');
    t.ok(examples.body.examples.some((example: { name: string }) => example.name === 'moons-quickstart'), 'the examples are served');
    t.equal((await call(service, 'GET', '/v1/jobs')).status, 401, 'the API still needs the token');

    const { page, errors } = await openPage(t);
    const sockets: string[] = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));
    await page.goto(service.url + '/');
    await page.locator('#token-form').waitFor({ state: 'visible' });
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button');
    await page.locator('#submit-form').waitFor();
    t.equal(await page.evaluate(() => sessionStorage.getItem('caviar.token')), TOKEN, 'the token is kept for the tab');

    // Submit from the form: a job slow enough to act between its epochs.
    const epochs = 18;
    await page.fill('#spec', JSON.stringify(slowJob(epochs, { name: 'dashboard-babysat' })));
    await page.click('#submit-spec');
    await page.waitForURL(/#\/jobs\/job_/);
    const id = decodeURIComponent(new URL(page.url()).hash.replace('#/jobs/', ''));
    t.equal((await call(service, 'GET', `/v1/jobs/${id}`, undefined, { authorization: `Bearer ${TOKEN}` })).body.name, 'dashboard-babysat');

    // The curves gain points as epochs arrive.
    await morePoints(page, 'cost', 0);
    const first = await points(page, 'cost');
    await morePoints(page, 'cost', first);
    t.ok((await points(page, 'cost')) > first, 'the cost curve grows live');
    t.ok((await points(page, 'accuracy')) > 0, 'so does the accuracy');
    t.ok((await points(page, 'gradients')) > 0, 'and the gradient norms');

    // Pause, then resume, from the page.
    await page.click('#pause');
    await waitForStatus(page, 'paused');
    const pausedAt = await points(page, 'cost');
    t.equal((await call(service, 'GET', `/v1/jobs/${id}`, undefined, { authorization: `Bearer ${TOKEN}` })).body.status, 'paused');
    await page.click('#resume');
    await waitForStatus(page, 'running');
    await morePoints(page, 'cost', pausedAt);
    t.ok((await points(page, 'cost')) > pausedAt, 'epochs come again after resuming');

    // A new learning rate from the page shows in the next epoch's lr.
    const learningRate = 0.0005;
    await page.fill('#learning-rate', String(learningRate));
    await page.click('#set-learning-rate');
    await page.waitForFunction(
      (rate) => (window.caviarDashboard.charts.lr?.data[1] ?? []).some((lr) => lr !== null && Math.abs(lr - rate) < rate * 1e-6),
      learningRate,
    );
    const [lrEpochs, rates] = (await chartData(page, 'lr')) as [number[], number[]];
    const changedAt = rates.findIndex((lr) => Math.abs(lr - learningRate) < learningRate * 1e-6);
    t.ok(changedAt > 0 && rates.slice(changedAt).every((lr) => Math.abs(lr - learningRate) < learningRate * 1e-6), `lr ${learningRate} from epoch ${lrEpochs[changedAt]} on`);

    // A dropped socket comes back with ?since= and leaves neither a gap nor a repeat.
    const droppedAt = await points(page, 'cost');
    await page.evaluate(() => window.caviarDashboard.dropSockets());
    await morePoints(page, 'cost', droppedAt + 1);
    t.ok(sockets.some((url) => url.includes(`/v1/jobs/${id}/events?since=`) && !url.endsWith('since=0')), 'reconnected with since=<last seq>');

    // Run to the end: the verdict and its advice appear.
    await page.locator('#verdict').waitFor({ timeout: 60_000 });
    await waitForStatus(page, 'succeeded');
    t.match(await page.textContent('#verdict'), /^(high bias|high variance|high bias and high variance|neither)$/);
    t.ok((await page.locator('#advice li').count()) > 0, 'with advice');
    t.notMatch(await page.textContent('#result'), /null|undefined/, 'no missing part shows as text');
    const [costEpochs, train, , smoothed] = (await chartData(page, 'cost')) as number[][];
    t.same(costEpochs, Array.from({ length: epochs }, (_, index) => index + 1), 'every epoch once, in order, across pause, resume and a reconnect');
    // The smoothed line is the bias-corrected exponentially weighted average (beta 0.9).
    let v = 0;
    const expected = (train as number[]).map((loss, index) => {
      v = 0.9 * v + 0.1 * loss;
      return v / (1 - 0.9 ** (index + 1));
    });
    t.ok((smoothed as number[]).every((value, index) => Math.abs(value - (expected[index] as number)) < 1e-12), 'smoothed = v_t / (1 - 0.9^t)');
    t.equal(smoothed?.[0], train?.[0], 'bias correction: the first smoothed value is the first cost, not a tenth of it');
    t.equal(await page.evaluate(() => window.caviarDashboard.charts.gradients?.plot.scales.x.distr), 1, 'epochs on a linear axis');

    mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    t.same(errors, [], 'no script errors in the page');
  });

  t.test('shows a finished sweep ranked, with its scatters and best curves; uploads a dataset; lists and cancels jobs', async (t) => {
    const service: Service = await startService({ env: { CAVIAR_CONCURRENCY: '2' } });
    t.teardown(() => service.stop('SIGKILL'));
    const lr = '/training/optimizer/learningRate';
    const beta1 = '/training/optimizer/beta1';
    const submitted = await call(service, 'POST', '/v1/sweeps', {
      name: 'dashboard-sweep',
      base: tinyJob(3),
      space: { [lr]: { logUniform: [1e-3, 1e-1] }, [beta1]: { oneMinusLogUniform: [0.8, 0.99] } },
      trials: 4,
      seed: 5,
    });
    t.equal(submitted.status, 202);
    const sweepId = submitted.body.id as string;
    const sweep = await waitFor(async () => {
      const { body } = await call(service, 'GET', `/v1/sweeps/${sweepId}`);
      return body.status !== 'running' ? body : undefined;
    }, 60_000);
    t.equal(sweep.status, 'succeeded');

    for (const path of ['/dashboard/%2e%2e/routes/dashboard.ts', '/dashboard/..%2f..%2f..%2fpackage.json', '/assets/uplot/..%2fpackage.json']) {
      const outside = await call(service, 'GET', path);
      t.ok(outside.status === 403 || outside.status === 404, `nothing outside the served folders: ${path} answers ${outside.status}`);
    }

    const { page, errors } = await openPage(t);
    await page.goto(`${service.url}/#/sweeps/${sweepId}`);
    await page.locator('#sweep-status[data-status="succeeded"]').waitFor();
    const rows = page.locator('#trials tbody tr');
    t.equal(await rows.count(), 4, 'every trial in the ranked table');
    t.same(
      await rows.evaluateAll((elements) => elements.map((row) => (row as HTMLElement).dataset.jobId)),
      sweep.trials.map((trial: { jobId: string }) => trial.jobId),
      'in the order of the ranking',
    );
    await page.waitForFunction(() => (window.caviarDashboard.charts.best?.points ?? 0) > 0);
    const scatter = (pointer: string) => chartData(page, `scatter:${pointer}`);
    const [lrX, lrY] = (await scatter(lr)) as number[][];
    t.equal(lrX?.length, 4, 'the learning-rate scatter has every trial');
    const sampledRates = sweep.trials.map((trial: { values: Record<string, number> }) => trial.values[lr]).sort((a: number, b: number) => a - b);
    t.same(lrX, sampledRates, 'at the sampled rates');
    t.same([...(lrY as number[])].sort(), sweep.trials.map((trial: { metric: number }) => trial.metric).sort(), 'against their metric');
    const [betaX] = (await scatter(beta1)) as number[][];
    const oneMinusBeta = sweep.trials.map((trial: { values: Record<string, number> }) => 1 - (trial.values[beta1] as number)).sort((a: number, b: number) => a - b);
    t.same(betaX, oneMinusBeta, 'a oneMinusLogUniform beta is plotted as 1 - beta');
    const distributions = await page.evaluate(
      (pointers) => pointers.map((pointer) => window.caviarDashboard.charts[`scatter:${pointer}`]?.plot.scales.x.distr),
      [lr, beta1],
    );
    t.same(distributions, [3, 3], 'both on log x axes');
    const best = (await chartData(page, 'best')) as number[][];
    t.equal(best.length, 4, 'the best 3 trials drawn together (x and 3 series)');
    t.same(best[0], [1, 2, 3]);
    mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/dashboard-sweep.png', fullPage: true });

    // A finished trial's page replays its events, then shows the verdict.
    await page.click(`#trials tbody tr:first-child a`);
    await page.locator('#verdict').waitFor();
    t.equal(await points(page, 'cost'), 3);

    // Upload a CSV dataset from the home page: the spec in the form then trains on it.
    await page.goto(`${service.url}/#/`);
    const csv = ['x1,x2,label', ...Array.from({ length: 40 }, (_, index) => `${index / 40},${(index % 7) / 7},${index % 2}`)].join('\n');
    await page.setInputFiles('#dataset-file', { name: 'tiny.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.fill('#dataset-label', 'label');
    await page.click('#upload-dataset');
    const uploaded = page.locator('#upload-result[data-dataset-id]');
    await uploaded.waitFor();
    const datasetId = (await uploaded.getAttribute('data-dataset-id')) as string;
    t.match(await uploaded.textContent(), /40 rows, 2 features, 2 classes/);
    t.equal(JSON.parse(await page.inputValue('#spec')).dataset, datasetId, 'the spec now names the dataset');
    t.equal((await call(service, 'GET', `/v1/datasets/${datasetId}`)).body.rows, 40);

    // The list follows jobs live (/v1/events): a new job appears and runs to its end.
    const quick = await call(service, 'POST', '/v1/jobs', tinyJob(2));
    await page.locator(`#jobs tr[data-job-id="${quick.body.id}"] [data-status="succeeded"]`).waitFor();

    // Cancel from a job's page.
    const long = await call(service, 'POST', '/v1/jobs', slowJob(200));
    await page.goto(`${service.url}/#/jobs/${long.body.id}`);
    await page.locator('#cancel:not([disabled])').waitFor();
    await page.click('#cancel');
    await waitForStatus(page, 'cancelled');
    t.ok(await page.locator('#cancel').isDisabled(), 'no controls on a finished job');
    t.equal((await call(service, 'GET', `/v1/jobs/${long.body.id}`)).body.status, 'cancelled');
    t.same(errors, [], 'no script errors in the page');
  });
}
