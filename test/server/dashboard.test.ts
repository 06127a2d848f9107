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
  plot: {
    scales: { x: { distr?: number } };
    /** The first and last data index uPlot draws. */
    series: { idxs: [number, number] }[];
    /** The plotting area, over the canvas. */
    over: HTMLElement;
    valToPos(value: number, scale: string): number;
  };
}
declare global {
  interface Window {
    caviarDashboard: { charts: Record<string, DashboardChart | undefined>; dropSockets(): void };
  }
}

const tinyJob = (epochs: number, name = 'moons') =>
  moonsJob(epochs, {
    name,
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

/** From now on, every status the job's page shows, in order (some last only milliseconds). */
const recordStatuses = (page: Page) =>
  page.evaluate(() => {
    const element = document.getElementById('job-status') as HTMLElement;
    const shown = [element.dataset.status as string];
    // Setting the same status again is a mutation too: keep changes only.
    new MutationObserver(() => element.dataset.status !== shown.at(-1) && shown.push(element.dataset.status as string)).observe(element, {
      attributes: true,
      attributeFilter: ['data-status'],
    });
    (window as unknown as { shownStatuses: string[] }).shownStatuses = shown;
  });
const shownStatuses = (page: Page) => page.evaluate(() => (window as unknown as { shownStatuses: string[] }).shownStatuses);

/**
 * Where a scatter's points land on screen, in CSS pixels of its plotting area, and how many
 * of them uPlot draws whole: within the indices it draws and at least a dot's radius inside.
 */
const drawnPoints = (page: Page, name: string) =>
  page.evaluate((chart) => {
    const { plot, data } = window.caviarDashboard.charts[chart] as DashboardChart;
    const [first, last] = plot.series[0]?.idxs ?? [0, -1];
    const [width, height] = [plot.over.clientWidth, plot.over.clientHeight];
    const radius = 4.5; // charts.js: points of size 9
    const positions = (data[0] as number[]).map((x, index) => [plot.valToPos(x, 'x'), plot.valToPos(data[1]?.[index] as number, 'y')] as const);
    const drawn = positions.filter(
      ([left, top], index) => index >= first && index <= last && left >= radius && left <= width - radius && top >= radius && top <= height - radius,
    );
    return { points: positions.length, drawn: drawn.length, positions };
  }, name);

/** The smallest distance between two of the positions, in pixels. */
const closest = (positions: readonly (readonly [number, number])[]) =>
  Math.min(...positions.flatMap(([x, y], index) => positions.slice(index + 1).map(([u, v]) => Math.hypot(u - x, v - y))));

/** The ids in the jobs table, top to bottom. */
const listedJobs = (page: Page) => page.locator('#jobs tbody tr[data-job-id]').evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.jobId as string));

