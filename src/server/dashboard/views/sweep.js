// One sweep (#/sweeps/ID), "caviar" style: its trials ranked by the metric, the metric
// against each sampled hyperparameter on the scale it was sampled on, and the curves of the
// best few trials side by side. Refreshed as the sweep's events arrive.
import { followEvents, get, request } from '../api.js';
import { COLORS, Chart } from '../charts.js';
import { placeScatter } from '../scatter.js';
import { badge, confirmButton, h, number, text, trialCount } from '../dom.js';

/** The trials whose curves are drawn together. */
const BEST_FEW = 3;

/** A list (choice, grid) up to this long is plotted as evenly spaced columns, one per value. */
const MOST_COLUMNS = 12;

/**
 * How a hyperparameter is plotted, from its distribution (search-space.ts): a log axis for
 * logUniform; for oneMinusLogUniform (a beta near 1) the axis shows 1 - value on a log scale,
 * where its samples are spread evenly; a column per value for a short list (its numbers in
 * order of size: 16, 32, ..., 256 apart evenly, not crowded at one end); a linear axis for
 * the rest.
 */
function axisFor(pointer, distribution, trials) {
  if ('logUniform' in distribution) return { label: pointer, log: true, x: (value) => value };
  if ('oneMinusLogUniform' in distribution) return { label: `1 − ${pointer}`, log: true, x: (value) => 1 - value };
  const listed = distribution.choice ?? distribution.grid;
  const numeric = trials.every((trial) => typeof trial.values[pointer] === 'number');
  if (numeric && (listed === undefined || listed.length > MOST_COLUMNS)) return { label: pointer, log: false, x: (value) => value };
  const values = [...new Set(listed ?? trials.map((trial) => trial.values[pointer]))];
  if (values.every((value) => typeof value === 'number')) values.sort((a, b) => a - b);
  const categories = values.map(String);
  return { label: pointer, log: false, categories, x: (value) => categories.indexOf(String(value)) };
}

export async function sweepView(root, id, { scope, showConnection }) {
  const path = `/v1/sweeps/${encodeURIComponent(id)}`;
  const header = h('div', { class: 'title' });
  const table = h('table', { id: 'trials' });
  const scatters = h('div', { class: 'charts' });
  const bestCurves = h('div', { class: 'charts' });
  const failure = h('p', { id: 'sweep-message', class: 'message error', role: 'status' });
  const removeButton = confirmButton({
    id: 'delete',
    label: 'Delete',
    question: 'Delete this sweep and all its trials? ',
    yes: 'Yes, delete them',
    no: 'Keep them',
    action: async () => {
      try {
        await request('DELETE', path);
        location.hash = '#/';
      } catch (error) {
        failure.textContent = `delete: ${error.message}`;
      }
    },
  });
  root.append(header, failure, h('h2', {}, 'Trials, best first'), table, h('h2', {}, 'Metric against each hyperparameter'), scatters, h('h2', {}, `The best ${BEST_FEW} trials`), bestCurves);

  const charts = [];
  const clearCharts = () => charts.splice(0).forEach((chart) => chart.destroy());
  scope.add(clearCharts);

  const render = async () => {
    const sweep = await get(path);
    if (scope.disposed) return; // The page moved on while we waited.
    const { spec, trials } = sweep;
    const pointers = Object.keys(spec.space ?? {});
    const scored = trials.filter((trial) => typeof trial.metric === 'number');
    header.replaceChildren(
      h('h1', {}, text(sweep.name ?? 'sweep'), ' ', h('small', {}, sweep.id)),
      h('span', { id: 'sweep-status', dataset: { status: sweep.status } }, badge(sweep.status)),
      h('span', { id: 'sweep-trials' }, `${spec.strategy}, ${trialCount(trials.length, sweep.plannedTrials ?? spec.trials)}, ${spec.mode === 'min' ? 'minimizing' : 'maximizing'} ${spec.metric}`),
      sweep.best ? h('a', { href: `#/jobs/${encodeURIComponent(sweep.best.jobId)}` }, `best: trial ${sweep.best.trial}`) : null,
      sweep.status === 'running' ? null : removeButton.element,
    );

    table.replaceChildren(
      h('thead', {}, h('tr', {}, ...['rank', 'trial', 'round', 'status', spec.metric, 'best (epoch)', 'epochs', ...pointers].map((title) => h('th', {}, title)))),
      h(
        'tbody',
        {},
        ...trials.map((trial, index) =>
          h(
            'tr',
            { dataset: { trial: trial.trial, jobId: trial.jobId } },
            h('td', {}, typeof trial.metric === 'number' ? String(index + 1) : '–'),
            h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(trial.jobId)}` }, String(trial.trial))),
            h('td', {}, String(trial.round)),
            h('td', {}, badge(trial.status)),
            h('td', { class: 'metric' }, number(trial.metric)),
            h('td', { class: 'metric' }, trial.bestMetric === undefined ? text(trial.bestEpoch) : `${number(trial.bestMetric)} (${trial.bestEpoch})`),
            h('td', {}, String(trial.epochs)),
            ...pointers.map((pointer) => h('td', {}, typeof trial.values[pointer] === 'number' ? number(trial.values[pointer]) : text(trial.values[pointer]))),
          ),
        ),
      ),
    );

    clearCharts();
    scatters.replaceChildren();
    for (const pointer of pointers) {
      const axis = axisFor(pointer, spec.space[pointer], scored);
      const placed = placeScatter(
        scored.map((trial) => [axis.x(trial.values[pointer]), trial.metric]),
        { log: axis.log, categories: axis.categories?.length },
      );
      const chart = new Chart(`scatter:${pointer}`, scatters.appendChild(h('div', { class: 'chart-box' })), {
        title: `${spec.metric} against ${axis.label}${axis.log ? ' (log)' : ''}`,
        xLabel: axis.label,
        yLabel: spec.metric,
        xLog: axis.log,
        categories: axis.categories,
        scatter: true,
        series: [{ label: spec.metric, color: '#1f77b4' }],
      });
      chart.set([placed.xs, placed.ys], placed.range);
      charts.push(chart);
    }

    // The best few trials' metric per epoch, from each one's stored epochs.
    bestCurves.replaceChildren();
    const best = scored.slice(0, BEST_FEW);
    if (best.length === 0) return;
    const metrics = await Promise.all(best.map((trial) => get(`/v1/jobs/${encodeURIComponent(trial.jobId)}/metrics`)));
    if (scope.disposed) return;
    const [part, name] = spec.metric.split('.');
    const epochs = [...new Set(metrics.flatMap((m) => m.epochs.map((epoch) => epoch.epoch)))].sort((a, b) => a - b);
    const columns = metrics.map((m) => {
      const byEpoch = new Map(m.epochs.map((epoch) => [epoch.epoch, epoch[part]?.[name] ?? null]));
      return epochs.map((epoch) => byEpoch.get(epoch) ?? null);
    });
    const curves = new Chart('best', bestCurves.appendChild(h('div', { class: 'chart-box wide' })), {
      title: `${spec.metric} per epoch, best ${best.length}`,
      yLabel: spec.metric,
      series: best.map((trial, index) => ({ label: `trial ${trial.trial}`, color: COLORS[index] })),
    });
    curves.set([epochs, ...columns]);
    charts.push(curves);
  };

  // Re-read the ranking when the sweep reports a change (a trial's status or epoch, a new
  // best, its end), at most once a second however busy the sweep: a replay, or trials that
  // report epochs all the time, cause one re-read, not one each.
  let timer;
  let running = Promise.resolve();
  const refreshSoon = () => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      running = running.then(render).catch(() => {});
    }, 1000);
  };
  scope.add(() => clearTimeout(timer));

  await render();
  const socket = followEvents(`${path}/events`, {
    onState: showConnection,
    seqOf: (event) => ('sweepId' in event ? event.seq : undefined),
    onEvent: (event) => {
      if ('sweepId' in event) refreshSoon();
    },
  });
  scope.add(() => socket.close());
}