/** Waits (10 s at most) until the jobs table lists exactly `ids`, in that order, and asserts that it does. */
const expectListed = async (t: Test, page: Page, ids: string[], message: string) => {
  await page
    .waitForFunction(
      (expected) => JSON.stringify([...document.querySelectorAll('#jobs tbody tr[data-job-id]')].map((row) => (row as HTMLElement).dataset.jobId)) === JSON.stringify(expected),
      ids,
      { timeout: 10_000 },
    )
    .catch(() => {}); // the assertion below shows what is listed instead
  t.same(await listedJobs(page), ids, message);
};

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
      ['/dashboard/favicon.svg', 'image/svg+xml'],
      ['/favicon.ico', 'image/svg+xml'],
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
    t.match(await page.textContent('#diagnosis-notes'), /upper bound/, 'and the note that, without a human-level error, the bias is an upper bound');
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

  t.test('on one server: a sweep with ties drawn whole, a failed job, datasets, the filtered and paged list, confirmations', async (t) => {
    const service: Service = await startService({ env: { CAVIAR_CONCURRENCY: '2' } });
    t.teardown(() => service.stop('SIGKILL'));
    const { page, errors } = await openPage(t);
    mkdirSync('test-output', { recursive: true });
    const job = async (id: string) => (await call(service, 'GET', `/v1/jobs/${id}`)).body;
    const ended = (id: string) => waitFor(async () => ['succeeded', 'failed', 'cancelled', 'stopped'].includes((await job(id)).status), 60_000);

    let trialIds: string[] = [];
    await t.test('a finished sweep: ranked, every trial a whole dot on each scatter, ties at both ends included, and its best curves', async (t) => {
      const lr = '/training/optimizer/learningRate';
      const beta1 = '/training/optimizer/beta1';
      const units = '/model/layers/0/units';
      const batchSize = '/training/batchSize';
      const submitted = await call(service, 'POST', '/v1/sweeps', {
        name: 'dashboard-sweep',
        base: tinyJob(3),
        space: {
          [lr]: { logUniform: [1e-3, 1e-1] },
          [beta1]: { oneMinusLogUniform: [0.8, 0.99] },
          [units]: { intUniform: [2, 4] },
          [batchSize]: { choice: [16, 32, 64] },
        },
        trials: 6,
        seed: 4,
      });
      t.equal(submitted.status, 202);
      const sweepId = submitted.body.id as string;
      const sweep = await waitFor(async () => {
        const { body } = await call(service, 'GET', `/v1/sweeps/${sweepId}`);
        return body.status !== 'running' ? body : undefined;
      }, 60_000);
      t.equal(sweep.status, 'succeeded');
      type Trial = { jobId: string; metric: number; values: Record<string, number> };
      const trials = sweep.trials as Trial[];
      trialIds = trials.map((trial) => trial.jobId);
      const count = (pointer: string, value: number) => trials.filter((trial) => trial.values[pointer] === value).length;
      // What this test is about: several trials at the lowest and at the highest value (seed 4 draws them).
      t.ok(count(units, 2) >= 2 && count(units, 4) >= 2, `ties at both ends of the units axis: ${trials.map((trial) => trial.values[units])}`);
      t.ok(count(batchSize, 16) >= 2 && count(batchSize, 64) >= 2, `and of the batch sizes: ${trials.map((trial) => trial.values[batchSize])}`);

      for (const path of ['/dashboard/%2e%2e/routes/dashboard.ts', '/dashboard/..%2f..%2f..%2fpackage.json', '/assets/uplot/..%2fpackage.json']) {
        const outside = await call(service, 'GET', path);
        t.ok(outside.status === 403 || outside.status === 404, `nothing outside the served folders: ${path} answers ${outside.status}`);
      }

      await page.goto(`${service.url}/#/sweeps/${sweepId}`);
      await page.locator('#sweep-status[data-status="succeeded"]').waitFor();
      t.match(await page.textContent('#sweep-trials'), /, 6 trials,/);
      const rows = page.locator('#trials tbody tr');
      t.equal(await rows.count(), 6, 'every trial in the ranked table');
      t.same(await rows.evaluateAll((elements) => elements.map((row) => (row as HTMLElement).dataset.jobId)), trialIds, 'in the order of the ranking');
      await page.waitForFunction(() => (window.caviarDashboard.charts.best?.points ?? 0) > 0);

      const scatter = (pointer: string) => chartData(page, `scatter:${pointer}`);
      const [lrX, lrY] = (await scatter(lr)) as number[][];
      const sampledRates = trials.map((trial) => trial.values[lr] as number).sort((a, b) => a - b);
      t.same(lrX, sampledRates, 'distinct rates are drawn at the sampled rates');
      t.same([...(lrY as number[])].sort(), trials.map((trial) => trial.metric).sort(), 'against their metric');
      const [betaX] = (await scatter(beta1)) as number[][];
      t.same(betaX, trials.map((trial) => 1 - (trial.values[beta1] as number)).sort((a, b) => a - b), 'a oneMinusLogUniform beta is plotted as 1 - beta');
      const distributions = await page.evaluate(
        (pointers) => pointers.map((pointer) => window.caviarDashboard.charts[`scatter:${pointer}`]?.plot.scales.x.distr),
        [lr, beta1, units],
      );
      t.same(distributions, [3, 3, 1], 'log x axes for the log-drawn values, linear for the whole numbers');
      for (const pointer of [lr, beta1, units, batchSize]) {
        const drawn = await drawnPoints(page, `scatter:${pointer}`);
        t.same([drawn.points, drawn.drawn], [6, 6], `${pointer}: a whole dot for each of the 6 trials`);
      }
      for (const pointer of [units, batchSize]) {
        const { positions } = await drawnPoints(page, `scatter:${pointer}`);
        t.ok(closest(positions) >= 3, `${pointer}: trials with equal values are apart (${closest(positions).toFixed(1)} px at the closest)`);
      }
      const [batchX] = (await scatter(batchSize)) as number[][];
      t.ok((batchX as number[]).every((x) => x > -0.5 && x < 2.5), 'a listed value is drawn in its own column');

      const best = (await chartData(page, 'best')) as number[][];
      t.equal(best.length, 4, 'the best 3 trials drawn together (x and 3 series)');
      t.same(best[0], [1, 2, 3]);
      await page.screenshot({ path: 'test-output/dashboard-sweep.png', fullPage: true });

      // A finished trial's page replays its events, then shows the verdict; a trial is deleted with its sweep.
      await page.click(`#trials tbody tr:first-child a`);
      await page.locator('#verdict').waitFor();
      await morePoints(page, 'cost', 2);
      t.equal(await points(page, 'cost'), 3);
      t.equal(await page.locator('#delete').count(), 0, "a trial's page offers no delete");
    });

    let failedId = '';
    await t.test('a failed job shows its error and what to try, and waits for no epoch', async (t) => {
      const diverging = await call(
        service,
        'POST',
        '/v1/jobs',
        moonsJob(3, {
          name: 'diverges',
          dataset: { builtin: 'moons', samples: 300, noise: 0.2, seed: 3 },
          model: { layers: [{ units: 8, activation: 'relu' }, { units: 1, activation: 'sigmoid' }], init: 'normal', initScale: 100 },
          training: { epochs: 3, optimizer: { type: 'sgd', learningRate: 1000 } },
        }),
      );
      failedId = diverging.body.id as string;
      await ended(failedId);
      t.equal((await job(failedId)).error?.code, 'DIVERGED');
      await page.goto(`${service.url}/#/jobs/${failedId}`);
      await page.locator('#failure').waitFor();
      await waitForStatus(page, 'failed');
      t.equal(await page.textContent('#job-error-code'), 'DIVERGED');
      t.match(await page.textContent('#job-error'), /NaN/, 'with its message');
      t.match(await page.locator('#failure-advice li').first().textContent(), /lower the learning rate/, 'and the advice for a diverged job first');
      t.notMatch(await page.textContent('#view'), /Waiting/, 'no waiting for an epoch that will not come');
      t.equal(await page.textContent('.no-epochs'), 'No epoch was completed.');
      t.ok(await page.locator('#pause').isDisabled(), 'no controls on a finished job');
      await page.screenshot({ path: 'test-output/dashboard-failed.png', fullPage: true });
    });

    await t.test('uploads a dataset, lists it, and deletes it after asking', async (t) => {
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
      const row = page.locator(`#datasets tr[data-dataset-id="${datasetId}"]`);
      await row.waitFor();
      t.match(await row.textContent(), /tiny\.csv.*40.*2.*2 classes/, 'listed with its rows, features and classes');
      const button = (suffix = '') => page.locator(`[id="delete-${datasetId}${suffix}"]`);
      await button().click();
      await button('-no').click();
      t.equal((await call(service, 'GET', `/v1/datasets/${datasetId}`)).status, 200, 'kept when the question is declined');
      await button().click();
      await button('-yes').click();
      await row.waitFor({ state: 'detached' });
      t.equal((await call(service, 'GET', `/v1/datasets/${datasetId}`)).status, 404, 'deleted when confirmed');
    });

    await t.test('the jobs list: live, without sweep trials unless asked, filtered by status and name, a page at a time', async (t) => {
      // A new job appears and runs to its end.
      const quick = await call(service, 'POST', '/v1/jobs', tinyJob(2));
      await page.locator(`#jobs tr[data-job-id="${quick.body.id}"] [data-status="succeeded"]`).waitFor();
      const named: string[] = [];
      for (const name of ['list-a', 'list-b', 'list-c']) named.push((await call(service, 'POST', '/v1/jobs', tinyJob(1, name))).body.id as string);
      await Promise.all(named.map(ended));
      const outside = (await call(service, 'GET', '/v1/jobs?sweep=none')).body.jobs.map((listed: { id: string }) => listed.id) as string[];
      const everyJob = (await call(service, 'GET', '/v1/jobs')).body.jobs.map((listed: { id: string }) => listed.id) as string[];
      t.same([...outside].sort(), [quick.body.id, failedId, ...named].sort(), 'the service lists the jobs of no sweep');

      await expectListed(t, page, outside, "newest first, without a sweep's trials by default");
      await page.check('#show-trials');
      await expectListed(t, page, everyJob, 'the trials too when asked for');
      t.ok(trialIds.every((id) => everyJob.includes(id)));
      await page.selectOption('#filter-status', 'failed');
      await expectListed(t, page, [failedId], 'the failed ones');
      t.match(page.url(), /status=failed/, 'the filter is in the address');
      await page.selectOption('#filter-status', '');
      await page.fill('#filter-name', 'LIST-B');
      await expectListed(t, page, [named[1] as string], 'a name filter ignores case');

      // Pages of two, from a small limit in the address: newest first, Older and Newer.
      await page.goto(`${service.url}/#/?limit=2`);
      await expectListed(t, page, outside.slice(0, 2), 'page 1 of 3');
      t.ok(await page.locator('#newer').isDisabled(), 'no newer page than the first');
      await page.click('#older');
      await expectListed(t, page, outside.slice(2, 4), 'page 2');
      await page.click('#older');
      await expectListed(t, page, outside.slice(4), 'page 3: the last job');
      t.ok(await page.locator('#older').isDisabled(), 'no older page than the last');
      t.equal(await page.textContent('#jobs-page'), 'page 3');
      await page.click('#newer');
      await expectListed(t, page, outside.slice(2, 4), 'back to page 2');
      await page.click('#newer');
      await expectListed(t, page, outside.slice(0, 2), 'back to page 1');
    });

    await t.test('pauses and cancels a running job showing pausing… and cancelling… until its events say so; cancels only once confirmed; deletes after asking', async (t) => {
      // The page's link to the job's events, through a relay that can hold the server's
      // messages back: the status the job reaches then comes later than the control's reply,
      // as it does for a job with long mini-batches, whatever the timing here.
      // The server's close after the job's last event (1000) is held back with the messages.
      let holding = false;
      const held: (string | Buffer)[] = [];
      let heldClose: { code?: number; reason?: string } | undefined;
      let release = () => {};
      await page.routeWebSocket(/\/v1\/jobs\/[^/]+\/events/, (socket) => {
        const server = socket.connectToServer();
        server.onMessage((message) => (holding ? held.push(message) : socket.send(message)));
        server.onClose((code, reason) => (holding ? (heldClose = { code, reason }) : socket.close({ code, reason })));
        release = () => {
          holding = false;
          for (const message of held.splice(0)) socket.send(message);
          if (heldClose !== undefined) socket.close(heldClose);
          heldClose = undefined;
        };
      });
      const long = (await call(service, 'POST', '/v1/jobs', slowJob(200))).body.id as string;
      await page.goto(`${service.url}/#/jobs/${long}`);
      await morePoints(page, 'cost', 0);
      await waitForStatus(page, 'running');
      await recordStatuses(page);

      holding = true;
      await page.click('#pause');
      await waitForStatus(page, 'pausing');
      t.match(await page.textContent('#control-result'), /stops at the next mini-batch/, 'the page says when the pause lands');
      await waitFor(async () => (await job(long)).status === 'paused');
      release();
      await waitForStatus(page, 'paused');
      t.same(await shownStatuses(page), ['running', 'pausing', 'paused'], 'pausing… from the reply until the paused event');
      await page.click('#resume');
      await waitForStatus(page, 'running');

      await page.click('#cancel');
      await page.locator('#cancel-confirm').waitFor();
      await page.click('#cancel-no');
      await page.locator('#cancel-confirm').waitFor({ state: 'hidden' });
      const before = await points(page, 'cost');
      await morePoints(page, 'cost', before);
      t.equal((await job(long)).status, 'running', 'declining the question leaves the job running');
      holding = true;
      await page.click('#cancel');
      await page.click('#cancel-yes');
      await waitForStatus(page, 'cancelling');
      await waitFor(async () => (await job(long)).status === 'cancelled');
      release();
      await waitForStatus(page, 'cancelled');
      t.same(
        await shownStatuses(page),
        ['running', 'pausing', 'paused', 'queued', 'running', 'cancelling', 'cancelled'],
        'cancelling… from the reply until the cancelled event',
      );
      t.ok(await page.locator('#cancel').isDisabled(), 'no cancel on a finished job');

      await page.click('#delete');
      await page.click('#delete-yes');
      await page.waitForURL(/#\/$/);
      t.equal((await call(service, 'GET', `/v1/jobs/${long}`)).status, 404, 'deleted');
    });

    await t.test('a sweep cancelled early counts the trials it ran, of the planned ones', async (t) => {
      const submitted = await call(service, 'POST', '/v1/sweeps', { name: 'cut-short', base: slowJob(50), trials: 64, parallel: 1, seed: 1 });
      const sweepId = submitted.body.id as string;
      t.equal((await call(service, 'POST', `/v1/sweeps/${sweepId}/cancel`)).status, 200);
      const sweep = await waitFor(async () => {
        const { body } = await call(service, 'GET', `/v1/sweeps/${sweepId}`);
        return body.status === 'cancelled' && body.trials.every((trial: { status: string }) => ['cancelled', 'stopped', 'succeeded', 'failed'].includes(trial.status))
          ? body
          : undefined;
      }, 60_000);
      const ran = sweep.trials.length as number;
      t.ok(ran < 64, `${ran} of 64 trials ran`);
      // The page may already be at #/ (a delete led there): load it afresh.
      await page.goto(`${service.url}/#/`);
      await page.reload();
      const row = page.locator(`#sweeps tr[data-sweep-id="${sweepId}"]`);
      await row.waitFor();
      t.equal(await row.locator('.trials').textContent(), `${ran} of 64 trials`, 'the list says how many of the planned trials ran');
      await page.screenshot({ path: 'test-output/dashboard-jobs.png', fullPage: true });
      await page.goto(`${service.url}/#/sweeps/${sweepId}`);
      await page.locator('#sweep-status[data-status="cancelled"]').waitFor();
      t.match(await page.textContent('#sweep-trials'), new RegExp(`, ${ran} of 64 trials,`), 'and so does its page');
      await page.click('#delete');
      await page.click('#delete-yes');
      await page.waitForURL(/#\/$/);
      t.equal((await call(service, 'GET', `/v1/sweeps/${sweepId}`)).status, 404, 'deleted with its trials');
    });

    t.same(errors, [], 'no script errors in the page');
  });
}
